"""Fused one-pass kernels over the rows of a CSR matrix X (n x p).

``csr_logistic_pass`` and ``csr_glm_pass`` are the CSR counterparts of fused.pyx's
``logistic_pass`` and ``glm_pass``: for each row i one pass computes eta_i = x_i . coef +
intercept + offset_i over the row's non-zeros, the row terms of _row_terms.pxd (the same inline
functions as the dense kernels: loss, residual r_i, curvature weight), and scatters r_i x_i into
the gradient while the row is still in cache:

    loss_out[0] = sum_i w_i nll_i
    grad_out[:p] = sum_i r_i x_i,  grad_out[p] = sum_i r_i
    weight_out[i] = the curvature weight of row i (fisher_kind / curvature as in fused.pyx)
    valid_out[0] (GLM) = 0 when some eta or mean leaves the link's or family's domain (or a half
    deviance is not finite): the loss is then +inf and the gradient zero, as in glm_pass.

Sums are unnormalised; the caller divides by sum(w). Rows are cut into blocks of a fixed number
of rows (set by n and nnz alone, about CHUNK_NONZEROS non-zeros each, as in sparse.pyx); a
fixed number of slots, each with its own partial [gradient (p), intercept gradient, loss], owns
every n_slots-th block, and the slots are summed in order: results do not depend on n_threads.
The slot count is capped so that the slots' accumulators (written back, then reduced) cost at
most about an eighth of a pass over the non-zeros; the reduction runs in parallel over the
gradient's entries, each summed in slot order. The loss is summed with Neumaier's compensation
(near the optimum line searches compare losses that differ by little more than rounding).

``_csr_logistic_pass`` and ``_csr_glm_pass`` are the Python entries: they check the shapes
and dtypes of their arguments once (TypeError / ValueError naming the argument), not the CSR
structure, which ngd._sparse.as_csr validates.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport isfinite, INFINITY
from libc.stdlib cimport calloc, free

from ngd._kernels._row_terms cimport RowTerms, _logistic_row, GlmSpec, _glm_spec, _glm_row
from ngd._kernels._rows cimport work_threads, add_compensated, slot_stride, ROW_TERM_WORK
from ngd._kernels._sparse_rows cimport Plan, csr_plan, row_dot
from ngd._kernels.fused cimport (FISHER_NONE, FISHER_EMPIRICAL, GLM_CURVATURE_NONE,
                                 GLM_CURVATURE_OBSERVED)


cdef enum:
    SLOT_SHARE = 8                  # all slots together hold at most nnz / SLOT_SHARE doubles


cdef inline Plan _plan(Py_ssize_t n, Py_ssize_t nnz, Py_ssize_t width) noexcept nogil:
    """The CSR row blocks, with all slots (``width`` doubles each) together holding at most
    nnz / SLOT_SHARE doubles: each slot's accumulators are written back and reduced once per
    pass, and for wide X (p = 50 000, 50 non-zeros a row) 64 slots cost about a quarter of the
    pass; the cap keeps it near a tenth."""
    return csr_plan(n, nnz, nnz // (SLOT_SHARE * width))


cdef inline double _row_eta(const floating* data, const sparse_index* indices, Py_ssize_t a,
                            Py_ssize_t b, const double* coef, double intercept,
                            const double* offset, Py_ssize_t i) noexcept nogil:
    """x_i . coef + intercept + offset_i over the row's non-zeros k in [a, b) (in the order of
    the dense kernels: the dot product (``row_dot``'s four partial sums), then the intercept,
    then the offset)."""
    cdef double t = row_dot(data, indices, a, b, coef)
    t = t + intercept
    if offset != NULL:
        t = t + offset[i]
    return t


cdef inline void _row_scatter(const floating* data, const sparse_index* indices, Py_ssize_t a,
                              Py_ssize_t b, double r, Py_ssize_t p,
                              double* slot) noexcept nogil:
    """slot[:p] += r x_i, slot[p] += r."""
    cdef Py_ssize_t k
    for k in range(a, b):
        slot[indices[k]] += r * data[k]
    slot[p] += r


cdef inline void _logistic_csr_row(const floating* data, const sparse_index* indices,
                                   Py_ssize_t a, Py_ssize_t b, Py_ssize_t i, Py_ssize_t p,
                                   const double* coef, double intercept, const double* y,
                                   const double* w, const double* offset, int fisher_kind,
                                   double* slot, double* weight_out) noexcept nogil:
    """Row i's loss, gradient and Fisher weight into slot (p + 3) and weight_out."""
    cdef double wi = 1.0 if w == NULL else w[i]
    cdef RowTerms terms = _logistic_row(_row_eta(data, indices, a, b, coef, intercept, offset,
                                                 i), y[i], wi, fisher_kind)
    add_compensated(slot + p + 1, wi * terms.nll)
    _row_scatter(data, indices, a, b, terms.resid, p, slot)
    if fisher_kind != FISHER_NONE:
        weight_out[i] = terms.weight


cdef inline bint _glm_csr_row(const GlmSpec* spec, const floating* data,
                              const sparse_index* indices, Py_ssize_t a, Py_ssize_t b,
                              Py_ssize_t i, Py_ssize_t p, const double* coef, double intercept,
                              const double* y, const double* w, const double* offset,
                              const double* trials, double* slot,
                              double* weight_out) noexcept nogil:
    """Row i's loss, gradient and curvature weight into slot (p + 3) and weight_out; False
    (nothing accumulated) when the row is out of domain."""
    cdef double wi = 1.0 if w == NULL else w[i]
    cdef double mi = 1.0 if trials == NULL else trials[i]
    cdef double nll = 0.0, resid = 0.0, weight = 0.0
    if not _glm_row(spec, _row_eta(data, indices, a, b, coef, intercept, offset, i), y[i], wi,
                    mi, &nll, &resid, &weight):
        return False
    add_compensated(slot + p + 1, wi * nll)
    _row_scatter(data, indices, a, b, resid, p, slot)
    if spec.curvature != GLM_CURVATURE_NONE:
        weight_out[i] = weight
    return True


cdef void _reduce(const double* partial, Py_ssize_t n_slots, Py_ssize_t p, double* loss_out,
                  double* grad_out, int n_threads) noexcept nogil:
    """grad_out (p + 1) and loss_out[0] = the slots' sums, each entry added in slot order
    (threads own disjoint entries; the loss compensated, a non-finite loss sum returned as it
    is)."""
    cdef Py_ssize_t stride = slot_stride(p + 3)   # doubles between slots
    cdef Py_ssize_t s, j
    cdef double t
    cdef double loss[2]
    for j in prange(p + 1, nogil=True, schedule="static",
                    num_threads=work_threads(n_threads, p + 1, 1.0 * n_slots * (p + 1))):
        t = 0.0
        for s in range(n_slots):
            t = t + partial[s * stride + j]
        grad_out[j] = t
    loss[0] = 0.0
    loss[1] = 0.0
    for s in range(n_slots):
        add_compensated(loss, partial[s * stride + p + 1])
        loss[1] += partial[s * stride + p + 2]
    loss_out[0] = loss[0] + loss[1] if isfinite(loss[0]) else loss[0]


cdef int csr_logistic_pass(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           const double* coef, double intercept, const double* y,
                           const double* w, const double* offset, int fisher_kind,
                           double* loss_out, double* grad_out, double* weight_out,
                           int n_threads) noexcept nogil:
    """One pass over the rows of X for the logistic loss (see the module docstring). Returns
    0, or -1 when memory runs out."""
    cdef Py_ssize_t width = p + 3          # gradient, intercept gradient, loss (+ its
                                           # compensation)
    cdef Py_ssize_t stride = slot_stride(width)   # doubles between slots
    cdef Py_ssize_t nnz = indptr[n]
    cdef Plan plan = _plan(n, nnz, width)
    cdef Py_ssize_t s, c, i, i1, j
    cdef double* partial
    loss_out[0] = 0.0
    for j in range(p + 1):
        grad_out[j] = 0.0
    if n == 0:
        return 0
    partial = <double*> calloc(plan.n_slots * stride, sizeof(double))
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, plan.n_slots, 4.0 * nnz + ROW_TERM_WORK * n)
    for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=n_threads):
        c = s
        while c < plan.n_chunks:
            i1 = (c + 1) * plan.rows
            if i1 > n:
                i1 = n
            for i in range(c * plan.rows, i1):
                _logistic_csr_row(data, indices, indptr[i], indptr[i + 1], i, p, coef,
                                  intercept, y, w, offset, fisher_kind, partial + s * stride,
                                  weight_out)
            c = c + plan.n_slots
    _reduce(partial, plan.n_slots, p, loss_out, grad_out, n_threads)
    free(partial)
    return 0


cdef int csr_glm_pass(const floating* data, const sparse_index* indices,
                      const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                      const double* coef, double intercept, const double* y, const double* w,
                      const double* offset, const double* trials, int family, int link,
                      double tweedie_power, double link_power, int curvature,
                      bint response_terms, double* loss_out, double* grad_out,
                      double* weight_out, int* valid_out, int n_threads) noexcept nogil:
    """One pass over the rows of X for a GLM (see the module docstring; without
    response_terms the loss leaves out sum_i w_i c(y_i)). Returns 0, -1 when memory runs out,
    -2 for an unknown family, link or curvature code (or a zero power-link exponent)."""
    cdef GlmSpec spec
    cdef Py_ssize_t width = p + 3          # gradient, intercept gradient, loss (+ its
                                           # compensation)
    cdef Py_ssize_t stride = slot_stride(width)   # doubles between slots
    cdef Py_ssize_t nnz = indptr[n]
    cdef Plan plan = _plan(n, nnz, width)
    cdef Py_ssize_t s, c, i, i1, j
    cdef double* partial
    cdef int invalid = 0
    cdef int* invalid_ptr = &invalid
    if not _glm_spec(family, link, tweedie_power, link_power, curvature, response_terms,
                     &spec):
        return -2
    loss_out[0] = 0.0
    for j in range(p + 1):
        grad_out[j] = 0.0
    valid_out[0] = 1
    if n == 0:
        return 0
    partial = <double*> calloc(plan.n_slots * stride, sizeof(double))
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, plan.n_slots, 4.0 * nnz + ROW_TERM_WORK * n)
    for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=n_threads):
        c = s
        while c < plan.n_chunks and invalid_ptr[0] == 0:
            i1 = (c + 1) * plan.rows
            if i1 > n:
                i1 = n
            for i in range(c * plan.rows, i1):
                if not _glm_csr_row(&spec, data, indices, indptr[i], indptr[i + 1], i, p, coef,
                                    intercept, y, w, offset, trials, partial + s * stride,
                                    weight_out):
                    invalid_ptr[0] = 1
                    break
            c = c + plan.n_slots
    if invalid:
        valid_out[0] = 0
        loss_out[0] = INFINITY
    else:
        _reduce(partial, plan.n_slots, p, loss_out, grad_out, n_threads)
    free(partial)
    return 0


# --- Python entries: arguments checked once here; the CSR structure by ngd._sparse.as_csr ---

cdef inline const double* _ptr(const double[::1] a) noexcept:
    """Pointer to a's first value, NULL when a is empty (or None)."""
    return &a[0] if a is not None and a.shape[0] > 0 else NULL


def _logistic_impl(const floating[::1] data, const sparse_index[::1] indices,
              const sparse_index[::1] indptr, Py_ssize_t p, const double[::1] coef,
              double intercept, const double[::1] y, const double[::1] w,
              const double[::1] offset, int fisher_kind, double[::1] grad_out,
              double[::1] weight_out, int n_threads):
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef double loss = 0.0
    cdef int status
    cdef const double* w_ptr = _ptr(w)
    cdef const double* off_ptr = _ptr(offset)
    cdef const double* coef_ptr = _ptr(coef)
    cdef const double* y_ptr = _ptr(y)
    cdef double* weight_ptr = <double*> _ptr(weight_out)
    with nogil:
        status = csr_logistic_pass(&data[0] if data.shape[0] else NULL,
                                   &indices[0] if indices.shape[0] else NULL, &indptr[0], n, p,
                                   coef_ptr, intercept, y_ptr, w_ptr, off_ptr, fisher_kind,
                                   &loss, &grad_out[0], weight_ptr, n_threads)
    if status != 0:
        raise MemoryError("csr_logistic_pass could not allocate its slot accumulators")
    return loss


def _glm_impl(const floating[::1] data, const sparse_index[::1] indices,
         const sparse_index[::1] indptr, Py_ssize_t p, const double[::1] coef, double intercept,
         const double[::1] y, const double[::1] w, const double[::1] offset,
         const double[::1] trials, int family, int link, double tweedie_power,
         double link_power, int curvature, double[::1] grad_out, double[::1] weight_out,
         int n_threads, bint response_terms):
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef double loss = 0.0
    cdef int status, valid = 0
    cdef const double* w_ptr = _ptr(w)
    cdef const double* off_ptr = _ptr(offset)
    cdef const double* trials_ptr = _ptr(trials)
    cdef const double* coef_ptr = _ptr(coef)
    cdef const double* y_ptr = _ptr(y)
    cdef double* weight_ptr = <double*> _ptr(weight_out)
    with nogil:
        status = csr_glm_pass(&data[0] if data.shape[0] else NULL,
                              &indices[0] if indices.shape[0] else NULL, &indptr[0], n, p,
                              coef_ptr, intercept, y_ptr, w_ptr, off_ptr, trials_ptr,
                              family, link, tweedie_power, link_power, curvature,
                              response_terms, &loss, &grad_out[0], weight_ptr, &valid,
                              n_threads)
    if status == -1:
        raise MemoryError("csr_glm_pass could not allocate its slot accumulators")
    if status != 0:
        raise ValueError(f"csr_glm_pass: bad family ({family}), link ({link}, power "
                         f"{link_power}) or curvature ({curvature}) code")
    return loss, bool(valid)


def _check_csr(data, indices, indptr, Py_ssize_t n_features):
    """n (rows) of the CSR arrays, after checking their dtypes, shapes and ends."""
    for name, a, kinds in (("data", data, (np.float32, np.float64)),
                           ("indices", indices, (np.int32, np.int64)),
                           ("indptr", indptr, (np.int32, np.int64))):
        if not isinstance(a, np.ndarray) or a.dtype not in kinds:
            raise TypeError(f"{name} must be a numpy array of dtype "
                            f"{' or '.join(np.dtype(k).name for k in kinds)}, got "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
        if a.ndim != 1 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be 1-D and contiguous, got shape {a.shape}")
    if indices.dtype != indptr.dtype:
        raise TypeError(f"indices and indptr must have the same dtype, got {indices.dtype} and "
                        f"{indptr.dtype}")
    if indptr.shape[0] < 1 or indptr[0] != 0:
        raise ValueError("indptr must have n_rows + 1 >= 1 entries and start at 0")
    if indptr[-1] > min(data.shape[0], indices.shape[0]):
        raise ValueError(f"indptr ends at {indptr[-1]} but indices has {indices.shape[0]} and "
                         f"data {data.shape[0]} entries")
    if n_features < 0:
        raise ValueError(f"n_features must be >= 0, got {n_features}")
    return indptr.shape[0] - 1


def _vector(name, a, Py_ssize_t size, bint optional=False, bint output=False):
    """a as a contiguous float64 vector of ``size`` values (None when optional and None);
    outputs must already be writable float64 numpy arrays."""
    if a is None:
        if optional:
            return None
        raise ValueError(f"{name} is required")
    if output:
        if not isinstance(a, np.ndarray) or a.dtype != np.float64:
            raise TypeError(f"{name} must be a float64 numpy array, got "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
        if not a.flags.writeable:
            raise ValueError(f"{name} must be writable")
    else:
        a = np.asarray(a)
        if a.dtype != np.float64:
            raise TypeError(f"{name} must be float64, got {a.dtype}")
    if a.ndim != 1 or a.shape[0] != size or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a contiguous vector of {size} values, got shape "
                         f"{a.shape}")
    return a


def _csr_logistic_pass(data, indices, indptr, Py_ssize_t n_features, coef,
                         double intercept, y, w, offset, int fisher_kind, grad_out, weight_out,
                         int n_threads=1):
    """``csr_logistic_pass`` on the CSR arrays of X (n_features columns); returns the
    weighted loss sum and fills grad_out ([X^T r, sum r], n_features + 1) and, unless
    fisher_kind is FISHER_NONE, weight_out (n). w and offset may be None."""
    cdef Py_ssize_t n = _check_csr(data, indices, indptr, n_features)
    if fisher_kind < FISHER_NONE or fisher_kind > FISHER_EMPIRICAL:
        raise ValueError(f"fisher_kind must be one of fused.FISHER_KINDS, got {fisher_kind}")
    return _logistic_impl(data, indices, indptr, n_features, _vector("coef", coef, n_features),
                     intercept, _vector("y", y, n), _vector("w", w, n, True),
                     _vector("offset", offset, n, True), fisher_kind,
                     _vector("grad_out", grad_out, n_features + 1, output=True),
                     _vector("weight_out", weight_out, n, fisher_kind == FISHER_NONE, True),
                     n_threads)


def _csr_glm_pass(data, indices, indptr, Py_ssize_t n_features, coef, double intercept, y,
                    w, offset, trials, int family, int link, double tweedie_power,
                    double link_power, int curvature, grad_out, weight_out, int n_threads=1,
                    bint response_terms=True):
    """``csr_glm_pass`` on the CSR arrays of X (n_features columns); returns (weighted loss
    sum, valid) and fills grad_out (n_features + 1) and, unless curvature is
    GLM_CURVATURE_NONE, weight_out (n). w, offset and trials (binomial counts, used by the
    empirical curvature) may be None; without response_terms the loss sum leaves out
    sum_i w_i c(y_i) (``Family.response_term``). When valid is False some row's eta or mean left the
    link's or family's domain: the loss is inf and the rest meaningless."""
    cdef Py_ssize_t n = _check_csr(data, indices, indptr, n_features)
    if curvature < GLM_CURVATURE_NONE or curvature > GLM_CURVATURE_OBSERVED:
        raise ValueError(f"curvature must be one of fused.GLM_CURVATURES, got {curvature}")
    return _glm_impl(data, indices, indptr, n_features, _vector("coef", coef, n_features),
                intercept, _vector("y", y, n), _vector("w", w, n, True),
                _vector("offset", offset, n, True), _vector("trials", trials, n, True), family,
                link, tweedie_power, link_power, curvature,
                _vector("grad_out", grad_out, n_features + 1, output=True),
                _vector("weight_out", weight_out, n, curvature == GLM_CURVATURE_NONE, True),
                n_threads, response_terms)
