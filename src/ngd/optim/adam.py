"""Adam and RMSprop as diagonal natural-gradient descent, one epoch per iteration.

Per mini-batch gradient g, update t = 1, 2, ... (Kingma & Ba 2015):

    m <- beta1 m + (1 - beta1) g,    v <- beta2 v + (1 - beta2) g * g,
    theta <- theta - alpha mhat / (sqrt(vhat) + eps),
    mhat = m / (1 - beta1^t),  vhat = v / (1 - beta2^t)   (bias corrections).

RMSprop is the same step with beta1 = 0, beta2 = 0.9 and no bias correction. alpha is
``learning_rate`` (default 0.01), eps = 1e-8; rows are shuffled each epoch with a seeded generator.

The second moment v is an exponential moving average of g * g: a diagonal estimate of the
*empirical* Fisher, so Adam is diagonal-Fisher NGD, with three qualifiers (Kunstner et al.
2019): the empirical Fisher (observed labels) instead of the Fisher, squares of mini-batch
means instead of means of per-row squares, and the power 1/2 instead of 1. NGD with the exact
diagonal Fisher and power 1 is ``DiagonalStepper`` (``fisher="diagonal"``).
"""
import numpy as np

from ngd.kernels import adam_step
from ngd.optim._minibatch import check_count, check_learning_rate, epoch_batches
from ngd.optim.curvature import StepOutcome

VARIANTS = {"adam": dict(beta1=0.9, beta2=0.999, bias_correction=True),
            "rmsprop": dict(beta1=0.0, beta2=0.9, bias_correction=False)}


class AdamStepper:
    """One epoch of Adam (or RMSprop) per ``step``; the full loss after each epoch."""

    curvature = None

    def __init__(self, model, variant="adam", batch_size=256, learning_rate=None, seed=0,
                 eps=1e-8):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
        learning_rate = check_learning_rate(learning_rate)
        self.model = model
        self.settings = VARIANTS[variant]
        self.batch_size = min(check_count(batch_size, "batch_size"), model.n_samples)
        self.alpha = 1e-2 if learning_rate is None else learning_rate
        self.eps = float(eps)
        self.rng = np.random.default_rng(seed)
        self.m = np.zeros(model.n_params)
        self.v = np.zeros(model.n_params)     # EMA of g * g: the diagonal empirical Fisher
        self.t = 0

    def evaluate(self, theta):
        """Full-data loss and gradient (no curvature)."""
        return self.model.evaluate(theta)

    def step(self, theta, current):
        """Shuffle, then one Adam update (``ngd.kernels.adam_step``) per mini-batch."""
        theta = np.array(theta, dtype=np.float64)
        n_batches = 0
        for rows in epoch_batches(self.rng, self.model.n_samples, self.batch_size):
            grad = self.model.evaluate_rows(theta, rows).grad
            self.t += 1
            adam_step(theta, self.m, self.v, grad,
                      t=self.t if self.settings["bias_correction"] else 0, alpha=self.alpha,
                      beta1=self.settings["beta1"], beta2=self.settings["beta2"], eps=self.eps,
                      check_finite=False, n_threads=self.model.n_threads)
            n_batches += 1
        return StepOutcome(theta=theta, evaluation=self.evaluate(theta), step_size=self.alpha,
                           n_updates=n_batches)
