"""Woodbury solve for single-output models with fewer curvature rows than parameters.

C = X~^T V X~ + D with X~ = [X, 1], V = diag(v) (v >= 0), D = diag(mu on the coef, lambda on
the intercept), mu = l2 + lambda. With S = diag(sqrt(v)) and A = X^T V X + mu I (p x p),

    A^{-1} u = (u - X^T S (mu I_n + S X X^T S)^{-1} S X u) / mu       (an n x n system),

and the intercept is eliminated by its Schur complement: with b = X^T v, c = sum v + lambda,
z2 = A^{-1} b, s = c - b^T z2, the solve of C (d1, d0) = (g1, g0) is
z1 = A^{-1} g1, d0 = (g0 - b^T z1) / s, d1 = z1 - z2 d0.
X X^T (n x n) is formed once per X (n^2 p flops), so an iteration costs n^3/3 + O(n p).
"""
import numpy as np
from scipy.linalg import blas, cho_factor, cho_solve

from ngd import _sparse
from ngd._threads import blas_threads
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
    return np.triu(upper) + np.triu(upper, 1).T


class WoodburySolver:
    """(C + lambda I)^{-1} g through an n x n Cholesky (see the module docstring)."""

    name = "woodbury"

    def __init__(self):
        self._X = None
        self._kernel = None

    def _kernel_of(self, X):
        if X is not self._X:
            self._X, self._kernel = X, kernel_matrix(X)
        return self._kernel

    def solve(self, model, weights, g, damping, rows=None):
        """d with (C + lambda I) d = g; lambda is raised from 0 when C is singular. Runs
        with the fit's BLAS threads (the fit limits BLAS to 1 around the OpenMP kernels)."""
        with blas_threads(model.n_threads):
            return self._solve(model, weights, g, damping, rows)

    def _solve(self, model, weights, g, damping, rows):
        X, v = model.curvature_data(weights, rows)
        if np.any(v < 0):
            raise ValueError("the woodbury solver needs non-negative curvature weights "
                             "(an exact or empirical Fisher); use solver='cg' or 'cholesky'")
        kernel = self._kernel_of(X)
        s = np.sqrt(v)
        scaled = s[:, None] * kernel * s[None, :]
        lam, escalations = float(damping), 0
        scale = max(float(np.trace(scaled)) / max(g.size, 1), 1e-300)
        # the formula needs mu > 0: without a penalty or damping it uses the smallest
        # damping (not an escalation when n >= p, where C itself may be positive definite)
        mu_floor = 0.0 if X.shape[0] < model.n_features else MU_FLOOR * scale
        while True:
            mu = max(model.l2 + lam, mu_floor)
            d = self._try(model, X, v, s, scaled, g, mu, lam) if mu > 0 else None
            if d is not None:
                return Solve(d, lam, escalations, solver=self.name)
            if escalations >= MAX_ESCALATIONS:
                raise np.linalg.LinAlgError("the curvature is singular even with damping "
                                            f"{lam:.3g}")
            lam = max(2.0 * lam, 1e-10 * scale)
            escalations += 1

    @staticmethod
    def _try(model, X, v, s, scaled, g, mu, lam):
        """The solve at fixed (mu, lambda), or None when a factorisation fails."""
        system = scaled + mu * np.eye(scaled.shape[0])
        try:
            factor = cho_factor(system, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return None

        def a_inverse(U):
            """A^{-1} U for the columns of U (p, k): one pass over X each way."""
            inner = cho_solve(factor, s[:, None] * matvec(X, U), check_finite=False)
            return (U - rmatvec(X, s[:, None] * inner)) / mu

        p = model.n_features
        if not model.fit_intercept:
            return a_inverse(g[:, None])[:, 0]
        b = rmatvec(X, v)
        z1, z2 = a_inverse(np.column_stack([g[:p], b])).T
        schur = float(v.sum()) + lam - float(b @ z2)
        if not schur > 0:
            return None
        d0 = (g[p] - float(b @ z1)) / schur
        return np.append(z1 - z2 * d0, d0)
