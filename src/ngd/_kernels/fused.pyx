"""Fused one-pass kernels over row blocks of X.

``logistic_pass`` reads X once and returns, for the binomial-logit pointwise loss
nll_i = log(1 + exp(eta_i)) - y_i eta_i with eta = X coef + intercept + offset:

    loss_out[0] = sum_i w_i nll_i
    grad_out[:p] = sum_i w_i (p_i - y_i) x_i,  grad_out[p] = sum_i w_i (p_i - y_i)
    weight_out[i] = w_i p_i (1 - p_i)  (exact)  or  w_i (p_i - y_i)^2  (empirical)

Sums are unnormalised; the caller divides by sum(w). Row blocks are reduced in a fixed order,
so results do not depend on the number of threads.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport exp, log1p
from libc.stdlib cimport malloc, calloc, free

from ngd._kernels._blas cimport blas_int, dgemv
from ngd._kernels._rows cimport chunk_rows, load_rows, MAX_SLOTS


cdef struct RowTerms:
    double nll       # pointwise loss
    double resid     # w (p - y), the derivative of w nll with respect to eta
    double weight    # Fisher weight w p (1 - p) or w (p - y)^2


cdef inline RowTerms _logistic_row(double eta, double y, double w,
                                   int fisher_kind) noexcept nogil:
    """Stable pointwise loss, residual w (p - y) and Fisher weight at one linear predictor.

    For eta >= 0 (e = exp(-eta)): nll = (1 - y) eta + log1p(e) and p - y = ((1 - y) - y e)
    / (1 + e), which keep full relative accuracy when y = 1 and p is close to 1 (the naive
    eta + log1p(e) - y eta and 1/(1 + e) - y cancel catastrophically there)."""
    cdef RowTerms out
    cdef double e, diff
    if eta >= 0:
        e = exp(-eta)
        out.nll = (1.0 - y) * eta + log1p(e)
        diff = ((1.0 - y) - y * e) / (1.0 + e)
    else:
        e = exp(eta)
        out.nll = log1p(e) - y * eta
        diff = e / (1.0 + e) - y
    out.resid = w * diff
    out.weight = 0.0
    if fisher_kind == FISHER_EXACT:
        out.weight = w * e / ((1.0 + e) * (1.0 + e))
    elif fisher_kind == FISHER_EMPIRICAL:
        out.weight = w * diff * diff
    return out


cdef int logistic_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* coef, double intercept,
                       const double* y, const double* w, const double* offset,
                       int fisher_kind, double* loss_out, double* grad_out,
                       double* weight_out, int n_threads) noexcept nogil:
    """One pass over X (see module docstring). Returns 0, or -1 when memory runs out."""
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef Py_ssize_t width = p + 2          # gradient, intercept gradient, loss
    cdef double* partial = <double*> calloc(n_slots * width, sizeof(double))
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef Py_ssize_t s, c, i0, m, r, j
    cdef double* buf
    cdef double* resid
    cdef double* slot
    cdef const double* A
    cdef RowTerms terms
    cdef double wi, yi
    cdef blas_int bp = <blas_int> p, bm, blda, one = 1
    cdef double d_one = 1.0, d_zero = 0.0
    cdef bint direct
    if partial == NULL:
        return -1
    if n_threads > n_slots:           # no idle threads on small inputs
        n_threads = <int> n_slots
    with parallel(num_threads=n_threads):
        buf = <double*> malloc(rows * p * sizeof(double))
        resid = <double*> malloc(rows * sizeof(double))
        if buf == NULL or resid == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = partial + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    bm = <blas_int> m
                    # A is the block in BLAS (column-major) terms: p x m (row-major data)
                    # or m x p (column-major float64 data read in place).
                    direct = floating is double
                    if direct and row_major:
                        A = <const double*> (X + i0 * ldx)
                        blda = <blas_int> ldx
                    elif direct:
                        A = <const double*> (X + i0)
                        blda = <blas_int> ldx
                    else:
                        load_rows(X, ldx, row_major, i0, m, p, NULL, buf)
                        A = buf
                        blda = bp
                    if direct and not row_major:
                        dgemv("N", &bm, &bp, &d_one, <double*> A, &blda, <double*> coef, &one,
                              &d_zero, resid, &one)
                    else:
                        dgemv("T", &bp, &bm, &d_one, <double*> A, &blda, <double*> coef, &one,
                              &d_zero, resid, &one)
                    for r in range(m):
                        wi = 1.0 if w == NULL else w[i0 + r]
                        yi = y[i0 + r]
                        resid[r] = resid[r] + intercept
                        if offset != NULL:
                            resid[r] = resid[r] + offset[i0 + r]
                        terms = _logistic_row(resid[r], yi, wi, fisher_kind)
                        slot[p + 1] += wi * terms.nll
                        slot[p] += terms.resid
                        resid[r] = terms.resid
                        if fisher_kind != FISHER_NONE:
                            weight_out[i0 + r] = terms.weight
                    if direct and not row_major:
                        dgemv("T", &bm, &bp, &d_one, <double*> A, &blda, resid, &one,
                              &d_one, slot, &one)
                    else:
                        dgemv("N", &bp, &bm, &d_one, <double*> A, &blda, resid, &one,
                              &d_one, slot, &one)
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
        slot = partial + s * width
        for j in range(p + 1):
            grad_out[j] += slot[j]
        loss_out[0] += slot[p + 1]
    free(partial)
    return 0


def _logistic_pass(const floating[:, :] X, const double[::1] coef, double intercept,
                   const double[::1] y, object w, object offset, int fisher_kind,
                   double[::1] grad_out, object weight_out, int n_threads):
    """Unvalidated Python entry to ``logistic_pass``; returns the weighted loss sum."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef const double[::1] w_view
    cdef const double[::1] off_view
    cdef double[::1] weight_view
    cdef const double* w_ptr = NULL
    cdef const double* off_ptr = NULL
    cdef double* weight_ptr = NULL
    cdef double loss = 0.0
    cdef int status
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
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
        status = logistic_pass(&X[0, 0], n, p, ldx, row_major, &coef[0], intercept, &y[0],
                               w_ptr, off_ptr, fisher_kind, &loss, &grad_out[0], weight_ptr,
                               n_threads)
    if status != 0:
        raise MemoryError("logistic_pass could not allocate its row-block buffers")
    return loss


def _layout(Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t itemsize, Py_ssize_t n, Py_ssize_t p):
    """(row_major, leading dimension) of a 2-D array with unit stride along one axis."""
    if s1 == itemsize or p == 1:
        return True, (s0 // itemsize if n > 1 else p)
    if s0 == itemsize or n == 1:
        return False, (s1 // itemsize if p > 1 else n)
    raise ValueError("X must have unit stride along one axis (C- or F-contiguous rows/columns)")


#: Python-visible codes of FisherKind, by name.
FISHER_KINDS = {"none": int(FISHER_NONE), "exact": int(FISHER_EXACT),
                "empirical": int(FISHER_EMPIRICAL)}
