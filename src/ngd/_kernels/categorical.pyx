"""Kernels for categorical blocks given as integer codes (see categorical.pxd for the formulas).

Parallel sums are split by level: thread t owns the levels [L t / T, L (t + 1) / T), scans all
codes and adds the rows of its levels in row order. Each output entry is then the serial sum,
bit for bit, for any thread count, with no per-thread accumulators; the price is T scans of
the (4-byte) codes. F-ordered X is read column by column (sequentially), C-ordered X row by
row.
"""
from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.string cimport memset

from ngd._kernels._rows cimport work_threads


cdef inline int _level_threads(int n_threads, Py_ssize_t n, Py_ssize_t L,
                               Py_ssize_t width) noexcept nogil:
    """Threads for a pass over n rows of ``width`` values into L levels: at most one per
    level; each extra thread re-reads the codes, so small passes stay serial."""
    return work_threads(n_threads, L, 2.0 * n * (width + 1))


cdef void _sums_range(const int32_t* codes, Py_ssize_t n, const double* v, Py_ssize_t lo,
                      Py_ssize_t hi, double* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef int32_t c
    for i in range(n):
        c = codes[i]
        if c >= lo and c < hi:
            out[c] += 1.0 if v == NULL else v[i]


cdef int level_sums(const int32_t* codes, Py_ssize_t n, const double* v, Py_ssize_t L,
                    double* out, int n_threads) noexcept nogil:
    """out[l] = sum_{i: c_i = l} v_i (1 when v is NULL). Returns 0."""
    cdef Py_ssize_t t, T, lo, hi
    memset(out, 0, L * sizeof(double))
    if L <= 0:
        return 0
    T = _level_threads(n_threads, n, L, 1)
    if T == 1:
        _sums_range(codes, n, v, 0, L, out)
        return 0
    for t in prange(T, nogil=True, schedule="static", num_threads=T):
        lo = (L * t) // T
        hi = (L * (t + 1)) // T
        _sums_range(codes, n, v, lo, hi, out)
    return 0


cdef void _cross_range(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const int32_t* codes, const double* v, Py_ssize_t lo,
                       Py_ssize_t hi, bint intercept, double* out) noexcept nogil:
    """The levels [lo, hi) of level_cross_sums (out: all L rows, width p + intercept)."""
    cdef Py_ssize_t width = p + intercept
    cdef Py_ssize_t i, j
    cdef int32_t c
    cdef double vi
    cdef double* row
    cdef const floating* xi
    if row_major:
        for i in range(n):
            c = codes[i]
            if c < lo or c >= hi:
                continue
            vi = 1.0 if v == NULL else v[i]
            row = out + c * width
            xi = X + i * ldx
            for j in range(p):
                row[j] += vi * xi[j]
            if intercept:
                row[p] += vi
        return
    for j in range(p):                     # F order: one sequential sweep per column
        xi = X + j * ldx
        for i in range(n):
            c = codes[i]
            if c >= lo and c < hi:
                out[c * width + j] += (1.0 if v == NULL else v[i]) * xi[i]
    if intercept:
        for i in range(n):
            c = codes[i]
            if c >= lo and c < hi:
                out[c * width + p] += 1.0 if v == NULL else v[i]


cdef int level_cross_sums(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                          bint row_major, const int32_t* codes, const double* v,
                          Py_ssize_t L, bint intercept, double* out,
                          int n_threads) noexcept nogil:
    """out[l, j] = sum_{i: c_i = l} v_i x_ij (+ the level sums as column p with
    ``intercept``), out row-major L x (p + intercept). Returns 0."""
    cdef Py_ssize_t width = p + intercept
    cdef Py_ssize_t t, T, lo, hi
    memset(out, 0, L * width * sizeof(double))
    if L <= 0 or width == 0:
        return 0
    T = _level_threads(n_threads, n, L, width)
    if T == 1:
        _cross_range(X, n, p, ldx, row_major, codes, v, 0, L, intercept, out)
        return 0
    for t in prange(T, nogil=True, schedule="static", num_threads=T):
        lo = (L * t) // T
        hi = (L * (t + 1)) // T
        _cross_range(X, n, p, ldx, row_major, codes, v, lo, hi, intercept, out)
    return 0


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
    if v is not None:
        v_view = v
        v_ptr = &v_view[0] if n else NULL
    with nogil:
        level_sums(&codes[0] if n else NULL, n, v_ptr, out.shape[0],
                   &out[0] if out.shape[0] else NULL, n_threads)


def _level_cross_sums(const floating[:, :] X, const int32_t[::1] codes, object v,
                      bint intercept, double[:, ::1] out, int n_threads):
    """Unvalidated entry to ``level_cross_sums`` (out: (L, p + intercept) C-ordered)."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef const double[::1] v_view
    cdef const double* v_ptr = NULL
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    if v is not None:
        v_view = v
        v_ptr = &v_view[0] if n else NULL
    with nogil:
        level_cross_sums(&X[0, 0], n, p, ldx, row_major, &codes[0] if n else NULL, v_ptr,
                         out.shape[0], intercept, &out[0, 0], n_threads)


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
