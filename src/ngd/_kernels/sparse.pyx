"""Kernels for CSR matrices X (n x p): with x_i the i-th row and x~_i = [x_i, 1] when
``intercept`` is set,

    csr_matvec:           out_i = x_i . coef + shift
    csr_rmatvec:          out = sum_i r_i x~_i                  (X^T r, and sum r)
    csr_weighted_gram:    out = sum_i v_i x~_i x~_i^T           (dense, pw x pw)
    csr_fisher_vector:    out = sum_i v_i (x~_i . u) x~_i       (X~^T (v * (X~ u)))
    csr_fisher_diagonal:  out_j = sum_i v_i x~_ij^2

Each touches only the non-zeros. Rows are cut into blocks of a fixed number of rows (set by n
and nnz alone); a fixed number of slots owns every n_slots-th block and accumulates it in
float64, and the slots are summed in order: the results do not depend on n_threads. The slot
count is capped so that the final reduction costs at most about one pass over the non-zeros
(vectors) or GRAM_BUDGET doubles (the Gram's dense accumulators).
"""
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from ngd._kernels._rows cimport work_threads, MAX_SLOTS


cdef enum:
    CHUNK_NONZEROS = 32768          # non-zeros per row block, roughly
    GRAM_BUDGET = 16777216          # doubles of Gram accumulators over all slots (128 MiB)

cdef enum Accumulation:
    ACC_RMATVEC = 0                 # slot += v_i x~_i
    ACC_FISHER_VECTOR = 1           # slot += v_i (x~_i . u) x~_i
    ACC_DIAGONAL = 2                # slot += v_i x~_i^2


cdef struct Plan:
    Py_ssize_t rows                 # rows per block
    Py_ssize_t n_chunks
    Py_ssize_t n_slots


cdef inline Plan _plan(Py_ssize_t n, Py_ssize_t nnz, Py_ssize_t max_slots) noexcept nogil:
    """Blocks of about CHUNK_NONZEROS non-zeros (16 to 4096 rows) and min(blocks, MAX_SLOTS,
    max_slots) slots (at least 1 when there are rows)."""
    cdef Plan plan
    cdef Py_ssize_t rows = 4096
    if nnz > 0:
        rows = <Py_ssize_t> ((<double> CHUNK_NONZEROS) * n / nnz)
    if rows < 16:
        rows = 16
    if rows > 4096:
        rows = 4096
    plan.rows = rows
    plan.n_chunks = (n + rows - 1) // rows
    plan.n_slots = plan.n_chunks
    if plan.n_slots > MAX_SLOTS:
        plan.n_slots = MAX_SLOTS
    if plan.n_slots > max_slots:
        plan.n_slots = max_slots if max_slots > 1 else 1
    return plan


cdef inline double _row_dot(const floating* data, const sparse_index* indices,
                            Py_ssize_t a, Py_ssize_t b, const double* u) noexcept nogil:
    """sum over the row's non-zeros k in [a, b) of data[k] u[indices[k]]."""
    cdef double t = 0.0
    cdef Py_ssize_t k
    for k in range(a, b):
        t += data[k] * u[indices[k]]
    return t


cdef inline void _accumulate_row(int mode, const floating* data, const sparse_index* indices,
                                 Py_ssize_t a, Py_ssize_t b, double vi, const double* u,
                                 Py_ssize_t p, bint intercept, double* slot) noexcept nogil:
    """slot += the row's term of ``mode`` (see Accumulation)."""
    cdef Py_ssize_t k
    cdef double t = vi, x
    if mode == ACC_DIAGONAL:
        for k in range(a, b):
            x = data[k]
            slot[indices[k]] += vi * (x * x)
        if intercept:
            slot[p] += vi
        return
    if mode == ACC_FISHER_VECTOR:
        t = _row_dot(data, indices, a, b, u)
        if intercept:
            t = t + u[p]
        t = vi * t
    for k in range(a, b):
        slot[indices[k]] += t * data[k]
    if intercept:
        slot[p] += t


cdef int _accumulate(int mode, const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     const double* v, const double* u, double* out,
                     int n_threads) noexcept nogil:
    """out (pw) = sum_i of the row terms of ``mode``, reduced over slots in order."""
    cdef Py_ssize_t width = p + (1 if intercept else 0)
    cdef Py_ssize_t nnz = indptr[n]
    cdef Plan plan = _plan(n, nnz, nnz // (width if width > 0 else 1))
    cdef Py_ssize_t s, c, i, i1, j
    cdef double* slot
    cdef double* partial
    memset(out, 0, width * sizeof(double))
    if n == 0 or width == 0:
        return 0
    partial = <double*> calloc(plan.n_slots * width, sizeof(double))
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, plan.n_slots, 4.0 * nnz + 2.0 * n)
    for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=n_threads):
        slot = partial + s * width
        c = s
        while c < plan.n_chunks:
            i1 = (c + 1) * plan.rows
            if i1 > n:
                i1 = n
            for i in range(c * plan.rows, i1):
                _accumulate_row(mode, data, indices, indptr[i], indptr[i + 1], v[i], u, p,
                                intercept, slot)
            c = c + plan.n_slots
    for s in range(plan.n_slots):
        slot = partial + s * width
        for j in range(width):
            out[j] += slot[j]
    free(partial)
    return 0


cdef int csr_matvec(const floating* data, const sparse_index* indices,
                    const sparse_index* indptr, Py_ssize_t n, const double* coef,
                    double shift, double* out, int n_threads) noexcept nogil:
    """out_i = x_i . coef + shift (rows are independent: any schedule gives the same out)."""
    cdef Py_ssize_t i
    n_threads = work_threads(n_threads, n, 2.0 * indptr[n] + n)
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        out[i] = _row_dot(data, indices, indptr[i], indptr[i + 1], coef) + shift
    return 0


cdef int csr_rmatvec(const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     const double* r, double* out, int n_threads) noexcept nogil:
    """out = sum_i r_i x~_i."""
    return _accumulate(ACC_RMATVEC, data, indices, indptr, n, p, intercept, r, NULL, out,
                       n_threads)


cdef int csr_fisher_vector(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           bint intercept, const double* v, const double* u, double* out,
                           int n_threads) noexcept nogil:
    """out = sum_i v_i (x~_i . u) x~_i."""
    return _accumulate(ACC_FISHER_VECTOR, data, indices, indptr, n, p, intercept, v, u, out,
                       n_threads)


cdef int csr_fisher_diagonal(const floating* data, const sparse_index* indices,
                             const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                             bint intercept, const double* v, double* out,
                             int n_threads) noexcept nogil:
    """out_j = sum_i v_i x~_ij^2."""
    return _accumulate(ACC_DIAGONAL, data, indices, indptr, n, p, intercept, v, NULL, out,
                       n_threads)


cdef inline void _gram_row(const floating* data, const sparse_index* indices, Py_ssize_t a,
                           Py_ssize_t b, double vi, Py_ssize_t p, Py_ssize_t width,
                           bint intercept, double* acc) noexcept nogil:
    """Upper triangle of acc (width x width) += v_i x~_i x~_i^T over the row's non-zeros."""
    cdef Py_ssize_t k, l, j, m
    cdef double xk
    for k in range(a, b):
        j = indices[k]
        xk = vi * data[k]
        for l in range(k, b):
            m = indices[l]
            if j <= m:
                acc[j * width + m] += xk * data[l]
            else:
                acc[m * width + j] += xk * data[l]
        if intercept:
            acc[j * width + p] += xk
    if intercept:
        acc[p * width + p] += vi


cdef int csr_weighted_gram(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           bint intercept, const double* v, double* out,
                           int n_threads) noexcept nogil:
    """out (row-major, pw x pw) = sum_i v_i x~_i x~_i^T: per-slot upper triangles (as many
    slots as GRAM_BUDGET allows, else one), summed in order, then mirrored."""
    cdef Py_ssize_t width = p + (1 if intercept else 0)
    cdef Py_ssize_t size = width * width
    cdef Py_ssize_t nnz = indptr[n]
    cdef Plan plan = _plan(n, nnz, GRAM_BUDGET // (size if size > 0 else 1))
    cdef Py_ssize_t s, c, i, i1, j, m
    cdef double* acc
    cdef double* partial
    memset(out, 0, size * sizeof(double))
    if n == 0 or width == 0:
        return 0
    partial = <double*> calloc(plan.n_slots * size, sizeof(double))
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, plan.n_slots,
                             2.0 * nnz * (nnz / (<double> n) + 1.0) + 2.0 * n)
    for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=n_threads):
        acc = partial + s * size
        c = s
        while c < plan.n_chunks:
            i1 = (c + 1) * plan.rows
            if i1 > n:
                i1 = n
            for i in range(c * plan.rows, i1):
                _gram_row(data, indices, indptr[i], indptr[i + 1], v[i], p, width, intercept,
                          acc)
            c = c + plan.n_slots
    for s in range(plan.n_slots):
        acc = partial + s * size
        for j in range(width):
            for m in range(j, width):
                out[j * width + m] += acc[j * width + m]
    for j in range(width):
        for m in range(j + 1, width):
            out[m * width + j] = out[j * width + m]
    free(partial)
    return 0


# --- unvalidated Python entries (ngd._sparse and ngd.kernels check the arguments) ---------

def _csr_matvec(const floating[::1] data, const sparse_index[::1] indices,
                const sparse_index[::1] indptr, const double[::1] coef, double shift,
                double[::1] out, int n_threads):
    """out = X coef + shift."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    if n == 0:
        return
    with nogil:
        csr_matvec(&data[0] if data.shape[0] else NULL,
                   &indices[0] if indices.shape[0] else NULL, &indptr[0], n, &coef[0] if coef.shape[0] else NULL,
                   shift, &out[0], n_threads)


def _csr_accumulate(int mode, const floating[::1] data, const sparse_index[::1] indices,
                    const sparse_index[::1] indptr, Py_ssize_t p, bint intercept,
                    const double[::1] v, const double[::1] u, double[::1] out, int n_threads):
    """out = the ``mode`` accumulation (ACCUMULATIONS) of the rows, weights v (u: the vector
    of a Fisher-vector product, else unused)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int status
    with nogil:
        status = _accumulate(mode, &data[0] if data.shape[0] else NULL,
                             &indices[0] if indices.shape[0] else NULL, &indptr[0], n, p,
                             intercept, &v[0], &u[0] if u.shape[0] else NULL, &out[0],
                             n_threads)
    if status != 0:
        raise MemoryError("sparse kernel: could not allocate its slot accumulators")


def _csr_weighted_gram(const floating[::1] data, const sparse_index[::1] indices,
                       const sparse_index[::1] indptr, Py_ssize_t p, bint intercept,
                       const double[::1] v, double[:, ::1] out, int n_threads):
    """out = [X, 1]^T diag(v) [X, 1] (without the 1 when intercept is False)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int status
    with nogil:
        status = csr_weighted_gram(&data[0] if data.shape[0] else NULL,
                                   &indices[0] if indices.shape[0] else NULL, &indptr[0], n,
                                   p, intercept, &v[0] if v.shape[0] else NULL, &out[0, 0],
                                   n_threads)
    if status != 0:
        raise MemoryError("csr_weighted_gram: could not allocate its slot accumulators")


#: Python-visible codes of the accumulation modes, by name.
ACCUMULATIONS = {"rmatvec": int(ACC_RMATVEC), "fisher_vector": int(ACC_FISHER_VECTOR),
                 "diagonal": int(ACC_DIAGONAL)}
