"""Exact policy evaluation by linear solves, the discounted state visitation, and value
iteration for the optimal value V*."""
from collections import namedtuple

import numpy as np

Evaluation = namedtuple("Evaluation", "V Q advantage visitation value")
Evaluation.__doc__ = """V (S,), Q (S, A), advantage A = Q - V (S, A), visitation d_rho^pi (S,),
and value V^pi(rho) = rho^T V."""


def evaluate_policy(mdp, pi):
    """Exact evaluation of the stochastic policy pi (S, A):

    V = (I - gamma P_pi)^{-1} r_pi with P_pi[s, s'] = sum_a pi(a|s) P[s, a, s'] and
    r_pi[s] = sum_a pi(a|s) R[s, a]; Q = R + gamma P V; A = Q - V;
    d_rho^pi = (1 - gamma) (I - gamma P_pi)^{-T} rho, the discounted state visitation.
    """
    pi = np.asarray(pi, dtype=np.float64)
    system = np.eye(mdp.n_states) - mdp.gamma * np.einsum("sa,sat->st", pi, mdp.P)
    V = np.linalg.solve(system, np.einsum("sa,sa->s", pi, mdp.R))
    Q = mdp.R + mdp.gamma * mdp.P @ V
    visitation = (1.0 - mdp.gamma) * np.linalg.solve(system.T, mdp.rho)
    return Evaluation(V, Q, Q - V[:, None], visitation, float(mdp.rho @ V))


def value_iteration(mdp, tol=1e-12, max_iter=100_000):
    """Optimal values by V_{k+1}(s) = max_a [R(s, a) + gamma sum_s' P(s'|s, a) V_k(s')].

    Stops when ||V_{k+1} - V_k||_inf <= tol (1 - gamma) / gamma, so that ||V_{k+1} - V*||_inf
    <= tol (the threshold is floored at 16 eps ||V||_inf, the rounding level).
    Returns (V*, greedy deterministic policy as an (S, A) one-hot array).
    """
    V = np.zeros(mdp.n_states)
    threshold = tol * (1.0 - mdp.gamma) / max(mdp.gamma, np.finfo(float).tiny)
    for _ in range(max_iter):
        V_new = (mdp.R + mdp.gamma * mdp.P @ V).max(axis=1)
        change = np.max(np.abs(V_new - V))
        V = V_new
        if change <= max(threshold, 16 * np.finfo(float).eps * np.max(np.abs(V))):
            break
    else:
        raise RuntimeError(f"value iteration did not reach tol = {tol:g} in {max_iter} "
                           "iterations")
    greedy = np.zeros_like(mdp.R)
    greedy[np.arange(mdp.n_states), (mdp.R + mdp.gamma * mdp.P @ V).argmax(axis=1)] = 1.0
    return V, greedy


def optimal_value(mdp, tol=1e-12):
    """V*(rho) = rho^T V* by value iteration."""
    return float(mdp.rho @ value_iteration(mdp, tol)[0])
