"""Stochastic quasi-Newton (SQN; Byrd, Hansen, Nocedal, Singer 2016), one epoch per iteration.

Update k = 1, 2, ... (a mini-batch S of b rows, gradient g_S):  theta <- theta - (beta / k) H g_S,
with H = I / Lg (Lg = ``model.gradient_lipschitz()``, so beta is dimensionless) until the first
curvature pair, then the L-BFGS inverse-Hessian approximation of the last M pairs (two-loop
recursion, initial matrix (s^T y / y^T y) I). Every L updates, the average wbar_t of the last
L iterates gives the pair

    s_t = wbar_t - wbar_{t-1},    y_t = H_{S_H}(wbar_t) s_t,

H_{S_H} the Hessian of the objective on a fresh sample S_H of b_H rows (the Fisher for canonical
links), its product with s_t taken as a central difference of the b_H-row gradient (error
O(h^2)). A pair with s^T y <= 1e-8 |s| |y| is skipped. M = 0 keeps no pairs: SGD with the same
steps. ``accessed`` counts the data points read: b per update plus b_H per pair (the paper's
"accessed data points").
"""
from collections import deque

import numpy as np

from ngd.optim._minibatch import check_count, check_learning_rate, epoch_batches
from ngd.optim.curvature import StepOutcome

CURVATURE_EPS = 1e-8
_FD_SCALE = np.finfo(float).eps ** (1 / 3)    # central-difference step relative to theta


def two_loop(grad, pairs):
    """H grad for the L-BFGS matrix H of ``pairs`` [(s, y, 1 / s^T y), ...], oldest first."""
    q = grad.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    s, y, _ = pairs[-1]
    q *= float(s @ y) / float(y @ y)
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        q += (alpha - rho * float(y @ q)) * s
    return q


class SQNStepper:
    """One epoch of SQN per ``step`` (b = batch_size, b_H = hessian_batch_size, default 6 b as
    the paper's 300 / 50, L = update_interval, M = memory, beta = learning_rate); the full loss
    after each epoch."""

    curvature = None

    def __init__(self, model, batch_size=50, hessian_batch_size=None, update_interval=20,
                 memory=10, learning_rate=None, seed=0):
        learning_rate = check_learning_rate(learning_rate)
        self.model = model
        self.batch_size = min(check_count(batch_size, "batch_size", 1), model.n_samples)
        b_h = 6 * self.batch_size if hessian_batch_size is None else hessian_batch_size
        self.hessian_batch_size = min(check_count(b_h, "hessian_batch_size", 1), model.n_samples)
        self.update_interval = check_count(update_interval, "update_interval", 1)
        self.pairs = deque(maxlen=check_count(memory, "memory", 0))
        self.beta = 1.0 if learning_rate is None else learning_rate
        self.initial_scale = 1.0 / model.gradient_lipschitz()
        self.rng = np.random.default_rng(seed)
        self.k = 0                     # updates so far
        self.accessed = 0
        self.n_pairs = 0               # pairs computed (accepted or skipped)
        self._sum = None               # sum of the iterates since the last pair point
        self._previous = None          # wbar_{t-1}

    def evaluate(self, theta):
        """Full-data loss and gradient (no curvature)."""
        return self.model.evaluate(theta)

    def step(self, theta, current):
        """Shuffle, then one SQN update per mini-batch (curvature pairs every L updates)."""
        theta = theta.copy()
        n_batches = 0
        for rows in epoch_batches(self.rng, self.model.n_samples, self.batch_size):
            grad = self.model.evaluate_rows(theta, rows).grad
            self.accessed += len(rows)
            self.k += 1
            self._sum = theta.copy() if self._sum is None else self._sum + theta
            direction = (two_loop(grad, self.pairs) if self.pairs
                         else self.initial_scale * grad)
            theta -= (self.beta / self.k) * direction
            n_batches += 1
            if self.k % self.update_interval == 0:
                self._new_pair(self._sum / self.update_interval)
                self._sum = None
        return StepOutcome(theta=theta, evaluation=self.evaluate(theta),
                           step_size=self.beta / self.k, n_updates=n_batches)

    def _new_pair(self, average):
        """Store (s, y) from the new average iterate (the first average only starts the chain)."""
        previous, self._previous = self._previous, average
        if previous is None or self.pairs.maxlen == 0:
            return
        s = average - previous
        rows = np.sort(self.rng.choice(self.model.n_samples, self.hessian_batch_size,
                                       replace=False))
        y = self.hessian_vector(average, s, rows)
        self.accessed += len(rows)
        self.n_pairs += 1
        sy = float(s @ y)
        if sy > CURVATURE_EPS * float(np.linalg.norm(s) * np.linalg.norm(y)):
            self.pairs.append((s, y, 1.0 / sy))

    def hessian_vector(self, theta, s, rows):
        """(g_S(theta + h s) - g_S(theta - h s)) / (2 h): the ``rows``-Hessian times s."""
        size = float(np.max(np.abs(s)))
        if size == 0:
            return np.zeros_like(s)
        h = _FD_SCALE * (1.0 + float(np.max(np.abs(theta)))) / size
        plus = self.model.evaluate_rows(theta + h * s, rows).grad
        minus = self.model.evaluate_rows(theta - h * s, rows).grad
        return (plus - minus) / (2.0 * h)
