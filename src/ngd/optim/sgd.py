"""Mini-batch SGD on the same objective, one epoch per iteration of the shared loop.

Schedule: lr_e = lr0 / (1 + e) in epoch e = 0, 1, ..., with lr0 = 1 / L and L the bound
lambda_max((1/4) [X, 1]^T W [X, 1] / sum w) + l2 on the curvature of the logistic loss
(unless ``learning_rate`` is given). Rows are shuffled each epoch with a seeded generator.
"""
import numpy as np

from ngd.optim.curvature import StepOutcome


class SGDStepper:
    """One epoch of mini-batch SGD per ``step``; the full loss is evaluated after each epoch."""

    curvature = None

    def __init__(self, model, batch_size=256, learning_rate=None, seed=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if learning_rate is not None and not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
        self.model = model
        self.batch_size = int(min(batch_size, model.n_samples))
        self.lr0 = (1.0 / model.gradient_lipschitz() if learning_rate is None
                    else float(learning_rate))
        self.rng = np.random.default_rng(seed)
        self.epoch = 0

    def evaluate(self, theta):
        """Full-data loss and gradient (no curvature)."""
        return self.model.evaluate(theta)

    def step(self, theta, current):
        """Shuffle, then theta <- theta - lr_e * (mini-batch gradient) for every batch."""
        lr = self.lr0 / (1.0 + self.epoch)
        order = self.rng.permutation(self.model.n_samples)
        theta = theta.copy()
        n_batches = 0
        for start in range(0, len(order), self.batch_size):
            rows = np.sort(order[start:start + self.batch_size])
            grad = self.model.evaluate_rows(theta, rows).grad
            theta -= lr * grad
            n_batches += 1
        self.epoch += 1
        return StepOutcome(theta=theta, evaluation=self.evaluate(theta), step_size=lr,
                           n_updates=n_batches)
