"""The iteration loop every optimiser shares: stopping rule, history, callback, status.

Stopping: converged when max_j |g_j| <= tol or the Newton decrement
sqrt(g^T (C + lambda I)^{-1} g) of the last step was <= tol (status 0; the decrement does not
change when a column of X is rescaled, the gradient norm does), or when the loss changed by
at most ftol * max(1, |L|) in one iteration (status 1), in both cases only once the last
step -- or the next one, predicted as s_k^2 / s_{k-1} from the last three step lengths
s_{k-2} > s_{k-1} > s_k when these were unit steps at one damping, each at most
PREDICT_MAX_RATIO times the one before (the iterates contract: no iteration is spent on
confirming a step already known to be small), or an exact step onto the minimiser of a
quadratic L (Gaussian-identity: the next step is zero to rounding) -- moved no coordinate
by more than xtol * (1 + max_j |theta_j|) with xtol = max(1e-10, 1e-2 tol) (second-order steps; this
keeps the rule meaningful when the objective's scale is tiny, e.g. a GLM with a small
dispersion, and lets a loose tol stop early), or when the loss changed by no more than
rounding (16 eps |L|: nothing more can be gained); otherwise stop at max_iter (2), when the
line search fails (3), on a non-finite
loss or gradient (4, keeping the last finite iterate), when the callback raises
StopIteration (5), or when the recent movement of theta is a direction
along which the likelihood increases without bound, i.e. the data are (quasi-)separated and
the MLE does not exist (6; checked for models with a ``separation`` method once the steps stop
shrinking, see ngd.models.separation).
"""
import math
import time
import warnings

import numpy as np

from ngd.messages import name_list
from ngd.exceptions import ConvergenceWarning, DampingWarning
from ngd.result import CONVERGED_STATUSES, STATUS_MESSAGES, FitResult, History


def _finite(evaluation):
    return np.isfinite(evaluation.loss) and np.all(np.isfinite(evaluation.grad))


XTOL = 1e-10
XTOL_PER_TOL = 1e-2                     # a looser tol settles at 1e-2 tol (default: XTOL)
SEPARATION_LAG = 3                      # iterations spanned by the candidate direction
ROUNDING = 16 * np.finfo(float).eps     # a loss change this small (relative) is rounding
PREDICT_MAX_RATIO = 0.5                 # steps contracting at least this fast predict the next
PREDICT_STEPS = 3                       # unit steps the prediction is made from


def _unit_steps(steps, outcome, previous):
    """The step lengths (step_max) of the recent consecutive unit steps taken at one damping,
    ending with ``outcome`` (empty when it is not a unit step), at most PREDICT_STEPS."""
    if outcome.step_size != 1.0 or outcome.escalated:
        return []
    if previous is None or not outcome.damping == previous.damping:
        steps = []
    return (steps + [outcome.step_max])[-PREDICT_STEPS:]


def _settled(steps, step_max, bound):
    """True when the last step (step_max) or the next one predicted from ``steps``
    (s_k^2 / s_{k-1}, for PREDICT_STEPS unit steps each contracting by PREDICT_MAX_RATIO
    or more) is at most bound."""
    if step_max <= bound:
        return True
    if len(steps) < PREDICT_STEPS:
        return False
    contracting = all(later <= PREDICT_MAX_RATIO * earlier
                      for earlier, later in zip(steps[:-1], steps[1:]))
    return contracting and steps[-1] * (steps[-1] / steps[-2]) <= bound


def run(stepper, theta0, *, tol, ftol, max_iter, method, callback=None):
    """Iterate ``stepper.step`` from theta0; return a FitResult (without statistics)."""
    start = time.perf_counter()
    xtol = max(XTOL, XTOL_PER_TOL * tol)
    history = History()
    theta = np.array(theta0, dtype=np.float64)
    current = stepper.evaluate(theta)
    n_fev = 1
    n_updates = 0
    damping_raised = []
    history.append(iter=0, loss=current.loss, grad_norm=current.grad_norm if _finite(current)
                   else np.nan, n_updates=0, n_linesearch=0, time=0.0)
    status = None
    if not _finite(current):
        status = 4
    elif current.grad_norm <= tol:
        status = 0
    iteration = 0
    recent = [theta.copy()]
    separation = None
    check_separation = hasattr(getattr(stepper, "model", None), "separation") and \
        stepper.curvature is not None
    previous_step = np.inf
    previous_outcome = None
    unit_steps = []
    while status is None:
        if iteration >= max_iter:
            status = 2
            break
        outcome = stepper.step(theta, current)
        n_fev += outcome.n_linesearch if outcome.n_linesearch else 1
        if outcome.escalated:
            damping_raised.append((iteration + 1, outcome.damping))
        if outcome.failed:
            status = 3
            break
        if not _finite(outcome.evaluation):
            status = 4
            break
        change = current.loss - outcome.evaluation.loss
        theta, current = outcome.theta, outcome.evaluation
        iteration += 1
        n_updates += outcome.n_updates
        decrement = math.sqrt(max(-outcome.dir_deriv, 0.0)) \
            if np.isfinite(outcome.dir_deriv) else np.nan
        history.append(iter=iteration, loss=current.loss, grad_norm=current.grad_norm,
                       decrement=decrement, step_size=outcome.step_size, kl=outcome.kl,
                       damping=outcome.damping, dir_deriv=outcome.dir_deriv,
                       n_linesearch=outcome.n_linesearch, n_updates=n_updates,
                       fisher_rows=outcome.fisher_rows, solver_iter=outcome.solver_iter,
                       time=time.perf_counter() - start)
        unit_steps = _unit_steps(unit_steps, outcome, previous_outcome)
        previous_outcome = outcome
        settled = getattr(outcome, "minimiser", False) or _settled(
            unit_steps, outcome.step_max, xtol * (1.0 + float(np.max(np.abs(theta)))))
        recent = (recent + [theta.copy()])[-SEPARATION_LAG - 1:]
        if check_separation and len(recent) > SEPARATION_LAG and \
                outcome.step_max >= 0.5 * previous_step:
            separation = stepper.model.separation(recent[-1] - recent[0])
            if separation is not None:
                status = 6
                break
        previous_step = outcome.step_max
        if (current.grad_norm <= tol or decrement <= tol) and settled:
            status = 0
        elif (abs(change) <= ftol * max(1.0, abs(current.loss)) and settled) \
                or abs(change) <= ROUNDING * abs(current.loss):
            status = 1
        if callback is not None and status is None:
            snapshot = FitResult(x=theta.copy(), loss=current.loss, grad=current.grad.copy(),
                                 grad_norm=current.grad_norm, n_iter=iteration, method=method,
                                 history=history)
            try:
                callback(snapshot)
            except StopIteration:
                status = 5
    message = STATUS_MESSAGES[status]
    if separation is not None:
        rows, columns = separation
        message += (f" Moving the coefficients of columns {name_list(columns)} "
                    f"along a fixed direction drives the fitted probabilities of {len(rows)} "
                    "rows to 0 or 1 (or their fitted means to 0) while the loss keeps falling; remove or merge those "
                    "columns, or use l2 > 0.")
    if damping_raised:
        first_iter, _ = damping_raised[0]
        largest = max(lam for _, lam in damping_raised)
        message += (f" The curvature was not positive definite in {len(damping_raised)} "
                    f"iteration(s) (first at iteration {first_iter}); damping was raised up to "
                    f"{largest:.3g}.")
        warnings.warn(message, DampingWarning, stacklevel=4)
    if status == 2:
        warnings.warn(f"{method}: {message}", ConvergenceWarning, stacklevel=4)
    return FitResult(x=theta, loss=float(current.loss), grad=current.grad,
                     separation=None if separation is None else
                     {"rows": separation[0], "columns": separation[1]},
                     grad_norm=float(current.grad_norm) if _finite(current) else np.nan,
                     newton_decrement=float(history["decrement"][-1]),
                     n_iter=iteration, n_fev=n_fev, n_updates=n_updates,
                     converged=status in CONVERGED_STATUSES, status=status, message=message,
                     method=method, history=history, time=time.perf_counter() - start)
