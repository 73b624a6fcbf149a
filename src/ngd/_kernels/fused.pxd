# One-pass kernels: linear predictor, loss, gradient and per-row Fisher weights of a GLM
# pointwise loss, over row blocks of X (OpenMP over blocks, BLAS single-threaded inside).
from cython cimport floating

cpdef enum FisherKind:
    FISHER_NONE = 0        # do not write per-row weights
    FISHER_EXACT = 1       # w_i * p_i (1 - p_i)            (expected Fisher = Hessian, logit)
    FISHER_EMPIRICAL = 2   # w_i * (p_i - y_i)^2            (outer products of the scores)

cdef int logistic_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* coef, double intercept,
                       const double* y, const double* w, const double* offset,
                       int fisher_kind, double* loss_out, double* grad_out,
                       double* weight_out, int n_threads) noexcept nogil

# Fused in-place parameter updates (elementwise, float64 arithmetic, no temporaries; OpenMP over
# contiguous index ranges for long vectors, so results never depend on the thread count).
cdef int axpy_step(floating* theta, const floating* d, Py_ssize_t p, double alpha,
                   int n_threads) noexcept nogil

cdef int momentum_step(floating* theta, floating* velocity, const floating* d, Py_ssize_t p,
                       double alpha, double beta, bint nesterov, int n_threads) noexcept nogil

cdef int adam_step(floating* theta, floating* m, floating* s, const floating* grad,
                   const floating* second, Py_ssize_t p, double alpha, double beta1,
                   double beta2, double eps, double power, Py_ssize_t t,
                   int n_threads) noexcept nogil
