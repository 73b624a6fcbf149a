"""Automatic choice of the curvature solver from the problem's shape.

Costs per iteration, in passes over X (n rows, p parameters): a dense Gram is about
p / 20 passes (BLAS-3 at peak) plus p^3 / 3 for the Cholesky; CG about 2 passes per CG
iteration, tens of iterations; Woodbury n^3 / 3 plus a few passes, after forming X X^T
once. Hence: dense up to DENSE_MAX_PARAMS parameters, Woodbury when a single-output model
has fewer curvature rows than parameters (and at most WOODBURY_MAX_ROWS of them), CG
otherwise. A model with categorical blocks (``curvature_blocks``: a Design) gets the Schur
solver whenever it has a categorical: its blocks cost less than the dense matrix they form.
"""
from ngd.fisher.dense import CholeskySolver
from ngd.fisher.matrix_free import CGSolver
from ngd.fisher.schur import SchurSolver
from ngd.fisher.woodbury import WoodburySolver

SOLVERS = ("auto", "cholesky", "cg", "woodbury", "schur")
DENSE_MAX_PARAMS = 2048
WOODBURY_MAX_ROWS = 20_000


def choose_solver(model, curvature, n_rows):
    """The solver name ``auto`` picks for ``model`` with ``n_rows`` curvature rows."""
    p = model.n_params
    if getattr(model, "n_levels", None) and curvature != "kfac":
        return "schur"
    if p <= DENSE_MAX_PARAMS or curvature == "kfac":
        return "cholesky"
    single_output = hasattr(model, "curvature_data")
    if single_output and curvature in ("exact", "empirical") and n_rows < p \
            and n_rows <= WOODBURY_MAX_ROWS:
        return "woodbury"
    return "cg"


def make_solver(name, model, curvature):
    """A solver instance; ``name`` is one of SOLVERS (not auto)."""
    if name == "woodbury" and not hasattr(model, "curvature_data"):
        raise ValueError(f"solver='woodbury' needs a single-output model, not {model.name!r}; "
                         "use solver='cg' or 'cholesky'")
    if name == "woodbury" and curvature not in ("exact", "empirical"):
        raise ValueError("solver='woodbury' needs a non-negative curvature (fisher='exact' "
                         f"or 'empirical'), not {curvature!r}")
    if name == "schur" and not hasattr(model, "curvature_blocks"):
        raise ValueError(f"solver='schur' needs a design with categorical blocks "
                         f"(ngd.design.Design), not a {model.name!r} model on an array")
    if name in ("cg",) and curvature == "kfac":
        raise ValueError("fisher='kfac' has no matrix-free products; use solver='cholesky'")
    return {"cholesky": CholeskySolver, "cg": CGSolver, "woodbury": WoodburySolver,
            "schur": SchurSolver}[name]()
