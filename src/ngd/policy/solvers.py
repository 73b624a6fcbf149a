"""Vanilla and natural policy gradient ascent on V^pi(rho), and ``optimize``, the loop that
runs them and records V^{(t)}(rho) against V* from value iteration."""
import math
from dataclasses import dataclass

import numpy as np

import ngd.kernels
from ngd.policy.evaluation import evaluate_policy, optimal_value
from ngd.policy.fisher import exact_fisher, sampled_fisher
from ngd.policy.gradients import policy_gradient, reinforce_gradient
from ngd.policy.policies import SoftmaxPolicy, mean_kl
from ngd.policy.sampling import batch_visitation, sample_episodes

METHODS = ("npg", "pg")
ESTIMATES = ("exact", "sampled")
DEFAULT_DAMPING = {"exact": 0.0, "sampled": 1e-3}
DEFAULT_SAMPLED_KL = 0.01
RELATIVE_FLOOR = 1e-10
_FLOOR = 1e-150
MAX_HALVINGS = 60


@dataclass(frozen=True)
class PolicyResult:
    """Result of :func:`optimize`.

    values: V^{(t)}(rho) for t = 0..n_iter (exact evaluations, also when the updates are
    sampled); optimal_value: V*(rho) by value iteration; value, gap: the last value and
    V* - value; steps: the step size of each update; kl: the mean KL
    sum_s d(s) KL(pi_t(.|s) || pi_{t+1}(.|s)) of each update (d the visitation of pi_t);
    fisher: None for pg; converged: gap <= tol.
    """

    method: str
    fisher: str | None
    gradient: str
    theta: np.ndarray
    policy: np.ndarray
    values: np.ndarray
    optimal_value: float
    value: float
    gap: float
    n_iter: int
    steps: np.ndarray
    kl: np.ndarray
    converged: bool
    message: str


def natural_direction(F, g, damping):
    """w solving (F + lambda I + eps diag(F)) w = g: Tikhonov damping lambda (as in TRPO), and a
    relative floor eps = 1e-10 (raised by doubling until the Cholesky factorisation succeeds)
    for the Fisher's exact null space, e.g. the per-state shifts of a tabular softmax, along
    which g has no component; with lambda = 0 this is F^+ g up to those shifts.

    Solved through the Jacobi-scaled system (D^{-1/2} F D^{-1/2} + lambda D^{-1} + eps I) u =
    D^{-1/2} g, w = D^{-1/2} u, D = diag(F) (1 where below 1e-150: no information), so that it
    stays accurate when d(s) pi(a|s) spans hundreds of orders of magnitude, as it does once
    the policy is nearly deterministic.
    """
    diag = np.diag(F)
    scale = np.where(diag > _FLOOR, 1.0 / np.sqrt(np.maximum(diag, _FLOOR)), 1.0)
    # |F_ij| <= sqrt(F_ii F_jj): scaling rows, then columns, cannot overflow
    scaled = (F * scale[:, None]) * scale[None, :]
    scaled[np.diag_indices_from(scaled)] += damping * scale ** 2
    u, _ = ngd.kernels.damped_cholesky_solve(scaled, g * scale, RELATIVE_FLOOR)
    return u * scale


def trust_region_step(g, w, kl, step_kl):
    """alpha = sqrt(2 delta / g^T w) for w = F^{-1} g, halved while the step's actual mean KL,
    ``step_kl(alpha)``, exceeds 1.5 delta (at most 60 times, then 0: no step).

    Without halving, the step alpha w has (1/2) (alpha w)^T F (alpha w) = delta, the quadratic
    model of the mean KL (F damped as in :func:`natural_direction`); the check catches a
    sampled g^T w ~ 0, whose alpha would be huge. 0 when g^T w <= 0 (no ascent direction).
    """
    curvature = float(g @ w)
    if not curvature > 0:
        return 0.0
    alpha = math.sqrt(2.0 * kl / curvature)
    for _ in range(MAX_HALVINGS):
        if step_kl(alpha) <= 1.5 * kl:
            return alpha
        alpha *= 0.5
    return 0.0


def optimize(mdp, method="npg", *, fisher="exact", gradient=None, step=None, kl=None,
             damping=None, n_iter=100, tol=None, policy=None, theta0=None, episodes=16,
             seed=None, n_threads=None):
    """Maximise V^pi(rho) by policy gradient ascent from theta0 (default 0: uniform policy).

    method "pg": theta <- theta + eta g, eta = ``step`` (default (1 - gamma)^3 / 8, the 1/L
    step of the tabular softmax value with rewards in [0, 1]).
    method "npg": theta <- theta + eta w, (F + lambda I) w = g (:func:`natural_direction`),
    eta = ``step`` (default 1), or with a KL budget ``kl`` = delta the trust-region step of
    :func:`trust_region_step`. For the tabular softmax with the exact Fisher the update is
    theta[s, a] <- theta[s, a] + eta A^pi(s, a) / (1 - gamma) (Kakade 2001; Agarwal et al.
    2021) up to per-state shifts, which leave pi unchanged.

    ``fisher`` / ``gradient``: "exact" (policy evaluation by linear solves) or "sampled"
    (``episodes`` episodes per iteration from ``numpy.random.default_rng(seed)``: REINFORCE with
    a baseline, and the Fisher of the visited scores); ``gradient`` defaults to ``fisher``.
    Sampled NPG defaults to ``kl`` = 0.01 (a fixed step multiplies the noise of the sampled
    advantages by eta / (1 - gamma)). ``damping``: lambda (default 0 exact, 1e-3 sampled).
    ``policy``: default the tabular :class:`SoftmaxPolicy`. ``n_threads``: for the Fisher
    kernels. Stops after ``n_iter`` updates, or once V* - V <= ``tol``.
    """
    gradient = fisher if gradient is None else gradient
    policy = SoftmaxPolicy(mdp.n_states, mdp.n_actions) if policy is None else policy
    _check_options(mdp, policy, method, fisher, gradient, step, kl, damping, tol, n_iter,
                   episodes)
    theta = np.zeros(policy.n_params) if theta0 is None else policy.check_theta(theta0).copy()
    if method == "npg" and fisher == "sampled" and step is None and kl is None:
        kl = DEFAULT_SAMPLED_KL
    if step is None:
        step = 1.0 if method == "npg" else (1.0 - mdp.gamma) ** 3 / 8.0
    damping = DEFAULT_DAMPING[fisher] if damping is None else damping
    sampled = gradient == "sampled" or (method == "npg" and fisher == "sampled")
    rng = np.random.default_rng(seed)

    v_star = optimal_value(mdp)
    log_pi = policy.log_probabilities(theta)
    evaluation = evaluate_policy(mdp, np.exp(log_pi))
    values, steps, kls = [evaluation.value], [], []
    message = None
    for _ in range(n_iter):
        if tol is not None and v_star - values[-1] <= tol:
            break
        batch = sample_episodes(mdp, np.exp(log_pi), episodes, rng) if sampled else None
        g = (policy_gradient(policy, theta, evaluation, mdp.gamma) if gradient == "exact"
             else reinforce_gradient(policy, theta, batch))
        if method == "pg":
            direction, alpha = g, step
        else:
            direction, alpha = _natural_update(policy, theta, log_pi, g, evaluation, batch,
                                               fisher, step, kl, damping, n_threads)
        candidate = theta + alpha * direction
        if not np.isfinite(candidate).all():
            message = "Stopped: the update gave non-finite parameters."
            break
        theta = candidate
        new_log_pi = policy.log_probabilities(theta)
        kls.append(mean_kl(evaluation.visitation, log_pi, new_log_pi))
        steps.append(alpha)
        log_pi = new_log_pi
        evaluation = evaluate_policy(mdp, np.exp(log_pi))
        values.append(evaluation.value)
    gap = v_star - values[-1]
    converged = tol is not None and gap <= tol
    if message is None:
        message = (f"Reached V* - V <= {tol:g} after {len(steps)} iterations." if converged
                   else f"Stopped after {len(steps)} iterations; V* - V = {gap:.3g}.")
    return PolicyResult(
        method=method, fisher=fisher if method == "npg" else None, gradient=gradient,
        theta=theta, policy=np.exp(log_pi), values=np.array(values), optimal_value=v_star,
        value=values[-1], gap=gap, n_iter=len(steps), steps=np.array(steps),
        kl=np.array(kls), converged=converged, message=message)


def _natural_update(policy, theta, log_pi, g, evaluation, batch, fisher, step, kl, damping,
                    n_threads):
    """(w, alpha) of one NPG update; a trial step's KL is measured under the visitation that
    the Fisher uses (the exact d_rho^pi, or the batch's estimate)."""
    if fisher == "exact":
        visitation = evaluation.visitation
        F = exact_fisher(policy, theta, visitation, n_threads)
    else:
        visitation = batch_visitation(batch, policy.n_states)
        F = sampled_fisher(policy, theta, batch, n_threads)
    w = natural_direction(F, g, damping)
    if kl is None:
        return w, step

    def step_kl(alpha):
        return mean_kl(visitation, log_pi, policy.log_probabilities(theta + alpha * w))

    return w, trust_region_step(g, w, kl, step_kl)


def _check_options(mdp, policy, method, fisher, gradient, step, kl, damping, tol, n_iter,
                   episodes):
    """ValueError naming the first bad argument of :func:`optimize`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    for name, value in (("fisher", fisher), ("gradient", gradient)):
        if value not in ESTIMATES:
            raise ValueError(f"{name} must be one of {', '.join(ESTIMATES)}, got {value!r}")
    if method == "npg" and fisher == "sampled" and gradient == "exact":
        raise ValueError("a sampled Fisher needs the sampled gradient of the same episodes "
                         "(gradient='sampled'): it has no information on unvisited states")
    if kl is not None and method != "npg":
        raise ValueError("kl (a KL trust region) applies to method 'npg' only")
    for name, value, strict in (("step", step, True), ("kl", kl, True),
                                ("damping", damping, False), ("tol", tol, False)):
        if value is not None and not (math.isfinite(value) and (value > 0 if strict
                                                                else value >= 0)):
            raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} 0, "
                             f"got {value}")
    if n_iter < 0 or episodes < 1:
        raise ValueError(f"need n_iter >= 0 and episodes >= 1, got {n_iter} and {episodes}")
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"the policy is for {policy.n_states} states and {policy.n_actions} "
                         f"actions, the MDP has {mdp.n_states} and {mdp.n_actions}")
