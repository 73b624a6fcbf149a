# BLAS/LAPACK routines used by the kernels, through SciPy's cython_blas / cython_lapack.
# Every size passed to BLAS is typed ``blas_int`` (SciPy's own typedef where it has one).
include "_blas_int.pxi"

from scipy.linalg.cython_blas cimport dgemv, dgemm, dsyrk, ddot
from scipy.linalg.cython_lapack cimport dpotrf, dpotrs
