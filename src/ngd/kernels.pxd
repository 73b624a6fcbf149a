# Public C API of ngd's kernels, for ``from ngd.kernels cimport ...`` in other packages.
#
# Conventions: sizes are Py_ssize_t; X is a pointer plus leading dimension ``ldx`` and a
# ``row_major`` flag (C order: ldx >= p; F order: ldx >= n); outputs are float64; every function
# is ``noexcept nogil`` and returns 0 on success (negative: failure). Kernels that parallelise
# over row blocks (logistic_pass, weighted_gram) call BLAS from inside their OpenMP region:
# keep BLAS single-threaded around them (threadpoolctl, user_api="blas").
# Build against an editable install with cythonize(..., include_path=[ngd.get_include()]).
from ngd._kernels.fused cimport logistic_pass, FisherKind, FISHER_NONE, FISHER_EXACT, FISHER_EMPIRICAL
from ngd._kernels.fisher cimport weighted_gram
from ngd._kernels.linalg cimport damped_cholesky, cholesky_solve

cdef enum:
    NGD_CAPI_VERSION = 1
