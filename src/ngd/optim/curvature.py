"""Second-order steps d = -(C + lambda I)^{-1} g with a curvature C of the model.

C is the exact Fisher (NGD, Fisher scoring), the empirical Fisher (NGD with the outer-product
curvature; BHHH in econometrics), the observed Hessian (Newton) or, for logistic regression,
Boehning's fixed bound X~^T X~ / 4 (one factorisation per fit). The solve goes through one of
the solvers of ``ngd.fisher`` (dense Cholesky, matrix-free CG, Woodbury), optionally on a row
subsample of the curvature. Step rules:

- "armijo": backtracking from alpha = 1;
- "kl": backtracking from the KL-budget step alpha = min(1, sqrt(2 delta / g^T C^{-1} g));
- "lm": Levenberg-Marquardt: the full step of (C + lambda I) d = -g, accepted when the
  reduction ratio rho = (L(theta) - L(theta + d)) / (-(g^T d + 1/2 d^T C d)) exceeds 1e-4;
  lambda <- 4 lambda when rho < 1/4 (a rejected step is re-solved with the same C),
  lambda <- lambda / 4 when rho > 3/4.

Lagged curvature (a subsampled curvature with the dense solver, "armijo" and "kl"): after a
unit step whose squared decrement g^T (C + lambda I)^{-1} g fell to at most REUSE_CONTRACTION
of the previous one -- the fast local regime, where C moves little between iterates -- the
next step reuses C and its factor instead of forming them again; the step after a lagged one
always forms C afresh, so C is at most one iteration old. The gradient is always the current
one, so the fixed point (the optimum) does not change; on the benchmark problems it saves a
third to a half of the curvature matrices at the same iteration counts. A curvature on all
rows is never lagged: its steps stay exactly Newton's / Fisher scoring's.
"""
import math

import numpy as np

from ngd.fisher import RowSubsample, auto_solver, make_solver, same_weights
from ngd.optim.steps import MAX_HALVINGS, armijo, flat_improvement, kl_step_size

STEP_RULES = ("armijo", "kl", "lm")
LM_SHRINK, LM_GROW = 0.75, 0.25          # rho thresholds
LM_FACTOR = 4.0
LM_ACCEPT = 1e-4
LM_START = 1e-6                           # lambda when first raised, times mean diag(C)
REUSE_CONTRACTION = 0.1                   # squared-decrement ratio that lets C be reused once


class StepOutcome:
    """What one iteration did (see History for the meaning of each field)."""

    def __init__(self, theta=None, evaluation=None, step_size=np.nan, kl=np.nan,
                 damping=np.nan, dir_deriv=np.nan, n_linesearch=0, n_updates=0,
                 escalated=False, failed=False, step_max=0.0, fisher_rows=np.nan,
                 solver_iter=np.nan, minimiser=False):
        self.theta = theta
        self.evaluation = evaluation
        self.step_size = step_size
        self.kl = kl
        self.damping = damping
        self.dir_deriv = dir_deriv
        self.n_linesearch = n_linesearch
        self.n_updates = n_updates
        self.escalated = escalated
        self.failed = failed
        self.step_max = step_max
        self.fisher_rows = fisher_rows
        self.solver_iter = solver_iter
        self.minimiser = minimiser      # the step solved a quadratic L exactly (see _exact)


class CurvatureStepper:
    """One damped second-order step per iteration on ``model`` with curvature ``curvature``.

    solver: "auto" (``ngd.fisher.auto_solver``: the cheapest by estimated cost; the estimates
    are kept in ``solver_costs``), "cholesky", "cg" or "woodbury".
    subsample: None (all rows) or the number of rows the curvature starts from
    (``ngd.fisher.RowSubsample``, or the model's ``subsample_type``: grown when convergence
    slows; the gradient always uses every row).
    """

    def __init__(self, model, curvature="exact", damping=0.0, step_rule="armijo",
                 kl_budget=0.01, solver="auto", subsample=None, seed=0):
        if step_rule not in STEP_RULES:
            raise ValueError(f"step must be one of {STEP_RULES}, got {step_rule!r}")
        if not (isinstance(damping, (int, float)) and math.isfinite(damping) and damping >= 0):
            raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
        if not (isinstance(kl_budget, (int, float)) and math.isfinite(kl_budget)
                and kl_budget > 0):
            raise ValueError(f"kl must be a finite number > 0, got {kl_budget!r}")
        self.model = model
        self.curvature = curvature
        self.damping = float(damping)
        self.step_rule = step_rule
        self.kl_budget = float(kl_budget)
        subsample_type = getattr(model, "subsample_type", RowSubsample)
        self.subsample = None if subsample is None else subsample_type(model, subsample, seed)
        rows = model.n_samples if self.subsample is None else self.subsample.size
        self.solver_costs = None        # auto: the per-iteration estimates it compared
        if solver == "auto":
            solver, self.solver_costs = auto_solver(model, curvature, rows, self.damping)
        self.solver_name = solver
        self.solver = make_solver(self.solver_name, model, curvature)
        self._lm_lambda = self.damping
        self._previous_weights = None
        self._previous_decrement = None       # squared decrement of the last step
        self._lag_next = False                # the next step reuses C (see the module docstring)

    def evaluate(self, theta):
        """Loss, gradient and this stepper's curvature weights at theta."""
        return self.model.evaluate(theta, self.curvature)

    def _rows(self):
        return None if self.subsample is None else self.subsample.rows

    def step(self, theta, current):
        """Solve (C + lambda I) d = -g, choose alpha, return the accepted point."""
        self._drop_subsample_if_fixed(current.weights)
        rows = self._rows()
        lagged = self._lag_next and rows is not None    # rows dropped above: never lagged
        if self.step_rule == "lm":
            outcome = self._lm_step(theta, current, rows)
        else:
            outcome = self._line_search_step(theta, current, rows, lagged)
        outcome.fisher_rows = self.model.n_samples if rows is None else rows.size
        grew = False
        if self.subsample is not None and not outcome.failed:
            grew = self.subsample.update(-outcome.dir_deriv, outcome.step_size == 1.0)
        self._lag_next = self._may_lag(outcome, lagged, grew)
        return outcome

    def _may_lag(self, outcome, lagged, grew):
        """Whether the next step may reuse this step's C: a dense solve on a row subsample,
        this C fresh, a unit step, the same rows, and the squared decrement down to
        REUSE_CONTRACTION of the last."""
        decrement, previous = -outcome.dir_deriv, self._previous_decrement
        self._previous_decrement = None if outcome.failed else decrement
        return (hasattr(self.solver, "solve_again") and self.step_rule != "lm"
                and self._rows() is not None
                and not lagged and not grew and not outcome.failed
                and outcome.step_size == 1.0 and previous is not None
                and 0.0 <= decrement <= REUSE_CONTRACTION * previous)

    def _drop_subsample_if_fixed(self, weights):
        """A curvature whose weights did not change between two iterations does not depend on
        theta (Gaussian-identity, Gamma-log or Poisson-sqrt Fisher scoring, the Boehning
        bound): form it once on all rows and reuse it, rather than subsample it."""
        if self.subsample is None or not isinstance(weights, np.ndarray):
            return
        if self._previous_weights is not None and same_weights(weights, self._previous_weights):
            self.subsample = None
        self._previous_weights = weights

    def _solve(self, current, damping, rows, lagged=False):
        if lagged:
            solve = self.solver.solve_again(current.grad)
        else:
            solve = self.solver.solve(self.model, current.weights, current.grad, damping, rows)
        return -solve.direction, solve

    def _line_search_step(self, theta, current, rows, lagged=False):
        direction, solve = self._solve(current, self.damping, rows, lagged)
        dir_deriv = float(current.grad @ direction)        # -g^T (C + lambda I)^{-1} g
        alpha0 = 1.0
        if self.step_rule == "kl":
            alpha0 = kl_step_size(self.kl_budget, -dir_deriv)
        alpha, accepted, trials = armijo(self.evaluate, theta, current, direction, alpha0)
        outcome = StepOutcome(damping=solve.damping, dir_deriv=dir_deriv, n_linesearch=trials,
                              escalated=solve.escalations > 0,
                              solver_iter=solve.info.get("cg_iter", np.nan))
        if alpha is None:
            outcome.failed = True
            return outcome
        outcome.minimiser = alpha == 1.0 and self._exact(solve, rows, lagged)
        return self._accept(outcome, theta, direction, alpha, accepted, dir_deriv,
                            solve.damping)

    def _exact(self, solve, rows, lagged):
        """Whether the direction minimises L exactly: L quadratic with this curvature as its
        Hessian (the model's ``loss_is_quadratic``), all rows, no damping, a fresh direct
        solve (not CG)."""
        quadratic = getattr(self.model, "loss_is_quadratic", None)
        return (quadratic is not None and quadratic(self.curvature) and rows is None
                and not lagged and solve.damping == 0 and "cg_iter" not in solve.info)

    def _accept(self, outcome, theta, direction, alpha, evaluation, dir_deriv, lam):
        outcome.theta = theta + alpha * direction
        outcome.evaluation = evaluation
        outcome.step_size = alpha
        outcome.step_max = alpha * float(np.max(np.abs(direction)))
        outcome.n_updates = 1
        if self.curvature == "exact":
            outcome.kl = self._model_kl(alpha, direction, dir_deriv, lam)
        return outcome

    def _lm_step(self, theta, current, rows):
        """Levenberg-Marquardt step (see the module docstring)."""
        lam = self._lm_lambda
        escalated = False
        for trial in range(1, MAX_HALVINGS + 1):
            direction, solve = self._solve(current, max(lam, self.damping), rows)
            used = solve.damping
            escalated |= solve.escalations > 0
            dir_deriv = float(current.grad @ direction)
            predicted = 0.5 * (-dir_deriv + used * float(direction @ direction))
            candidate = self.evaluate(theta + direction)
            actual = current.loss - candidate.loss if np.isfinite(candidate.loss) else -np.inf
            rho = actual / predicted if predicted > 0 else (1.0 if actual >= 0 else -1.0)
            if rho < LM_GROW:
                lam = max(LM_FACTOR * used, self._lm_floor(current, rows))
            elif rho > LM_SHRINK:
                lam = used / LM_FACTOR
            if rho > LM_ACCEPT or (np.isfinite(candidate.loss)
                                   and flat_improvement(current, candidate)):
                self._lm_lambda = lam
                outcome = StepOutcome(damping=used, dir_deriv=dir_deriv, n_linesearch=trial,
                                      escalated=escalated,
                                      solver_iter=solve.info.get("cg_iter", np.nan))
                return self._accept(outcome, theta, direction, 1.0, candidate, dir_deriv, used)
        self._lm_lambda = lam
        return StepOutcome(damping=lam, failed=True, n_linesearch=MAX_HALVINGS,
                           escalated=escalated)

    def _lm_floor(self, current, rows):
        """Smallest lambda to raise to: LM_START times the mean of diag(C)."""
        diagonal = self.model.curvature_diagonal(current.weights, rows)
        return LM_START * max(float(np.mean(np.abs(diagonal))), np.finfo(float).tiny)

    def _model_kl(self, alpha, direction, dir_deriv, lam):
        """1/2 alpha^2 d^T F d with F the Fisher of the likelihood alone: d^T C d = -g^T d
        minus the damping and penalty parts."""
        penalised = direction[self.model.penalty_mask]
        quad = -dir_deriv - lam * float(direction @ direction)
        quad -= self.model.l2 * float(penalised @ penalised)
        return 0.5 * alpha * alpha * max(quad, 0.0)
