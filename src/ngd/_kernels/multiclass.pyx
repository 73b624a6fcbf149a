"""Fused one-pass kernel of softmax (multinomial) regression over row blocks of X.

``softmax_pass`` reads X once and returns, for eta_i = W x_i + b (W (K, p), b (K,)),
p_i = softmax(eta_i) and nll_i = logsumexp(eta_i) - eta_{i, y_i}:

    loss_out[0]        = sum_i w_i nll_i
    grad_out[k, :p]    = sum_i r_ik x_i,   grad_out[k, p] = sum_i r_ik,   r_ik = w_i (p_ik - [y_i = k])
    proba_out[i, k]    = p_ik              (when proba_out is not NULL)

Per row block: E = X_b W^T (one dgemm), the softmax in place (row maximum subtracted: one exp
per entry, no overflow), then grad += X_b^T R (one dgemm). Sums are unnormalised; row blocks
are reduced in a fixed order, so results do not depend on the number of threads.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport exp, log
from libc.stdlib cimport malloc, calloc, free
from cython cimport floating

from ngd._kernels._blas cimport blas_int, dgemm
from ngd._kernels._rows cimport RowBlock, chunk_rows, row_block, work_threads, MAX_SLOTS


cdef inline void _block_logits(RowBlock* block, blas_int K, const double* coef,
                               double* E) noexcept nogil:
    """E (row-major m x K) = rows . W^T (the block: ngd._kernels._rows.row_block; zeros when
    p = 0); coef W row-major (K, p), i.e. W^T column-major p x K."""
    cdef double one = 1.0, zero = 0.0
    cdef blas_int r
    if block.p == 0:
        for r in range(block.m * K):
            E[r] = 0.0
        return
    if block.in_place_columns:
        dgemm("T", "T", &K, &block.m, &block.p, &one, <double*> coef, &block.p,
              <double*> block.A, &block.lda, &zero, E, &K)
    else:
        dgemm("T", "N", &K, &block.m, &block.p, &one, <double*> coef, &block.p,
              <double*> block.A, &block.lda, &zero, E, &K)


cdef inline void _block_add_gradient(RowBlock* block, blas_int K, const double* R,
                                     double* G) noexcept nogil:
    """G (column-major p x K, i.e. row-major (K, p)) += rows^T R, R row-major m x K."""
    cdef double one = 1.0
    if block.p == 0:
        return
    if block.in_place_columns:
        dgemm("T", "T", &block.p, &K, &block.m, &one, <double*> block.A, &block.lda,
              <double*> R, &K, &one, G, &block.p)
    else:
        dgemm("N", "T", &block.p, &K, &block.m, &one, <double*> block.A, &block.lda,
              <double*> R, &K, &one, G, &block.p)


cdef inline double _softmax_row(double* e, Py_ssize_t K, const double* b, Py_ssize_t code,
                                double wi, double* r) noexcept nogil:
    """e (K logits without b) becomes p = softmax(e + b); r = w (p - onehot(code)); returns
    nll = logsumexp(e + b) - (e + b)[code]."""
    cdef Py_ssize_t k
    cdef double top, total = 0.0, nll
    for k in range(K):
        e[k] = e[k] + b[k]
    top = e[0]
    for k in range(1, K):
        if e[k] > top:
            top = e[k]
    nll = -(e[code] - top)
    for k in range(K):
        e[k] = exp(e[k] - top)
        total = total + e[k]
    nll = nll + log(total)
    for k in range(K):
        e[k] = e[k] / total
        r[k] = wi * e[k]
    r[code] = r[code] - wi
    return nll


cdef int softmax_pass(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                      bint row_major, Py_ssize_t K, const double* coef, const double* intercept,
                      const Py_ssize_t* codes, const double* w, double* loss_out,
                      double* grad_out, double* proba_out, int n_threads) noexcept nogil:
    """One pass over X (see the module docstring); grad_out is row-major (K, p + 1).
    Returns 0, or -1 when memory runs out."""
    cdef Py_ssize_t rows = chunk_rows(n, p + K)
    cdef Py_ssize_t n_chunks = (n + rows - 1) // rows
    cdef Py_ssize_t n_slots = n_chunks if n_chunks < MAX_SLOTS else MAX_SLOTS
    cdef Py_ssize_t width = K * p + K + 1      # W gradient (column-major p x K), b gradient, loss
    cdef double* partial = <double*> calloc(n_slots * width, sizeof(double))
    cdef int failed = 0
    cdef int* failed_ptr = &failed
    cdef Py_ssize_t s, c, i0, m, r, k, j
    cdef double* buf
    cdef double* E
    cdef double* R
    cdef double* slot
    cdef RowBlock block
    cdef blas_int bK = <blas_int> K
    cdef double wi
    if partial == NULL:
        return -1
    n_threads = work_threads(n_threads, n_slots, 4.0 * n * p * K)   # no idle threads
    with parallel(num_threads=n_threads):
        buf = NULL
        if floating is not double:
            buf = <double*> malloc((rows * p + 1) * sizeof(double))
        E = <double*> malloc(rows * K * sizeof(double))
        R = <double*> malloc(rows * K * sizeof(double))
        if E == NULL or R == NULL or (floating is not double and buf == NULL):
            failed_ptr[0] = 1
        else:
            for s in prange(n_slots, schedule="dynamic"):
                slot = partial + s * width
                c = s
                while c < n_chunks:
                    i0 = c * rows
                    m = rows if i0 + rows <= n else n - i0
                    block = row_block(X, ldx, row_major, i0, m, p, buf)
                    _block_logits(&block, bK, coef, E)
                    for r in range(m):
                        wi = 1.0 if w == NULL else w[i0 + r]
                        slot[width - 1] += wi * _softmax_row(E + r * K, K, intercept,
                                                            codes[i0 + r], wi, R + r * K)
                        for k in range(K):
                            slot[K * p + k] += R[r * K + k]
                        if proba_out != NULL:
                            for k in range(K):
                                proba_out[(i0 + r) * K + k] = E[r * K + k]
                    _block_add_gradient(&block, bK, R, slot)
                    c = c + n_slots
        free(buf)
        free(E)
        free(R)
    if failed:
        free(partial)
        return -1
    loss_out[0] = 0.0
    for j in range(K * (p + 1)):
        grad_out[j] = 0.0
    for s in range(n_slots):
        slot = partial + s * width
        for k in range(K):
            for j in range(p):
                grad_out[k * (p + 1) + j] += slot[k * p + j]
            grad_out[k * (p + 1) + p] += slot[K * p + k]
        loss_out[0] += slot[width - 1]
    free(partial)
    return 0


def _softmax_pass(const floating[:, :] X, const double[:, ::1] coef,
                  const double[::1] intercept, const Py_ssize_t[::1] codes, object w,
                  double[:, ::1] grad_out, object proba_out, bint row_major, Py_ssize_t ldx,
                  int n_threads):
    """Unvalidated Python entry to ``softmax_pass``; returns the weighted loss sum."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], K = coef.shape[0]
    cdef const double[::1] w_view
    cdef double[:, ::1] proba_view
    cdef const double* w_ptr = NULL
    cdef double* proba_ptr = NULL
    cdef double loss = 0.0
    cdef int status
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    if proba_out is not None:
        proba_view = proba_out
        proba_ptr = &proba_view[0, 0]
    with nogil:
        status = softmax_pass(&X[0, 0], n, p, ldx, row_major, K, &coef[0, 0], &intercept[0],
                              &codes[0], w_ptr, &loss, &grad_out[0, 0], proba_ptr, n_threads)
    if status != 0:
        raise MemoryError("softmax_pass could not allocate its row-block buffers")
    return loss
