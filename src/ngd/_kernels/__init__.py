"""Cython kernels of ngd: arrays in, arrays out; no models, no optimisers.

The validated Python API is :mod:`ngd.kernels`; the C API for ``cimport`` is ``ngd/kernels.pxd``.
"""
