"""Fisher (curvature) representations and their damped solves (C + lambda I) d = g.

Each solver has ``solve(model, weights, g, damping, rows=None) -> Solve``, with ``weights``
the per-row curvature weights of a model evaluation and ``rows`` an optional
:class:`ngd.models.RowSample` (a subsampled curvature):

- ``cholesky``: the dense p x p curvature, damped Cholesky (O(n p^2) per Gram, reused while the
  weights do not change: Gaussian-identity, Gamma-log, the Boehning bound);
- ``cg``: matrix-free preconditioned conjugate gradients on Fisher-vector products
  (O(n p) per CG iteration), with an inexact-Newton forcing tolerance;
- ``woodbury``: single-output models with n_rows < p: the n x n system
  mu I + S X X^T S (S = diag(sqrt(v))) with X X^T formed once per fit;
- ``schur``: models with categorical blocks (a Design): the Schur complement of the largest
  categorical's diagonal block (``ngd.fisher.schur``);
- ``auto`` picks the cheapest that fits in memory by the per-iteration estimates of
  ``ngd.fisher.cost`` (:func:`auto_solver`, :func:`choose_solver`).

``RowSubsample`` decides which rows the curvature is estimated on (subsampled Fisher,
Byrd et al. 2011) and grows the sample when convergence slows.
"""
from ngd.fisher.choice import SOLVERS, auto_solver, choose_solver, make_solver
from ngd.fisher.dense import CholeskySolver, Solve, same_weights
from ngd.fisher.matrix_free import CGSolver
from ngd.fisher.schur import SchurSolver
from ngd.fisher.subsample import SUBSAMPLE_MIN_ROWS, RowSubsample, auto_subsample_size
from ngd.fisher.woodbury import WoodburySolver

__all__ = ["SOLVERS", "auto_solver", "choose_solver", "make_solver", "Solve", "CholeskySolver",
           "CGSolver", "WoodburySolver", "SchurSolver", "RowSubsample", "auto_subsample_size",
           "SUBSAMPLE_MIN_ROWS", "same_weights"]
