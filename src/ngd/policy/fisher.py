"""The policy Fisher information under the discounted state visitation, exact and sampled,
computed with ngd's weighted-Gram kernel (batched outer products of the scores)."""
import ngd.kernels


def exact_fisher(policy, theta, visitation, n_threads=None):
    """F = sum_s d(s) sum_a pi(a|s) psi(s, a) psi(s, a)^T with psi = grad log pi: the weighted
    Gram Psi^T diag(v) Psi of the (S A, d) score rows, v(s, a) = d(s) pi(a|s)."""
    scores = policy.score_matrix(theta)
    weights = visitation[:, None] * policy.probabilities(theta)
    return ngd.kernels.weighted_gram(scores.reshape(-1, scores.shape[2]), weights.ravel(),
                                     n_threads=n_threads)


def sampled_fisher(policy, theta, batch, n_threads=None):
    """F_hat = sum_t gamma^t psi_t psi_t^T / sum_t gamma^t over the visits (s_t, a_t) of a
    :class:`Batch` (actions drawn from pi itself, so this is a Monte-Carlo estimate of the exact
    F, not the data-label 'empirical' Fisher); with gamma = 0 it is empirical_fisher(Psi)."""
    scores = policy.scores(theta, batch.states, batch.actions)
    return ngd.kernels.weighted_gram(scores, batch.weights / batch.weights.sum(),
                                     n_threads=n_threads)
