"""Pieces shared by the models: the Evaluation record of one pass, the Gram of [X, 1], row subsamples and the curvature
accessors (matrix, matrix-vector product, diagonal). X is a dense array or a CSR matrix
validated by ``ngd.fit``; CSR goes through the sparse kernels."""
import copy
from dataclasses import dataclass

import numpy as np

from ngd import _sparse
from ngd.kernels import fisher_diagonal, fisher_vector, weighted_gram


@dataclass
class Evaluation:
    """Objective value, gradient and per-row curvature weights at one theta."""

    loss: float
    grad: np.ndarray
    weights: np.ndarray | None
    curvature: str | None

    @property
    def grad_norm(self):
        """max_j |grad_j|."""
        return float(np.max(np.abs(self.grad)))


def augmented_gram(X, v, fit_intercept, n_threads):
    """[X, 1]^T diag(v) [X, 1] (X^T diag(v) X without an intercept), float64."""
    if _sparse.is_sparse(X):
        return _sparse.weighted_gram(X, v, fit_intercept, n_threads)
    return weighted_gram(X, np.ascontiguousarray(v), intercept=fit_intercept,
                         n_threads=n_threads, check_finite=False)   # X validated by ngd.fit


class RowSample:
    """A fixed subset of a model's rows for a subsampled curvature: the rows' copy of X and
    the factor scale = sum_i w_i / sum_{i in rows} w_i that turns the rows' sum of weights
    v_i (which carry 1 / sum w) into an estimate of the full sum; ``scale`` given: that factor
    (1: the rows' plain sum, for callers that normalise themselves)."""

    def __init__(self, model, index, scale=None):
        self.index = np.sort(np.asarray(index, dtype=np.intp))
        self.X = model.X[self.index] if _sparse.is_sparse(model.X) else \
            np.ascontiguousarray(model.X[self.index])
        self.size = self.index.size
        if scale is not None:
            self.scale = float(scale)
            return
        w = model.sample_weight
        rows_sum = float(self.index.size if w is None else w[self.index].sum())
        if not rows_sum > 0:
            raise ValueError("a row subsample must contain rows with positive weight")
        self.scale = model.weight_sum / rows_sum


class EvaluatedModel:
    """What every single-output model derives from ``evaluate`` (loss, gradient, per-row
    curvature weights) and ``curvature_matrix``: theta = [coef, intercept] split, L, grad L,
    and the dense exact Fisher, empirical Fisher and observed Hessian."""

    def split(self, theta):
        """(coef, intercept) from theta = [coef, intercept]."""
        return theta[:self.n_features], (float(theta[-1]) if self.fit_intercept else 0.0)

    def loss(self, theta):
        """L(theta)."""
        return self.evaluate(theta).loss

    def gradient(self, theta):
        """grad L(theta)."""
        return self.evaluate(theta).grad

    def exact_fisher(self, theta):
        """Exact (expected) Fisher of the objective, (1/sum w) sum_i w_i W_i x~_i x~_i^T."""
        return self.curvature_matrix(self.evaluate(theta, "exact").weights)

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T with s_i the per-row gradient (+ l2 on coef)."""
        return self.curvature_matrix(self.evaluate(theta, "empirical").weights)

    def hessian(self, theta):
        """Observed Hessian of L (equal to the exact Fisher for canonical links)."""
        return self.curvature_matrix(self.evaluate(theta, "observed").weights)


class SingleOutputModel(EvaluatedModel):
    """Loss, gradient and curvature accessors of a model with theta = [coef, intercept] and
    per-row curvature weights (subclasses define ``evaluate``). Every curvature accessor takes
    the ``weights`` of an evaluation and optionally a :class:`RowSample` ``rows``: then the
    curvature is estimated from those rows alone."""

    def on_design(self, X):
        """The same model -- rows, response, weights, offset, ridge, intercept -- with the
        design X (n, q) in place of its own: theta = [coef (q,), intercept]."""
        if X.shape[0] != self.n_samples:
            raise ValueError(f"the design must have {self.n_samples} rows, got {X.shape[0]}")
        other = copy.copy(self)
        other.__dict__.pop("_last", None)       # a remembered evaluation on the old design
        other.X = X
        other.n_features = X.shape[1]
        other.n_params = other.n_features + other.fit_intercept
        other.penalty_mask = np.arange(other.n_params) < other.n_features
        return other

    def curvature_data(self, weights, rows=None):
        """(X, v) with curvature = [X, 1]^T diag(v) [X, 1] + l2 on the coef diagonal."""
        if rows is None:
            return self.X, np.ascontiguousarray(weights)
        return rows.X, weights[rows.index] * rows.scale

    def curvature_matrix(self, weights, rows=None):
        """[X, 1]^T diag(weights) [X, 1] + l2 on the coef diagonal (intercept unpenalised)."""
        X, v = self.curvature_data(weights, rows)
        out = augmented_gram(X, v, self.fit_intercept, self.n_threads)
        p = self.n_features
        out[np.arange(p), np.arange(p)] += self.l2
        return out

    def curvature_vector(self, weights, u, rows=None):
        """C u = [X, 1]^T (v * ([X, 1] u)) + l2 u on the coef, without forming C."""
        X, v = self.curvature_data(weights, rows)
        if _sparse.is_sparse(X):
            out = _sparse.fisher_vector(X, v, u, self.fit_intercept, self.n_threads)
        else:
            out = fisher_vector(X, v, u, intercept=self.fit_intercept,
                                n_threads=self.n_threads, check_finite=False)
        out[:self.n_features] += self.l2 * u[:self.n_features]
        return out

    def curvature_diagonal(self, weights, rows=None):
        """diag(C) = sum_i v_i x~_ij^2 + l2 on the coef."""
        X, v = self.curvature_data(weights, rows)
        if _sparse.is_sparse(X):
            out = _sparse.fisher_diagonal(X, v, self.fit_intercept, self.n_threads)
        else:
            out = fisher_diagonal(X, v, intercept=self.fit_intercept, n_threads=self.n_threads,
                                  check_finite=False)
        out[:self.n_features] += self.l2
        return out
