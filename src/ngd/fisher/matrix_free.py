"""Matrix-free curvature solve: Jacobi-preconditioned conjugate gradients on C u products."""
import math

import numpy as np

from ngd import _sparse
from ngd.fisher.dense import Solve

MAX_ESCALATIONS = 60


class CGSolver:
    """(C + lambda I) d = g by PCG with products C u = model.curvature_vector(weights, u) (two
    passes over X each, no p x p matrix) and M = diag(C) + lambda (1 where that is <= 0).

    Inexact Newton: iterate until ||r|| <= eta ||g||, never below ``tol``; ``maxiter`` caps
    the iterations (default 2 p, at least 50). The forcing term eta is
    min(0.1, sqrt(||g||)) on the first gradient a solver sees and
    min(0.1, ||g_k|| / ||g_{k-1}||) on each new one after (Eisenstat & Walker's ratio of
    successive gradient norms: superlinear local convergence, as g_k / g_{k-1} -> 0, and no
    dependence on the scale of g); a gradient solved again (other damping: LM) keeps its eta.
    When p^T (C + lambda I) p <= 0 (C not positive definite along p) lambda is raised and CG
    restarts: lambda <- max(2 lambda, 1e-10 mean(diag C)). On CSR designs the iteration runs
    inside one kernel call (ngd._sparse.cg_solve).
    """

    name = "cg"

    def __init__(self, tol=1e-12, maxiter=None):
        self.tol = float(tol)
        self.maxiter = maxiter
        self._g_norm = None         # ||g|| of the last gradient solved, and its forcing term
        self._forcing = None

    def forcing(self, g_norm):
        """eta for a gradient of norm g_norm (see the class docstring); remembers g_norm."""
        if self._g_norm is None:
            eta = min(0.1, math.sqrt(g_norm))
        elif g_norm == self._g_norm:
            eta = self._forcing
        else:
            eta = min(0.1, g_norm / self._g_norm)
        self._g_norm, self._forcing = g_norm, eta
        return max(self.tol, eta)

    def solve(self, model, weights, g, damping, rows=None):
        """d with (C + lambda I) d ~= g (see the class docstring for the tolerance)."""
        diagonal = model.curvature_diagonal(weights, rows)
        g_norm = float(np.linalg.norm(g))
        forcing = self.forcing(g_norm)
        maxiter = self.maxiter or max(50, 2 * g.size)
        lam, escalations, total = float(damping), 0, 0
        sparse = self._sparse_system(model, weights, rows)
        while True:
            preconditioner = np.where(diagonal + lam > 0, diagonal + lam, 1.0)
            if sparse is not None:
                X, v = sparse
                shift = lam + model.l2 * model.penalty_mask
                d, iterations, residual, positive = _sparse.cg_solve(
                    X, v, shift, 1.0 / preconditioner, g, forcing * g_norm, maxiter,
                    model.fit_intercept, model.n_threads)
            else:
                d, iterations, residual, positive = self._pcg(
                    self._operator(model, weights, rows, lam), preconditioner, g,
                    forcing * g_norm, maxiter)
            total += iterations
            if positive:
                return Solve(d, lam, escalations, solver=self.name, cg_iter=total,
                             residual=residual / g_norm if g_norm else 0.0)
            if escalations >= MAX_ESCALATIONS:
                raise np.linalg.LinAlgError("the curvature is not positive definite even "
                                            f"with damping {lam:.3g}")
            lam = max(2.0 * lam, 1e-10 * max(float(np.mean(np.abs(diagonal))), 1e-300))
            escalations += 1

    @staticmethod
    def _sparse_system(model, weights, rows):
        """(X, v) when C = [X, 1]^T diag(v) [X, 1] + l2 on penalty_mask with X CSR: then the
        whole PCG runs in one kernel call (ngd._sparse.cg_solve, the same iteration as
        _pcg); else None."""
        if not hasattr(model, "curvature_data"):
            return None
        X, v = model.curvature_data(weights, rows)
        return (X, v) if _sparse.is_sparse(X) else None

    @staticmethod
    def _operator(model, weights, rows, lam):
        """u -> (C + lambda I) u (a new array)."""
        if lam == 0.0:
            return lambda u: model.curvature_vector(weights, u, rows)

        def apply(u):
            q = model.curvature_vector(weights, u, rows)
            q += lam * u
            return q
        return apply

    @staticmethod
    def _pcg(apply, preconditioner, g, threshold, maxiter):
        """Preconditioned CG from 0 (updates in place); returns (x, iterations, ||r||,
        positive curvature)."""
        inverse = 1.0 / preconditioner
        x = np.zeros_like(g)
        r = np.array(g, dtype=np.float64)
        z = r * inverse
        p = z.copy()
        work = np.empty_like(r)
        rz = float(r @ z)
        r_norm = math.sqrt(float(r @ r))
        iterations = 0
        while r_norm > threshold and iterations < maxiter:
            q = apply(p)
            curvature = float(p @ q)
            if not curvature > 0:
                return x, iterations, r_norm, False
            step = rz / curvature
            x += np.multiply(step, p, out=work)
            r -= np.multiply(step, q, out=work)
            np.multiply(r, inverse, out=z)
            rz, rz_old = float(r @ z), rz
            p *= rz / rz_old
            p += z
            r_norm = math.sqrt(float(r @ r))
            iterations += 1
        return x, iterations, r_norm, True
