"""Estimated time and memory of one curvature solve, for each solver, from the problem's shape.

A problem is summarised (:func:`problem_shape`) by its curvature rows n (the subsample when the
curvature is subsampled), columns p, outputs K (softmax classes, else 1), parameters P, stored
entries per row z (p for dense X), the ridge mu = l2 + damping and the item size of X (a
float32 dense X halves the memory-bound passes). Per iteration of the fit
(:func:`ngd.fisher.choice.solver_costs`):

- cholesky: the Gram, K(K+1)/2 blocks of n p^2 (dense) or sum_i z_i^2 (CSR) multiply-adds,
  and the factor, P^3 / 3; memory 16 P^2 bytes (the matrix and its factor);
- woodbury (single output, exact or empirical curvature): the n x n factor n^3 / 3, about
  WOODBURY_SQUARE_PASSES n^2 memory-bound element operations (scaling, shift, copy) and two
  passes over X, plus X X^T (n^2 p dense, sum_j c_j^2 CSR with c_j the column counts) formed
  once per fit and amortised over AMORTISED_ITERATIONS; memory 32 n^2 bytes;
- cg: (CG iterations) x (two passes over X, 4 n z K flops) plus a Python overhead per
  iteration; memory O(P + n K).

CG iterations per solve (inexact Newton: the forcing term ends most solves early):
CG_BASE + CG_SLOPE sqrt(kappa), at most CG_MAX and the curvature's rank + 1, with kappa an
estimate of the Jacobi-preconditioned condition number: the Marchenko-Pastur spread
((1 + r) / (1 - r))^2 of X^T X's non-zero eigenvalues, r = sqrt(min(n, p) / max(n, p)) (the
null space of a wide X is not reached: gradients lie in the row space), capped by the ridge
bound 1 + (1 + sqrt(p / n))^2 d / mu (the largest Marchenko-Pastur eigenvalue in units of d) with
d = WEIGHT_SCALE x (mean squared stored entry) x z / p, the typical diagonal of the curvature.
Constants were fitted to the CG counts of logistic fits on AR(1)-correlated dense X (5000 x 1000,
2000 x 3000, 1500 x 2000; l2 = 1e-5 and 1e-2: 15 to 43 a solve, fewer at the larger l2).

Rates: measured on the development machine (AMD EPYC, 2 cores shared with other jobs, 32 MB L3,
OpenBLAS, one thread, float64 X, December 2026), best of 5 timings: ngd.kernels.weighted_gram
(1500 x 2000 and 20000 x 1000: 3.2e10 and 3.8e10 multiply-adds/s, 1.7e10 at 3000 x 600),
damped_cholesky and scipy's cho_factor (p = 1000, 2000: 3e10 flop/s), fisher_vector counting
4 n z flops (dense 20000 x 1000: 4.6e9, 1500 x 2000: 5.3e9; CSR 2e4 x 2e3 and 1e5 x 1e4: 2.5e9
to 4.2e9), ngd._sparse.weighted_gram (2000 x 10000 and 20000 x 2000: 4.7e-8 s per entry of its
p x p output, 100000 x 10000: 1.8e-8) and _sparse.kernel_matrix (2000 rows of text-like CSR:
2.5e-8 s per entry of X X^T). Under load every rate drops (by 2 to 10 with threads oversubscribed);
only their ratios decide.
"""
import math
import os
from dataclasses import dataclass, replace

import numpy as np

from ngd import _sparse

GRAM_RATE = 3.0e10             # dense Gram / X X^T multiply-adds per second (BLAS-3)
CHOLESKY_RATE = 3.0e10         # Cholesky flops per second (p^3 / 3 for p x p)
DENSE_PASS_RATE = 5.0e9        # flops per second of a dense X u or X^T r (2 per entry)
SPARSE_PASS_RATE = 3.0e9       # flops per second of a CSR X u or X^T r (2 per stored entry)
SPARSE_GRAM_RATE = 1.0e9       # CSR Gram / X X^T multiply-adds per second (scattered)
SPARSE_GRAM_ENTRY = 3e-8       # seconds per entry of the dense P x P output of the CSR Gram
SPARSE_KERNEL_ENTRY = 2.5e-8   # seconds per entry of a CSR X X^T (a sparse product, densified)
SQUARE_RATE = 1.0e9            # memory-bound element operations per second on n x n arrays
WOODBURY_SQUARE_PASSES = 8     # n^2 element operations of a Woodbury solve besides the factor
AMORTISED_ITERATIONS = 10      # iterations that share Woodbury's X X^T
SOLVE_OVERHEAD = 2e-4          # seconds of Python work per solve
CG_ITERATION_OVERHEAD = 3e-5   # seconds of Python work per CG iteration
CG_BASE, CG_SLOPE, CG_MAX = 20.0, 2.0, 300
WEIGHT_SCALE = 0.25            # typical curvature weight (the logistic bound p (1 - p) <= 1/4)
SAMPLE_ROWS = 1000             # rows of a dense X read to estimate its mean squared entry
FALLBACK_MEMORY = 8 * 2 ** 30  # bytes assumed when the physical memory cannot be read


@dataclass(frozen=True)
class ProblemShape:
    """What the estimates need: rows (curvature rows), columns p, outputs K, params P,
    entries_per_row z, row_square (mean z_i^2), column_square (sum_j c_j^2 per row^2, for
    X X^T), mean_square (mean squared stored entry), sparse, mu (l2 + damping), itemsize."""

    rows: int
    columns: int
    outputs: int
    params: int
    entries_per_row: float
    row_square: float
    column_square: float
    mean_square: float
    sparse: bool
    mu: float
    itemsize: int = 8


@dataclass(frozen=True)
class Cost:
    """Estimated seconds per fit iteration and peak bytes of one solver."""

    seconds: float
    bytes: float

    def as_dict(self):
        """{"seconds": ..., "bytes": ...} as plain floats."""
        return {"seconds": float(self.seconds), "bytes": float(self.bytes)}


def problem_shape(model, n_rows, damping=0.0):
    """The :class:`ProblemShape` of ``model`` with ``n_rows`` curvature rows: the row counts
    of a CSR X in O(n), its squared column counts estimated from SAMPLE_ROWS^2 evenly spaced
    stored entries; the mean squared entry from at most SAMPLE_ROWS
    rows of a dense X (every k-th column of them when that is over SAMPLE_ROWS^2 entries), or
    SAMPLE_ROWS^2 evenly spaced stored entries of a CSR X."""
    X = getattr(model, "X", None)
    n, p = model.n_samples, model.n_features
    outputs = int(getattr(model, "n_classes", 1) or 1)
    mu = float(model.l2) + float(damping)
    itemsize = int(getattr(getattr(X, "dtype", None), "itemsize", 8))
    common = dict(rows=int(n_rows), columns=p, outputs=outputs, params=int(model.n_params),
                  mu=mu, itemsize=itemsize)
    if _sparse.is_sparse(X):
        z = np.diff(X.indptr).astype(float)
        step = max(1, X.nnz // (SAMPLE_ROWS * SAMPLE_ROWS))
        data = X.data[::step]
        mean_square = float(np.mean(np.square(data, dtype=float))) if data.size else 0.0
        return ProblemShape(entries_per_row=float(z.mean()), row_square=float(z @ z) / n,
                            column_square=_column_square(X.indices, p, step) / (n * n),
                            mean_square=mean_square, sparse=True, **common)
    mean_square = 1.0
    if isinstance(X, np.ndarray) and X.size:
        sample = X[::max(1, n // SAMPLE_ROWS)]
        sample = sample[:, ::max(1, sample.size // (SAMPLE_ROWS * SAMPLE_ROWS))]
        mean_square = float(np.mean(np.square(sample, dtype=float)))
    return ProblemShape(entries_per_row=float(p), row_square=float(p) ** 2,
                        column_square=float(p), mean_square=mean_square, sparse=False, **common)


def _column_square(indices, p, step):
    """sum_j c_j^2 of the column counts c_j, estimated from every step-th stored entry:
    with sampled counts s_j at rate f = 1/step, E[s_j^2 - (1 - f) s_j] = f^2 c_j^2 (exact
    for step 1)."""
    sampled = np.bincount(indices[::step], minlength=p).astype(float)
    f = 1.0 / step
    return max(float(sampled @ sampled - (1.0 - f) * sampled.sum()), 0.0) / (f * f)


def memory_budget():
    """Bytes a solver may use: half the physical memory (FALLBACK_MEMORY when unknown)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = FALLBACK_MEMORY
    return 0.5 * (total if total > 0 else FALLBACK_MEMORY)


def _pass_seconds(shape, passes):
    """Seconds of ``passes`` passes over the curvature rows of X (2 flops per entry each),
    times the outputs; memory bound: a dense float32 X at twice the float64 rate."""
    rate = SPARSE_PASS_RATE if shape.sparse else DENSE_PASS_RATE * 8.0 / shape.itemsize
    return passes * 2.0 * shape.rows * shape.entries_per_row * shape.outputs / rate


def cholesky_cost(shape):
    """Gram plus factor (see the module docstring)."""
    K = shape.outputs
    blocks = K * (K + 1) / 2
    if shape.sparse:
        gram = blocks * shape.rows * shape.row_square / 2.0 / SPARSE_GRAM_RATE \
            + SPARSE_GRAM_ENTRY * shape.params ** 2
    else:
        gram = blocks * shape.rows * shape.columns ** 2 / GRAM_RATE
    factor = shape.params ** 3 / 3.0 / CHOLESKY_RATE
    return Cost(gram + factor + SOLVE_OVERHEAD, 16.0 * shape.params ** 2)


def woodbury_cost(shape):
    """n x n factor, memory-bound n^2 work, two passes, amortised X X^T."""
    n = shape.rows
    if shape.sparse:
        kernel = n * n * shape.column_square / SPARSE_GRAM_RATE + SPARSE_KERNEL_ENTRY * n * n
    else:
        kernel = n * n * shape.columns / GRAM_RATE
    seconds = n ** 3 / 3.0 / CHOLESKY_RATE + WOODBURY_SQUARE_PASSES * n * n / SQUARE_RATE \
        + _pass_seconds(shape, 2) + kernel / AMORTISED_ITERATIONS + SOLVE_OVERHEAD
    return Cost(seconds, 32.0 * n * n)


def cg_iterations(shape):
    """Estimated CG iterations of one solve (see the module docstring)."""
    n, p = shape.rows, shape.columns
    r = math.sqrt(min(n, p) / max(n, p, 1))
    spread = math.inf if r >= 1 else ((1 + r) / (1 - r)) ** 2
    diagonal = WEIGHT_SCALE * shape.mean_square * shape.entries_per_row / max(p, 1)
    top = (1 + math.sqrt(p / max(n, 1))) ** 2
    ridge = 1 + top * diagonal / shape.mu if shape.mu > 0 else math.inf
    kappa = min(spread, ridge)
    rank = min(n * shape.outputs, shape.params) + 1
    estimate = CG_BASE + CG_SLOPE * math.sqrt(kappa) if math.isfinite(kappa) else CG_MAX
    return float(min(estimate, CG_MAX, rank))


def cg_cost(shape):
    """CG iterations times (two passes over X plus the per-iteration overhead)."""
    iterations = cg_iterations(shape)
    seconds = iterations * (_pass_seconds(shape, 2) + CG_ITERATION_OVERHEAD) + SOLVE_OVERHEAD
    return Cost(seconds, 8.0 * (6 * shape.params + 2 * shape.rows * shape.outputs))


def rowspace_setup_seconds(shape):
    """The one-time work of ngd.rowspace's basis: X X^T (n^2 p dense multiply-adds) and its
    pivoted Cholesky factor (n^3 / 3)."""
    n = shape.rows
    return n * n * shape.columns / GRAM_RATE + n ** 3 / 3.0 / CHOLESKY_RATE


def rowspace_costs(shape, rank):
    """{"woodbury", "cg"}: per-iteration estimates of the two solves of a fit in the row-space
    basis of ngd.rowspace, on the n x rank design R, with K = R R^T already formed: Woodbury
    pays its n^3 / 3 factor and its n^2 work but no X X^T; CG's iterations are estimated from
    X's shape (R = X Q has X's singular values, so X's aspect ratio sets the conditioning),
    each two passes over R."""
    n = shape.rows
    reduced = replace(shape, columns=rank, entries_per_row=float(rank),
                      params=rank + shape.params - shape.columns)
    passes = _pass_seconds(reduced, 2)
    woodbury = n ** 3 / 3.0 / CHOLESKY_RATE + WOODBURY_SQUARE_PASSES * n * n / SQUARE_RATE \
        + passes + SOLVE_OVERHEAD
    cg = cg_iterations(shape) * (passes + CG_ITERATION_OVERHEAD) + SOLVE_OVERHEAD
    return {"woodbury": Cost(woodbury, 32.0 * n * n),
            "cg": Cost(cg, 8.0 * (6 * reduced.params + 2 * n))}


ESTIMATES = {"cholesky": cholesky_cost, "woodbury": woodbury_cost, "cg": cg_cost}


def subsample_seconds(shape, rows, solvers):
    """Estimated seconds to converge, up to a factor common to every ``rows``, with the
    curvature on ``rows`` of the shape's rows: an iteration's gradient (two passes over all
    rows) plus the cheapest of ``solvers`` on ``rows``, over log(rows / P): each iteration
    contracts the error by about the subsampled curvature's relative error sqrt(P / rows),
    so the iterations needed go as 1 / log(sqrt(rows / P))."""
    on_rows = replace(shape, rows=int(rows))
    solve = min(ESTIMATES[name](on_rows).seconds for name in solvers)
    return (_pass_seconds(shape, 2) + solve) / math.log(rows / shape.params)
