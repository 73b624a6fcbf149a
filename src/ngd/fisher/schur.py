"""Block solve of (C + lambda I) d = g for models with categorical blocks (``curvature_blocks``).

With the parameters split into a = [dense columns, intercept, the other categoricals] and
e = the largest categorical, C = [[A, B], [B^T, D]] where D is diagonal (the weighted level
counts of e, + l2) and B holds the per-level cross sums and contingency tables of e. Then

    S = A + lambda I - B (D + lambda I)^{-1} B^T          (the Schur complement, a x a)
    d_a = S^{-1} (g_a - B (D + lambda)^{-1} g_e),   d_e = (D + lambda)^{-1} (g_e - B^T d_a),

with S formed block by block (dense-dense by BLAS, sparse tables by sparse products) and
factored by Cholesky; when that fails (or some D + lambda <= 0) lambda is raised, D + lambda
recomputed and S formed again (reported as an escalation, as the dense solver does). The cost
is O(L_e a + a^3) after the blocks, against O(n_params^3) for the dense matrix.

When a exceeds SCHUR_MAX_DENSE (two large categoricals) the system is solved by preconditioned
CG on products with the blocks (C u costs O(L q + nnz of the tables), no pass over the data),
preconditioned by the block diagonal: Cholesky of the [dense, intercept] Gram and the
categoricals' diagonals; the tolerance follows the inexact-Newton forcing of ``CGSolver``.

:func:`inverse_diagonal` gives diag(C^{-1}) (standard errors) without the full inverse:
S^{-1} for the a block and D^{-1} + D^{-1} diag(B^T S^{-1} B) D^{-1} for e.
"""
import math

import numpy as np
import scipy.linalg

from ngd.fisher.dense import Solve, same_weights
from ngd.fisher.matrix_free import MAX_ESCALATIONS

SCHUR_MAX_DENSE = 4096          # largest Schur complement formed and factored densely
STATISTICS_CHUNK = 2048         # levels of e per triangular solve in inverse_diagonal


class BlockSystem:
    """The a / e partition of a :class:`ngd.models.categorical.CurvatureBlocks`."""

    def __init__(self, blocks):
        self.blocks = blocks
        sizes = [d.size for d in blocks.diagonals]
        self.eliminated = int(np.argmax(sizes)) if sizes else None
        self.kept = [k for k in range(len(sizes)) if k != self.eliminated]
        q = blocks.dense_index.size
        bounds = np.cumsum([q] + [sizes[k] for k in self.kept])
        self.size = int(bounds[-1])                     # the a block
        self.group = [slice(0, q)] + [slice(int(a), int(b)) for a, b in
                                      zip(bounds[:-1], bounds[1:])]
        self.a_index = np.concatenate(
            [blocks.dense_index] + [np.arange(blocks.level_slices[k].start,
                                              blocks.level_slices[k].stop)
                                    for k in self.kept]).astype(np.intp)
        e = self.eliminated
        self.e_slice = None if e is None else blocks.level_slices[e]
        self.cross_e = None if e is None else blocks.cross[e]
        self.tables_e = {} if e is None else {k: blocks.pair(e, k) for k in self.kept}

    def a_matrix(self):
        """A (a x a) in the group order [dense + intercept, kept categoricals]."""
        b = self.blocks
        A = np.zeros((self.size, self.size))
        A[self.group[0], self.group[0]] = b.gram
        for i, k in enumerate(self.kept, start=1):
            rows = self.group[i]
            index = np.arange(rows.start, rows.stop)
            A[index, index] = b.diagonals[k]
            A[rows, self.group[0]] = b.cross[k]
            A[self.group[0], rows] = b.cross[k].T
            for j, m in enumerate(self.kept[i:], start=i + 1):
                table = b.pair(k, m).toarray()
                A[rows, self.group[j]] = table
                A[self.group[j], rows] = table.T
        return A

    def schur(self, A, inverse_d):
        """A - B diag(inverse_d) B^T (a x a), block by block."""
        S = A.copy()
        scaled = self.cross_e * inverse_d[:, None]
        S[self.group[0], self.group[0]] -= self.cross_e.T @ scaled
        for i, k in enumerate(self.kept, start=1):
            table = self.tables_e[k]                       # (L_e, L_k)
            block = np.asarray(table.T @ scaled)           # (L_k, q)
            S[self.group[i], self.group[0]] -= block
            S[self.group[0], self.group[i]] -= block.T
            weighted = table.copy()                         # diag(inverse_d) @ table
            weighted.data *= np.repeat(inverse_d, np.diff(table.indptr))
            S[self.group[i], self.group[i]] -= (table.T @ weighted).toarray()   # T^T D^-1 T
            for j, m in enumerate(self.kept[i:], start=i + 1):
                product = (self.tables_e[m].T @ weighted).toarray()   # Z_m^T ... Z_k
                S[self.group[j], self.group[i]] -= product
                S[self.group[i], self.group[j]] -= product.T
        return S

    def b_times(self, x):
        """B x (a) for x over the levels of e."""
        out = np.empty(self.size)
        out[self.group[0]] = self.cross_e.T @ x
        for i, k in enumerate(self.kept, start=1):
            out[self.group[i]] = self.tables_e[k].T @ x
        return out

    def bt_times(self, u):
        """B^T u (L_e) for u over the a block."""
        out = self.cross_e @ u[self.group[0]]
        for i, k in enumerate(self.kept, start=1):
            out += self.tables_e[k] @ u[self.group[i]]
        return out

    def bt_rows(self, rows):
        """Rows ``rows`` of B^T as a dense (len, a) array."""
        parts = [self.cross_e[rows]] + [self.tables_e[k][rows].toarray() for k in self.kept]
        return np.hstack(parts)


def _escalate(lam, blocks):
    scale = float(np.mean(np.abs(blocks.gram.diagonal()))) if blocks.gram.size else 1.0
    return max(2.0 * lam, 1e-10 * max(scale, 1e-300))


class SchurSolver:
    """(C + lambda I)^{-1} g through the Schur complement of the largest categorical (see the
    module docstring). Blocks are kept while the weights do not change, the factor while the
    damping does not either."""

    name = "schur"

    def __init__(self, tol=1e-12, maxiter=None, forcing=True):
        self.tol = float(tol)
        self.maxiter = maxiter
        self.forcing = bool(forcing)
        self._weights = self._blocks = self._system = self._A = None
        self._factor = None
        self.n_matrices = 0

    def _prepare(self, model, weights, rows):
        if not hasattr(model, "curvature_blocks"):
            raise ValueError(f"solver='schur' needs a model with categorical blocks (a "
                             f"Design), not {model.name!r}")
        if self._blocks is not None and same_weights(weights, self._weights):
            return True
        self._blocks = model.curvature_blocks(weights, rows)
        self._system = BlockSystem(self._blocks)
        self._A = self._system.a_matrix() if self._system.size <= SCHUR_MAX_DENSE else None
        self._weights = weights.copy()
        self._factor = None
        self.n_matrices += 1
        return False

    def solve(self, model, weights, g, damping, rows=None):
        """d with (C + lambda I) d = g, lambda >= damping raised until the solve succeeds."""
        reused = self._prepare(model, weights, rows)
        if self._A is None:
            return self._cg(g, float(damping))
        if self._factor is None or self._factor[0] != damping:
            self._factor = (damping,) + self._factorise(float(damping))
        else:
            reused = "factor"
        _, lam, escalations, factor, inverse_d = self._factor
        return Solve(self._direct(g, factor, inverse_d), lam, escalations, solver=self.name,
                     reused=bool(reused))

    def _factorise(self, lam):
        """(lambda used, escalations, Cholesky factor of S, 1 / (D + lambda))."""
        system, escalations = self._system, 0
        while True:
            d = None if system.eliminated is None else \
                self._blocks.diagonals[system.eliminated] + lam
            if d is None or np.all(d > 0):
                inverse_d = None if d is None else 1.0 / d
                S = self._A + lam * np.eye(system.size)
                if inverse_d is not None:
                    S = system.schur(S, inverse_d)
                try:
                    factor = scipy.linalg.cho_factor(S, check_finite=False)
                    if np.all(np.isfinite(factor[0])):
                        return lam, escalations, factor, inverse_d
                except np.linalg.LinAlgError:
                    pass
            if escalations >= MAX_ESCALATIONS:
                raise np.linalg.LinAlgError("the curvature is not positive definite even "
                                            f"with damping {lam:.3g}")
            lam = _escalate(lam, self._blocks)
            escalations += 1

    def _direct(self, g, factor, inverse_d):
        system = self._system
        g_a = g[system.a_index]
        out = np.empty_like(g)
        if inverse_d is None:
            out[system.a_index] = scipy.linalg.cho_solve(factor, g_a, check_finite=False)
            return out
        g_e = g[system.e_slice]
        d_a = scipy.linalg.cho_solve(factor, g_a - system.b_times(inverse_d * g_e),
                                     check_finite=False)
        out[system.a_index] = d_a
        out[system.e_slice] = inverse_d * (g_e - system.bt_times(d_a))
        return out

    # --- two large categoricals: block-Jacobi PCG on block products ---------------------
    def _cg(self, g, damping):
        blocks = self._blocks
        g_norm = float(np.linalg.norm(g))
        threshold = (max(self.tol, min(0.1, math.sqrt(g_norm))) if self.forcing
                     else self.tol) * g_norm
        maxiter = self.maxiter or max(50, 2 * g.size)
        lam, escalations, total = damping, 0, 0
        while True:
            precondition = self._block_jacobi(lam)
            if precondition is not None:
                d, iterations, positive = _pcg(lambda u: blocks.matvec(u) + lam * u,
                                               precondition, g, threshold, maxiter)
                total += iterations
                if positive:
                    return Solve(d, lam, escalations, solver=self.name, cg_iter=total)
            if escalations >= MAX_ESCALATIONS:
                raise np.linalg.LinAlgError("the curvature is not positive definite even "
                                            f"with damping {lam:.3g}")
            lam = _escalate(lam, blocks)
            escalations += 1

    def _block_jacobi(self, lam):
        """u -> M^{-1} u with M = blockdiag(Gram of [D, 1], diagonals) + lambda, or None when
        a block is not positive definite."""
        blocks = self._blocks
        diagonals = [d + lam for d in blocks.diagonals]
        if any(np.any(d <= 0) for d in diagonals):
            return None
        try:
            factor = scipy.linalg.cho_factor(blocks.gram + lam * np.eye(blocks.gram.shape[0]),
                                             check_finite=False) if blocks.gram.size else None
        except np.linalg.LinAlgError:
            return None

        def apply(u):
            out = np.empty_like(u)
            index = blocks.dense_index
            if factor is not None:
                out[index] = scipy.linalg.cho_solve(factor, u[index], check_finite=False)
            for rows, d in zip(blocks.level_slices, diagonals):
                out[rows] = u[rows] / d
            return out
        return apply


def _pcg(apply, precondition, g, threshold, maxiter):
    """Preconditioned CG from 0: (x, iterations, positive curvature along every direction)."""
    x = np.zeros_like(g)
    r = g.copy()
    z = precondition(r)
    p = z.copy()
    rz = float(r @ z)
    iterations = 0
    while float(np.linalg.norm(r)) > threshold and iterations < maxiter:
        q = apply(p)
        curvature = float(p @ q)
        if not curvature > 0:
            return x, iterations, False
        step = rz / curvature
        x += step * p
        r -= step * q
        z = precondition(r)
        rz, rz_old = float(r @ z), rz
        p = z + (rz / rz_old) * p
        iterations += 1
    return x, iterations, True


def inverse_diagonal(blocks, want_a_inverse=False):
    """diag(C^{-1}) in theta order from the blocks (and, with ``want_a_inverse``, the pair
    (theta index of the a block, S^{-1}): the covariance of those parameters up to scale);
    None when C is not positive definite or the a block exceeds SCHUR_MAX_DENSE."""
    system = BlockSystem(blocks)
    if system.size > SCHUR_MAX_DENSE:
        return None
    S = system.a_matrix()
    inverse_d = None
    if system.eliminated is not None:
        d = blocks.diagonals[system.eliminated]
        if not np.all(d > 0):
            return None
        inverse_d = 1.0 / d
        S = system.schur(S, inverse_d)
    try:
        upper = scipy.linalg.cholesky(S, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    out = np.empty(blocks.n_params)
    u_inverse = scipy.linalg.solve_triangular(upper, np.eye(system.size), check_finite=False)
    a_inverse = u_inverse @ u_inverse.T                    # S^{-1} = U^{-1} U^{-T}
    out[system.a_index] = np.diag(a_inverse)
    if inverse_d is not None:
        levels = np.arange(system.e_slice.start, system.e_slice.stop)
        for start in range(0, levels.size, STATISTICS_CHUNK):
            rows = slice(start, min(start + STATISTICS_CHUNK, levels.size))
            W = scipy.linalg.solve_triangular(upper, system.bt_rows(rows).T, trans="T",
                                              check_finite=False)    # U^{-T} b_l
            quad = np.einsum("ij,ij->j", W, W)
            out[levels[rows]] = inverse_d[rows] + inverse_d[rows] ** 2 * quad
    if not np.all(np.isfinite(out)) or np.any(out <= 0):
        return None
    return (out, (system.a_index, a_inverse)) if want_a_inverse else out
