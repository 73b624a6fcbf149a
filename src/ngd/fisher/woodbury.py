"""Woodbury solve for single-output models with fewer curvature rows than parameters.

C = X~^T V X~ + D with X~ = [X, 1], V = diag(v) (v >= 0), D = diag(mu on the coef, lambda on
the intercept), mu = l2 + lambda. With S = diag(sqrt(v)), K = X X^T and M = mu I_n + S K S,
A = X^T V X + mu I (p x p) has

    A^{-1} u = (u - X^T S M^{-1} S X u) / mu                       (an n x n system),

and, since X^T is pushed through, A^{-1} X^T w = X^T (w - S M^{-1} S K w) / mu. The intercept
is eliminated by its Schur complement: with b = X^T v, c = sum v + lambda, z2 = A^{-1} b,
s = c - b^T z2, the solve of C (d1, d0) = (g1, g0) is z1 = A^{-1} g1, d0 = (g0 - b^T z1) / s,
d1 = z1 - z2 d0. Writing h = X g1, w1 = S M^{-1} S h and w2 = (v - S M^{-1} S K v) / mu:
b^T z2 = v^T K w2, b^T z1 = v^T (h - K w1) / mu and d1 = g1 / mu - X^T (w1 / mu + d0 w2),
so a solve reads X twice (h and one X^T product) with or without an intercept.
K (n x n) is formed once per X (n^2 p flops), so an iteration costs n^3/3 + 2 n p + O(n^2).
"""
import numpy as np
from scipy.linalg import blas, cho_solve, lapack

from ngd import _sparse
from ngd._threads import blas_threads, threads_for
from ngd.fisher.dense import Solve
from ngd.fisher.matrix_free import MAX_ESCALATIONS
from ngd.models._linear import matvec, rmatvec

MU_FLOOR = 1e-12


COLUMN_BLOCK = 2048        # float32 X: columns converted to float64 this many at a time


def kernel_matrix(X):
    """X X^T in float64 (upper and lower triangles) by syrk on X^T (an F-ordered view of a
    C-ordered X: no copy); float32 X a block of columns at a time, F-ordered X through one
    C-ordered copy; CSR X by the sparse product."""
    if _sparse.is_sparse(X):
        return _sparse.kernel_matrix(X)
    if X.dtype == np.float64:
        upper = blas.dsyrk(1.0, np.ascontiguousarray(X).T, trans=1)
    else:
        upper = np.zeros((X.shape[0], X.shape[0]))
        for start in range(0, X.shape[1], COLUMN_BLOCK):
            block = np.ascontiguousarray(X[:, start:start + COLUMN_BLOCK], dtype=np.float64)
            upper = blas.dsyrk(1.0, block.T, beta=1.0, c=upper, trans=1, overwrite_c=True)
    return _symmetrised(upper)


SYMMETRISE_BLOCK = 256     # columns of the upper triangle mirrored at a time


def _symmetrised(upper):
    """The symmetric matrix whose upper triangle is ``upper``'s, written in place: the strict
    lower triangle copied from the upper one a block of columns at a time."""
    n = upper.shape[0]
    for start in range(0, n, SYMMETRISE_BLOCK):
        stop = min(start + SYMMETRISE_BLOCK, n)
        diagonal = upper[start:stop, start:stop]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).T
        upper[stop:, start:stop] = upper[start:stop, stop:].T
    return upper


class WoodburySolver:
    """(C + lambda I)^{-1} g through an n x n Cholesky (see the module docstring)."""

    name = "woodbury"

    def __init__(self):
        self._X = None
        self._kernel = None

    def use_kernel(self, X, kernel):
        """Solve on X with ``kernel`` as X X^T (formed by the caller, e.g. ngd.rowspace)."""
        self._X, self._kernel = X, kernel

    def _kernel_of(self, X):
        if X is not self._X:
            self._X, self._kernel = X, kernel_matrix(X)
        return self._kernel

    def solve(self, model, weights, g, damping, rows=None):
        """d with (C + lambda I) d = g; lambda is raised from 0 when C is singular. Runs
        with the fit's BLAS threads (the fit limits BLAS to 1 around the OpenMP kernels),
        one when the solve is small (ngd._threads.threads_for)."""
        n = model.n_samples if rows is None else rows.size
        work = n ** 3 / 3.0 + 2.0 * n * model.n_features
        with blas_threads(threads_for(work, model.n_threads)):
            return self._solve(model, weights, g, damping, rows)

    def _solve(self, model, weights, g, damping, rows):
        X, v = model.curvature_data(weights, rows)
        if np.any(v < 0):
            raise ValueError("the woodbury solver needs non-negative curvature weights "
                             "(an exact or empirical Fisher); use solver='cg' or 'cholesky'")
        kernel = self._kernel_of(X)
        s = np.sqrt(v)
        lam, escalations = float(damping), 0
        scale = max(float(np.diagonal(kernel) @ v) / max(g.size, 1), 1e-300)  # tr(S K S) / p
        # the formula needs mu > 0: without a penalty or damping it uses the smallest
        # damping (not an escalation when n >= p, where C itself may be positive definite)
        mu_floor = 0.0 if X.shape[0] < model.n_features else MU_FLOOR * scale
        h = matvec(X, g[:model.n_features])
        while True:
            mu = max(model.l2 + lam, mu_floor)
            d = self._try(model, X, kernel, v, s, h, g, mu, lam) if mu > 0 else None
            if d is not None:
                return Solve(d, lam, escalations, solver=self.name)
            if escalations >= MAX_ESCALATIONS:
                raise np.linalg.LinAlgError("the curvature is singular even with damping "
                                            f"{lam:.3g}")
            lam = max(2.0 * lam, 1e-10 * scale)
            escalations += 1

    @staticmethod
    def _factor(kernel, s, mu):
        """Cholesky factor of M = mu I + S K S (lower, in a fresh array), or None when it
        fails."""
        system = np.multiply(kernel, s[:, None])
        system *= s[None, :]
        system.flat[::system.shape[0] + 1] += mu
        factor, info = lapack.dpotrf(system.T, lower=1, clean=0, overwrite_a=1)
        return None if info != 0 else (factor, True)

    @classmethod
    def _try(cls, model, X, kernel, v, s, h, g, mu, lam):
        """The solve at fixed (mu, lambda), or None when a factorisation fails."""
        factor = cls._factor(kernel, s, mu)
        if factor is None:
            return None

        def sms(w):
            """S M^{-1} S w."""
            return s * cho_solve(factor, s * w, check_finite=False)

        p = model.n_features
        w1 = sms(h)
        if not model.fit_intercept:
            return (g - rmatvec(X, w1)) / mu
        kv = kernel @ v
        w2 = (v - sms(kv)) / mu
        schur = float(v.sum()) + lam - float(kv @ w2)
        if not schur > 0:
            return None
        d0 = (g[p] - float(v @ h - kv @ w1) / mu) / schur
        return np.append(g[:p] / mu - rmatvec(X, w1 / mu + d0 * w2), d0)
