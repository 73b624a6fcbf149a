"""Solves with the Fisher.

- ``damped_cholesky`` tries LAPACK dpotrf on F + lambda I; when F + lambda I is not numerically
  positive definite it sets lambda <- max(2 lambda, lambda_0), lambda_0 = 1e-10 * trace(F) / p
  (1e-10 when the trace is not positive), and retries (Nocedal & Wright, Algorithm 3.3).
  "Numerically positive definite" means dpotrf succeeds *and* every pivot satisfies
  U_jj^2 > 64 p eps (F_jj + lambda): on a singular F (collinear columns) rounding often leaves a
  pivot of order eps F_jj that dpotrf accepts, and the solve would then be meaningless.
  It returns the number of escalations, writes the lambda it used, and leaves the upper
  Cholesky factor U (F + lambda I = U^T U, column-major) in ``factor`` for ``cholesky_solve``,
  which then solves for any number of right-hand sides.
- ``cg_solve`` / ``multi_output_cg_solve``: preconditioned conjugate gradients on
  (F + lambda I) d = g with F = X1^T diag(v) X1 (or the K-output Fisher of
  ``fisher.multi_output_gram``), applied through ``fisher`` Fisher-vector products: the
  operator never exists as a matrix and no Python runs per iteration. Jacobi preconditioner
  M = diag(F) + lambda; stops at ||r|| <= rtol ||g||, at maxiter, or when p^T A p <= 0.
  A "kind 1" kernel (OpenMP over row blocks inside each product; keep BLAS single-threaded).
- ``woodbury_solve``: (G^T G / n + lambda I)^{-1} g through the n x n system
  (G G^T + n lambda I), O(n^2 p): dsyrk, dpotrf/dpotrs and two dgemv. A "kind 2" kernel: the
  parallelism is BLAS's own (set its thread count around the call).
"""
from libc.float cimport DBL_EPSILON

from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport malloc, calloc, free

from ngd._kernels._blas cimport blas_int, dgemv, dsyrk, dpotrf, dpotrs
from ngd._kernels.fisher cimport (_fv_slots, _fisher_vector_into, _diagonal_into,
                                  WEIGHTS_PACKED, WEIGHTS_OUTER)

cdef enum:
    WOODBURY_BLOCK_DOUBLES = 1048576   # float32 G is converted in column blocks of ~8 MiB


cdef int damped_cholesky(const double* F, Py_ssize_t p, double damping, double* factor,
                         double* damping_used, int max_escalations) noexcept nogil:
    """Factor F + damping I; escalate damping on failure. Returns escalations, or -1."""
    cdef Py_ssize_t i, j
    cdef double trace = 0.0, lam = damping, lam0
    cdef blas_int bp = <blas_int> p, info = 0
    cdef int escalations = 0
    cdef double rtol = 64.0 * p * DBL_EPSILON
    for i in range(p):
        trace += F[i * p + i]
    lam0 = 1e-10 * trace / p if trace > 0 else 1e-10
    while True:
        for j in range(p):
            for i in range(j + 1):
                factor[j * p + i] = F[j * p + i]
            factor[j * p + j] += lam
        dpotrf("U", &bp, factor, &bp, &info)
        if info == 0:
            # reject pivots that are rounding noise (singular to working precision)
            for j in range(p):
                if factor[j * p + j] * factor[j * p + j] <= rtol * (F[j * p + j] + lam):
                    info = <blas_int> (j + 1)
                    break
        if info == 0:
            damping_used[0] = lam
            return escalations
        if info < 0 or escalations >= max_escalations:
            damping_used[0] = lam
            return -1
        escalations += 1
        lam = 2.0 * lam if 2.0 * lam > lam0 else lam0


cdef int cholesky_solve(const double* factor, Py_ssize_t p, double* b,
                        Py_ssize_t nrhs) noexcept nogil:
    """Overwrite b (p x nrhs, column-major) with (U^T U)^{-1} b. Returns LAPACK's info."""
    cdef blas_int bp = <blas_int> p, bn = <blas_int> nrhs, info = 0
    dpotrs("U", &bp, &bn, <double*> factor, &bp, b, &bp, &info)
    return info


def _damped_cholesky(const double[:, ::1] F, double damping, double[:, ::1] factor,
                     int max_escalations):
    """Unvalidated Python entry: returns (escalations or -1, damping used)."""
    cdef double used = damping
    cdef int status
    with nogil:
        status = damped_cholesky(&F[0, 0], F.shape[0], damping, &factor[0, 0], &used,
                                 max_escalations)
    return status, used


def _cholesky_solve(const double[:, ::1] factor, double[::1] b):
    """Unvalidated Python entry: b <- (U^T U)^{-1} b in place; returns LAPACK's info."""
    cdef int info
    with nogil:
        info = cholesky_solve(&factor[0, 0], factor.shape[0], &b[0], 1)
    return info


def _cholesky_solve_many(const double[:, ::1] factor, double[::1, :] b):
    """Unvalidated Python entry: b (p, nrhs), Fortran order, <- (U^T U)^{-1} b in place."""
    cdef int info
    with nogil:
        info = cholesky_solve(&factor[0, 0], factor.shape[0], &b[0, 0], b.shape[1])
    return info


# ------------------------------------------------------------------ conjugate gradients --

cdef int _pcg(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx, bint row_major,
              bint intercept, Py_ssize_t K, int kind, const double* A, Py_ssize_t lda,
              const double* w, const double* g, double damping, double rtol,
              Py_ssize_t maxiter, bint precondition, bint warm_start, double* x,
              Py_ssize_t* n_iter, double* residual, int n_threads) noexcept nogil:
    """PCG on (F + damping I) x = g, F applied by ``fisher._fisher_vector_into`` (K = 0: the
    single-output Fisher with v = A). Returns a CGStatus, or -1 when memory runs out."""
    cdef Py_ssize_t pw = p + intercept
    cdef Py_ssize_t dim = (K if K > 0 else 1) * pw
    cdef Py_ssize_t n_slots = _fv_slots(n, p)
    cdef double* work = <double*> malloc((5 + n_slots) * dim * sizeof(double))
    cdef double* r
    cdef double* z
    cdef double* d
    cdef double* q
    cdef double* minv
    cdef double* slots
    cdef double gnorm, res, rz, rz_new, pq, alpha, beta, mj
    cdef Py_ssize_t j, it = 0
    cdef int status = CG_MAX_ITER
    if work == NULL:
        return -1
    r = work
    z = r + dim
    d = z + dim
    q = d + dim
    minv = q + dim
    slots = minv + dim
    # Jacobi preconditioner M^{-1} = 1 / (diag(F) + damping); 1 where that is not positive.
    if precondition:
        if _diagonal_into(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, minv,
                          n_threads) != 0:
            free(work)
            return -1
        for j in range(dim):
            mj = minv[j] + damping
            minv[j] = 1.0 / mj if mj > 0 else 1.0
    else:
        for j in range(dim):
            minv[j] = 1.0
    gnorm = sqrt(vector_dot(g, g, dim))
    if not (gnorm > 0):
        for j in range(dim):
            x[j] = 0.0
        n_iter[0] = 0
        residual[0] = 0.0
        free(work)
        return CG_CONVERGED
    if warm_start:
        if _fisher_vector_into(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, x, q,
                               slots, n_threads) != 0:
            free(work)
            return -1
        for j in range(dim):
            r[j] = g[j] - q[j] - damping * x[j]
    else:
        for j in range(dim):
            x[j] = 0.0
            r[j] = g[j]
    res = sqrt(vector_dot(r, r, dim)) / gnorm
    if res <= rtol:
        status = CG_CONVERGED
    else:
        for j in range(dim):
            z[j] = minv[j] * r[j]
            d[j] = z[j]
        rz = vector_dot(r, z, dim)
        while it < maxiter:
            if _fisher_vector_into(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, d,
                                   q, slots, n_threads) != 0:
                free(work)
                return -1
            for j in range(dim):
                q[j] += damping * d[j]
            pq = vector_dot(d, q, dim)
            if not (pq > 0):            # also catches NaN: stop before x is spoiled
                status = CG_BREAKDOWN
                break
            alpha = rz / pq
            for j in range(dim):
                x[j] += alpha * d[j]
                r[j] -= alpha * q[j]
            it += 1
            res = sqrt(vector_dot(r, r, dim)) / gnorm
            if res <= rtol:
                status = CG_CONVERGED
                break
            for j in range(dim):
                z[j] = minv[j] * r[j]
            rz_new = vector_dot(r, z, dim)
            if not (rz_new > 0):
                status = CG_BREAKDOWN
                break
            beta = rz_new / rz
            rz = rz_new
            for j in range(dim):
                d[j] = z[j] + beta * d[j]
    n_iter[0] = it
    residual[0] = res
    free(work)
    return status


cdef int cg_solve(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                  bint row_major, bint intercept, const double* v, const double* g,
                  double damping, double rtol, Py_ssize_t maxiter, bint precondition,
                  bint warm_start, double* x, Py_ssize_t* n_iter, double* residual,
                  int n_threads) noexcept nogil:
    """Solve (X1^T diag(v) X1 + damping I) x = g (X1 = [X, 1] when ``intercept``; vectors of
    length pw = p + intercept) by Jacobi-preconditioned CG without forming the Fisher.
    ``warm_start``: x holds the starting point on entry (else it starts from 0). Writes the
    iterations and the final relative residual ||r|| / ||g||; returns a CGStatus (0 converged,
    1 maxiter, 2 breakdown: p^T A p <= 0) or -1 when memory runs out."""
    return _pcg(X, n, p, ldx, row_major, intercept, 0, WEIGHTS_PACKED, v, 1, NULL, g, damping,
                rtol, maxiter, precondition, warm_start, x, n_iter, residual, n_threads)


cdef int multi_output_cg_solve(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                               bint row_major, bint intercept, Py_ssize_t K, int kind,
                               const double* A, Py_ssize_t lda, const double* w,
                               const double* g, double damping, double rtol,
                               Py_ssize_t maxiter, bint precondition, bint warm_start,
                               double* x, Py_ssize_t* n_iter, double* residual,
                               int n_threads) noexcept nogil:
    """``cg_solve`` for the K-output Fisher of ``fisher.multi_output_gram`` (g, x: K x pw,
    C order). Returns a CGStatus, -1 (memory) or -6 (bad K or kind)."""
    if K < 1 or kind < WEIGHTS_PACKED or kind > WEIGHTS_OUTER:
        return -6
    return _pcg(X, n, p, ldx, row_major, intercept, K, kind, A, lda, w, g, damping, rtol,
                maxiter, precondition, warm_start, x, n_iter, residual, n_threads)


def _cg_solve(const floating[:, :] X, bint intercept, Py_ssize_t K, int kind,
              const double[:, ::1] A, object w, const double[::1] g, double damping,
              double rtol, Py_ssize_t maxiter, bint precondition, bint warm_start,
              double[::1] x, int n_threads):
    """Unvalidated Python entry to ``cg_solve`` (K = 0: v = A[:, 0], A of shape (n, 1)) and
    ``multi_output_cg_solve`` (K >= 1). Returns (status, n_iter, residual)."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], ldx
    cdef bint row_major
    cdef int status
    cdef Py_ssize_t n_iter = 0
    cdef double residual = 0.0
    cdef const double[::1] w_view
    cdef const double* w_ptr = NULL
    if w is not None:
        w_view = w
        w_ptr = &w_view[0]
    row_major, ldx = _layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    with nogil:
        if K == 0:
            status = cg_solve(&X[0, 0], n, p, ldx, row_major, intercept, &A[0, 0], &g[0],
                              damping, rtol, maxiter, precondition, warm_start, &x[0],
                              &n_iter, &residual, n_threads)
        else:
            status = multi_output_cg_solve(&X[0, 0], n, p, ldx, row_major, intercept, K,
                                           kind, &A[0, 0], A.shape[1], w_ptr, &g[0], damping,
                                           rtol, maxiter, precondition, warm_start, &x[0],
                                           &n_iter, &residual, n_threads)
    if status == -1:
        raise MemoryError("cg_solve could not allocate its work vectors")
    if status < 0:
        raise ValueError(f"cg_solve failed with status {status}")
    return status, n_iter, residual


# ---------------------------------------------------------------------------- Woodbury --

cdef inline const double* _woodbury_block(const floating* G, Py_ssize_t n, Py_ssize_t ldg,
                                          bint row_major, Py_ssize_t j0, Py_ssize_t pb,
                                          double* buf, blas_int* ld,
                                          bint* transposed) noexcept nogil:
    """Columns j0..j0+pb of G in BLAS terms: n x pb column-major (``transposed`` False) or
    pb x n column-major (True, row-major float64 G read in place). float32 is copied to buf."""
    cdef Py_ssize_t i, jj
    if floating is double:
        if row_major:
            ld[0] = <blas_int> ldg
            transposed[0] = True
            return <const double*> (G + j0)
        ld[0] = <blas_int> ldg
        transposed[0] = False
        return <const double*> (G + j0 * ldg)
    if row_major:
        for i in range(n):
            for jj in range(pb):
                buf[jj * n + i] = G[i * ldg + j0 + jj]
    else:
        for jj in range(pb):
            for i in range(n):
                buf[jj * n + i] = G[(j0 + jj) * ldg + i]
    ld[0] = <blas_int> n
    transposed[0] = False
    return buf


cdef int woodbury_solve(const floating* G, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldg,
                        bint row_major, const double* g, double damping,
                        double* out) noexcept nogil:
    """out (p) = (G^T G / n + damping I)^{-1} g for G (n x p, n < p is the useful case) via
    Woodbury: out = (g - G^T (G G^T + n damping I)^{-1} G g) / damping; the n x n system is
    formed with dsyrk and solved with dpotrf/dpotrs. Returns 0; -1 when memory runs out; -7
    when damping <= 0; k > 0 when dpotrf finds the system not positive definite (LAPACK info).
    BLAS threading is the caller's (a "kind 2" kernel)."""
    cdef Py_ssize_t pb, j0, j
    cdef double* S
    cdef double* t
    cdef double* buf = NULL
    cdef const double* Gb
    cdef blas_int ld, bn = <blas_int> n, bpb, info = 0, one = 1
    cdef bint tr
    cdef double d_one = 1.0, d_zero = 0.0, d_mone = -1.0
    if not (damping > 0):
        return -7
    pb = p
    if floating is float:
        pb = WOODBURY_BLOCK_DOUBLES // (n if n > 0 else 1)
        if pb < 1:
            pb = 1
        if pb > p:
            pb = p
        buf = <double*> malloc(n * pb * sizeof(double))
    S = <double*> calloc(n * n, sizeof(double))
    t = <double*> calloc(n, sizeof(double))
    if S == NULL or t == NULL or (floating is float and buf == NULL):
        free(S)
        free(t)
        free(buf)
        return -1
    # S = G G^T (upper), t = G g, one pass over the column blocks of G
    j0 = 0
    while j0 < p:
        bpb = <blas_int> (pb if j0 + pb <= p else p - j0)
        Gb = _woodbury_block(G, n, ldg, row_major, j0, bpb, buf, &ld, &tr)
        if tr:
            dsyrk("U", "T", &bn, &bpb, &d_one, <double*> Gb, &ld, &d_one, S, &bn)
            dgemv("T", &bpb, &bn, &d_one, <double*> Gb, &ld, <double*> (g + j0), &one, &d_one,
                  t, &one)
        else:
            dsyrk("U", "N", &bn, &bpb, &d_one, <double*> Gb, &ld, &d_one, S, &bn)
            dgemv("N", &bn, &bpb, &d_one, <double*> Gb, &ld, <double*> (g + j0), &one, &d_one,
                  t, &one)
        j0 += bpb
    for j in range(n):
        S[j * n + j] += n * damping
    dpotrf("U", &bn, S, &bn, &info)
    if info == 0:
        dpotrs("U", &bn, &one, S, &bn, t, &bn, &info)
    if info != 0:
        free(S)
        free(t)
        free(buf)
        return <int> info if info > 0 else -1
    # out = (g - G^T t) / damping, a second pass over the column blocks
    j0 = 0
    while j0 < p:
        bpb = <blas_int> (pb if j0 + pb <= p else p - j0)
        Gb = _woodbury_block(G, n, ldg, row_major, j0, bpb, buf, &ld, &tr)
        if tr:
            dgemv("N", &bpb, &bn, &d_mone, <double*> Gb, &ld, t, &one, &d_zero, out + j0,
                  &one)
        else:
            dgemv("T", &bn, &bpb, &d_mone, <double*> Gb, &ld, t, &one, &d_zero, out + j0,
                  &one)
        j0 += bpb
    for j in range(p):
        out[j] = (out[j] + g[j]) / damping
    free(S)
    free(t)
    free(buf)
    return 0


def _woodbury_solve(const floating[:, :] G, const double[::1] g, double damping,
                    double[::1] out):
    """Unvalidated Python entry to ``woodbury_solve``; returns its status."""
    from ngd._kernels.fused import _layout
    cdef Py_ssize_t n = G.shape[0], p = G.shape[1], ldg
    cdef bint row_major
    cdef int status
    row_major, ldg = _layout(G.strides[0], G.strides[1], G.itemsize, n, p)
    with nogil:
        status = woodbury_solve(&G[0, 0], n, p, ldg, row_major, &g[0], damping, &out[0])
    if status == -1:
        raise MemoryError("woodbury_solve could not allocate the n x n system")
    return status


#: Python-visible codes of CGStatus, by name.
CG_STATUS_CODES = {"converged": int(CG_CONVERGED), "maxiter": int(CG_MAX_ITER),
                   "breakdown": int(CG_BREAKDOWN)}
