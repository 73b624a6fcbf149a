"""Fisher accumulation over row blocks of X: Gram matrices, Fisher-vector products, diagonals.

- ``weighted_gram``: X^T diag(v) X. With v_i = w_i p_i (1 - p_i) it is the exact Fisher of
  logistic regression; with v_i = w_i r_i^2 the empirical Fisher sum_i w_i s_i s_i^T of scores
  s_i = r_i x_i. Row blocks are scaled into a float64 buffer (sqrt(v_i) x_i when every
  v_i >= 0, else v_i x_i against x_i) and accumulated by AVX-512 or AVX2 register tiles
  (Grams up to TILE_MAX_WIDTH wide on CPUs that have either, with FMA) or by BLAS dsyrk /
  dgemm (upper triangle).
- ``multi_output_gram``: sum_i V_i (x) x_i x_i^T for K outputs (softmax exact or empirical
  Fisher), class-major (index k * p + j), one pass over X.
- ``fisher_vector`` / ``multi_output_fisher_vector``: F u without forming F.
- ``fisher_diagonal`` / ``multi_output_fisher_diagonal``: diag(F) in one pass (the Jacobi
  preconditioner of ``linalg.cg_solve``, the second moment of diagonal-Fisher methods).

All are "kind 1" kernels: OpenMP over row blocks, BLAS single-threaded inside. Blocks are
accumulated into a fixed number of slots (a function of the sizes only) reduced in slot order,
so results are the same for every thread count. Sums are unnormalised: v (or w) carries any
1 / sum(w) factor.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport sqrt
from libc.stdlib cimport malloc, calloc, free

from ngd._kernels._blas cimport blas_int, dgemm, dgemv, dsyrk
from ngd._kernels._rows cimport chunk_rows, load_rows, work_threads, CHUNK_DOUBLES, MAX_SLOTS

cdef enum:
    GRAM_SLOT_BUDGET = 8388608   # doubles (64 MiB) for per-slot p x p accumulators
    MAX_GRAM_SLOTS = 16
    TILE_MAX_WIDTH = 256         # widest Gram built with the register tiles (dsyrk above)


cdef extern from *:
    """
    /* Register-tiled rank-m update of the upper triangle of a Gram matrix, for weighted_gram:
       c[j * ld + i] += sum_r a[r * ld + i] * b[r * ld + j] over the (3W) x W tiles with
       i-tile <= j-tile, W doubles a vector: AVX-512 (W = 8) or AVX2 (W = 4), with FMA,
       selected at run time. a, b: row-major m x ld with ld % 8 == 0 (zero padded); c:
       column-major ld x ld. Rows are taken KC / ld at a time (KC doubles: 24576 for AVX-512,
       8192 for AVX2, measured) so that the rows in use stay in cache; each tile sums those
       rows in registers, in row order, then adds them to c: the result depends only on m,
       the data and the vector width. */
    #include <stddef.h>
    #if defined(__GNUC__) && defined(__x86_64__)
    #define NGD_GRAM_TILES 1

    #define NGD_DEFINE_GRAM_TILES(SUFFIX, W, KC, TARGET)                                    \\
    typedef double ngd_vec_##SUFFIX __attribute__((vector_size(8 * W)));                   \\
                                                                                           \\
    static inline __attribute__((always_inline, target(TARGET))) ngd_vec_##SUFFIX          \\
    ngd_load_##SUFFIX(const double* p)                                                     \\
    { ngd_vec_##SUFFIX v; __builtin_memcpy(&v, p, sizeof v); return v; }                   \\
                                                                                           \\
    static inline __attribute__((always_inline, target(TARGET))) void                      \\
    ngd_gram_tile_##SUFFIX(const double* a, const double* b, ptrdiff_t kc, ptrdiff_t ld,   \\
                           ptrdiff_t i0, ptrdiff_t j0, double* c, const int nv)            \\
    {                                                                                      \\
        ngd_vec_##SUFFIX acc[3][W], x[3];                                                  \\
        ptrdiff_t r;                                                                       \\
        int u, k;                                                                          \\
        for (u = 0; u < 3; u++)                                                            \\
            for (k = 0; k < W; k++)                                                        \\
                acc[u][k] = (ngd_vec_##SUFFIX){0.0};                                       \\
        for (r = 0; r < kc; r++) {                                                         \\
            const double* ar = a + r * ld + i0;                                            \\
            const double* br = b + r * ld + j0;                                            \\
            for (u = 0; u < nv; u++)                                                       \\
                x[u] = ngd_load_##SUFFIX(ar + W * u);                                      \\
            _Pragma("GCC unroll 8")                                                        \\
            for (k = 0; k < W; k++)                                                        \\
                for (u = 0; u < nv; u++)       /* the scalar br[k] is broadcast */          \\
                    acc[u][k] += x[u] * br[k];                                             \\
        }                                                                                  \\
        for (k = 0; k < W; k++)                                                            \\
            for (u = 0; u < nv; u++) {                                                     \\
                double* cp = c + (j0 + k) * ld + i0 + W * u;                               \\
                ngd_vec_##SUFFIX t = ngd_load_##SUFFIX(cp) + acc[u][k];                    \\
                __builtin_memcpy(cp, &t, sizeof t);                                        \\
            }                                                                              \\
    }                                                                                      \\
                                                                                           \\
    static __attribute__((target(TARGET))) void                                            \\
    ngd_gram_tiles_##SUFFIX(const double* a, const double* b, ptrdiff_t m, ptrdiff_t ld,   \\
                            double* c)                                                     \\
    {                                                                                      \\
        ptrdiff_t kc_max = KC / ld;             /* KC doubles of rows in flight */        \\
        ptrdiff_t r0, kc, i0, j0;                                                          \\
        if (kc_max < 16) kc_max = 16;                                                      \\
        if (kc_max > 256) kc_max = 256;                                                    \\
        for (r0 = 0; r0 < m; r0 += kc) {                                                   \\
            kc = m - r0 < kc_max ? m - r0 : kc_max;                                        \\
            for (j0 = 0; j0 < ld; j0 += W) {                                               \\
                for (i0 = 0; i0 + 3 * W <= j0 + W; i0 += 3 * W)                            \\
                    ngd_gram_tile_##SUFFIX(a + r0 * ld, b + r0 * ld, kc, ld, i0, j0, c, 3); \\
                if (j0 + W - i0 == 2 * W)                                                  \\
                    ngd_gram_tile_##SUFFIX(a + r0 * ld, b + r0 * ld, kc, ld, i0, j0, c, 2); \\
                else if (j0 + W - i0 == W)                                                 \\
                    ngd_gram_tile_##SUFFIX(a + r0 * ld, b + r0 * ld, kc, ld, i0, j0, c, 1); \\
            }                                                                              \\
        }                                                                                  \\
    }

    NGD_DEFINE_GRAM_TILES(avx512, 8, 24576, "avx512f,fma")
    NGD_DEFINE_GRAM_TILES(avx2, 4, 8192, "avx2,fma")

    /* 8: AVX-512 tiles, 4: AVX2 tiles, 0: none (dsyrk / dgemm). */
    static int ngd_gram_tiles_width(void)
    {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
            return 8;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return 4;
        return 0;
    }

    static void ngd_gram_tiles(int width, const double* a, const double* b, ptrdiff_t m,
                               ptrdiff_t ld, double* c)
    {
        if (width == 8)
            ngd_gram_tiles_avx512(a, b, m, ld, c);
        else
            ngd_gram_tiles_avx2(a, b, m, ld, c);
    }
    #else
    #define NGD_GRAM_TILES 0
    /* Without GNU vector extensions on x86-64 the tiles are not built and weighted_gram
       uses dsyrk/dgemm: ngd_gram_tiles_width() is 0, so this is never called. */
    static void ngd_gram_tiles(int width, const double* a, const double* b, ptrdiff_t m,
                               ptrdiff_t ld, double* c)
    { (void)width; (void)a; (void)b; (void)m; (void)ld; (void)c; }
    static int ngd_gram_tiles_width(void) { return 0; }
    #endif
    """
    void ngd_gram_tiles(int width, const double* a, const double* b, Py_ssize_t m,
                        Py_ssize_t ld, double* c) noexcept nogil
    int ngd_gram_tiles_width() noexcept nogil

cdef int _TILE_WIDTH = ngd_gram_tiles_width()   # doubles a vector; 0: no tiles


cdef inline Py_ssize_t _gram_ld(Py_ssize_t pw, bint tiles) noexcept nogil:
    """Leading dimension of weighted_gram's row buffers and slots: pw, or pw rounded up to
    a multiple of 8 (zero padding) for the register tiles."""
    return (pw + 7) // 8 * 8 if tiles else pw


cdef inline bint _use_tiles(Py_ssize_t pw, bint allow) noexcept nogil:
    """Register tiles for Grams up to TILE_MAX_WIDTH wide on CPUs with AVX-512 or AVX2 and
    FMA (dsyrk is as fast above); the choice depends on the shape and the CPU only, never
    the threads."""
    return allow and _TILE_WIDTH > 0 and pw <= TILE_MAX_WIDTH


cdef inline Py_ssize_t _weighted_slots(Py_ssize_t n_chunks, Py_ssize_t ld) noexcept nogil:
    """Accumulation slots of weighted_gram: as many ld x ld accumulators as the budget
    holds, at most MAX_GRAM_SLOTS and one per row block, at least 1."""
    cdef Py_ssize_t n_slots = GRAM_SLOT_BUDGET // (ld * ld if ld > 0 else 1)
    if n_slots > MAX_GRAM_SLOTS:
        n_slots = MAX_GRAM_SLOTS
    if n_slots > n_chunks:
        n_slots = n_chunks
    return n_slots if n_slots > 1 else 1


cdef inline void _accumulate_block(const double* a, const double* b, Py_ssize_t m,
                                   Py_ssize_t pw, Py_ssize_t ld, bint tiles, bint same,
                                   double* slot) noexcept nogil:
    """Upper triangle of slot (column-major, leading dimension ld) += a^T b for row-major
    m x pw blocks a, b (b = a when ``same``: dsyrk on the BLAS path)."""
    cdef blas_int bp = <blas_int> pw, bm = <blas_int> m, bld = <blas_int> ld
    cdef double d_one = 1.0
    if tiles:
        ngd_gram_tiles(_TILE_WIDTH, a, b, m, ld, slot)
    elif same:
        dsyrk("U", "N", &bp, &bm, &d_one, <double*> a, &bld, &d_one, slot, &bld)
    else:
        dgemm("N", "T", &bp, &bp, &bm, &d_one, <double*> a, &bld, <double*> b, &bld, &d_one,
              slot, &bld)


cdef int _weighted_gram_impl(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                             bint row_major, const double* v, double* out, double* xv_out,
                             int n_threads, bint allow_tiles) noexcept nogil:
    """weighted_gram, with the register tiles allowed or not (the BLAS path is the one
    used on CPUs without AVX2 and for wide Grams). The Gram of [X, 1] when xv_out is
    given: its last column is X^T v. Rows are weighted into a float64 buffer a: sqrt(v_i)
    x_i when every v_i >= 0 (then a^T a), else v_i x_i against a second buffer b = x_i."""
    cdef bint intercept = xv_out != NULL
    cdef Py_ssize_t pw = p + intercept
    cdef bint tiles = _use_tiles(pw, allow_tiles)
    cdef Py_ssize_t ld = _gram_ld(pw, tiles)
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t width = ld * ld
    cdef Py_ssize_t n_slots = _weighted_slots(n_chunks, ld)
    cdef Py_ssize_t s, c, i0, m, i, j
    cdef bint nonneg = True
    cdef double* acc
    cdef double* buf
    cdef double* raw
    cdef double* scale
    cdef double* slot
    cdef int failed = 0
    cdef int* failed_ptr = &failed
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
    n_threads = work_threads(n_threads, n_slots, <double> n * p * p)   # no idle threads
    with parallel(num_threads=n_threads):
        buf = <double*> calloc(rows * ld, sizeof(double))   # calloc: the padding stays 0
        raw = buf
        if not nonneg:
            raw = <double*> calloc(rows * ld, sizeof(double))
        if buf == NULL or raw == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = acc + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    load_rows(X, ldx, row_major, i0, m, p, ld, intercept, scale, buf)
                    if not nonneg:
                        load_rows(X, ldx, row_major, i0, m, p, ld, intercept, NULL, raw)
                    _accumulate_block(buf, raw, m, pw, ld, tiles, nonneg, slot)
                    c = c + n_slots
        if raw != buf:
            free(raw)
        free(buf)
    free(scale)
    if failed:
        free(acc)
        return -1
    _reduce_slots(acc, n_slots, ld, p, out, xv_out)
    free(acc)
    return 0


cdef void _reduce_slots(const double* acc, Py_ssize_t n_slots, Py_ssize_t ld, Py_ssize_t p,
                        double* out, double* xv_out) noexcept nogil:
    """Sum the slots' upper triangles in slot order into out (p x p, mirrored) and, unless
    xv_out is NULL, their column p (rows < p) into xv_out."""
    cdef Py_ssize_t s, i, j
    cdef const double* slot
    for j in range(p):
        for i in range(j + 1):
            out[j * p + i] = 0.0
        if xv_out != NULL:
            xv_out[j] = 0.0
    for s in range(n_slots):
        slot = acc + s * ld * ld
        for j in range(p):
            for i in range(j + 1):
                out[j * p + i] += slot[j * ld + i]
        if xv_out != NULL:
            for j in range(p):
                xv_out[j] += slot[p * ld + j]
    for j in range(p):
        for i in range(j + 1, p):
            out[j * p + i] = out[i * p + j]


cdef int weighted_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, const double* v, double* out, double* xv_out,
                       int n_threads) noexcept nogil:
    """out (p x p, symmetric) = X^T diag(v) X and, unless xv_out is NULL, xv_out = X^T v
    (the intercept column of the Gram of [X, 1]). Returns 0, or -1 when memory runs out."""
    return _weighted_gram_impl(X, n, p, ldx, row_major, v, out, xv_out, n_threads, True)


def _weighted_gram(const floating[:, :] X, const double[::1] v, double[:, ::1] out,
                   object xv_out, int n_threads, bint tiles=True):
    """Unvalidated Python entry to ``weighted_gram`` (xv_out: None or float64 (p,));
    ``tiles=False`` forces the dsyrk/dgemm path (tests and the benchmark compare both)."""
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
        status = _weighted_gram_impl(&X[0, 0], n, p, ldx, row_major, &v[0], &out[0, 0],
                                     xv_ptr, n_threads, tiles)
    if status != 0:
        raise MemoryError("weighted_gram could not allocate its accumulators")


def _gram_tiles_used(Py_ssize_t width):
    """True when weighted_gram builds a width x width Gram with the register tiles here."""
    return bool(_use_tiles(width, True))


# ------------------------------------------------------------------ multi-output weights --

cdef inline Py_ssize_t _packed_index(Py_ssize_t K, Py_ssize_t k, Py_ssize_t l) noexcept nogil:
    """Position of V[k, l] (k <= l) in the row-by-row packed upper triangle."""
    return k * K - (k * (k - 1)) // 2 + (l - k)


cdef inline double _vkl(int kind, const double* a, double wi, Py_ssize_t K, Py_ssize_t k,
                        Py_ssize_t l) noexcept nogil:
    """V_i[k, l] (any k, l) for the row whose weight data starts at ``a``."""
    cdef Py_ssize_t t
    if kind == WEIGHTS_SOFTMAX:
        return wi * a[k] * ((1.0 if k == l else 0.0) - a[l])
    if kind == WEIGHTS_OUTER:
        return wi * a[k] * a[l]
    if k > l:
        t = k
        k = l
        l = t
    return a[_packed_index(K, k, l)]


cdef inline void _apply_v(int kind, const double* a, double wi, Py_ssize_t K,
                          const double* z, double* y) noexcept nogil:
    """y = V_i z for one row (K-vectors)."""
    cdef Py_ssize_t k, l
    cdef double s = 0.0
    if kind == WEIGHTS_SOFTMAX:
        for k in range(K):
            s += a[k] * z[k]
        for k in range(K):
            y[k] = wi * a[k] * (z[k] - s)
    elif kind == WEIGHTS_OUTER:
        for k in range(K):
            s += a[k] * z[k]
        for k in range(K):
            y[k] = wi * a[k] * s
    else:
        for k in range(K):
            s = 0.0
            for l in range(K):
                s += _vkl(kind, a, wi, K, k, l) * z[l]
            y[k] = s


cdef inline Py_ssize_t _gram_rows(Py_ssize_t n, Py_ssize_t width) noexcept nogil:
    """Rows per block of the multi-output Gram: about CHUNK_DOUBLES / width, at least 128 (the
    inner dimension of its BLAS-3 calls), at most 2048."""
    cdef Py_ssize_t rows = CHUNK_DOUBLES // (width if width > 0 else 1)
    if rows < 128:
        rows = 128
    if rows > 2048:
        rows = 2048
    if rows > n:
        rows = n if n > 0 else 1
    return rows


# ---------------------------------------------------------------------- multi-output Gram --

cdef int multi_output_gram(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                           bint row_major, bint intercept, Py_ssize_t K, int kind,
                           const double* A, Py_ssize_t lda, const double* w, double* out,
                           int n_threads) noexcept nogil:
    """out (D x D, D = K pw, pw = p + intercept; symmetric) = sum_i V_i (x) x_i x_i^T, i.e.
    block (k, l) = X1^T diag(V[:, k, l]) X1 with X1 = [X, 1] when ``intercept``; parameter
    index k * pw + j (class-major). One pass over X: each row block is loaded once, then for
    every k one dsyrk (diagonal block, sqrt-scaled rows, when V_kk >= 0 on the block) and one
    dgemm for the blocks (k, l > k) accumulate the upper triangle. Returns 0, or -1 when memory
    runs out, -6 for an unknown ``kind``."""
    cdef Py_ssize_t pw = p + intercept
    cdef Py_ssize_t D = K * pw
    cdef Py_ssize_t rows = _gram_rows(n, D)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t width = D * D
    cdef Py_ssize_t n_slots = GRAM_SLOT_BUDGET // (width if width > 0 else 1)
    cdef Py_ssize_t s, c, i0, m, r, i, j, k, l, nk, ldt
    cdef double* acc
    cdef double* B
    cdef double* T
    cdef double* slot
    cdef double* dst
    cdef const double* src
    cdef const double* a
    cdef double wi, wt
    cdef bint diag_nonneg
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef blas_int bpw = <blas_int> pw, bm, bldt, bD = <blas_int> D, bn2
    cdef double d_one = 1.0
    if kind < WEIGHTS_PACKED or kind > WEIGHTS_OUTER:
        return -6
    if n_slots > MAX_GRAM_SLOTS:
        n_slots = MAX_GRAM_SLOTS
    if n_slots > n_chunks:
        n_slots = n_chunks
    if n_slots < 1:
        n_slots = 1
    acc = <double*> calloc(n_slots * width, sizeof(double))
    if acc == NULL:
        return -1
    n_threads = work_threads(n_threads, n_slots, <double> n * D * D)
    with parallel(num_threads=n_threads):
        B = <double*> malloc(rows * pw * sizeof(double))
        T = <double*> malloc(rows * D * sizeof(double))
        if B == NULL or T == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = acc + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    bm = <blas_int> m
                    load_rows(X, ldx, row_major, i0, m, p, pw, intercept, NULL, B)
                    for k in range(K):
                        nk = K - k
                        ldt = nk * pw
                        bldt = <blas_int> ldt
                        diag_nonneg = True
                        for r in range(m):
                            a = A + (i0 + r) * lda
                            wi = 1.0 if w == NULL else w[i0 + r]
                            if _vkl(kind, a, wi, K, k, k) < 0:
                                diag_nonneg = False
                                break
                        # T row r = [V_kk' x_r, V_k,k+1 x_r, ..., V_k,K-1 x_r], with
                        # V_kk' = sqrt(V_kk) on the dsyrk path
                        for r in range(m):
                            a = A + (i0 + r) * lda
                            wi = 1.0 if w == NULL else w[i0 + r]
                            src = B + r * pw
                            for l in range(k, K):
                                wt = _vkl(kind, a, wi, K, k, l)
                                if l == k and diag_nonneg:
                                    wt = sqrt(wt)
                                dst = T + r * ldt + (l - k) * pw
                                for j in range(pw):
                                    dst[j] = wt * src[j]
                        if diag_nonneg:
                            dsyrk("U", "N", &bpw, &bm, &d_one, T, &bldt, &d_one,
                                  slot + k * pw * D + k * pw, &bD)
                            if nk > 1:
                                bn2 = <blas_int> ((nk - 1) * pw)
                                dgemm("N", "T", &bpw, &bn2, &bm, &d_one, B, &bpw, T + pw,
                                      &bldt, &d_one, slot + (k + 1) * pw * D + k * pw, &bD)
                        else:
                            bn2 = <blas_int> (nk * pw)
                            dgemm("N", "T", &bpw, &bn2, &bm, &d_one, B, &bpw, T, &bldt,
                                  &d_one, slot + k * pw * D + k * pw, &bD)
                    c = c + n_slots
        free(B)
        free(T)
    if failed:
        free(acc)
        return -1
    # Reduce the upper triangles (column-major i <= j) in slot order, then mirror.
    for j in range(D):
        for i in range(j + 1):
            out[j * D + i] = 0.0
    for s in range(n_slots):
        slot = acc + s * width
        for j in range(D):
            for i in range(j + 1):
                out[j * D + i] += slot[j * D + i]
    for j in range(D):
        for i in range(j + 1, D):
            out[j * D + i] = out[i * D + j]
    free(acc)
    return 0


# ----------------------------------------------------------------- Fisher-vector products --

cdef inline Py_ssize_t _fv_rows(Py_ssize_t n, Py_ssize_t p) noexcept nogil:
    """Rows per block of the Fisher-vector product and the diagonal: chunk_rows (a block of
    about 256 KiB stays in cache between the two products; tried 2x-16x larger: no faster)."""
    return chunk_rows(n, p)


cdef Py_ssize_t _fv_slots(Py_ssize_t n, Py_ssize_t p) noexcept nogil:
    """Number of accumulation slots of the Fisher-vector product (a function of n, p only)."""
    cdef Py_ssize_t rows = _fv_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    return n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS


cdef int _fisher_vector_into(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                             bint row_major, bint intercept, Py_ssize_t K, int kind,
                             const double* A, Py_ssize_t lda, const double* w,
                             const double* u, double* out, double* slots,
                             int n_threads) noexcept nogil:
    """out = F u with F = X1^T diag(v) X1 (K = 0, v = A) or sum_i V_i (x) x1_i x1_i^T (K >= 1,
    u and out of shape (K, pw), C order). ``slots`` holds _fv_slots(n, p) * max(K, 1) * pw
    doubles of workspace. Each row block is read once (two BLAS-2/3 calls on a cache-resident
    block); partial sums go to fixed slots reduced in slot order. Returns 0 or -1 (memory)."""
    cdef Py_ssize_t pw = p + intercept
    cdef Py_ssize_t KK = K if K > 0 else 1
    cdef Py_ssize_t width = KK * pw
    cdef Py_ssize_t rows = _fv_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef Py_ssize_t s, c, i0, m, r, j, k
    cdef double* buf
    cdef double* t
    cdef double* y
    cdef double* slot
    cdef const double* Ab
    cdef double u0, wi
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef bint direct = floating is double
    cdef blas_int bp = <blas_int> p, bpw = <blas_int> pw, bK = <blas_int> KK, bm, blda
    cdef blas_int one = 1
    cdef double d_one = 1.0, d_zero = 0.0
    for j in range(n_slots * width):
        slots[j] = 0.0
    n_threads = work_threads(n_threads, n_slots, 4.0 * n * p * KK)
    with parallel(num_threads=n_threads):
        buf = NULL
        if not direct:
            buf = <double*> malloc(rows * p * sizeof(double))
        t = <double*> malloc(2 * rows * KK * sizeof(double))
        if t == NULL or (not direct and buf == NULL):
            failed_ptr[0] = 1
        else:
            y = t + rows * KK
            for s in prange(n_slots, schedule="dynamic"):
                slot = slots + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    bm = <blas_int> m
                    # In BLAS terms the block is p x m (row-major data, or the float64 copy)
                    # or m x p (column-major float64 X read in place).
                    if direct and row_major:
                        Ab = <const double*> (X + i0 * ldx)
                        blda = <blas_int> ldx
                    elif direct:
                        Ab = <const double*> (X + i0)
                        blda = <blas_int> ldx
                    else:
                        load_rows(X, ldx, row_major, i0, m, p, p, False, NULL, buf)
                        Ab = buf
                        blda = bp
                    if K == 0:
                        # t = X_b u, t <- v (t + u0), slot += X_b^T t
                        if direct and not row_major:
                            dgemv("N", &bm, &bp, &d_one, <double*> Ab, &blda, <double*> u,
                                  &one, &d_zero, t, &one)
                        else:
                            dgemv("T", &bp, &bm, &d_one, <double*> Ab, &blda, <double*> u,
                                  &one, &d_zero, t, &one)
                        u0 = u[p] if intercept else 0.0
                        for r in range(m):
                            t[r] = A[i0 + r] * (t[r] + u0)
                        if intercept:
                            for r in range(m):
                                slot[p] += t[r]
                        if direct and not row_major:
                            dgemv("T", &bm, &bp, &d_one, <double*> Ab, &blda, t, &one,
                                  &d_one, slot, &one)
                        else:
                            dgemv("N", &bp, &bm, &d_one, <double*> Ab, &blda, t, &one,
                                  &d_one, slot, &one)
                    else:
                        # t (K x m, col-major) = U X_b^T, y_r = V_r (t_r + u0), slot += y X_b
                        if direct and not row_major:
                            dgemm("T", "T", &bK, &bm, &bp, &d_one, <double*> u, &bpw,
                                  <double*> Ab, &blda, &d_zero, t, &bK)
                        else:
                            dgemm("T", "N", &bK, &bm, &bp, &d_one, <double*> u, &bpw,
                                  <double*> Ab, &blda, &d_zero, t, &bK)
                        for r in range(m):
                            if intercept:
                                for k in range(K):
                                    t[r * K + k] += u[k * pw + p]
                            wi = 1.0 if w == NULL else w[i0 + r]
                            _apply_v(kind, A + (i0 + r) * lda, wi, K, t + r * K, y + r * K)
                            if intercept:
                                for k in range(K):
                                    slot[k * pw + p] += y[r * K + k]
                        if direct and not row_major:
                            dgemm("T", "T", &bp, &bK, &bm, &d_one, <double*> Ab, &blda, y, &bK,
                                  &d_one, slot, &bpw)
                        else:
                            dgemm("N", "T", &bp, &bK, &bm, &d_one, <double*> Ab, &blda, y, &bK,
                                  &d_one, slot, &bpw)
                    c = c + n_slots
        free(buf)
        free(t)
    if failed:
        return -1
    for j in range(width):
        out[j] = 0.0
    for s in range(n_slots):
        slot = slots + s * width
        for j in range(width):
            out[j] += slot[j]
    return 0


cdef int fisher_vector(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                       bint row_major, bint intercept, const double* v, const double* u,
                       double* out, int n_threads) noexcept nogil:
    """out (pw) = X1^T (v * (X1 u)), X1 = [X, 1] when ``intercept`` (pw = p + intercept),
    without forming the Fisher. Returns 0, or -1 when memory runs out."""
    cdef Py_ssize_t pw = p + intercept
    cdef double* slots = <double*> malloc(_fv_slots(n, p) * pw * sizeof(double))
    cdef int status
    if slots == NULL:
        return -1
    status = _fisher_vector_into(X, n, p, ldx, row_major, intercept, 0, WEIGHTS_PACKED, v, 1,
                                 NULL, u, out, slots, n_threads)
    free(slots)
    return status


cdef int multi_output_fisher_vector(const floating* X, Py_ssize_t n, Py_ssize_t p,
                                    Py_ssize_t ldx, bint row_major, bint intercept,
                                    Py_ssize_t K, int kind, const double* A, Py_ssize_t lda,
                                    const double* w, const double* U, double* out,
                                    int n_threads) noexcept nogil:
    """out (K x pw, C order) = F U for the multi-output Fisher of ``multi_output_gram``
    (U is K x pw, C order, parameter index k * pw + j), without forming F: per row block
    Z = X1 U^T, Y_i = V_i z_i, out += Y^T X1. Returns 0, -1 (memory) or -6 (kind)."""
    cdef Py_ssize_t pw = p + intercept
    cdef double* slots
    cdef int status
    if K < 1 or kind < WEIGHTS_PACKED or kind > WEIGHTS_OUTER:
        return -6
    slots = <double*> malloc(_fv_slots(n, p) * K * pw * sizeof(double))
    if slots == NULL:
        return -1
    status = _fisher_vector_into(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, U,
                                 out, slots, n_threads)
    free(slots)
    return status


# -------------------------------------------------------------------------- Fisher diagonal --

cdef int _diagonal_into(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                        bint row_major, bint intercept, Py_ssize_t K, int kind,
                        const double* A, Py_ssize_t lda, const double* w, double* out,
                        int n_threads) noexcept nogil:
    """out[k * pw + j] = sum_i V_i[k, k] x1_ij^2 (K >= 1) or out[j] = sum_i v_i x1_ij^2
    (K = 0, v = A), in one pass over X; fixed slots reduced in order. Returns 0 or -1."""
    cdef Py_ssize_t pw = p + intercept
    cdef Py_ssize_t KK = K if K > 0 else 1
    cdef Py_ssize_t width = KK * pw
    cdef Py_ssize_t rows = chunk_rows(n, p)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef double* partial = <double*> calloc(n_slots * width, sizeof(double))
    cdef double* vk
    cdef double* slot
    cdef double* dst
    cdef Py_ssize_t s, c, i0, m, r, j, k
    cdef double x, acc, wi
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, n_slots, 3.0 * n * p * KK)
    with parallel(num_threads=n_threads):
        vk = <double*> malloc(rows * KK * sizeof(double))
        if vk == NULL:
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = partial + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    # vk (m x KK, row-major) = the diagonal weights of the block
                    for r in range(m):
                        if K == 0:
                            vk[r] = A[i0 + r]
                        else:
                            wi = 1.0 if w == NULL else w[i0 + r]
                            for k in range(K):
                                vk[r * K + k] = _vkl(kind, A + (i0 + r) * lda, wi, K, k, k)
                    for k in range(KK):
                        dst = slot + k * pw
                        if row_major:
                            for r in range(m):
                                wi = vk[r * KK + k]
                                for j in range(p):
                                    x = X[(i0 + r) * ldx + j]
                                    dst[j] += wi * x * x
                        else:
                            for j in range(p):
                                acc = 0.0
                                for r in range(m):
                                    x = X[i0 + r + j * ldx]
                                    acc = acc + vk[r * KK + k] * x * x
                                dst[j] += acc
                        if intercept:
                            acc = 0.0
                            for r in range(m):
                                acc = acc + vk[r * KK + k]
                            dst[p] += acc
                    c = c + n_slots
        free(vk)
    if failed:
        free(partial)
        return -1
    for j in range(width):
        out[j] = 0.0
    for s in range(n_slots):
        slot = partial + s * width
        for j in range(width):
            out[j] += slot[j]
    free(partial)
    return 0


cdef int fisher_diagonal(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                         bint row_major, bint intercept, const double* v, double* out,
                         int n_threads) noexcept nogil:
    """out (pw) = diag(X1^T diag(v) X1) in one pass over X. Returns 0, or -1 (memory)."""
    return _diagonal_into(X, n, p, ldx, row_major, intercept, 0, WEIGHTS_PACKED, v, 1, NULL,
                          out, n_threads)


cdef int multi_output_fisher_diagonal(const floating* X, Py_ssize_t n, Py_ssize_t p,
                                      Py_ssize_t ldx, bint row_major, bint intercept,
                                      Py_ssize_t K, int kind, const double* A, Py_ssize_t lda,
                                      const double* w, double* out,
                                      int n_threads) noexcept nogil:
    """out (K x pw) = diagonal of the multi-output Fisher of ``multi_output_gram``."""
    if K < 1 or kind < WEIGHTS_PACKED or kind > WEIGHTS_OUTER:
        return -6
    return _diagonal_into(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, out,
                          n_threads)


# ------------------------------------------------------------------ unvalidated entries --

def _multi_output_gram(const floating[:, :] X, bint intercept, Py_ssize_t K, int kind,
                       const double[:, ::1] A, object w, double[:, ::1] out, int n_threads):
    """Unvalidated Python entry to ``multi_output_gram`` (w: None or float64 (n,))."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    cdef const double[::1] w_view
    cdef const double* w_ptr = NULL
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        status = multi_output_gram(&X[0, 0], n, p, ldx, row_major, intercept, K, kind,
                                   &A[0, 0], A.shape[1], w_ptr, &out[0, 0], n_threads)
    if status == -1:
        raise MemoryError("multi_output_gram could not allocate its accumulators")
    if status != 0:
        raise ValueError(f"multi_output_gram failed with status {status}")


def _fisher_vector(const floating[:, :] X, bint intercept, const double[::1] v,
                   const double[::1] u, double[::1] out, int n_threads):
    """Unvalidated Python entry to ``fisher_vector``."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        status = fisher_vector(&X[0, 0], n, p, ldx, row_major, intercept, &v[0], &u[0],
                               &out[0], n_threads)
    if status != 0:
        raise MemoryError("fisher_vector could not allocate its accumulators")


def _multi_output_fisher_vector(const floating[:, :] X, bint intercept, Py_ssize_t K,
                                int kind, const double[:, ::1] A, object w,
                                const double[:, ::1] U, double[:, ::1] out, int n_threads):
    """Unvalidated Python entry to ``multi_output_fisher_vector`` (U, out: (K, pw))."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    cdef const double[::1] w_view
    cdef const double* w_ptr = NULL
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        status = multi_output_fisher_vector(&X[0, 0], n, p, ldx, row_major, intercept, K,
                                            kind, &A[0, 0], A.shape[1], w_ptr, &U[0, 0],
                                            &out[0, 0], n_threads)
    if status == -1:
        raise MemoryError("multi_output_fisher_vector could not allocate its accumulators")
    if status != 0:
        raise ValueError(f"multi_output_fisher_vector failed with status {status}")


def _fisher_diagonal(const floating[:, :] X, bint intercept, Py_ssize_t K, int kind,
                     const double[:, ::1] A, object w, double[::1] out, int n_threads):
    """Unvalidated Python entry to ``fisher_diagonal`` (K = 0: v = A[:, 0], shape (n, 1)) and
    ``multi_output_fisher_diagonal`` (K >= 1); out has K * pw (or pw) entries."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    cdef const double[::1] w_view
    cdef const double* w_ptr = NULL
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        if K == 0:
            status = fisher_diagonal(&X[0, 0], n, p, ldx, row_major, intercept, &A[0, 0],
                                     &out[0], n_threads)
        else:
            status = multi_output_fisher_diagonal(&X[0, 0], n, p, ldx, row_major, intercept,
                                                  K, kind, &A[0, 0], A.shape[1], w_ptr,
                                                  &out[0], n_threads)
    if status == -1:
        raise MemoryError("fisher_diagonal could not allocate its accumulators")
    if status != 0:
        raise ValueError(f"fisher_diagonal failed with status {status}")


def _gram_slots(Py_ssize_t n, Py_ssize_t width, bint multi):
    """Accumulation slots (the OpenMP parallelism available) of ``multi_output_gram`` (multi)
    or ``weighted_gram`` for an n-row input whose result is width x width; 1 means that a
    BLAS-threaded accumulation is the faster way to use several cores."""
    cdef Py_ssize_t rows = _gram_rows(n, width) if multi else chunk_rows(n, width)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t per_slot = width * width
    cdef Py_ssize_t n_slots = GRAM_SLOT_BUDGET // (per_slot if per_slot > 0 else 1)
    if not multi:
        return _weighted_slots(n_chunks, _gram_ld(width, _use_tiles(width, True)))
    return max(1, min(n_slots, MAX_GRAM_SLOTS, n_chunks))


#: Python-visible codes of RowWeights, by name.
ROW_WEIGHTS = {"packed": int(WEIGHTS_PACKED), "softmax": int(WEIGHTS_SOFTMAX),
               "outer": int(WEIGHTS_OUTER)}
