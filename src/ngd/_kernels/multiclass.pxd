# One-pass kernel of softmax regression: logits, loss, gradient and class probabilities over
# row blocks of X (OpenMP over blocks, BLAS single-threaded inside).
from cython cimport floating

# loss_out[0] = sum_i w_i nll_i; grad_out row-major (K, p + 1): [sum_i r_ik x_i, sum_i r_ik]
# with r_ik = w_i (p_ik - [y_i = k]); proba_out (n, K) row-major, or NULL. coef W row-major
# (K, p), intercept b (K,), codes in [0, K) (not checked here), w NULL meaning 1.
# Returns 0, or -1 (out of memory).
cdef int softmax_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                      bint row_major, Py_ssize_t K, const double* coef, const double* intercept,
                      const Py_ssize_t* codes, const double* w, double* loss_out,
                      double* grad_out, double* proba_out, int n_threads) noexcept nogil
