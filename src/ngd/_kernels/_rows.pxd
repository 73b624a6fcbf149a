# Row-block helpers shared by the kernels: the fixed chunking that makes every reduction
# independent of the thread count, and the copy of a row block into a float64 buffer.
from libc.math cimport fabs, sqrt
from cython cimport floating

from ngd._kernels._blas cimport blas_int

cdef enum:
    CHUNK_DOUBLES = 32768      # ~256 KiB of float64 per row block
    MAX_SLOTS = 64             # partial results reduced in slot order


cdef inline Py_ssize_t chunk_rows(Py_ssize_t n, Py_ssize_t p) noexcept nogil:
    """Rows per block: about CHUNK_DOUBLES values, between 16 and 4096 rows."""
    cdef Py_ssize_t rows = CHUNK_DOUBLES // (p if p > 0 else 1)
    if rows < 16:
        rows = 16
    if rows > 4096:
        rows = 4096
    if rows > n:
        rows = n if n > 0 else 1
    return rows


cdef inline void load_rows(const floating* X, Py_ssize_t ldx, bint row_major,
                           Py_ssize_t i0, Py_ssize_t m, Py_ssize_t p, Py_ssize_t ld,
                           bint intercept, const double* scale, double* out) noexcept nogil:
    """out[r, j] = s_r X[i0 + r, j] and, with ``intercept``, out[r, p] = s_r (s = scale[i0:],
    NULL meaning 1); out is row-major with leading dimension ld, float64 whatever X's dtype.
    Columns past p + intercept are left as they are (the zero padding)."""
    cdef Py_ssize_t r, j
    cdef double s
    if row_major:
        for r in range(m):
            s = 1.0 if scale == NULL else scale[i0 + r]
            for j in range(p):
                out[r * ld + j] = s * X[(i0 + r) * ldx + j]
    elif scale == NULL:
        for j in range(p):
            for r in range(m):
                out[r * ld + j] = X[i0 + r + j * ldx]
    else:
        for j in range(p):
            for r in range(m):
                out[r * ld + j] = scale[i0 + r] * X[i0 + r + j * ldx]
    if intercept:
        for r in range(m):
            out[r * ld + p] = 1.0 if scale == NULL else scale[i0 + r]


cdef inline void add_compensated(double* acc, double x) noexcept nogil:
    """acc[0] += x with Neumaier's compensation in acc[1] (the sum is acc[0] + acc[1]): a loss
    sum stays accurate to a few rounding errors of its terms, whatever n and however large its
    partial sums (line searches compare losses near the optimum, where they differ by little
    more than rounding)."""
    cdef double s = acc[0]
    cdef double t = s + x
    if fabs(s) >= fabs(x):
        acc[1] += (s - t) + x
    else:
        acc[1] += (x - t) + s
    acc[0] = t


cdef enum:
    LINE_DOUBLES = 8               # doubles per 64-byte cache line


cdef inline Py_ssize_t slot_stride(Py_ssize_t width) noexcept nogil:
    """Doubles between consecutive per-thread partial-result slots of ``width`` doubles:
    rounded up to whole cache lines plus one line, so that the entries a thread updates every
    row (a loss, the intercept gradient) never share a line with another slot's (false sharing
    made a pass without columns slower on two threads than on one)."""
    return (width + 2 * LINE_DOUBLES - 1) // LINE_DOUBLES * LINE_DOUBLES


cdef enum:
    MIN_WORK_PER_THREAD = 262144   # flops below which waking one more thread costs more
    ROW_TERM_WORK = 32             # flops (roughly) of one row's pointwise terms (a few
                                   # transcendentals) in the fused passes, for work_threads


cdef inline int work_threads(int n_threads, Py_ssize_t n_slots, double work) noexcept nogil:
    """Threads worth using for ``work`` flops spread over ``n_slots`` slots: at most one per
    slot and one per MIN_WORK_PER_THREAD flops, at least 1. Only the thread count changes,
    never the blocking, so results stay the same."""
    cdef double cap = work / MIN_WORK_PER_THREAD
    if n_threads > n_slots:
        n_threads = <int> n_slots
    if n_threads > cap:
        n_threads = <int> cap
    return n_threads if n_threads > 1 else 1


cdef struct RowBlock:
    const double* A         # the rows i0 .. i0 + m in BLAS (column-major) terms:
    blas_int lda            #   p x m for row-major data, m x p for F-ordered float64 in place
    blas_int m
    blas_int p
    bint in_place_columns   # True for the m x p case


cdef inline RowBlock row_block(const floating* X, Py_ssize_t ldx, bint row_major,
                               Py_ssize_t i0, Py_ssize_t m, Py_ssize_t p,
                               double* buf) noexcept nogil:
    """Rows i0 .. i0 + m of X as float64 for BLAS: float64 X is read in place, float32 X is
    converted into ``buf`` (row-major, m x p)."""
    cdef RowBlock block
    block.m = <blas_int> m
    block.p = <blas_int> p
    block.in_place_columns = False
    if floating is double:
        block.lda = <blas_int> ldx
        if row_major:
            block.A = <const double*> (X + i0 * ldx)
        else:
            block.A = <const double*> (X + i0)
            block.in_place_columns = True
    else:
        load_rows(X, ldx, row_major, i0, m, p, p, False, NULL, buf)
        block.A = buf
        block.lda = <blas_int> p
    return block
