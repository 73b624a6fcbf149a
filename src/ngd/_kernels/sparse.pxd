# Kernels for X in CSR form (data, indices, indptr; n rows, p columns): X u, X^T r, the
# weighted Gram [X, 1]^T diag(v) [X, 1] into a dense matrix, Fisher-vector products and the
# Fisher diagonal. data is float32 or float64, indices and indptr int32 or int64 (the same
# type), accumulation in float64. Row blocks of fixed size (set by n and nnz only) are reduced
# in slot order, so results do not depend on n_threads. Nothing is validated here: indptr must
# be non-decreasing from 0 to nnz, indices in [0, p), and (for the Gram) no column repeated
# within a row. Each returns 0, or -1 when memory runs out.
from cython cimport floating
from libc.stdint cimport int32_t, int64_t

ctypedef fused sparse_index:
    int32_t
    int64_t

# out[i] = x_i . coef + shift
cdef int csr_matvec(const floating* data, const sparse_index* indices,
                    const sparse_index* indptr, Py_ssize_t n, const double* coef,
                    double shift, double* out, int n_threads) noexcept nogil

# out[:p] = X^T r (and out[p] = sum r with intercept)
cdef int csr_rmatvec(const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     const double* r, double* out, int n_threads) noexcept nogil

# out (pw x pw, row-major, pw = p + intercept) = [X, 1]^T diag(v) [X, 1]
cdef int csr_weighted_gram(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           bint intercept, const double* v, double* out,
                           int n_threads) noexcept nogil

# out (pw) = [X, 1]^T (v * ([X, 1] u))
cdef int csr_fisher_vector(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           bint intercept, const double* v, const double* u, double* out,
                           int n_threads) noexcept nogil

# out (pw) = sum_i v_i [x_i, 1]^2 (elementwise square)
cdef int csr_fisher_diagonal(const floating* data, const sparse_index* indices,
                             const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                             bint intercept, const double* v, double* out,
                             int n_threads) noexcept nogil
