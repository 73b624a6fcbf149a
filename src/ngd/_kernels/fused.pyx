"""Fused one-pass kernels over row blocks of X.

``logistic_pass`` reads X once and returns, for the binomial-logit pointwise loss
nll_i = log(1 + exp(eta_i)) - y_i eta_i with eta = X coef + intercept + offset:

    loss_out[0] = sum_i w_i nll_i
    grad_out[:p] = sum_i w_i (p_i - y_i) x_i,  grad_out[p] = sum_i w_i (p_i - y_i)
    weight_out[i] = w_i p_i (1 - p_i)  (exact)  or  w_i (p_i - y_i)^2  (empirical)

Sums are unnormalised; the caller divides by sum(w). Row blocks are reduced in a fixed order,
so results do not depend on the number of threads. ``logistic_pass_resid`` and
``glm_pass_resid`` also write the per-row residual resid_out[i] = r_i = d(w_i nll_i)/d eta_i
(the gradient of a term that enters eta like an offset, e.g. a categorical block, is then a
sum of r); ``glm_pass_out`` and ``logistic_pass_out`` also the linear predictor
eta_out[i] = eta_i (statistics at the fit's last iterate then need no further pass); the
other outputs are those of the plain passes, bit for bit. p may be 0.

``glm_pass`` does the same for any GLM (family, link) pair given as integer codes (the tweedie
power and the power-link exponent alongside): with mu = h(eta), s = h'(eta) / V(mu) and
nll_i = d(y_i, mu_i) / 2 (half the unit deviance),

    loss_out[0] = sum_i w_i nll_i
    grad_out[:p] = sum_i r_i x_i,  grad_out[p] = sum_i r_i,   r_i = w_i (mu_i - y_i) s_i
    weight_out[i] = w_i h'_i s_i                                      (exact Fisher)
                    w_i m_i ((mu_i - y_i) s_i)^2                      (empirical; m = trials)
                    w_i [h' s + (mu - y) s (h''/h' - s V'(mu))]_i     (observed Hessian)
    valid_out[0] = 1, or 0 when some eta or mean leaves the link's or family's domain (or a
    half deviance is not finite): the loss is then +inf and the rest meaningless.

Fused parameter updates, in place, one pass, no temporaries (float64 arithmetic whatever the
storage dtype):

    axpy_step:      theta += alpha d
    momentum_step:  velocity = beta velocity + d;  theta += alpha velocity
                    (Nesterov: theta += alpha (d + beta velocity))
    adam_step:      m = beta1 m + (1 - beta1) grad;  s = beta2 s + (1 - beta2) q
                    with q = grad^2 (Adam / RMSprop) or a given diagonal Fisher estimate;
                    theta -= alpha mhat / (shat^power + eps),
                    mhat = m / (1 - beta1^t), shat = s / (1 - beta2^t) (t <= 0: no correction)
"""
from cython.parallel cimport prange, parallel
from libc.math cimport fabs, pow, sqrt, isfinite, INFINITY
from libc.stdlib cimport malloc, calloc, free

from ngd._kernels._blas cimport blas_int, dgemv
from ngd._kernels._row_terms cimport (RowTerms, _logistic_row, GlmSpec, _glm_spec, _glm_row,
                                      _log_ndtr, _pearson_row)
from ngd._kernels._rows cimport (RowBlock, chunk_rows, row_block, work_threads, MAX_SLOTS,
                                 ROW_TERM_WORK, add_compensated, slot_stride)


cdef inline void _block_times(RowBlock* block, const double* coef,
                              double* out) noexcept nogil:
    """out (m) = rows . coef (zeros when p = 0)."""
    cdef blas_int one = 1
    cdef double d_one = 1.0, d_zero = 0.0
    cdef blas_int r
    if block.p == 0:
        for r in range(block.m):
            out[r] = 0.0
        return
    if block.in_place_columns:
        dgemv("N", &block.m, &block.p, &d_one, <double*> block.A, &block.lda, <double*> coef,
              &one, &d_zero, out, &one)
    else:
        dgemv("T", &block.p, &block.m, &d_one, <double*> block.A, &block.lda, <double*> coef,
              &one, &d_zero, out, &one)


cdef inline void _block_add_transposed(RowBlock* block, double* r, double* acc) noexcept nogil:
    """acc (p) += rows^T r."""
    cdef blas_int one = 1
    cdef double d_one = 1.0
    if block.p == 0:
        return
    if block.in_place_columns:
        dgemv("T", &block.m, &block.p, &d_one, <double*> block.A, &block.lda, r, &one, &d_one,
              acc, &one)
    else:
        dgemv("N", &block.p, &block.m, &d_one, <double*> block.A, &block.lda, r, &one, &d_one,
              acc, &one)


cdef int logistic_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* coef, double intercept,
                       const double* y, const double* w, const double* offset,
                       int fisher_kind, double* loss_out, double* grad_out,
                       double* weight_out, int n_threads) noexcept nogil:
    """One pass over X (see module docstring). Returns 0, or -1 when memory runs out."""
    return logistic_pass_resid(X, n, p, ldx, row_major, coef, intercept, y, w, offset,
                               fisher_kind, loss_out, grad_out, weight_out, NULL, n_threads)


cdef int logistic_pass_resid(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                             bint row_major, const double* coef, double intercept,
                             const double* y, const double* w, const double* offset,
                             int fisher_kind, double* loss_out, double* grad_out,
                             double* weight_out, double* resid_out,
                             int n_threads) noexcept nogil:
    """``logistic_pass`` that also writes r_i to resid_out (when not NULL)."""
    return logistic_pass_out(X, n, p, ldx, row_major, coef, intercept, y, w, offset,
                             fisher_kind, loss_out, grad_out, weight_out, resid_out, NULL,
                             n_threads)


cdef int logistic_pass_out(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                           bint row_major, const double* coef, double intercept,
                           const double* y, const double* w, const double* offset,
                           int fisher_kind, double* loss_out, double* grad_out,
                           double* weight_out, double* resid_out, double* eta_out,
                           int n_threads) noexcept nogil:
    """``logistic_pass`` that also writes r_i to resid_out and eta_i to eta_out (each when
    not NULL)."""
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef Py_ssize_t width = p + 2          # gradient, intercept gradient, loss
    cdef Py_ssize_t stride = slot_stride(width)   # doubles between slots
    cdef double* partial = <double*> calloc(n_slots * stride, sizeof(double))
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef Py_ssize_t s, c, i0, m, r, j
    cdef double* buf
    cdef double* resid
    cdef double* slot
    cdef RowBlock block
    cdef RowTerms terms
    cdef double wi, yi
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, n_slots, (4.0 * p + ROW_TERM_WORK) * n)
    with parallel(num_threads=n_threads):
        buf = <double*> malloc((rows * p + 1) * sizeof(double))
        resid = <double*> malloc(rows * sizeof(double))
        if buf == NULL or resid == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = partial + s * stride
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    block = row_block(X, ldx, row_major, i0, m, p, buf)
                    _block_times(&block, coef, resid)
                    for r in range(m):
                        wi = 1.0 if w == NULL else w[i0 + r]
                        yi = y[i0 + r]
                        resid[r] = resid[r] + intercept
                        if offset != NULL:
                            resid[r] = resid[r] + offset[i0 + r]
                        if eta_out != NULL:
                            eta_out[i0 + r] = resid[r]
                        terms = _logistic_row(resid[r], yi, wi, fisher_kind)
                        slot[p + 1] += wi * terms.nll
                        slot[p] += terms.resid
                        resid[r] = terms.resid
                        if resid_out != NULL:
                            resid_out[i0 + r] = terms.resid
                        if fisher_kind != FISHER_NONE:
                            weight_out[i0 + r] = terms.weight
                    _block_add_transposed(&block, resid, slot)
                    c = c + n_slots
        free(buf)
        free(resid)
    if failed:
        free(partial)
        return -1
    loss_out[0] = 0.0
    for j in range(p + 1):
        grad_out[j] = 0.0
    for s in range(n_slots):
        slot = partial + s * stride
        for j in range(p + 1):
            grad_out[j] += slot[j]
        loss_out[0] += slot[p + 1]
    free(partial)
    return 0


def _logistic_pass(const floating[:, :] X, const double[::1] coef, double intercept,
                   const double[::1] y, object w, object offset, int fisher_kind,
                   double[::1] grad_out, object weight_out, int n_threads,
                   object resid_out=None, object eta_out=None):
    """Unvalidated Python entry to ``logistic_pass`` (``logistic_pass_out`` when resid_out or
    eta_out, float64 (n,), is given); returns the weighted loss sum."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef const double[::1] w_view
    cdef const double[::1] off_view
    cdef double[::1] weight_view
    cdef const double* w_ptr = NULL
    cdef const double* off_ptr = NULL
    cdef double* weight_ptr = NULL
    cdef double[::1] resid_view
    cdef double* resid_ptr = NULL
    cdef double[::1] eta_view
    cdef double* eta_ptr = NULL
    cdef double loss = 0.0
    cdef int status
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    if resid_out is not None:
        resid_view = resid_out
        resid_ptr = &resid_view[0]
    if eta_out is not None:
        eta_view = eta_out
        eta_ptr = &eta_view[0]
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    if offset is not None:
        off_view = offset
        off_ptr = &off_view[0]
    if weight_out is not None:
        weight_view = weight_out
        weight_ptr = &weight_view[0]
    elif fisher_kind != FISHER_NONE:
        raise ValueError("weight_out is required when fisher_kind is not FISHER_NONE")
    with nogil:
        status = logistic_pass_out(&X[0, 0], n, p, ldx, row_major, &coef[0], intercept,
                                   &y[0], w_ptr, off_ptr, fisher_kind, &loss, &grad_out[0],
                                   weight_ptr, resid_ptr, eta_ptr, n_threads)
    if status != 0:
        raise MemoryError("logistic_pass could not allocate its row-block buffers")
    return loss


# ------------------------------------------------------------------------------ glm_pass --
#
# The per-row terms of both passes (_logistic_row, _glm_row) live in _row_terms.pxd, shared
# with the CSR passes of sparse_fused.pyx.

cdef int glm_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                  bint row_major, const double* coef, double intercept, const double* y,
                  const double* w, const double* offset, const double* trials, int family,
                  int link, double tweedie_power, double link_power, int curvature,
                  double* loss_out, double* grad_out, double* weight_out, int* valid_out,
                  int n_threads) noexcept nogil:
    """One pass over X for a GLM (see the module docstring). Returns 0, -1 when memory runs
    out, -2 for an unknown family, link or curvature code (or a zero power-link exponent)."""
    return glm_pass_resid(X, n, p, ldx, row_major, coef, intercept, y, w, offset, trials,
                          family, link, tweedie_power, link_power, curvature, loss_out,
                          grad_out, weight_out, valid_out, NULL, n_threads)


cdef int glm_pass_resid(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                        bint row_major, const double* coef, double intercept,
                        const double* y, const double* w, const double* offset,
                        const double* trials, int family, int link, double tweedie_power,
                        double link_power, int curvature, double* loss_out,
                        double* grad_out, double* weight_out, int* valid_out,
                        double* resid_out, int n_threads) noexcept nogil:
    """``glm_pass`` that also writes r_i to resid_out (when not NULL)."""
    return glm_pass_out(X, n, p, ldx, row_major, coef, intercept, y, w, offset, trials,
                        family, link, tweedie_power, link_power, curvature, True, loss_out,
                        grad_out, weight_out, valid_out, resid_out, NULL, n_threads)


cdef int glm_pass_out(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                      bint row_major, const double* coef, double intercept,
                      const double* y, const double* w, const double* offset,
                      const double* trials, int family, int link, double tweedie_power,
                      double link_power, int curvature, bint response_terms,
                      double* loss_out, double* grad_out, double* weight_out, int* valid_out,
                      double* resid_out, double* eta_out, int n_threads) noexcept nogil:
    """``glm_pass`` that also writes r_i to resid_out and eta_i to eta_out (each when not
    NULL); without response_terms the loss leaves out sum_i w_i c(y_i) (_row_terms.pxd)."""
    cdef GlmSpec spec
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef Py_ssize_t width = p + 3          # gradient, intercept gradient, loss (+ its
                                           # compensation: without the response terms the
                                           # rows' losses are O(1) whatever the fit)
    cdef Py_ssize_t stride = slot_stride(width)   # doubles between slots
    cdef double* partial
    cdef int failed = 0, invalid = 0
    cdef int* failed_ptr = &failed
    cdef int* invalid_ptr = &invalid
    cdef Py_ssize_t s, c, i0, m, r, j
    cdef double* buf
    cdef double* resid
    cdef double* slot
    cdef RowBlock block
    cdef double wi, mi, nll, row_resid, row_weight
    cdef double loss[2]
    if not _glm_spec(family, link, tweedie_power, link_power, curvature, response_terms,
                     &spec):
        return -2
    partial = <double*> calloc(n_slots * stride, sizeof(double))
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, n_slots, (4.0 * p + ROW_TERM_WORK) * n)
    with parallel(num_threads=n_threads):
        buf = <double*> malloc((rows * p + 1) * sizeof(double))
        resid = <double*> malloc(rows * sizeof(double))
        if buf == NULL or resid == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = partial + s * stride
                c = s
                while c < n_chunks and invalid_ptr[0] == 0:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    block = row_block(X, ldx, row_major, i0, m, p, buf)
                    _block_times(&block, coef, resid)
                    for r in range(m):
                        wi = 1.0 if w == NULL else w[i0 + r]
                        mi = 1.0 if trials == NULL else trials[i0 + r]
                        resid[r] = resid[r] + intercept
                        if offset != NULL:
                            resid[r] = resid[r] + offset[i0 + r]
                        if eta_out != NULL:
                            eta_out[i0 + r] = resid[r]
                        nll = 0.0           # assigned here: thread-private in prange
                        row_resid = 0.0
                        row_weight = 0.0
                        if not _glm_row(&spec, resid[r], y[i0 + r], wi, mi, &nll, &row_resid,
                                        &row_weight):
                            invalid_ptr[0] = 1
                            break
                        add_compensated(slot + p + 1, wi * nll)
                        slot[p] += row_resid
                        resid[r] = row_resid
                        if resid_out != NULL:
                            resid_out[i0 + r] = row_resid
                        if curvature != GLM_CURVATURE_NONE:
                            weight_out[i0 + r] = row_weight
                    if invalid_ptr[0] == 0:
                        _block_add_transposed(&block, resid, slot)
                    c = c + n_slots
        free(buf)
        free(resid)
    if failed:
        free(partial)
        return -1
    valid_out[0] = 0 if invalid else 1
    loss[0] = 0.0
    loss[1] = 0.0
    for j in range(p + 1):
        grad_out[j] = 0.0
    if not invalid:
        for s in range(n_slots):
            slot = partial + s * stride
            for j in range(p + 1):
                grad_out[j] += slot[j]
            add_compensated(loss, slot[p + 1])
            loss[1] += slot[p + 2]
        loss_out[0] = loss[0] + loss[1] if isfinite(loss[0]) else loss[0]
    else:
        loss_out[0] = INFINITY
    free(partial)
    return 0


def _glm_pass(const floating[:, :] X, const double[::1] coef, double intercept,
              const double[::1] y, object w, object offset, object trials, int family,
              int link, double tweedie_power, double link_power, int curvature,
              double[::1] grad_out, object weight_out, int n_threads, object resid_out=None,
              object eta_out=None, bint response_terms=True):
    """Unvalidated Python entry to ``glm_pass_out`` (resid_out, eta_out: float64 (n,) or
    None); returns (weighted loss sum, valid) where valid
    is False when some row's eta or mean leaves the link's or family's domain (or its half
    deviance is not finite); the sums are then meaningless (loss inf). Without
    response_terms the loss sum leaves out sum_i w_i c(y_i) (``Family.response_term``)."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef const double[::1] w_view
    cdef const double[::1] off_view
    cdef const double[::1] trials_view
    cdef double[::1] weight_view
    cdef const double* w_ptr = NULL
    cdef const double* off_ptr = NULL
    cdef const double* trials_ptr = NULL
    cdef double* weight_ptr = NULL
    cdef double[::1] resid_view
    cdef double* resid_ptr = NULL
    cdef double[::1] eta_view
    cdef double* eta_ptr = NULL
    cdef double loss = 0.0
    cdef int status, valid = 0
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    if resid_out is not None:
        resid_view = resid_out
        resid_ptr = &resid_view[0]
    if eta_out is not None:
        eta_view = eta_out
        eta_ptr = &eta_view[0]
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    if offset is not None:
        off_view = offset
        off_ptr = &off_view[0]
    if trials is not None:
        trials_view = trials
        trials_ptr = &trials_view[0]
    if weight_out is not None:
        weight_view = weight_out
        weight_ptr = &weight_view[0]
    elif curvature != GLM_CURVATURE_NONE:
        raise ValueError("weight_out is required when curvature is not GLM_CURVATURE_NONE")
    with nogil:
        status = glm_pass_out(&X[0, 0], n, p, ldx, row_major, &coef[0], intercept, &y[0],
                              w_ptr, off_ptr, trials_ptr, family, link, tweedie_power,
                              link_power, curvature, response_terms, &loss, &grad_out[0],
                              weight_ptr, &valid, resid_ptr, eta_ptr, n_threads)
    if status == -1:
        raise MemoryError("glm_pass could not allocate its row-block buffers")
    if status != 0:
        raise ValueError(f"glm_pass: bad family ({family}), link ({link}, power "
                         f"{link_power}) or curvature ({curvature}) code")
    return loss, bool(valid)


cdef enum:
    PEARSON_BLOCK = 4096            # rows per partial sum of _pearson_sum


def _pearson_sum(const double[::1] eta, const double[::1] y, const double[::1] w, int family,
                 int link, double family_param, double link_power, int n_threads=1):
    """Pearson's chi^2, sum_i w_i (y_i - mu_i)^2 / V(mu_i) with mu_i = h(eta_i), for glm_pass's
    family and link codes; NaN when some mean leaves the family's domain. Blocks of
    PEARSON_BLOCK rows are summed in order: the result does not depend on n_threads."""
    cdef GlmSpec spec
    cdef Py_ssize_t n = eta.shape[0]
    cdef Py_ssize_t n_blocks = (n + PEARSON_BLOCK - 1) // PEARSON_BLOCK
    cdef Py_ssize_t b, i, i1
    cdef double acc, total = 0.0
    cdef double* partial
    if y.shape[0] != n or w.shape[0] != n:
        raise ValueError(f"eta, y and w must have the same length, got {n}, {y.shape[0]}, "
                         f"{w.shape[0]}")
    if not _glm_spec(family, link, family_param, link_power, GLM_CURVATURE_NONE, False, &spec):
        raise ValueError(f"_pearson_sum: bad family ({family}) or link ({link}, power "
                         f"{link_power}) code")
    partial = <double*> malloc((n_blocks + 1) * sizeof(double))
    if partial == NULL:
        raise MemoryError("_pearson_sum could not allocate its partial sums")
    with nogil:
        for b in prange(n_blocks, schedule="static",
                        num_threads=work_threads(n_threads, n_blocks, ROW_TERM_WORK * n)):
            acc = 0.0
            i1 = (b + 1) * PEARSON_BLOCK
            if i1 > n:
                i1 = n
            for i in range(b * PEARSON_BLOCK, i1):
                acc = acc + w[i] * _pearson_row(&spec, eta[i], y[i])
            partial[b] = acc
        for b in range(n_blocks):
            total = total + partial[b]
    free(partial)
    return total


def _log_ndtr_into(const double[::1] x, double[::1] out):
    """out[i] = log Phi(x[i]) as glm_pass computes it for the probit link (for tests)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = _log_ndtr(x[i])


# -------------------------------------------------------------------- parameter updates --

cdef enum:
    UPDATE_PARALLEL_MIN = 65536     # elementwise updates shorter than this run serially
    UPDATE_GRAIN = 16384            # at least this many entries per thread


cdef inline int _update_threads(Py_ssize_t p, int n_threads) noexcept nogil:
    """Threads for an elementwise update of length p (1: run serially)."""
    if p < UPDATE_PARALLEL_MIN or n_threads <= 1:
        return 1
    if n_threads > p // UPDATE_GRAIN:
        n_threads = <int> (p // UPDATE_GRAIN)
    return n_threads


cdef int axpy_step(floating* theta, const floating* d, Py_ssize_t p, double alpha,
                   int n_threads) noexcept nogil:
    """theta += alpha d (length p). Returns 0."""
    cdef Py_ssize_t j
    n_threads = _update_threads(p, n_threads)
    if n_threads == 1:
        for j in range(p):
            theta[j] = <floating> (theta[j] + alpha * d[j])
    else:
        for j in prange(p, nogil=True, schedule="static", num_threads=n_threads):
            theta[j] = <floating> (theta[j] + alpha * d[j])
    return 0


cdef inline void _momentum_one(floating* theta, floating* velocity, const floating* d,
                               Py_ssize_t j, double alpha, double beta,
                               bint nesterov) noexcept nogil:
    cdef double vel = beta * velocity[j] + d[j]
    velocity[j] = <floating> vel
    if nesterov:
        theta[j] = <floating> (theta[j] + alpha * (d[j] + beta * vel))
    else:
        theta[j] = <floating> (theta[j] + alpha * vel)


cdef int momentum_step(floating* theta, floating* velocity, const floating* d, Py_ssize_t p,
                       double alpha, double beta, bint nesterov, int n_threads) noexcept nogil:
    """Heavy-ball (or Nesterov) step along the direction d, in place. Returns 0."""
    cdef Py_ssize_t j
    n_threads = _update_threads(p, n_threads)
    if n_threads == 1:
        for j in range(p):
            _momentum_one(theta, velocity, d, j, alpha, beta, nesterov)
    else:
        for j in prange(p, nogil=True, schedule="static", num_threads=n_threads):
            _momentum_one(theta, velocity, d, j, alpha, beta, nesterov)
    return 0


cdef inline void _adam_one(floating* theta, floating* m, floating* s, const floating* grad,
                           const floating* second, Py_ssize_t j, double alpha, double beta1,
                           double beta2, double eps, double power, double c1,
                           double c2) noexcept nogil:
    cdef double gj = grad[j]
    cdef double qj = gj * gj if second == NULL else second[j]
    cdef double mj = beta1 * m[j] + (1.0 - beta1) * gj
    cdef double sj = beta2 * s[j] + (1.0 - beta2) * qj
    cdef double shat = sj / c2
    cdef double denom
    m[j] = <floating> mj
    s[j] = <floating> sj
    if shat < 0:
        shat = 0.0
    if power == 0.5:
        denom = sqrt(shat)
    elif power == 1.0:
        denom = shat
    else:
        denom = pow(shat, power)
    theta[j] = <floating> (theta[j] - alpha * (mj / c1) / (denom + eps))


cdef int adam_step(floating* theta, floating* m, floating* s, const floating* grad,
                   const floating* second, Py_ssize_t p, double alpha, double beta1,
                   double beta2, double eps, double power, Py_ssize_t t,
                   int n_threads) noexcept nogil:
    """Adam / RMSprop / diagonal-Fisher step in place (see the module docstring); ``second``
    NULL means grad^2. Returns 0."""
    cdef Py_ssize_t j
    cdef double c1 = 1.0, c2 = 1.0
    if t > 0:
        c1 = 1.0 - pow(beta1, <double> t)
        c2 = 1.0 - pow(beta2, <double> t)
        if not (c1 > 0):
            c1 = 1.0
        if not (c2 > 0):
            c2 = 1.0
    n_threads = _update_threads(p, n_threads)
    if n_threads == 1:
        for j in range(p):
            _adam_one(theta, m, s, grad, second, j, alpha, beta1, beta2, eps, power, c1, c2)
    else:
        for j in prange(p, nogil=True, schedule="static", num_threads=n_threads):
            _adam_one(theta, m, s, grad, second, j, alpha, beta1, beta2, eps, power, c1, c2)
    return 0


def _axpy_step(floating[::1] theta, const floating[::1] d, double alpha, int n_threads):
    """Unvalidated Python entry to ``axpy_step``."""
    with nogil:
        axpy_step(&theta[0], &d[0], theta.shape[0], alpha, n_threads)


def _momentum_step(floating[::1] theta, floating[::1] velocity, const floating[::1] d,
                   double alpha, double beta, bint nesterov, int n_threads):
    """Unvalidated Python entry to ``momentum_step``."""
    with nogil:
        momentum_step(&theta[0], &velocity[0], &d[0], theta.shape[0], alpha, beta, nesterov,
                      n_threads)


def _adam_step(floating[::1] theta, floating[::1] m, floating[::1] s,
               const floating[::1] grad, object second, double alpha, double beta1,
               double beta2, double eps, double power, Py_ssize_t t, int n_threads):
    """Unvalidated Python entry to ``adam_step`` (second: None or like grad)."""
    cdef const floating[::1] q
    cdef const floating* q_ptr = NULL
    if second is not None:
        q = second
        q_ptr = &q[0]
    with nogil:
        adam_step(&theta[0], &m[0], &s[0], &grad[0], q_ptr, theta.shape[0], alpha, beta1,
                  beta2, eps, power, t, n_threads)


cdef enum:
    SCAN_BLOCK = 65536              # entries per block of _all_within


cdef inline int _block_outside(const floating* a, Py_ssize_t m, double limit) noexcept nogil:
    """1 when some |a_k| <= limit fails (a value above limit, an infinity or a NaN): a
    branch-free OR over the block, which the compiler vectorises."""
    cdef int outside = 0
    cdef Py_ssize_t k
    for k in range(m):
        outside |= not (fabs(a[k]) <= limit)
    return outside


def _all_within(const floating[::1] a, double limit, int n_threads):
    """True when |a_k| <= limit for every entry (so all are finite when limit is finite): one
    pass, no temporary, blocks of SCAN_BLOCK entries in parallel."""
    cdef Py_ssize_t m = a.shape[0]
    cdef Py_ssize_t n_blocks = (m + SCAN_BLOCK - 1) // SCAN_BLOCK
    cdef Py_ssize_t b, k0
    cdef int outside = 0
    if m == 0:
        return True
    n_threads = work_threads(n_threads, n_blocks, <double> m)
    with nogil:
        for b in prange(n_blocks, schedule="static", num_threads=n_threads):
            k0 = b * SCAN_BLOCK
            outside |= _block_outside(&a[k0], min(SCAN_BLOCK, m - k0), limit)
    return outside == 0


def _layout(Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t itemsize, Py_ssize_t n, Py_ssize_t p):
    """(row_major, leading dimension) of a 2-D array with unit stride along one axis."""
    if s1 == itemsize or p == 1:
        return True, (s0 // itemsize if n > 1 else p)
    if s0 == itemsize or n == 1:
        return False, (s1 // itemsize if p > 1 else n)
    raise ValueError("X must have unit stride along one axis (C- or F-contiguous rows/columns)")


#: Python-visible codes of glm_pass's families, links and curvatures, by name.
GLM_FAMILIES = {"gaussian": int(GLM_GAUSSIAN), "binomial": int(GLM_BINOMIAL),
                "poisson": int(GLM_POISSON), "gamma": int(GLM_GAMMA),
                "inverse_gaussian": int(GLM_INVERSE_GAUSSIAN), "tweedie": int(GLM_TWEEDIE),
                "negative_binomial": int(GLM_NEGATIVE_BINOMIAL)}
GLM_LINKS = {"identity": int(GLM_LINK_IDENTITY), "log": int(GLM_LINK_LOG),
             "logit": int(GLM_LINK_LOGIT), "probit": int(GLM_LINK_PROBIT),
             "cloglog": int(GLM_LINK_CLOGLOG), "power": int(GLM_LINK_POWER)}
GLM_CURVATURES = {None: int(GLM_CURVATURE_NONE), "exact": int(GLM_CURVATURE_EXACT),
                  "empirical": int(GLM_CURVATURE_EMPIRICAL),
                  "observed": int(GLM_CURVATURE_OBSERVED)}

#: Python-visible codes of FisherKind, by name.
FISHER_KINDS = {"none": int(FISHER_NONE), "exact": int(FISHER_EXACT),
                "empirical": int(FISHER_EMPIRICAL)}
