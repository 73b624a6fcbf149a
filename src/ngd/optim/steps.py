"""Step-size rules: Armijo backtracking, and the KL-budget initial step."""
import math

import numpy as np

ARMIJO_C = 1e-4
MAX_HALVINGS = 30
_EPS = np.finfo(float).eps


def kl_step_size(budget, newton_decrement_sq):
    """alpha = sqrt(2 delta / g^T F^{-1} g), capped at 1 (the full natural-gradient step)."""
    if newton_decrement_sq <= 0:
        return 1.0
    return min(1.0, math.sqrt(2.0 * budget / newton_decrement_sq))


def flat_improvement(current, candidate):
    """True when the candidate's loss equals the current one to rounding (16 eps |L|) and
    its gradient's 1-norm is smaller (scikit-learn's rule for flat, converged regions)."""
    flat = candidate.loss - current.loss <= 16 * _EPS * abs(current.loss)
    return flat and float(np.abs(candidate.grad).sum()) < float(np.abs(current.grad).sum())


def armijo(evaluate, theta, current, direction, alpha0):
    """Backtrack alpha <- alpha/2 from alpha0 until L(theta + alpha d) <= L + c alpha g^T d,
    or until :func:`flat_improvement` holds.
    Returns (alpha, evaluation, trials), or (None, None, trials) when no trial is accepted.
    """
    slope = float(current.grad @ direction)
    alpha = alpha0
    for trial in range(1, MAX_HALVINGS + 1):
        candidate = evaluate(theta + alpha * direction)
        if np.isfinite(candidate.loss):
            if candidate.loss <= current.loss + ARMIJO_C * alpha * slope:
                return alpha, candidate, trial
            if flat_improvement(current, candidate):
                return alpha, candidate, trial
        alpha *= 0.5
    return None, None, MAX_HALVINGS
