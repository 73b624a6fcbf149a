"""Dense curvature: form C (p x p), factor C + lambda I by damped Cholesky, solve."""
import numpy as np

from ngd.kernels import cholesky_solve, damped_cholesky


class Solve:
    """Result of one damped solve: the direction d with (C + lambda I) d = g, the damping
    lambda actually used, how many times it was raised, and solver details."""

    def __init__(self, direction, damping, escalations=0, **info):
        self.direction = direction
        self.damping = damping
        self.escalations = escalations
        self.info = info


SAME_WEIGHTS_RTOL = 1e-12
_PREFIX = 256               # entries compared first: differing weights are rejected cheaply


def same_weights(a, b):
    """True when two evaluations' curvature weights agree to SAME_WEIGHTS_RTOL (rounding:
    e.g. Gamma-log's h'(eta)^2 / V(mu) = mu^2 / mu^2); then C is kept."""
    if a is b:
        return True
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape):
        return False
    close = dict(rtol=SAME_WEIGHTS_RTOL, atol=0.0)
    return np.allclose(a[:_PREFIX], b[:_PREFIX], **close) and np.allclose(a, b, **close)


class CholeskySolver:
    """(C + lambda I)^{-1} g through the dense curvature. The matrix C is kept while the
    weights (and rows) stay the same (to rounding), and its factor while the damping does
    too: a fit whose curvature does not depend on theta forms and factors it once."""

    name = "cholesky"

    def __init__(self):
        self._weights = self._rows = self._matrix = None
        self._factor = None
        self._factor_key = None
        self.n_matrices = 0

    def matrix(self, model, weights, rows=None):
        """C for these weights, recomputed only when they changed."""
        if self._matrix is None or rows is not self._rows or \
                not same_weights(weights, self._weights):
            self._matrix = model.curvature_matrix(weights, rows)
            self._weights = weights.copy() if isinstance(weights, np.ndarray) else weights
            self._rows = rows
            self._factor = None
            self.n_matrices += 1
            return self._matrix, False
        return self._matrix, True

    def solve(self, model, weights, g, damping, rows=None):
        """d = (C + lambda I)^{-1} g with lambda >= damping raised until C + lambda I > 0."""
        C, reused = self.matrix(model, weights, rows)
        if self._factor is None or self._factor_key != damping:
            self._factor = damped_cholesky(C, damping)
            self._factor_key = damping
        else:
            reused = "factor"
        factor, lam, escalations = self._factor
        return Solve(cholesky_solve(factor, g), lam, escalations, solver=self.name,
                     reused=bool(reused))

    def solve_again(self, g):
        """d = (C + lambda I)^{-1} g with the matrix and factor of the last solve, whatever
        the weights now are (a lagged curvature: see ngd.optim.curvature)."""
        factor, lam, escalations = self._factor
        return Solve(cholesky_solve(factor, g), lam, escalations, solver=self.name,
                     reused="lagged")
