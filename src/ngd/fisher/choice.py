"""Automatic choice of the curvature solver by estimated cost (``ngd.fisher.cost``).

``auto`` estimates, per iteration, the seconds and bytes of the dense Cholesky, Woodbury
(single-output models with an exact or empirical curvature: the weights must be >= 0) and CG
from the shape (curvature rows, parameters, stored entries, outputs, ridge), drops those whose
memory exceeds half the physical memory, and takes the cheapest. Estimates below
FREE_SECONDS count as equal (all are negligible; timing noise and Python overhead decide
there) and are then ranked by PREFERENCE: the dense solve is exact and the most robust.
K-FAC has no matrix-free products: Cholesky. A model with categorical blocks
(``curvature_blocks``: a Design) gets the Schur solver whenever it has a categorical: its
blocks cost less than the dense matrix they form.
"""
from ngd.fisher.cost import ESTIMATES, memory_budget, problem_shape
from ngd.fisher.dense import CholeskySolver
from ngd.fisher.matrix_free import CGSolver
from ngd.fisher.schur import SchurSolver
from ngd.fisher.woodbury import WoodburySolver

SOLVERS = ("auto", "cholesky", "cg", "woodbury", "schur")
PREFERENCE = ("cholesky", "woodbury", "cg")
FREE_SECONDS = 0.01


def solver_costs(model, curvature, n_rows, damping=0.0):
    """{solver: Cost} for the solvers ``auto`` may pick for ``model`` with ``n_rows``
    curvature rows; None when the choice does not depend on cost (Schur, K-FAC)."""
    if structural_choice(model, curvature):
        return None
    shape = problem_shape(model, n_rows, damping)
    return {name: ESTIMATES[name](shape) for name in solver_names(model, curvature)}


def solver_names(model, curvature):
    """The solvers whose cost ``auto`` compares for this model and curvature (Woodbury:
    single-output models with a non-negative curvature; the structural choice alone where
    there is one)."""
    structural = structural_choice(model, curvature)
    if structural:
        return [structural]
    return [name for name in PREFERENCE if name != "woodbury" or (
        hasattr(model, "curvature_data") and curvature in ("exact", "empirical"))]


def structural_choice(model, curvature):
    """"schur" or "cholesky" where the model or curvature decides the solver, else None."""
    if getattr(model, "n_levels", None) and curvature != "kfac":
        return "schur"
    return "cholesky" if curvature == "kfac" else None


def cheapest(costs, budget=None):
    """The name in ``costs`` with the smallest estimated seconds among those within
    ``budget`` bytes (default: :func:`ngd.fisher.cost.memory_budget`), estimates below
    FREE_SECONDS tied and ranked by PREFERENCE; the smallest memory when none fits."""
    budget = memory_budget() if budget is None else budget
    fitting = [name for name in costs if costs[name].bytes <= budget]
    if not fitting:
        return min(costs, key=lambda name: costs[name].bytes)
    return min(fitting, key=lambda name: (max(costs[name].seconds, FREE_SECONDS),
                                          PREFERENCE.index(name)))


def auto_solver(model, curvature, n_rows, damping=0.0):
    """(name, estimates): the solver ``auto`` picks for ``model`` with ``n_rows`` curvature
    rows and the estimates it compared, {solver: {"seconds": s, "bytes": b}} per iteration
    (None where the model or curvature decides)."""
    costs = solver_costs(model, curvature, n_rows, damping)
    if costs is None:
        return structural_choice(model, curvature), None
    return cheapest(costs), {name: cost.as_dict() for name, cost in costs.items()}


def choose_solver(model, curvature, n_rows, damping=0.0):
    """The solver name ``auto`` picks for ``model`` with ``n_rows`` curvature rows."""
    return auto_solver(model, curvature, n_rows, damping)[0]


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
