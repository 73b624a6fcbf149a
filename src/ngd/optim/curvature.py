"""Second-order steps d = -(C + lambda I)^{-1} g with a curvature C of the model.

C is the exact Fisher (NGD, Fisher scoring), the empirical Fisher (NGD with the outer-product
curvature; BHHH in econometrics) or the observed Hessian (Newton). The damped Cholesky raises
lambda when C + lambda I is not positive definite; the step size comes from Armijo
backtracking started at 1, or at the KL-budget step alpha = min(1, sqrt(2 delta / g^T C^{-1} g)).
"""
import math

import numpy as np

from ngd.kernels import cholesky_solve, damped_cholesky
from ngd.optim.steps import armijo, kl_step_size

STEP_RULES = ("armijo", "kl")


class StepOutcome:
    """What one iteration did (see History for the meaning of each field)."""

    def __init__(self, theta=None, evaluation=None, step_size=np.nan, kl=np.nan,
                 damping=np.nan, dir_deriv=np.nan, n_linesearch=0, n_updates=0,
                 escalated=False, failed=False, step_max=0.0):
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


class CurvatureStepper:
    """One damped second-order step per iteration on ``model`` with curvature ``curvature``."""

    def __init__(self, model, curvature="exact", damping=0.0, step_rule="armijo",
                 kl_budget=0.01):
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

    def evaluate(self, theta):
        """Loss, gradient and this stepper's curvature weights at theta."""
        return self.model.evaluate(theta, self.curvature)

    def step(self, theta, current):
        """Solve (C + lambda I) d = -g, choose alpha, return the accepted point."""
        C = self.model.curvature_matrix(current.weights)
        factor, lam, escalations = damped_cholesky(C, self.damping)
        direction = -cholesky_solve(factor, current.grad)
        dir_deriv = float(current.grad @ direction)        # -g^T (C + lambda I)^{-1} g
        alpha0 = 1.0
        if self.step_rule == "kl":
            alpha0 = kl_step_size(self.kl_budget, -dir_deriv)
        alpha, accepted, trials = armijo(self.evaluate, theta, current, direction, alpha0)
        outcome = StepOutcome(damping=lam, dir_deriv=dir_deriv, n_linesearch=trials,
                              escalated=escalations > 0)
        if alpha is None:
            outcome.failed = True
            return outcome
        outcome.theta = theta + alpha * direction
        outcome.evaluation = accepted
        outcome.step_size = alpha
        outcome.step_max = alpha * float(np.max(np.abs(direction)))
        outcome.n_updates = 1
        if self.curvature == "exact":
            outcome.kl = self._model_kl(alpha, direction, dir_deriv, lam)
        return outcome

    def _model_kl(self, alpha, direction, dir_deriv, lam):
        """1/2 alpha^2 d^T F d with F the Fisher of the likelihood alone: d^T C d = -g^T d
        minus the damping and penalty parts."""
        penalised = direction[self.model.penalty_mask]
        quad = -dir_deriv - lam * float(direction @ direction)
        quad -= self.model.l2 * float(penalised @ penalised)
        return 0.5 * alpha * alpha * max(quad, 0.0)
