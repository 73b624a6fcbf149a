"""Softmax policies on a finite MDP: tabular and log-linear (features).

Both give log pi(a|s) and pi(a|s) as (S, A) arrays, and the scores psi(s, a) =
grad_theta log pi(a|s), for every state-action pair (``score_matrix``, (S, A, d)) or for
sampled pairs (``scores``, (T, d)). theta is a flat float64 vector of length ``n_params``.
"""
import numpy as np


class _Softmax:
    """pi(.|s) = softmax(logits(theta)[s]); subclasses define ``logits`` and the scores."""

    def log_probabilities(self, theta):
        """log pi(a|s) = l(s, a) - log sum_b exp l(s, b), shifted by the row maximum."""
        logits = self.logits(self.check_theta(theta))
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def probabilities(self, theta):
        return np.exp(self.log_probabilities(theta))

    def check_theta(self, theta):
        """theta as a float64 vector of length n_params (ValueError otherwise)."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        return theta


class SoftmaxPolicy(_Softmax):
    """Tabular softmax: pi(a|s) = exp(theta[s, a]) / sum_b exp(theta[s, b]), theta stored flat
    with index s * A + a. Score: d log pi(a|s) / d theta[s', b] = 1{s' = s} (1{b = a} - pi(b|s))."""

    def __init__(self, n_states, n_actions):
        self.n_states, self.n_actions = int(n_states), int(n_actions)
        self.n_params = self.n_states * self.n_actions

    def logits(self, theta):
        return theta.reshape(self.n_states, self.n_actions)

    def score_matrix(self, theta):
        S, A = self.n_states, self.n_actions
        pi = self.probabilities(theta)
        out = np.zeros((S, A, S, A))
        idx = np.arange(S)
        out[idx, :, idx, :] = np.eye(A) - pi[:, None, :]
        return out.reshape(S, A, S * A)

    def scores(self, theta, states, actions):
        pi = self.probabilities(theta)
        rows = np.arange(len(states))
        out = np.zeros((len(states), self.n_states, self.n_actions))
        out[rows, states] = -pi[states]
        out[rows, states, actions] += 1.0
        return out.reshape(len(states), self.n_params)


class LogLinearPolicy(_Softmax):
    """Log-linear: pi(a|s) = exp(theta^T phi(s, a)) / sum_b exp(theta^T phi(s, b)) for features
    phi (S, A, d). Score: phi(s, a) - sum_b pi(b|s) phi(s, b)."""

    def __init__(self, features):
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 3 or min(features.shape) < 1:
            raise ValueError(f"features must have shape (S, A, d), got {features.shape}")
        if not np.isfinite(features).all():
            raise ValueError("features has non-finite values")
        self.features = features
        self.n_states, self.n_actions, self.n_params = features.shape

    def logits(self, theta):
        return self.features @ theta

    def score_matrix(self, theta):
        pi = self.probabilities(theta)
        return self.features - np.einsum("sb,sbd->sd", pi, self.features)[:, None, :]

    def scores(self, theta, states, actions):
        pi = self.probabilities(theta)
        return (self.features[states, actions]
                - np.einsum("tb,tbd->td", pi[states], self.features[states]))


def mean_kl(visitation, log_p, log_q):
    """sum_s d(s) KL(p(.|s) || q(.|s)) = sum_s d(s) sum_a p(a|s) (log p(a|s) - log q(a|s))."""
    return float(visitation @ (np.exp(log_p) * (log_p - log_q)).sum(axis=1))
