"""The ``ngd`` command line (Click); calls only ngd's public API."""
