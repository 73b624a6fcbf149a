# One-pass kernels for X in CSR form (data, indices, indptr; n rows, p columns): the CSR
# counterparts of fused.pxd's logistic_pass and glm_pass, with the same arguments and outputs
# (loss sum, [X^T r, sum r], per-row curvature weights, the GLM's valid flag) and the same row
# terms (_row_terms.pxd). data is float32 or float64, indices and indptr int32 or int64 (the
# same type), accumulation in float64. Row blocks of fixed size (set by n and nnz only) are
# reduced in slot order, so results do not depend on n_threads. Nothing is validated here:
# indptr must be non-decreasing from 0 to nnz and indices in [0, p).
from cython cimport floating

from ngd._kernels.sparse cimport sparse_index

# Returns 0, or -1 when memory runs out.
cdef int csr_logistic_pass(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           const double* coef, double intercept, const double* y,
                           const double* w, const double* offset, int fisher_kind,
                           double* loss_out, double* grad_out, double* weight_out,
                           int n_threads) noexcept nogil

# Returns 0, -1 (out of memory) or -2 (bad family, link or curvature code). Without
# response_terms the loss leaves out sum_i w_i c(y_i) (as fused.pxd's glm_pass_out).
cdef int csr_glm_pass(const floating* data, const sparse_index* indices,
                      const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                      const double* coef, double intercept, const double* y, const double* w,
                      const double* offset, const double* trials, int family, int link,
                      double tweedie_power, double link_power, int curvature,
                      bint response_terms,
                      double* loss_out, double* grad_out, double* weight_out, int* valid_out,
                      int n_threads) noexcept nogil
