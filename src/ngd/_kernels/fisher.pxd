# Fisher accumulation kernels over row blocks of X: weighted Gram X^T diag(v) X, the K-output
# (softmax-style) Gram with per-row K x K weights, matrix-free Fisher-vector products and the
# Fisher diagonal. OpenMP over row blocks, BLAS single-threaded inside; fixed row blocks reduced
# in slot order, so results do not depend on the thread count.
from cython cimport floating

cpdef enum RowWeights:
    # How the per-row K x K weight matrices V_i of the multi-output kernels are given
    # (argument ``A``, an n x (columns) row-major float64 array with leading dimension lda,
    # and the optional per-row factor ``w``, NULL meaning 1):
    WEIGHTS_PACKED = 0     # A: n x K(K+1)/2, upper triangle of V_i packed row by row (k <= l)
    WEIGHTS_SOFTMAX = 1    # A: n x K probabilities; V_i = w_i (diag(p_i) - p_i p_i^T)
    WEIGHTS_OUTER = 2      # A: n x K residuals;     V_i = w_i r_i r_i^T

cdef int weighted_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* v, double* out, double* xv_out,
                       int n_threads) noexcept nogil

cdef int multi_output_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                           bint row_major, bint intercept, Py_ssize_t K, int kind,
                           const double* A, Py_ssize_t lda, const double* w, double* out,
                           int n_threads) noexcept nogil

cdef int fisher_vector(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, bint intercept, const double* v, const double* u,
                       double* out, int n_threads) noexcept nogil

cdef int multi_output_fisher_vector(const floating* X, Py_ssize_t n, Py_ssize_t p,
                                    Py_ssize_t ldx, bint row_major, bint intercept,
                                    Py_ssize_t K, int kind, const double* A, Py_ssize_t lda,
                                    const double* w, const double* U, double* out,
                                    int n_threads) noexcept nogil

cdef int fisher_diagonal(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                         bint row_major, bint intercept, const double* v, double* out,
                         int n_threads) noexcept nogil

cdef int multi_output_fisher_diagonal(const floating* X, Py_ssize_t n, Py_ssize_t p,
                                      Py_ssize_t ldx, bint row_major, bint intercept,
                                      Py_ssize_t K, int kind, const double* A, Py_ssize_t lda,
                                      const double* w, double* out,
                                      int n_threads) noexcept nogil

# Internal pieces shared with linalg.cg_solve (not part of the public C API). K = 0 selects the
# single-output operator with weights v = A (length n; lda and w unused).
cdef Py_ssize_t _fv_slots(Py_ssize_t n, Py_ssize_t p) noexcept nogil

cdef int _diagonal_into(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                        bint row_major, bint intercept, Py_ssize_t K, int kind,
                        const double* A, Py_ssize_t lda, const double* w, double* out,
                        int n_threads) noexcept nogil

cdef int _fisher_vector_into(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                             bint row_major, bint intercept, Py_ssize_t K, int kind,
                             const double* A, Py_ssize_t lda, const double* w,
                             const double* u, double* out, double* slots,
                             int n_threads) noexcept nogil
