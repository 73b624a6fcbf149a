"""Ridge fits with fewer rows than columns, solved in an orthonormal basis of X's row space.

With a ridge l2 > 0 on every coefficient (the intercept unpenalised), the minimiser of
L(beta, b) = (1/sum w) sum_i w_i nll_i(x_i^T beta + b + o_i) + (l2/2) ||beta||^2 lies in the
row space of X: at the optimum l2 beta = -X^T r / sum w. Factor K = X X^T = P L L^T P^T
(pivoted Cholesky, L n x r, r = rank K) and let Q = X^T P_r L_r^{-T} (p x r; P_r the first r
pivot columns, L_r the leading r x r block of L). Then Q^T Q = I_r, Q spans the row space,
X Q = P L =: R and ||Q gamma|| = ||gamma||: the same model on the n x r design R with
coefficients gamma is the fit on X restricted to the row space, with the same loss at
beta = Q gamma, the same gradient 2-norm (grad_beta = Q grad_gamma) and the same Newton
decrement (Hastie & Tibshirani, Biostatistics 2004, reduce by the SVD; the Cholesky factor
costs a third of an n x n factorisation instead).

Cost: X X^T once (n^2 p multiply-adds, which the Woodbury solve forms anyway) and one n^3/3
factor; every later pass over X (n p entries: the gradient, the line search, the solve's
products) becomes a pass over R (n r), and beta = X^T (P_r L_r^{-T} gamma) is one pass at the
end, followed by one evaluation of the original model for the reported loss and gradient.
Each iteration's solve on R is Woodbury on the K already formed (an n^3/3 factor) or CG (two
passes over R per CG step, and as few steps as X's conditioning allows: for a wide X the
row Gram is close to a multiple of I), whichever ngd.fisher.cost.rowspace_costs estimates
cheaper: 2000 x 20000 logistic, l2 = 1e-3: 11 factors 1.3 s against 66 CG steps 0.12 s.
"""
import time

import numpy as np
from scipy.linalg import lapack, solve_triangular

from ngd._threads import blas_threads, threads_for
from ngd.fisher.choice import cheapest
from ngd.fisher.cost import (AMORTISED_ITERATIONS, problem_shape, rowspace_costs,
                             rowspace_setup_seconds)
from ngd.fisher.woodbury import kernel_matrix
from ngd.models._linear import rmatvec
from ngd.optim import CurvatureStepper, run

MIN_WIDTH_RATIO = 2      # p >= this many times n: passes over R cost at most half of X's


def applies(model, options, stepper, theta0):
    """True when ``options`` leave the basis to ngd (solver "auto", which chose the Woodbury
    solve or CG, on all rows, no warm start, no callback), the model is a dense single-output
    ridge model with p >= MIN_WIDTH_RATIO n, and the fit in the basis is estimated cheaper
    per iteration than auto's pick: the basis's setup amortised over AMORTISED_ITERATIONS
    plus the cheaper solve on R (always so against Woodbury, which forms X X^T too)."""
    X = getattr(model, "X", None)
    chosen = getattr(stepper, "solver_name", None)
    if not (options.solver == "auto" and chosen in ("woodbury", "cg")
            and getattr(stepper, "subsample", True) is None and theta0 is None
            and options.callback is None and hasattr(model, "on_design")
            and isinstance(X, np.ndarray) and model.l2 > 0
            and X.shape[1] >= MIN_WIDTH_RATIO * X.shape[0]):
        return False
    shape = problem_shape(model, X.shape[0], stepper.damping)
    in_basis = rowspace_setup_seconds(shape) / AMORTISED_ITERATIONS + min(
        cost.seconds for cost in rowspace_costs(shape, X.shape[0]).values())
    return in_basis < stepper.solver_costs[chosen]["seconds"]


class RowSpaceBasis:
    """The basis Q = X^T P_r L_r^{-T} of the module docstring from K = X X^T, held as
    (X, pivots, L_r), with the design R = P L (R R^T = K to rounding, or to the pivoting
    tolerance n eps max K_ii when K is singular)."""

    def __init__(self, X, kernel):
        factor, pivots, rank, info = lapack.dpstrf(kernel, lower=1)
        if info < 0 or rank < 1:
            raise np.linalg.LinAlgError("the pivoted Cholesky factor of X X^T failed")
        self.X = X
        self.rank = int(rank)
        self.pivots = pivots[:self.rank] - 1           # LAPACK's pivots are 1-based
        lower = np.tril(factor[:, :self.rank])
        self.leading = np.ascontiguousarray(lower[:self.rank])
        self.design = np.empty((X.shape[0], self.rank))
        self.design[pivots - 1] = lower                # R = P L

    def coefficients(self, gamma):
        """beta = Q gamma = X[pivots]^T (L_r^{-T} gamma), one pass over those rows of X."""
        u = solve_triangular(self.leading, gamma, lower=True, trans="T", check_finite=False)
        weights = np.zeros(self.X.shape[0])
        weights[self.pivots] = u
        return rmatvec(self.X, weights)


def fit(model, options, stepper, start):
    """Run ``stepper``'s method on the model on R from ``start`` (coef 0: gamma = 0), and
    return its FitResult at beta = Q gamma with the original model's loss and gradient. The
    solve on R is the cheaper of Woodbury on K and CG by ngd.fisher.cost.rowspace_costs
    (result.solver and result.solver_costs report that choice). A K that is not finite
    (entries of X near the float range) or zero (X = 0) is left to the plain fit on X, which
    reuses K."""
    began = time.perf_counter()
    n, p = model.X.shape
    with blas_threads(threads_for(n * n * (p / 2.0 + n / 3.0), model.n_threads)):
        kernel = kernel_matrix(model.X)
        finite = bool(np.isfinite(kernel).all())
        basis = RowSpaceBasis(model.X, kernel) if finite and kernel.any() else None
    fit_options = dict(tol=float(options.tol), ftol=float(options.ftol),
                       max_iter=options.iterations, method=options.method)
    if basis is None:
        stepper.solver.use_kernel(model.X, kernel)
        return run(stepper, start, **fit_options)
    reduced = model.on_design(basis.design)
    costs = rowspace_costs(problem_shape(model, n, stepper.damping), basis.rank)
    solver = cheapest(costs)
    inner = CurvatureStepper(reduced, stepper.curvature, damping=stepper.damping,
                             step_rule=stepper.step_rule, kl_budget=stepper.kl_budget,
                             solver=solver)
    if solver == "woodbury":
        inner.solver.use_kernel(reduced.X, kernel)
    gamma0 = np.concatenate([np.zeros(basis.rank), start[model.n_features:]])
    result = run(inner, gamma0, **fit_options)
    theta = np.concatenate([basis.coefficients(result.x[:basis.rank]),
                            result.x[basis.rank:]])
    evaluation = model.evaluate(theta)
    result.update(x=theta, time=time.perf_counter() - began, loss=float(evaluation.loss),
                  grad=evaluation.grad, grad_norm=float(evaluation.grad_norm), solver=solver,
                  solver_costs={name: cost.as_dict() for name, cost in costs.items()},
                  message=result.message + f" Solved in an orthonormal basis of the row "
                  f"space of X ({basis.rank} columns for {model.n_features}).")
    return result
