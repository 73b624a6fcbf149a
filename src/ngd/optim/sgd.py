"""Mini-batch SGD on the same objective, one epoch per iteration of the shared loop.

Schedule: lr_e = lr0 / (1 + e) in epoch e = 0, 1, ..., with lr0 = 1 / L and L the bound
lambda_max((1/4) [X, 1]^T W [X, 1] / sum w) + l2 on the curvature of the logistic loss
(unless ``learning_rate`` is given). Rows are shuffled each epoch with a seeded generator.
"""
import numpy as np

from ngd.optim._minibatch import check_count, check_learning_rate, epoch_batches
from ngd.optim.curvature import StepOutcome


class SGDStepper:
    """One epoch of mini-batch SGD per ``step``; the full loss is evaluated after each epoch."""

    curvature = None

    def __init__(self, model, batch_size=256, learning_rate=None, seed=0):
        learning_rate = check_learning_rate(learning_rate)
        self.model = model
        self.batch_size = min(check_count(batch_size, "batch_size"), model.n_samples)
        self.lr0 = 1.0 / model.gradient_lipschitz() if learning_rate is None else learning_rate
        self.rng = np.random.default_rng(seed)
        self.epoch = 0

    def evaluate(self, theta):
        """Full-data loss and gradient (no curvature)."""
        return self.model.evaluate(theta)

    def step(self, theta, current):
        """Shuffle, then theta <- theta - lr_e * (mini-batch gradient) for every batch."""
        lr = self.lr0 / (1.0 + self.epoch)
        theta = theta.copy()
        n_batches = 0
        for rows in epoch_batches(self.rng, self.model.n_samples, self.batch_size):
            grad = self.model.evaluate_rows(theta, rows).grad
            theta -= lr * grad
            n_batches += 1
        self.epoch += 1
        return StepOutcome(theta=theta, evaluation=self.evaluate(theta), step_size=lr,
                           n_updates=n_batches)
