# Solves with the Fisher: damped Cholesky with escalation and triangular solves, matrix-free
# preconditioned conjugate gradients, and the Woodbury (n < p) solve.
from cython cimport floating

cpdef enum CGStatus:
    CG_CONVERGED = 0       # ||r|| <= rtol ||g||
    CG_MAX_ITER = 1        # maxiter iterations without reaching rtol
    CG_BREAKDOWN = 2       # p^T A p <= 0 (indefinite operator or lost precision); x is the
                           # last iterate, never NaN

# sum_j a_j b_j, in index order (the CG kernels' inner products: dense and CSR alike)
cdef inline double vector_dot(const double* a, const double* b, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t j
    cdef double s = 0.0
    for j in range(m):
        s += a[j] * b[j]
    return s

cdef int damped_cholesky(const double* F, Py_ssize_t p, double damping, double* factor,
                         double* damping_used, int max_escalations) noexcept nogil

cdef int cholesky_solve(const double* factor, Py_ssize_t p, double* b,
                        Py_ssize_t nrhs) noexcept nogil

cdef int cg_solve(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                  bint row_major, bint intercept, const double* v, const double* g,
                  double damping, double rtol, Py_ssize_t maxiter, bint precondition,
                  bint warm_start, double* x, Py_ssize_t* n_iter, double* residual,
                  int n_threads) noexcept nogil

cdef int multi_output_cg_solve(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                               bint row_major, bint intercept, Py_ssize_t K, int kind,
                               const double* A, Py_ssize_t lda, const double* w,
                               const double* g, double damping, double rtol,
                               Py_ssize_t maxiter, bint precondition, bint warm_start,
                               double* x, Py_ssize_t* n_iter, double* residual,
                               int n_threads) noexcept nogil

cdef int woodbury_solve(const floating* G, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldg,
                        bint row_major, const double* g, double damping,
                        double* out) noexcept nogil
