"""Kernels for categorical blocks given as integer codes (see categorical.pxd for the formulas).

Per-level sums run over fixed row blocks of SLOT_ROWS rows; block b is accumulated (float64)
into the L x width accumulator of slot b % n_slots, and the slots are summed in slot order.
n_slots depends only on n and the accumulator size (at most MAX_LEVEL_SLOTS, SLOT_BUDGET
doubles in all, and a reduction of at most half a pass), never on the thread count, so the
results are the same for any n_threads; threads take slots. F-ordered X is read column by
column within a block, C-ordered X row by row.
"""
from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from ngd._kernels._rows cimport work_threads


cdef enum:
    SLOT_ROWS = 16384                  # rows per block; block c belongs to slot c % n_slots
    MAX_LEVEL_SLOTS = 8
    SLOT_BUDGET = 4194304              # doubles of slot accumulators in all (32 MiB)


cdef inline Py_ssize_t _n_slots(Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    """Slots for accumulators of ``size`` doubles: set by n and size alone (never by the
    thread count), capped by SLOT_BUDGET and so that the reduction (n_slots x size) costs
    at most half a pass over the rows."""
    cdef Py_ssize_t n_blocks = (n + SLOT_ROWS - 1) // SLOT_ROWS
    cdef Py_ssize_t slots = MAX_LEVEL_SLOTS
    if slots > n_blocks:
        slots = n_blocks
    if slots * size > SLOT_BUDGET:
        slots = SLOT_BUDGET // size
    if 2 * slots * size > n:
        slots = n // (2 * size)
    return slots if slots > 1 else 1


cdef void _cross_rows(const floating* X, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t p,
                      Py_ssize_t ldx, bint row_major, const int32_t* codes, const double* v,
                      bint intercept, double* acc) noexcept nogil:
    """acc[c_i, :] += v_i [x_i, 1] for the rows i0 <= i < i1 (acc: L x (p + intercept))."""
    cdef Py_ssize_t width = p + intercept
    cdef Py_ssize_t i, j
    cdef int32_t c
    cdef double vi
    cdef double* row
    cdef const floating* xi
    if row_major:
        for i in range(i0, i1):
            c = codes[i]
            if c < 0:
                continue
            vi = 1.0 if v == NULL else v[i]
            row = acc + c * width
            xi = X + i * ldx
            for j in range(p):
                row[j] += vi * xi[j]
            if intercept:
                row[p] += vi
        return
    for j in range(p):                     # F order: one sequential sweep per column
        xi = X + j * ldx
        for i in range(i0, i1):
            c = codes[i]
            if c >= 0:
                acc[c * width + j] += (1.0 if v == NULL else v[i]) * xi[i]
    if intercept:
        for i in range(i0, i1):
            c = codes[i]
            if c >= 0:
                acc[c * width + p] += 1.0 if v == NULL else v[i]


cdef int _slot_sums(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                    bint row_major, const int32_t* codes, const double* v, Py_ssize_t L,
                    bint intercept, double* out, int n_threads) noexcept nogil:
    """out (L x (p + intercept)) = per-level sums of v_i [x_i, 1]: row blocks accumulated
    per slot, slots reduced in slot order. Returns 0 or -1 (out of memory)."""
    cdef Py_ssize_t width = p + intercept
    cdef Py_ssize_t size = L * width
    cdef Py_ssize_t n_slots = _n_slots(n, size)
    cdef Py_ssize_t n_blocks = (n + SLOT_ROWS - 1) // SLOT_ROWS
    cdef Py_ssize_t s, b, k
    cdef double total
    cdef double* acc
    cdef int T
    memset(out, 0, size * sizeof(double))
    if size == 0 or n == 0:
        return 0
    if n_slots == 1:
        _cross_rows(X, 0, n, p, ldx, row_major, codes, v, intercept, out)
        return 0
    acc = <double*> calloc(n_slots * size, sizeof(double))
    if acc == NULL:
        return -1
    T = work_threads(n_threads, n_slots, 2.0 * n * (width + 1))
    for s in prange(n_slots, nogil=True, schedule="static", num_threads=T):
        b = s
        while b < n_blocks:
            _cross_rows(X, b * SLOT_ROWS, min(n, (b + 1) * SLOT_ROWS), p, ldx, row_major,
                        codes, v, intercept, acc + s * size)
            b = b + n_slots
    T = work_threads(n_threads, size, 1.0 * n_slots * size)
    for k in prange(size, nogil=True, schedule="static", num_threads=T):
        total = 0.0
        for s in range(n_slots):
            total = total + acc[s * size + k]
        out[k] = total
    free(acc)
    return 0


cdef int level_sums(const int32_t* codes, Py_ssize_t n, const double* v, Py_ssize_t L,
                    double* out, int n_threads) noexcept nogil:
    """out[l] = sum_{i: c_i = l} v_i (1 when v is NULL). Returns 0 or -1."""
    cdef const double* none = NULL
    return _slot_sums(none, n, 0, 0, True, codes, v, L, True, out, n_threads)


cdef int level_cross_sums(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                          bint row_major, const int32_t* codes, const double* v,
                          Py_ssize_t L, bint intercept, double* out,
                          int n_threads) noexcept nogil:
    """out[l, j] = sum_{i: c_i = l} v_i x_ij (+ the level sums as column p with
    ``intercept``), out row-major L x (p + intercept). Returns 0 or -1."""
    return _slot_sums(X, n, p, ldx, row_major, codes, v, L, intercept, out, n_threads)


cdef int gather_add(Py_ssize_t n, Py_ssize_t K, const int32_t** codes, const double** gamma,
                    double* eta, int n_threads) noexcept nogil:
    """eta_i += sum_k gamma_k[c_ki] over the blocks k < K, skipping codes -1. Returns 0."""
    cdef Py_ssize_t i, k
    cdef int32_t c
    cdef double total
    cdef int T = work_threads(n_threads, n, 2.0 * n * K)
    for i in prange(n, nogil=True, schedule="static", num_threads=T):
        total = eta[i]
        for k in range(K):
            c = codes[k][i]
            if c >= 0:
                total = total + gamma[k][c]
        eta[i] = total
    return 0


# ------------------------------------------------------------------ Python entries --

def _level_sums(const int32_t[::1] codes, object v, double[::1] out, int n_threads):
    """Unvalidated entry to ``level_sums`` (v: None or float64 (n,); out: (L,))."""
    cdef const double[::1] v_view
    cdef const double* v_ptr = NULL
    cdef Py_ssize_t n = codes.shape[0]
    cdef int status
    if v is not None:
        v_view = v
        v_ptr = &v_view[0] if n else NULL
    with nogil:
        status = level_sums(&codes[0] if n else NULL, n, v_ptr, out.shape[0],
                            &out[0] if out.shape[0] else NULL, n_threads)
    if status != 0:
        raise MemoryError("level_sums could not allocate its slot accumulators")


def _level_cross_sums(const floating[:, :] X, const int32_t[::1] codes, object v,
                      bint intercept, double[:, ::1] out, int n_threads):
    """Unvalidated entry to ``level_cross_sums`` (out: (L, p + intercept) C-ordered)."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef const double[::1] v_view
    cdef const double* v_ptr = NULL
    cdef int status
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    if v is not None:
        v_view = v
        v_ptr = &v_view[0] if n else NULL
    with nogil:
        status = level_cross_sums(&X[0, 0], n, p, ldx, row_major, &codes[0] if n else NULL,
                                  v_ptr, out.shape[0], intercept, &out[0, 0], n_threads)
    if status != 0:
        raise MemoryError("level_cross_sums could not allocate its slot accumulators")


def _gather_add(double[::1] eta, list codes, list gamma, int n_threads):
    """Unvalidated entry to ``gather_add``: codes, gamma lists of int32 / float64 1-D arrays."""
    cdef Py_ssize_t K = len(codes), k, n = eta.shape[0]
    cdef const int32_t[::1] c_view
    cdef const double[::1] g_view
    cdef const int32_t* code_ptrs[64]
    cdef const double* gamma_ptrs[64]
    if n == 0 or K == 0:
        return
    if K > 64:          # more blocks than one pass takes: gather them 64 at a time
        for k in range(0, K, 64):
            _gather_add(eta, codes[k:k + 64], gamma[k:k + 64], n_threads)
        return
    for k in range(K):
        c_view = codes[k]
        g_view = gamma[k]
        code_ptrs[k] = &c_view[0]
        gamma_ptrs[k] = &g_view[0] if g_view.shape[0] else NULL
    with nogil:
        gather_add(n, K, <const int32_t**> code_ptrs, <const double**> gamma_ptrs, &eta[0],
                   n_threads)
