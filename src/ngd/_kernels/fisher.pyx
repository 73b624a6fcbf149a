"""Fisher accumulation: the weighted Gram matrix X^T diag(v) X, blocked over rows.

With v_i = w_i p_i (1 - p_i) it is the exact Fisher of logistic regression; with
v_i = w_i r_i^2 the empirical Fisher sum_i w_i s_i s_i^T of scores s_i = r_i x_i.

Row blocks are scaled into a float64 buffer and fed to BLAS: dsyrk (upper triangle) on
sqrt(v)-scaled rows when every v_i >= 0, dgemm on v-scaled rows otherwise. Blocks are
accumulated into a fixed number of slots (a function of n and p only) reduced in slot order,
so the result is the same for every thread count.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport sqrt
from libc.stdlib cimport malloc, calloc, free

from ngd._kernels._blas cimport blas_int, dgemm, dsyrk
from ngd._kernels._rows cimport chunk_rows, load_rows

cdef enum:
    GRAM_SLOT_BUDGET = 8388608   # doubles (64 MiB) for per-slot p x p accumulators
    MAX_GRAM_SLOTS = 16


cdef int weighted_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* v, double* out, double* xv_out,
                       int n_threads) noexcept nogil:
    """out (p x p, symmetric) = X^T diag(v) X and, unless xv_out is NULL, xv_out = X^T v
    (the intercept column of the Gram of [X, 1]). Returns 0, or -1 when memory runs out."""
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t pp = p * p
    cdef Py_ssize_t width = pp + p        # Gram, then X^T v
    cdef Py_ssize_t n_slots = GRAM_SLOT_BUDGET // width
    cdef Py_ssize_t s, c, i0, m, r, i, j
    cdef bint nonneg = True
    cdef double* acc
    cdef double* buf
    cdef double* raw
    cdef double* scale
    cdef double* slot
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef blas_int bp = <blas_int> p, bm
    cdef double d_one = 1.0, wt
    if n_slots > MAX_GRAM_SLOTS:
        n_slots = MAX_GRAM_SLOTS
    if n_slots > n_chunks:
        n_slots = n_chunks
    if n_slots < 1:
        n_slots = 1
    for i in range(n):
        if v[i] < 0:
            nonneg = False
            break
    scale = <double*> malloc(n * sizeof(double))
    acc = <double*> calloc(n_slots * width, sizeof(double))
    if scale == NULL or acc == NULL:
        free(scale)
        free(acc)
        return -1
    for i in range(n):
        scale[i] = sqrt(v[i]) if nonneg else v[i]
    if n_threads > n_slots:           # no idle threads on small inputs
        n_threads = <int> n_slots
    with parallel(num_threads=n_threads):
        buf = <double*> malloc(rows * p * sizeof(double))
        raw = NULL
        if not nonneg:
            raw = <double*> malloc(rows * p * sizeof(double))
        if buf == NULL or (not nonneg and raw == NULL):
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = acc + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    bm = <blas_int> m
                    load_rows(X, ldx, row_major, i0, m, p, scale, buf)
                    if nonneg:
                        # buf is p x m column-major: slot += buf buf^T (upper triangle)
                        dsyrk("U", "N", &bp, &bm, &d_one, buf, &bp, &d_one, slot, &bp)
                    else:
                        load_rows(X, ldx, row_major, i0, m, p, NULL, raw)
                        dgemm("N", "T", &bp, &bp, &bm, &d_one, buf, &bp, raw, &bp, &d_one,
                              slot, &bp)
                    if xv_out != NULL:
                        # buf rows are sqrt(v_i) x_i (or v_i x_i): weight them back to v_i x_i
                        for r in range(m):
                            wt = scale[i0 + r] if nonneg else 1.0
                            for j in range(p):
                                slot[pp + j] += wt * buf[r * p + j]
                    c = c + n_slots
        free(buf)
        free(raw)
    free(scale)
    if failed:
        free(acc)
        return -1
    # Reduce in slot order; column-major upper triangle (i <= j) holds the sums.
    for j in range(p):
        for i in range(j + 1):
            out[j * p + i] = 0.0
    if xv_out != NULL:
        for j in range(p):
            xv_out[j] = 0.0
    for s in range(n_slots):
        slot = acc + s * width
        for j in range(p):
            for i in range(j + 1):
                out[j * p + i] += slot[j * p + i]
        if xv_out != NULL:
            for j in range(p):
                xv_out[j] += slot[pp + j]
    for j in range(p):
        for i in range(j + 1, p):
            out[j * p + i] = out[i * p + j]
    free(acc)
    return 0


def _weighted_gram(const floating[:, :] X, const double[::1] v, double[:, ::1] out,
                   object xv_out, int n_threads):
    """Unvalidated Python entry to ``weighted_gram`` (xv_out: None or float64 (p,))."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    cdef double[::1] xv_view
    cdef double* xv_ptr = NULL
    if xv_out is not None:
        xv_view = xv_out
        xv_ptr = &xv_view[0]
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        status = weighted_gram(&X[0, 0], n, p, ldx, row_major, &v[0], &out[0, 0], xv_ptr,
                               n_threads)
    if status != 0:
        raise MemoryError("weighted_gram could not allocate its accumulators")
