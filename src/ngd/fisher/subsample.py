"""Subsampled curvature (Byrd, Chin, Neveitt, Nocedal 2011): the Fisher on m of the n rows,
the gradient on all of them, so the fixed point -- the optimum -- does not change.

Size: the subsampled Fisher's relative error is about sqrt(P / m) (P parameters), so near the
optimum each step contracts the error by about that factor, while the curvature costs m / n of
the full one. ``auto_subsample_size`` subsamples when n >= 4 m0, m0 = max(SUBSAMPLE_MIN_ROWS,
16 P), and takes the m among m0, 2 m0, 4 m0 (at most n / 4) with the least estimated time to
converge (``ngd.fisher.cost.subsample_seconds``: a full gradient pass plus the cheapest solve
on m rows per iteration, over log(m / P)), for single-output models; a softmax keeps m0 (its
pass is one GEMM over X, which the per-output pass estimate overstates, so the estimate would
take m too large: 80 000 rows made softmax 1e6 x 20, K = 5, 16 % slower). On the 4e5 x 60 GLMs
of the benchmark that is 4 m0 = 40 000 rows (Tweedie-1.8: 5 iterations instead of 7,
163 ms instead of 191-199 ms).
Adaptation: when a step had to be shortened (alpha < 1) or the squared Newton decrement fell
by less than GROWTH_RATIO since the previous iteration, convergence is not fast and m doubles
(a fresh seeded draw); once m > n / 4 the full data are used from then on, so the rows'
copy of X never exceeds a quarter of X.
"""
import numpy as np

from ngd.fisher.choice import solver_names
from ngd.fisher.cost import ESTIMATES, problem_shape, subsample_seconds
from ngd.models import RowSample

SUBSAMPLE_MIN_ROWS = 10_000
ROWS_PER_PARAMETER = 16
GROWTH_RATIO = 0.1
AUTO_DOUBLINGS = 2          # the cost-chosen m is at most 4 m0: with few parameters the Gram is
                            # so cheap that the estimate would take n / 4 rows, a copy of a
                            # quarter of X for a rate that stopped mattering


def auto_subsample_size(model, curvature="exact"):
    """m for ``subsample="auto"`` (see the module docstring), or None when n < 4 m0 and the
    full data are used."""
    n = model.n_samples
    smallest = max(SUBSAMPLE_MIN_ROWS, ROWS_PER_PARAMETER * model.n_params)
    if n < 4 * smallest:
        return None
    sizes = [smallest]
    while 4 * 2 * sizes[-1] <= n and len(sizes) <= AUTO_DOUBLINGS:
        sizes.append(2 * sizes[-1])
    if len(sizes) == 1 or int(getattr(model, "n_classes", 1) or 1) > 1:
        return smallest
    shape = problem_shape(model, n)
    names = [name for name in solver_names(model, curvature) if name in ESTIMATES] \
        or ["cholesky"]
    return min(sizes, key=lambda m: subsample_seconds(shape, m, names))


class RowSubsample:
    """The rows the curvature is estimated on, grown when convergence slows."""

    def __init__(self, model, size, seed=0):
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.rows = None
        self._previous = None
        self._draw(size)

    @property
    def size(self):
        """Rows in use (n when the full data are used)."""
        return self.model.n_samples if self.rows is None else self.rows.size

    def _draw(self, size):
        """A seeded draw of ``size`` rows among those with positive weight (zero-weight rows
        carry no curvature), or all rows when that is more than a quarter of them."""
        w = self.model.sample_weight
        candidates = np.arange(self.model.n_samples) if w is None else np.flatnonzero(w > 0)
        if size is None or 4 * size > candidates.size:
            self.rows = None
            return
        self.rows = RowSample(self.model, self.rng.choice(candidates, size=size, replace=False))

    def update(self, decrement, full_step):
        """Record the squared Newton decrement of this iteration; double the sample after a
        shortened step or when the decrement fell by less than GROWTH_RATIO. Returns True if
        it grew."""
        previous, self._previous = self._previous, decrement
        if self.rows is None:
            return False
        if not full_step or (previous is not None and decrement > GROWTH_RATIO * previous):
            self._draw(2 * self.rows.size)
            self._previous = None
            return True
        return False
