"""NGD with the exact Fisher's diagonal (``fisher="diagonal"``).

Step d = -g / (D + lambda), D = diag(F) + l2 on the penalised coordinates, with F the exact
Fisher: diag(F)_j = sum_i v_i x~_ij^2 (softmax: sum_i v_i p_ik (1 - p_ik) x~_ij^2), the
model's ``curvature_diagonal``: one pass over X and O(p) memory instead of the p x p Fisher.
The step size follows CurvatureStepper's rules: Armijo backtracking from 1, or from the
KL-budget step alpha = min(1, sqrt(2 delta / g^T D^{-1} g)).
Adam's second moment is the *empirical*-Fisher counterpart of D (see ``ngd.optim.adam``).
"""
import math

import numpy as np

from ngd.optim.curvature import StepOutcome
from ngd.optim.steps import armijo, kl_step_size

STEP_RULES = ("armijo", "kl")


class DiagonalStepper:
    """One diagonal natural-gradient step per iteration (damping, step rule and KL budget as
    in CurvatureStepper)."""

    curvature = "exact"

    def __init__(self, model, damping=0.0, step_rule="armijo", kl_budget=0.01):
        if step_rule not in STEP_RULES:
            raise ValueError(f"step must be one of {STEP_RULES} with the diagonal Fisher, "
                             f"got {step_rule!r}")
        if not (math.isfinite(damping) and damping >= 0):
            raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
        if not (math.isfinite(kl_budget) and kl_budget > 0):
            raise ValueError(f"kl must be a finite number > 0, got {kl_budget!r}")
        self.model = model
        self.damping = float(damping)
        self.step_rule = step_rule
        self.kl_budget = float(kl_budget)

    def evaluate(self, theta):
        """Loss, gradient and exact-Fisher weights at theta."""
        return self.model.evaluate(theta, "exact")

    def step(self, theta, current):
        """d = -g / (D + lambda), lambda raised above 0 when some D_j is 0; alpha by the rule."""
        diag = self.model.curvature_diagonal(current.weights)
        lam = self.damping
        escalated = not np.all(diag + lam > 0)
        if escalated:                                # a coordinate without curvature
            lam = max(lam, 1e-10 * float(np.max(diag)), np.finfo(float).tiny)
        direction = -current.grad / (diag + lam)
        dir_deriv = float(current.grad @ direction)
        alpha0 = kl_step_size(self.kl_budget, -dir_deriv) if self.step_rule == "kl" else 1.0
        alpha, accepted, trials = armijo(self.evaluate, theta, current, direction, alpha0)
        if alpha is None:
            return StepOutcome(damping=lam, dir_deriv=dir_deriv, n_linesearch=trials,
                               escalated=escalated, failed=True)
        return StepOutcome(theta=theta + alpha * direction, evaluation=accepted,
                           step_size=alpha, damping=lam, dir_deriv=dir_deriv,
                           n_linesearch=trials, n_updates=1, escalated=escalated,
                           step_max=alpha * float(np.max(np.abs(direction))))
