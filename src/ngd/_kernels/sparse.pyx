"""Kernels for CSR matrices X (n x p): with x_i the i-th row and x~_i = [x_i, 1] when
``intercept`` is set,

    csr_matvec:           out_i = x_i . coef + shift
    csr_matmat:           out_ik = x_i . B[:, k] + shift_k             (X B, B dense p x K)
    csr_rmatvec:          out = sum_i r_i x~_i                  (X^T r, and sum r)
    csr_rmatmat:          out_jk = sum_i x~_ij R_ik               (X~^T R, R dense n x K)
    csr_weighted_gram:    out = sum_i v_i x~_i x~_i^T           (dense, pw x pw)
    csr_multi_output_gram: out = sum_i V_i (x) x~_i x~_i^T      (dense, K pw x K pw)
    csr_fisher_vector:    out = sum_i v_i (x~_i . u) x~_i       (X~^T (v * (X~ u)))
    csr_fisher_diagonal:  out_j = sum_i v_i x~_ij^2
    csr_multi_output_fisher_diagonal: out_jk = sum_i V_ik x~_ij^2
    csr_cg_solve:         PCG on (X~^T diag(v) X~ + diag(shift)) x = g, products as above

Each touches only the non-zeros. Rows are cut into blocks of a fixed number of rows (set by n
and nnz alone); a fixed number of slots owns every n_slots-th block and accumulates it in
float64, and the slots are summed in order: the results do not depend on n_threads. The slot
count is capped so that the final reduction costs at most about a SLOT_SHARE-th of a pass
over the non-zeros (vectors; but two slots where they cost at most a pass, one -- written
straight into out -- where p is larger still) or GRAM_BUDGET doubles (the Gram's dense
accumulators).

The multi-output Gram accumulates pair-major: for each column pair j <= m of x~ a group of
the T = K(K+1)/2 class pairs k <= l lies side by side, so a row's non-zero pair costs one
contiguous update per group. A group holds as many class pairs as PASS_BUDGET doubles of
accumulators allow (all T for small p: one pass over X; one for large p), and each group is
scattered, tile by tile, into its blocks of the class-major result (index k * pw + j) and
their mirrors. Its slots are also capped at one per SLOT_FILL column-pair updates per
accumulator: fewer, fuller slots keep the accumulators in cache.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from ngd._kernels._rows cimport work_threads
from ngd._kernels._sparse_rows cimport Plan, csr_plan, row_dot
from ngd._kernels.linalg cimport vector_dot


cdef enum:
    GRAM_BUDGET = 16777216          # doubles of Gram accumulators over all slots (128 MiB)
    PASS_BUDGET = 1048576           # doubles (8 MiB) of multi-output accumulators per pass
    TILE = 32                       # column indices per tile of the multi-output scatter
    SLOT_FILL = 64                  # column-pair updates per accumulator and slot, at least
    SLOT_SHARE = 4                  # vector accumulations: slots hold at most nnz K / SLOT_SHARE
    MIN_SLOTS = 2                   # ... or MIN_SLOTS slots where they hold at most nnz K
    REDUCE_BAND = 4096              # accumulators per band of the parallel slot reduction

cdef enum Accumulation:             # slots are pw x K (K = 1 for the Fisher-vector product)
    ACC_RMATVEC = 0                 # slot += x~_i (x) v_i
    ACC_FISHER_VECTOR = 1           # slot += v_i (x~_i . u) x~_i
    ACC_DIAGONAL = 2                # slot += x~_i^2 (x) v_i


cdef inline double _row_dot(const floating* data, const sparse_index* indices,
                            Py_ssize_t a, Py_ssize_t b, const double* u) noexcept nogil:
    """sum over the row's non-zeros k in [a, b) of data[k] u[indices[k]]."""
    cdef double t = 0.0
    cdef Py_ssize_t k
    for k in range(a, b):
        t += data[k] * u[indices[k]]
    return t


cdef inline void _accumulate_row(int mode, const floating* data, const sparse_index* indices,
                                 Py_ssize_t a, Py_ssize_t b, const double* vi, Py_ssize_t K,
                                 const double* u, Py_ssize_t p, bint intercept,
                                 double* slot) noexcept nogil:
    """slot (pw x K, row-major) += the row's term of ``mode`` (see Accumulation); vi points
    at the row's K weights."""
    cdef Py_ssize_t k, c
    cdef double t, x
    cdef double* target
    if mode == ACC_FISHER_VECTOR:
        t = row_dot(data, indices, a, b, u)
        if intercept:
            t = t + u[p]
        t = vi[0] * t
        for k in range(a, b):
            slot[indices[k]] += t * data[k]
        if intercept:
            slot[p] += t
        return
    if K == 1:                      # single output: no inner loop over the K weights
        t = vi[0]
        if mode == ACC_DIAGONAL:
            for k in range(a, b):
                x = data[k]
                slot[indices[k]] += t * (x * x)
        else:
            for k in range(a, b):
                slot[indices[k]] += t * data[k]
        if intercept:
            slot[p] += t
        return
    for k in range(a, b):
        x = data[k]
        if mode == ACC_DIAGONAL:
            x = x * x
        target = slot + indices[k] * K
        for c in range(K):
            target[c] += vi[c] * x
    if intercept:
        target = slot + p * K
        for c in range(K):
            target[c] += vi[c]


cdef int _accumulate(int mode, const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     Py_ssize_t K, const double* v, const double* u, double* out,
                     int n_threads) noexcept nogil:
    """out (pw x K) = sum_i of the row terms of ``mode`` (v: n x K row weights), reduced over
    slots in order. Slots: as many as SLOT_SHARE allows, but MIN_SLOTS (two threads' worth)
    while their reduction costs at most one pass over the non-zeros. Slot 0 is out itself;
    the others are zeroed by their threads and added into out column band by band, in slot
    order."""
    cdef Py_ssize_t width = (p + (1 if intercept else 0)) * K
    cdef Py_ssize_t nnz = indptr[n]
    cdef Py_ssize_t passes = nnz * K // (width if width > 0 else 1)
    cdef Plan plan = csr_plan(n, nnz, max(passes // SLOT_SHARE, min(MIN_SLOTS, passes)))
    cdef Py_ssize_t s, c, i, i1, j, j0, j1, band
    cdef Py_ssize_t n_bands = (width + REDUCE_BAND - 1) // REDUCE_BAND
    cdef double* slot
    cdef double* partial = NULL
    memset(out, 0, width * sizeof(double))
    if n == 0 or width == 0:
        return 0
    if plan.n_slots > 1:
        partial = <double*> malloc((plan.n_slots - 1) * width * sizeof(double))
        if partial == NULL:
            return -1
    n_threads = work_threads(n_threads, plan.n_slots, 4.0 * nnz * K + 2.0 * n)
    for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=n_threads):
        if s == 0:
            slot = out
        else:
            slot = partial + (s - 1) * width
            memset(slot, 0, width * sizeof(double))
        c = s
        while c < plan.n_chunks:
            i1 = (c + 1) * plan.rows
            if i1 > n:
                i1 = n
            for i in range(c * plan.rows, i1):
                _accumulate_row(mode, data, indices, indptr[i], indptr[i + 1], v + i * K, K,
                                u, p, intercept, slot)
            c = c + plan.n_slots
    if partial == NULL:
        return 0
    for band in prange(n_bands, nogil=True, schedule="static",
                       num_threads=work_threads(n_threads, n_bands,
                                                1.0 * width * plan.n_slots)):
        j0 = band * REDUCE_BAND
        j1 = j0 + REDUCE_BAND
        if j1 > width:
            j1 = width
        for s in range(plan.n_slots - 1):
            slot = partial + s * width
            for j in range(j0, j1):
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
    return _accumulate(ACC_RMATVEC, data, indices, indptr, n, p, intercept, 1, r, NULL, out,
                       n_threads)


cdef int csr_fisher_vector(const floating* data, const sparse_index* indices,
                           const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                           bint intercept, const double* v, const double* u, double* out,
                           int n_threads) noexcept nogil:
    """out = sum_i v_i (x~_i . u) x~_i."""
    return _accumulate(ACC_FISHER_VECTOR, data, indices, indptr, n, p, intercept, 1, v, u,
                       out, n_threads)


cdef int csr_fisher_diagonal(const floating* data, const sparse_index* indices,
                             const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                             bint intercept, const double* v, double* out,
                             int n_threads) noexcept nogil:
    """out_j = sum_i v_i x~_ij^2."""
    return _accumulate(ACC_DIAGONAL, data, indices, indptr, n, p, intercept, 1, v, NULL, out,
                       n_threads)


cdef int csr_cg_solve(const floating* data, const sparse_index* indices,
                      const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                      const double* v, const double* shift, const double* minv,
                      const double* g, double threshold, Py_ssize_t maxiter, double* x,
                      Py_ssize_t* n_iter, double* residual, int n_threads) noexcept nogil:
    """Preconditioned CG from x = 0 on A x = g, A = X~^T diag(v) X~ + diag(shift), with the
    preconditioner M^-1 = diag(minv), until ||r|| <= threshold or maxiter iterations; A is
    applied as in csr_fisher_vector (no Python, no matrix). Writes the iterations and ||r||;
    returns CSR_CG_DONE (threshold met or maxiter reached), CSR_CG_INDEFINITE (d^T A d <= 0
    or NaN: x is the last iterate) or -1 when memory runs out."""
    cdef Py_ssize_t pw = p + (1 if intercept else 0)
    cdef double* work = <double*> malloc(4 * pw * sizeof(double))
    cdef double* r
    cdef double* z
    cdef double* d
    cdef double* q
    cdef double rz, rz_old, dq, alpha, beta, r_norm
    cdef Py_ssize_t j, it = 0
    cdef int status = CSR_CG_DONE
    if work == NULL:
        return -1
    r, z, d, q = work, work + pw, work + 2 * pw, work + 3 * pw
    for j in range(pw):
        x[j] = 0.0
        r[j] = g[j]
        z[j] = r[j] * minv[j]
        d[j] = z[j]
    rz = vector_dot(r, z, pw)
    r_norm = sqrt(vector_dot(r, r, pw))
    while r_norm > threshold and it < maxiter:
        if _accumulate(ACC_FISHER_VECTOR, data, indices, indptr, n, p, intercept, 1, v, d, q,
                       n_threads) != 0:
            free(work)
            return -1
        for j in range(pw):
            q[j] += shift[j] * d[j]
        dq = vector_dot(d, q, pw)
        if not dq > 0:
            status = CSR_CG_INDEFINITE
            break
        alpha = rz / dq
        for j in range(pw):
            x[j] += alpha * d[j]
            r[j] -= alpha * q[j]
            z[j] = r[j] * minv[j]
        rz_old = rz
        rz = vector_dot(r, z, pw)
        beta = rz / rz_old
        for j in range(pw):
            d[j] = d[j] * beta + z[j]
        r_norm = sqrt(vector_dot(r, r, pw))
        it += 1
    n_iter[0] = it
    residual[0] = r_norm
    free(work)
    return status


cdef int csr_matmat(const floating* data, const sparse_index* indices,
                    const sparse_index* indptr, Py_ssize_t n, Py_ssize_t K, const double* B,
                    const double* shift, double* out, int n_threads) noexcept nogil:
    """out (n x K, row-major) = X B + shift for B (p x K, row-major) and shift (K, NULL = 0);
    rows are independent: any schedule gives the same out."""
    cdef Py_ssize_t i, k, c
    cdef double x
    cdef double* row
    cdef const double* b
    n_threads = work_threads(n_threads, n, (2.0 * indptr[n] + n) * K)
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        row = out + i * K
        for c in range(K):
            row[c] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            x = data[k]
            b = B + indices[k] * K
            for c in range(K):
                row[c] += x * b[c]
        if shift != NULL:
            for c in range(K):
                row[c] += shift[c]
    return 0


cdef int csr_rmatmat(const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p, bint intercept,
                     Py_ssize_t K, const double* R, double* out, int n_threads) noexcept nogil:
    """out (pw x K, row-major) = X~^T R for R (n x K, row-major): out_jk = sum_i x~_ij R_ik."""
    return _accumulate(ACC_RMATVEC, data, indices, indptr, n, p, intercept, K, R, NULL, out,
                       n_threads)


cdef int csr_multi_output_fisher_diagonal(const floating* data, const sparse_index* indices,
                                          const sparse_index* indptr, Py_ssize_t n,
                                          Py_ssize_t p, bint intercept, Py_ssize_t K,
                                          const double* V, double* out,
                                          int n_threads) noexcept nogil:
    """out (pw x K, row-major) = sum_i x~_ij^2 V_ik for V (n x K, row-major): the diagonal of
    sum_i diag(V_i) (x) x~_i x~_i^T, transposed."""
    return _accumulate(ACC_DIAGONAL, data, indices, indptr, n, p, intercept, K, V, NULL, out,
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
    cdef Plan plan = csr_plan(n, nnz, GRAM_BUDGET // (size if size > 0 else 1))
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


cdef inline Py_ssize_t _packed_index(Py_ssize_t size, Py_ssize_t j, Py_ssize_t m) noexcept nogil:
    """Position of entry (j, m), j <= m, of a size x size upper triangle packed row by row."""
    return j * size - (j * (j - 1)) // 2 + (m - j)


cdef struct PairLayout:
    # Accumulators of the multi-output Gram: the T = K(K+1)/2 class pairs are cut into groups
    # of ``group`` (one pass over X each, the last group possibly smaller); during a group's
    # pass each of the ``pairs`` column pairs j <= m (packed order) holds its class pairs side
    # by side.
    Py_ssize_t pairs
    Py_ssize_t T
    Py_ssize_t group


cdef inline PairLayout _pair_layout(Py_ssize_t pw, Py_ssize_t K) noexcept nogil:
    """As many class pairs per pass as PASS_BUDGET doubles of accumulators hold (1 to T)."""
    cdef PairLayout layout
    layout.pairs = pw * (pw + 1) // 2
    layout.T = K * (K + 1) // 2
    layout.group = PASS_BUDGET // layout.pairs
    if layout.group > layout.T:
        layout.group = layout.T
    if layout.group < 1:
        layout.group = 1
    return layout


cdef inline Py_ssize_t _row_start(Py_ssize_t pw, Py_ssize_t j) noexcept nogil:
    """_packed_index(pw, j, m) - m: pair (j, m), j <= m, sits at _row_start(pw, j) + m."""
    return j * pw - (j * (j + 1)) // 2


cdef inline void _add_scaled(double* target, Py_ssize_t width, double x,
                             const double* c) noexcept nogil:
    """target[:width] += x c[:width]."""
    cdef Py_ssize_t t
    if width == 1:                  # one class pair per pass (large p): skip the loop set-up
        target[0] += x * c[0]
        return
    for t in range(width):
        target[t] += x * c[t]


cdef inline void _multi_gram_row(const floating* data, const sparse_index* indices,
                                 Py_ssize_t a, Py_ssize_t b, const double* c, Py_ssize_t width,
                                 Py_ssize_t p, Py_ssize_t pw, bint intercept,
                                 double* acc) noexcept nogil:
    """acc (``width`` class pairs per column pair) += the row's terms c (x) x~_i x~_i^T over
    its non-zero pairs, each column pair taken in order j <= m."""
    cdef Py_ssize_t k, l, j, m, start_j
    cdef double xk
    for k in range(a, b):
        j = indices[k]
        xk = data[k]
        start_j = _row_start(pw, j)
        for l in range(k, b):
            m = indices[l]
            if j <= m:
                _add_scaled(acc + (start_j + m) * width, width, xk * data[l], c)
            else:
                _add_scaled(acc + (_row_start(pw, m) + j) * width, width, xk * data[l], c)
        if intercept:
            _add_scaled(acc + (start_j + p) * width, width, xk, c)
    if intercept:
        _add_scaled(acc + (_row_start(pw, p) + p) * width, width, 1.0, c)


cdef inline void _scatter_tile(const double* acc, Py_ssize_t pw, Py_ssize_t K, Py_ssize_t t0,
                               Py_ssize_t width, Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t m0,
                               Py_ssize_t m1, double* out) noexcept nogil:
    """For the class pairs (k, l), k <= l, numbered t0 .. t0 + width - 1 and the column pairs
    (j, m) of one tile (j in [j0, j1), m in [m0, m1), at most TILE x TILE): out[k pw + j,
    l pw + m] = out[l pw + j, k pw + m] = acc[pair (j, m) taken in order, t - t0]. The tile's
    accumulators stay in cache while its blocks are written."""
    cdef Py_ssize_t D = K * pw
    cdef Py_ssize_t k, l, t, j, m
    cdef Py_ssize_t pair[TILE * TILE]         # packed index of each column pair of the tile
    cdef const double* source
    cdef double* row
    cdef double* mirror
    for j in range(j0, j1):
        for m in range(m0, m1):
            pair[(j - j0) * TILE + m - m0] = (_row_start(pw, j) + m if j <= m else
                                              _row_start(pw, m) + j)
    for k in range(K):
        for l in range(k, K):
            t = _packed_index(K, k, l)
            if t < t0 or t >= t0 + width:
                continue
            source = acc + (t - t0)
            for j in range(j0, j1):
                row = out + (k * pw + j) * D + l * pw
                mirror = out + (l * pw + j) * D + k * pw
                for m in range(m0, m1):
                    row[m] = source[pair[(j - j0) * TILE + m - m0] * width]
                if k != l:
                    for m in range(m0, m1):
                        mirror[m] = row[m]


cdef void _scatter_group(const double* acc, Py_ssize_t pw, Py_ssize_t K, Py_ssize_t t0,
                         Py_ssize_t width, double* out, int n_threads) noexcept nogil:
    """Write one group's class-pair blocks (and their mirrors) into the class-major out, tile
    by tile; threads own disjoint bands of TILE column indices j (rows k pw + j of every k)."""
    cdef Py_ssize_t n_bands = (pw + TILE - 1) // TILE
    cdef Py_ssize_t band, j0, j1, m0, m1
    for band in prange(n_bands, nogil=True, schedule="static", num_threads=n_threads):
        j0 = band * TILE
        j1 = j0 + TILE
        if j1 > pw:
            j1 = pw
        m0 = 0
        while m0 < pw:
            m1 = m0 + TILE
            if m1 > pw:
                m1 = pw
            _scatter_tile(acc, pw, K, t0, width, j0, j1, m0, m1, out)
            m0 = m1


cdef int csr_multi_output_gram(const floating* data, const sparse_index* indices,
                               const sparse_index* indptr, Py_ssize_t n, Py_ssize_t p,
                               bint intercept, Py_ssize_t K, const double* V, double* out,
                               int n_threads) noexcept nogil:
    """out (K pw x K pw, row-major, class-major k * pw + j) = sum_i V_i (x) x~_i x~_i^T, V_i
    the K x K symmetric row weights given as packed upper triangles (V: n x K(K+1)/2,
    row-major, entry (k, l) of row i at i * T + k K - k (k - 1) / 2 + l - k). Per group of
    class pairs (PairLayout): one pass over X into slots (as many as GRAM_BUDGET and SLOT_FILL
    allow, at least one), summed in order, then scattered into out."""
    cdef Py_ssize_t pw = p + (1 if intercept else 0)
    cdef PairLayout layout
    cdef Py_ssize_t size, max_slots, nnz = indptr[n]
    cdef double updates
    cdef Plan plan
    cdef Py_ssize_t s, c, i, i1, q, r, t0 = 0, width, used
    cdef double* acc
    cdef double* partial
    cdef int threads
    if n == 0 or pw == 0 or K == 0:
        memset(out, 0, K * pw * K * pw * sizeof(double))
        return 0
    layout = _pair_layout(pw, K)
    size = layout.pairs * layout.group                   # one slot's accumulators
    updates = 0.5 * (nnz + n) * ((nnz + n) / (<double> n) + 1.0)    # column pairs, roughly
    max_slots = <Py_ssize_t> (updates / (SLOT_FILL * layout.pairs))
    plan = csr_plan(n, nnz, min(max_slots, GRAM_BUDGET // size))
    partial = <double*> malloc(plan.n_slots * size * sizeof(double))
    if partial == NULL:
        return -1
    threads = work_threads(n_threads, plan.n_slots, 2.0 * layout.group * updates)
    while t0 < layout.T:
        width = layout.group if t0 + layout.group <= layout.T else layout.T - t0
        used = layout.pairs * width
        memset(partial, 0, plan.n_slots * used * sizeof(double))
        for s in prange(plan.n_slots, nogil=True, schedule="dynamic", num_threads=threads):
            acc = partial + s * used
            c = s
            while c < plan.n_chunks:
                i1 = (c + 1) * plan.rows
                if i1 > n:
                    i1 = n
                for i in range(c * plan.rows, i1):
                    _multi_gram_row(data, indices, indptr[i], indptr[i + 1],
                                    V + i * layout.T + t0, width, p, pw, intercept, acc)
                c = c + plan.n_slots
        for q in prange(used if plan.n_slots > 1 else 0, nogil=True, schedule="static",
                        num_threads=work_threads(n_threads, used, 1.0 * used * plan.n_slots)):
            for r in range(1, plan.n_slots):
                partial[q] += partial[r * used + q]
        _scatter_group(partial, pw, K, t0, width, out,
                       work_threads(n_threads, (pw + TILE - 1) // TILE, 2.0 * used))
        t0 = t0 + width
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


def _csr_matmat(const floating[::1] data, const sparse_index[::1] indices,
                const sparse_index[::1] indptr, const double[:, ::1] B,
                const double[::1] shift, double[:, ::1] out, int n_threads):
    """out (n x K) = X B + shift (B: p x K; shift: K entries, or none for 0)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    if n == 0 or B.shape[1] == 0:
        return
    with nogil:
        csr_matmat(&data[0] if data.shape[0] else NULL,
                   &indices[0] if indices.shape[0] else NULL, &indptr[0], n, B.shape[1],
                   &B[0, 0] if B.shape[0] else NULL, &shift[0] if shift.shape[0] else NULL,
                   &out[0, 0], n_threads)


def _csr_accumulate(int mode, const floating[::1] data, const sparse_index[::1] indices,
                    const sparse_index[::1] indptr, Py_ssize_t p, bint intercept, Py_ssize_t K,
                    const double[::1] v, const double[::1] u, double[::1] out, int n_threads):
    """out (pw x K, flat) = the ``mode`` accumulation (ACCUMULATIONS) of the rows, weights v
    (n x K, flat; K = 1 for the Fisher-vector product, whose vector is u)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int status
    with nogil:
        status = _accumulate(mode, &data[0] if data.shape[0] else NULL,
                             &indices[0] if indices.shape[0] else NULL, &indptr[0], n, p,
                             intercept, K, &v[0], &u[0] if u.shape[0] else NULL, &out[0],
                             n_threads)
    if status != 0:
        raise MemoryError("sparse kernel: could not allocate its slot accumulators")


def _csr_cg_solve(const floating[::1] data, const sparse_index[::1] indices,
                  const sparse_index[::1] indptr, Py_ssize_t p, bint intercept,
                  const double[::1] v, const double[::1] shift, const double[::1] minv,
                  const double[::1] g, double threshold, Py_ssize_t maxiter, double[::1] x,
                  int n_threads):
    """Unvalidated entry to csr_cg_solve (vectors of length p + intercept). Returns
    (positive curvature, iterations, ||r||)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t n_iter = 0
    cdef double residual = 0.0
    cdef int status
    with nogil:
        status = csr_cg_solve(&data[0] if data.shape[0] else NULL,
                              &indices[0] if indices.shape[0] else NULL, &indptr[0], n, p,
                              intercept, &v[0], &shift[0], &minv[0], &g[0], threshold,
                              maxiter, &x[0], &n_iter, &residual, n_threads)
    if status < 0:
        raise MemoryError("csr_cg_solve: could not allocate its work vectors")
    return status == CSR_CG_DONE, n_iter, residual


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


def _csr_multi_output_gram(const floating[::1] data, const sparse_index[::1] indices,
                           const sparse_index[::1] indptr, Py_ssize_t p, bint intercept,
                           Py_ssize_t K, const double[:, ::1] V, double[:, ::1] out,
                           int n_threads):
    """out (K pw x K pw) = sum_i V_i (x) x~_i x~_i^T, V (n x K(K+1)/2): packed V_i rows."""
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int status
    with nogil:
        status = csr_multi_output_gram(&data[0] if data.shape[0] else NULL,
                                       &indices[0] if indices.shape[0] else NULL, &indptr[0],
                                       n, p, intercept, K, &V[0, 0] if V.shape[0] else NULL,
                                       &out[0, 0], n_threads)
    if status != 0:
        raise MemoryError("csr_multi_output_gram: could not allocate its slot accumulators")


#: Python-visible codes of the accumulation modes, by name.
ACCUMULATIONS = {"rmatvec": int(ACC_RMATVEC), "fisher_vector": int(ACC_FISHER_VECTOR),
                 "diagonal": int(ACC_DIAGONAL)}
