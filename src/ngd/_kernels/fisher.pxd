# Fisher accumulation kernels: weighted Gram X^T diag(v) X over row blocks.
from cython cimport floating

cdef int weighted_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* v, double* out, double* xv_out,
                       int n_threads) noexcept nogil
