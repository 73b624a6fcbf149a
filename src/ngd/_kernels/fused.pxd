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
