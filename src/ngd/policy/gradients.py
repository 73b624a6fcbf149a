"""Policy gradients of V^pi(rho): exact (policy gradient theorem) and sampled (REINFORCE with
a per-state baseline)."""
import numpy as np


def policy_gradient(policy, theta, evaluation, gamma):
    """grad V(rho) = 1/(1 - gamma) sum_s d_rho^pi(s) sum_a pi(a|s) A^pi(s, a) psi(s, a)
    with psi = grad log pi (Sutton et al. 2000); ``evaluation`` from evaluate_policy."""
    weights = (evaluation.visitation[:, None] * policy.probabilities(theta)
               * evaluation.advantage / (1.0 - gamma))
    return np.einsum("sa,sad->d", weights, policy.score_matrix(theta))


def reinforce_gradient(policy, theta, batch):
    """g = (1/M) sum_episodes sum_t gamma^t psi(s_t, a_t) (G_t - b(s_t)) over the M episodes
    of a :class:`Batch`, b(s) the gamma^t-weighted batch mean of G over the visits to s."""
    mass = np.bincount(batch.states, weights=batch.weights, minlength=policy.n_states)
    totals = np.bincount(batch.states, weights=batch.weights * batch.returns,
                         minlength=policy.n_states)
    baseline = totals / np.where(mass > 0, mass, 1.0)
    advantage = batch.weights * (batch.returns - baseline[batch.states])
    return policy.scores(theta, batch.states, batch.actions).T @ advantage / batch.n_episodes
