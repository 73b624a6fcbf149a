"""Monte-Carlo episodes of a policy, cut where the discount has faded, with the discounted
reward-to-go of every step and its weight gamma^t."""
from collections import namedtuple
import math

import numpy as np

Batch = namedtuple("Batch", "states actions weights returns n_episodes")
Batch.__doc__ = """Every step t < H of every episode: state, action, weight gamma^t and
discounted reward-to-go G_t = sum_{t <= k < H} gamma^(k-t) R(s_k, a_k) (arrays of length
n_episodes * H, episode by episode), and the number of episodes."""

FADE = 1e-4


def default_horizon(gamma):
    """H = ceil(log(1e-4) / log(gamma)), the first t with gamma^t <= 1e-4 (1 for gamma = 0)."""
    return 1 if gamma == 0 else max(1, math.ceil(math.log(FADE) / math.log(gamma)))


def sample_episodes(mdp, pi, n_episodes, rng):
    """Run ``n_episodes`` episodes of pi (S, A) for H = :func:`default_horizon` steps from
    s_0 ~ rho, drawing from the numpy Generator ``rng``.

    Weighted by gamma^t, the visits estimate the discounted visitation:
    E[sum_t gamma^t f(s_t, a_t)] = E_{s ~ d_rho^pi, a ~ pi}[f] / (1 - gamma), and
    E[G_t | s_t, a_t] = Q^pi(s_t, a_t), both up to terms of order gamma^H.
    """
    horizon = default_horizon(mdp.gamma)
    P_cum = np.cumsum(mdp.P, axis=2)
    pi_cum = np.cumsum(pi, axis=1)
    states = np.empty((horizon, n_episodes), dtype=np.intp)
    actions = np.empty_like(states)
    state = _draw(np.broadcast_to(np.cumsum(mdp.rho), (n_episodes, mdp.n_states)), rng)
    for t in range(horizon):
        states[t] = state
        actions[t] = _draw(pi_cum[state], rng)
        state = _draw(P_cum[state, actions[t]], rng)
    rewards = mdp.R[states, actions]
    returns = np.empty_like(rewards)
    following = np.zeros(n_episodes)
    for t in range(horizon - 1, -1, -1):
        following = rewards[t] + mdp.gamma * following
        returns[t] = following
    weights = np.broadcast_to((mdp.gamma ** np.arange(horizon))[:, None], states.shape)
    return Batch(*(a.T.ravel() for a in (states, actions, weights, returns)), n_episodes)


def batch_visitation(batch, n_states):
    """d_hat(s) = sum_t gamma^t 1{s_t = s} / sum_t gamma^t, the batch's estimate of d_rho^pi."""
    mass = np.bincount(batch.states, weights=batch.weights, minlength=n_states)
    return mass / mass.sum()


def _draw(cumulative, rng):
    """One index per row of a cumulative distribution (rows, K) by inversion."""
    u = rng.random(cumulative.shape[0])
    index = (cumulative < u[:, None]).sum(axis=1)
    return np.minimum(index, cumulative.shape[1] - 1)
