"""Matrix-free curvature solve: Jacobi-preconditioned conjugate gradients on C u products."""
import math

import numpy as np

from ngd.fisher.dense import Solve

MAX_ESCALATIONS = 60


class CGSolver:
    """(C + lambda I) d = g by PCG with products C u = model.curvature_vector(weights, u) (two
    passes over X each, no p x p matrix) and M = diag(C) + lambda (1 where that is <= 0).

    Inexact Newton: iterate until ||r|| <= eta ||g|| with the forcing term
    eta = min(0.1, sqrt(||g||)) (Eisenstat & Walker; superlinear local convergence), never
    below ``tol``; ``maxiter`` caps the iterations (default 2 p, at least 50). When
    p^T (C + lambda I) p <= 0 (C not positive definite along p) lambda is raised and CG
    restarts: lambda <- max(2 lambda, 1e-10 mean(diag C)).
    """

    name = "cg"

    def __init__(self, tol=1e-12, maxiter=None):
        self.tol = float(tol)
        self.maxiter = maxiter

    def solve(self, model, weights, g, damping, rows=None):
        """d with (C + lambda I) d ~= g (see the class docstring for the tolerance)."""
        diagonal = model.curvature_diagonal(weights, rows)
        g_norm = float(np.linalg.norm(g))
        forcing = max(self.tol, min(0.1, math.sqrt(g_norm)))
        maxiter = self.maxiter or max(50, 2 * g.size)
        lam, escalations, total = float(damping), 0, 0
        while True:
            d, iterations, residual, positive = self._pcg(
                lambda u: model.curvature_vector(weights, u, rows) + lam * u,
                np.where(diagonal + lam > 0, diagonal + lam, 1.0), g, forcing * g_norm,
                maxiter)
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
    def _pcg(apply, preconditioner, g, threshold, maxiter):
        """Preconditioned CG from 0; returns (x, iterations, ||r||, positive curvature)."""
        x = np.zeros_like(g)
        r = g.copy()
        z = r / preconditioner
        p = z.copy()
        rz = float(r @ z)
        r_norm = float(np.linalg.norm(r))
        iterations = 0
        while r_norm > threshold and iterations < maxiter:
            q = apply(p)
            curvature = float(p @ q)
            if not curvature > 0:
                return x, iterations, r_norm, False
            step = rz / curvature
            x += step * p
            r -= step * q
            z = r / preconditioner
            rz, rz_old = float(r @ z), rz
            p = z + (rz / rz_old) * p
            r_norm = float(np.linalg.norm(r))
            iterations += 1
        return x, iterations, r_norm, True

