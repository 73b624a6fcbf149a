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

# logistic_pass that also writes resid_out[i] = w_i (p_i - y_i) (when not NULL); the other
# outputs are logistic_pass's, bit for bit. p may be 0 (eta = intercept + offset).
cdef int logistic_pass_resid(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                             bint row_major, const double* coef, double intercept,
                             const double* y, const double* w, const double* offset,
                             int fisher_kind, double* loss_out, double* grad_out,
                             double* weight_out, double* resid_out,
                             int n_threads) noexcept nogil

# logistic_pass_resid that also writes eta_out[i] = eta_i, the linear predictor (when not
# NULL); the other outputs are logistic_pass's, bit for bit.
cdef int logistic_pass_out(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                           bint row_major, const double* coef, double intercept,
                           const double* y, const double* w, const double* offset,
                           int fisher_kind, double* loss_out, double* grad_out,
                           double* weight_out, double* resid_out, double* eta_out,
                           int n_threads) noexcept nogil

cpdef enum GlmFamily:
    GLM_GAUSSIAN = 0
    GLM_BINOMIAL = 1
    GLM_POISSON = 2
    GLM_GAMMA = 3
    GLM_INVERSE_GAUSSIAN = 4
    GLM_TWEEDIE = 5        # V = mu^power (power 0, 1, 2: gaussian, poisson, gamma)
    GLM_NEGATIVE_BINOMIAL = 6   # NB2 at a fixed alpha > 0: V = mu + alpha mu^2

cpdef enum GlmLink:
    GLM_LINK_IDENTITY = 0
    GLM_LINK_LOG = 1
    GLM_LINK_LOGIT = 2
    GLM_LINK_PROBIT = 3
    GLM_LINK_CLOGLOG = 4
    GLM_LINK_POWER = 5     # eta = mu^a (inverse: a = -1, inverse_squared: -2, sqrt: 0.5)

cpdef enum GlmCurvature:
    GLM_CURVATURE_NONE = 0        # do not write per-row weights
    GLM_CURVATURE_EXACT = 1       # w h' s                    (expected Fisher)
    GLM_CURVATURE_EMPIRICAL = 2   # w m ((mu - y) s)^2        (m = binomial trials, else 1)
    GLM_CURVATURE_OBSERVED = 3    # w [h' s + (mu - y) s']    (observed Hessian)

# One pass over X for a GLM (family, link) pair: loss sum, [X^T r, sum r] and per-row
# curvature weights (unnormalised), valid_out = 0 when a mean leaves the family's domain.
# tweedie_power is the family's parameter: the tweedie power, or the negative-binomial
# alpha (ignored by the other families).
# Returns 0, -1 (out of memory) or -2 (bad code).
cdef int glm_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                  bint row_major, const double* coef, double intercept, const double* y,
                  const double* w, const double* offset, const double* trials, int family,
                  int link, double tweedie_power, double link_power, int curvature,
                  double* loss_out, double* grad_out, double* weight_out, int* valid_out,
                  int n_threads) noexcept nogil

# glm_pass that also writes resid_out[i] = r_i = w_i (mu_i - y_i) s_i (when not NULL); the
# other outputs are glm_pass's, bit for bit. p may be 0.
cdef int glm_pass_resid(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                        bint row_major, const double* coef, double intercept,
                        const double* y, const double* w, const double* offset,
                        const double* trials, int family, int link, double tweedie_power,
                        double link_power, int curvature, double* loss_out,
                        double* grad_out, double* weight_out, int* valid_out,
                        double* resid_out, int n_threads) noexcept nogil

# glm_pass_resid that also writes eta_out[i] = eta_i, the linear predictor (when not NULL);
# the other outputs are glm_pass's, bit for bit, with response_terms true. Without them the
# loss leaves out sum_i w_i c(y_i), the half deviance's part that depends on y alone
# (_row_terms.pxd). On an invalid row (valid_out = 0) the rows after it may be left unwritten.
cdef int glm_pass_out(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                      bint row_major, const double* coef, double intercept,
                      const double* y, const double* w, const double* offset,
                      const double* trials, int family, int link, double tweedie_power,
                      double link_power, int curvature, bint response_terms, double* loss_out,
                      double* grad_out, double* weight_out, int* valid_out,
                      double* resid_out, double* eta_out, int n_threads) noexcept nogil

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
