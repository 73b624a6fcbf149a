"""ngd.policy gradients and Fishers: the policy gradient theorem against finite differences,
the exact Fisher against independent computations, and the sampled estimates against both."""
import numpy as np
import pytest

import ngd.kernels
from finite_differences import fd_gradient, fd_jacobian
from ngd import policy
from test_policy_mdp import random_mdp


def policies_for(mdp, rng):
    tabular = policy.SoftmaxPolicy(mdp.n_states, mdp.n_actions)
    features = policy.LogLinearPolicy(rng.normal(size=(mdp.n_states, mdp.n_actions, 4)))
    return [(tabular, rng.normal(size=tabular.n_params)),
            (features, rng.normal(size=features.n_params))]


def value(mdp, pol, theta):
    return policy.evaluate_policy(mdp, pol.probabilities(theta)).value


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_policy_gradient_matches_finite_differences_of_the_value(seed):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, gamma=0.8)
    for pol, theta in policies_for(mdp, rng):
        ev = policy.evaluate_policy(mdp, pol.probabilities(theta))
        exact = policy.policy_gradient(pol, theta, ev, mdp.gamma)
        numeric = fd_gradient(lambda t: value(mdp, pol, t), theta)
        assert np.allclose(exact, numeric, rtol=1e-6, atol=1e-9), type(pol).__name__


def test_scores_are_the_gradients_of_log_pi():
    rng = np.random.default_rng(2)
    mdp = random_mdp(rng)
    for pol, theta in policies_for(mdp, rng):
        matrix = pol.score_matrix(theta)
        numeric = fd_jacobian(lambda t: pol.log_probabilities(t).ravel(), theta)
        assert np.allclose(matrix.reshape(-1, pol.n_params), numeric, atol=1e-8)
        states, actions = rng.integers(0, mdp.n_states, 9), rng.integers(0, mdp.n_actions, 9)
        assert np.allclose(pol.scores(theta, states, actions), matrix[states, actions],
                           atol=1e-15)


def test_tabular_exact_fisher_is_the_block_diagonal_softmax_fisher():
    # F = blockdiag_s d(s) (diag(pi_s) - pi_s pi_s^T), also via ngd's softmax-regression Fisher
    # kernel with one-hot state rows (class-major order k * S + s, ours s * A + a)
    rng = np.random.default_rng(3)
    mdp = random_mdp(rng, n_states=6, n_actions=3)
    pol = policy.SoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = 2 * rng.normal(size=pol.n_params)
    pi = pol.probabilities(theta)
    d = policy.evaluate_policy(mdp, pi).visitation
    F = policy.exact_fisher(pol, theta, d)
    blocks = np.zeros_like(F)
    for s in range(mdp.n_states):
        block = slice(s * 3, s * 3 + 3)
        blocks[block, block] = d[s] * (np.diag(pi[s]) - np.outer(pi[s], pi[s]))
    assert np.allclose(F, blocks, rtol=0, atol=1e-15)
    order = (np.arange(3)[None, :] * mdp.n_states + np.arange(mdp.n_states)[:, None]).ravel()
    kernel = ngd.kernels.softmax_fisher(np.eye(mdp.n_states), pi, d)[np.ix_(order, order)]
    assert np.allclose(F, kernel, rtol=0, atol=1e-15)


def test_log_linear_exact_fisher_is_minus_the_expected_hessian_of_log_pi():
    # F = E_{d, pi}[psi psi^T] = -grad^2_theta' E_{d, pi_theta}[log pi_theta'] at theta' = theta
    rng = np.random.default_rng(4)
    mdp = random_mdp(rng)
    pol = policy.LogLinearPolicy(rng.normal(size=(mdp.n_states, mdp.n_actions, 5)))
    theta = rng.normal(size=5)
    pi = pol.probabilities(theta)
    d = policy.evaluate_policy(mdp, pi).visitation
    F = policy.exact_fisher(pol, theta, d)
    weights = d[:, None] * pi

    def expected_score(t):   # gradient of E_{d, pi_theta}[log pi_t]
        return np.einsum("sa,sad->d", weights, pol.score_matrix(t))

    assert np.allclose(F, -fd_jacobian(expected_score, theta), atol=1e-8)
    assert np.allclose(F, F.T) and np.linalg.eigvalsh(F).min() > -1e-14


def test_sampled_gradient_fisher_and_visitation_converge_to_the_exact_ones():
    rng = np.random.default_rng(5)
    mdp = policy.chain(5, slip=0.1)
    pol = policy.SoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = rng.normal(size=pol.n_params)
    pi = pol.probabilities(theta)
    ev = policy.evaluate_policy(mdp, pi)
    batch = policy.sample_episodes(mdp, pi, 8000, np.random.default_rng(0))
    g = policy.policy_gradient(pol, theta, ev, mdp.gamma)
    g_hat = policy.reinforce_gradient(pol, theta, batch)
    assert np.abs(g_hat - g).max() < 0.08 * np.abs(g).max()
    F = policy.exact_fisher(pol, theta, ev.visitation)
    F_hat = policy.sampled_fisher(pol, theta, batch, n_threads=1)
    assert np.abs(F_hat - F).max() < 0.04 * np.abs(F).max()
    assert np.abs(policy.batch_visitation(batch, mdp.n_states) - ev.visitation).max() < 0.01


def test_sampled_fisher_is_the_kernels_empirical_fisher_when_every_visit_weighs_the_same():
    # gamma = 0: one step per episode, weights 1, F_hat = (1/T) Psi^T Psi
    mdp = policy.MDP(np.full((3, 2, 3), 1 / 3), np.eye(3)[:, :2], 0.0, np.ones(3) / 3)
    pol = policy.SoftmaxPolicy(3, 2)
    theta = np.array([0.3, -1.0, 2.0, 0.0, 0.5, 0.5])
    batch = policy.sample_episodes(mdp, pol.probabilities(theta), 50, np.random.default_rng(1))
    assert len(batch.states) == 50
    scores = pol.scores(theta, batch.states, batch.actions)
    assert np.allclose(policy.sampled_fisher(pol, theta, batch),
                       ngd.kernels.empirical_fisher(scores), rtol=0, atol=1e-15)


def test_natural_direction_is_the_compatible_function_approximation_on_shared_samples():
    # Kakade (2001): F_hat^+ g_hat fits the advantages by weighted least squares on the scores,
    # psi_t^T w ~ (M_w / M) (G_t - b(s_t)), M_w = sum of the weights, M the number of episodes
    rng = np.random.default_rng(6)
    mdp = policy.gridworld(3)
    pol = policy.SoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = rng.normal(size=pol.n_params)
    batch = policy.sample_episodes(mdp, pol.probabilities(theta), 40, rng)
    g_hat = policy.reinforce_gradient(pol, theta, batch)
    w = policy.natural_direction(policy.sampled_fisher(pol, theta, batch), g_hat, 0.0)
    scores = pol.scores(theta, batch.states, batch.actions)
    mass = np.bincount(batch.states, weights=batch.weights, minlength=mdp.n_states)
    totals = np.bincount(batch.states, weights=batch.weights * batch.returns,
                         minlength=mdp.n_states)
    advantage = (batch.returns - (totals / np.maximum(mass, 1e-300))[batch.states]) \
        * batch.weights.sum() / batch.n_episodes
    root = np.sqrt(batch.weights)
    lstsq = np.linalg.lstsq(scores * root[:, None], advantage * root, rcond=None)[0]
    assert np.allclose(scores @ w, scores @ lstsq, atol=1e-7 * np.abs(advantage).max())
