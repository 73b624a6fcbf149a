"""Damped Cholesky of (F + lambda I) with Levenberg-Marquardt style escalation.

``damped_cholesky`` tries LAPACK dpotrf on F + lambda I; when F + lambda I is not numerically
positive definite it sets lambda <- max(2 lambda, lambda_0), lambda_0 = 1e-10 * trace(F) / p
(1e-10 when the trace is not positive), and retries (Nocedal & Wright, Algorithm 3.3).
"Numerically positive definite" means dpotrf succeeds *and* every pivot satisfies
U_jj^2 > 64 p eps (F_jj + lambda): on a singular F (collinear columns) rounding often leaves a
pivot of order eps F_jj that dpotrf accepts, and the solve would then be meaningless.
It returns the number of escalations, writes the lambda it used, and leaves the upper
Cholesky factor U (F + lambda I = U^T U, column-major) in ``factor`` for ``cholesky_solve``.
"""
from libc.float cimport DBL_EPSILON

from ngd._kernels._blas cimport blas_int, dpotrf, dpotrs


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
