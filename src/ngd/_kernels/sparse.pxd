# Kernels for X in CSR form (data, indices, indptr; n rows, p columns): X u and X B, X^T r and
# X^T R, the weighted Gram [X, 1]^T diag(v) [X, 1] and the K-output Gram sum_i V_i (x) x~_i x~_i^T
# into dense matrices, Fisher-vector products and Fisher diagonals. data is float32 or float64,
# indices and indptr int32 or int64 (the same type), accumulation in float64; dense matrices
# (B, R, V, out) are row-major float64. Row blocks of fixed size (set by n and nnz only) are
# reduced in slot order, so results do not depend on n_threads. Nothing is validated here:
# indptr must be non-decreasing from 0 to nnz, indices in [0, p), and (for the Grams) no column
# repeated within a row. Each returns 0, or -1 when memory runs out.
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

cdef enum CSRCGStatus:              # csr_cg_solve
    CSR_CG_DONE = 0                 # ||r|| <= threshold, or maxiter iterations
    CSR_CG_INDEFINITE = 1           # d^T A d <= 0 (or NaN) along a search direction: x is
                                    # the last iterate

# PCG from 0 on ([X, 1]^T diag(v) [X, 1] + diag(shift)) x = g, preconditioner diag(minv),
# until ||r|| <= threshold or maxiter iterations: a CSRCGStatus, or -1 (memory)
cdef int csr_cg_solve(const floating* data, const sparse_index* indices,
                      const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                      const double* v, const double* shift, const double* minv,
                      const double* g, double threshold, Py_ssize_t maxiter, double* x,
                      Py_ssize_t* n_iter, double* residual, int n_threads) noexcept nogil

# out (n x K, row-major) = X B + shift, B (p x K, row-major), shift (K; NULL = 0)
cdef int csr_matmat(const floating* data, const sparse_index* indices,
                    const sparse_index* indptr, Py_ssize_t n, Py_ssize_t K, const double* B,
                    const double* shift, double* out, int n_threads) noexcept nogil

# out (pw x K, row-major) = [X, 1]^T R, R (n x K, row-major)
cdef int csr_rmatmat(const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     Py_ssize_t K, const double* R, double* out, int n_threads) noexcept nogil

# out (K pw x K pw, row-major, class-major k * pw + j) = sum_i V_i (x) [x_i, 1] [x_i, 1]^T with
# V (n x K(K+1)/2, row-major) the packed upper triangles of the symmetric K x K row weights
# (V_i[k, l], k <= l, at column k K - k (k - 1) / 2 + l - k); softmax exact Fisher:
# V_i = w_i (diag p_i - p_i p_i^T)
cdef int csr_multi_output_gram(const floating* data, const sparse_index* indices,
                               const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                               bint intercept, Py_ssize_t K, const double* V, double* out,
                               int n_threads) noexcept nogil

# out (pw x K, row-major) = sum_i [x_i, 1]^2 V_ik, V (n x K, row-major): the diagonal of
# sum_i diag(V_i) (x) [x_i, 1] [x_i, 1]^T, the multi-output Fisher's diagonal for V_ik = V_i[k, k]
cdef int csr_multi_output_fisher_diagonal(const floating* data, const sparse_index* indices,
                                          const sparse_index* indptr, Py_ssize_t n,
                                          Py_ssize_t p, bint intercept, Py_ssize_t K,
                                          const double* V, double* out,
                                          int n_threads) noexcept nogil
