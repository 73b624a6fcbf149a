"""Benchmark suite of ngd: kernels against numpy, solvers against scikit-learn / statsmodels.

Run ``python -m bench`` from the repository root (``--quick`` for a smoke run, ``--json PATH``
for machine-readable results, ``--only kernels|solvers``). The ``bench_*.py`` modules hold
asv-compatible classes (``params``, ``param_names``, ``setup``, ``teardown``, ``time_*``,
``track_*``); ``bench.__main__`` discovers and runs them without asv. Wall-clock numbers are
printed and written, never asserted.
"""
