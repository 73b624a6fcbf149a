"""Pieces shared by the models: the Gram of [X, 1] and the curvature accessors."""
import numpy as np

from ngd.kernels import weighted_gram


def augmented_gram(X, v, fit_intercept, n_threads):
    """[X, 1]^T diag(v) [X, 1] (X^T diag(v) X without an intercept), float64."""
    return weighted_gram(X, np.ascontiguousarray(v), intercept=fit_intercept,
                         n_threads=n_threads, check_finite=False)   # X validated by ngd.fit


class SingleOutputModel:
    """Loss, gradient and curvature accessors of a model with theta = [coef, intercept] and
    per-row curvature weights (subclasses define ``evaluate``)."""

    def split(self, theta):
        """(coef, intercept) from theta = [coef, intercept]."""
        return theta[:self.n_features], (float(theta[-1]) if self.fit_intercept else 0.0)

    def loss(self, theta):
        """L(theta)."""
        return self.evaluate(theta).loss

    def gradient(self, theta):
        """grad L(theta)."""
        return self.evaluate(theta).grad

    def curvature_matrix(self, weights):
        """[X, 1]^T diag(weights) [X, 1] + l2 on the coef diagonal (intercept unpenalised)."""
        out = augmented_gram(self.X, weights, self.fit_intercept, self.n_threads)
        p = self.n_features
        out[np.arange(p), np.arange(p)] += self.l2
        return out

    def exact_fisher(self, theta):
        """Exact (expected) Fisher of the objective, (1/sum w) sum_i w_i W_i x~_i x~_i^T."""
        return self.curvature_matrix(self.evaluate(theta, "exact").weights)

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T with s_i the per-row gradient (+ l2 on coef)."""
        return self.curvature_matrix(self.evaluate(theta, "empirical").weights)

    def hessian(self, theta):
        """Observed Hessian of L (equal to the exact Fisher for canonical links)."""
        return self.curvature_matrix(self.evaluate(theta, "observed").weights)
