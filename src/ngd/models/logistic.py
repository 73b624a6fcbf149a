"""Logistic regression (binomial response, logit link) on the objective of DESIGN.md.

    L(theta) = (1/sum w) sum_i w_i nll_i + (l2/2) ||coef||^2,
    nll_i = log(1 + exp(eta_i)) - y_i eta_i,   eta_i = x_i . coef + intercept + offset_i.

theta is laid out as [coef (p values), intercept] (the intercept last, as in scikit-learn).
"""
import numpy as np
from scipy.special import expit

from ngd import _sparse
from ngd._kernels import fused as _fused
from ngd._kernels import sparse_fused as _sparse_fused
from ngd.models._common import Evaluation, SingleOutputModel
from ngd.models._linear import matvec, scaled_rows
from ngd.models.separation import binary_certificate, involved_columns, margin_witness

CURVATURES = ("exact", "empirical", "observed", "bohning")
BOHNING_WEIGHT = 0.25       # p (1 - p) <= 1/4: Boehning's bound on the logistic curvature
_KERNEL_KIND = {
    None: _fused.FISHER_KINDS["none"],
    "bohning": _fused.FISHER_KINDS["none"],
    "exact": _fused.FISHER_KINDS["exact"],
    "empirical": _fused.FISHER_KINDS["empirical"],
    # canonical link: the observed Hessian weight of the logit loss is p (1 - p) as well
    "observed": _fused.FISHER_KINDS["exact"],
}


class LogisticModel(SingleOutputModel):
    """Binomial-logit model; arrays are assumed validated (see ``ngd.api``)."""

    name = "logistic"
    family_name = "binomial"
    link_name = "logit"

    def __init__(self, X, y, sample_weight=None, offset=None, fit_intercept=True, l2=0.0,
                 n_threads=1):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.offset = offset
        self.fit_intercept = bool(fit_intercept)
        self.l2 = float(l2)
        self.n_threads = int(n_threads)
        self.n_samples, self.n_features = X.shape
        self.weight_sum = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        self.n_params = self.n_features + self.fit_intercept
        self.penalty_mask = np.arange(self.n_params) < self.n_features

    # --- parameters -------------------------------------------------------------------
    def initial_theta(self):
        """coef = 0, intercept = logit of the weighted mean response (the null-model MLE)."""
        theta = np.zeros(self.n_params)
        if self.fit_intercept:
            w = 1.0 if self.sample_weight is None else self.sample_weight
            ybar = float(np.sum(w * self.y) / self.weight_sum)
            ybar = min(max(ybar, 1e-10), 1 - 1e-10)
            theta[-1] = np.log(ybar / (1 - ybar))
        return theta

    def linear_predictor(self, theta, X=None, offset=None):
        """eta = X coef + intercept + offset."""
        coef, intercept = self.split(theta)
        X = self.X if X is None else X
        if _sparse.is_sparse(X):
            eta = matvec(X, coef, self.n_threads) + intercept
        else:
            eta = X @ coef.astype(X.dtype, copy=False) + intercept
        return eta if offset is None else eta + offset

    # --- one pass: loss, gradient, curvature weights ------------------------------------
    def evaluate(self, theta, curvature=None):
        """Loss, gradient and (if curvature is given) per-row weights v_i / sum w, in one
        pass over X."""
        return self._evaluate(theta, curvature, self.X, self.y, self.sample_weight,
                              self.offset, self.weight_sum)

    def evaluate_rows(self, theta, rows):
        """Loss and gradient of the objective restricted to ``rows`` (a mini-batch)."""
        w = None if self.sample_weight is None else self.sample_weight[rows]
        off = None if self.offset is None else self.offset[rows]
        w_sum = float(len(rows) if w is None else w.sum())
        return self._evaluate(theta, None, self.X[rows], self.y[rows], w, off, w_sum)

    def _evaluate(self, theta, curvature, X, y, w, offset, w_sum, resid_out=None):
        """resid_out (float64 (n,), dense X only): filled with r_i = w_i (p_i - y_i)."""
        if curvature not in _KERNEL_KIND:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        kind = _KERNEL_KIND[curvature]
        coef, intercept = self.split(theta)
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        raw_grad = np.empty(self.n_features + 1)
        weights = np.empty(X.shape[0]) if curvature not in (None, "bohning") else None
        if _sparse.is_sparse(X):
            loss_sum = self._sparse_pass(X, coef, intercept, y, w, offset, kind, raw_grad,
                                         weights)
        else:
            loss_sum = _fused._logistic_pass(X, coef, intercept, y, w, offset, kind, raw_grad,
                                             weights, self.n_threads, resid_out)
        loss = loss_sum / w_sum + 0.5 * self.l2 * float(coef @ coef)
        grad = raw_grad[:self.n_params] / w_sum
        grad[:self.n_features] += self.l2 * coef
        if weights is not None:
            weights /= w_sum
        elif curvature == "bohning":
            weights = np.full(X.shape[0], BOHNING_WEIGHT / w_sum) if w is None \
                else (BOHNING_WEIGHT / w_sum) * w
        return Evaluation(loss, grad, weights, curvature)

    def _sparse_pass(self, X, coef, intercept, y, w, offset, kind, raw_grad, weights):
        """``_logistic_pass`` for CSR X: the fused CSR kernel (one pass over the non-zeros,
        the dense kernel's row terms); returns the loss sum and fills raw_grad, weights."""
        return _sparse_fused._csr_logistic_pass(X.data, X.indices, X.indptr, X.shape[1], coef,
                                                float(intercept), y, w, offset, kind, raw_grad,
                                                weights, self.n_threads)

    # --- statistics ------------------------------------------------------------------
    def predict_proba(self, theta, X=None, offset=None):
        """p_i = 1 / (1 + exp(-eta_i))."""
        return expit(self.linear_predictor(theta, X, offset))

    def scores(self, theta):
        """Per-row log-likelihood scores s_i = (y_i - p_i) [x_i, 1], dense (n, n_params)."""
        r = self.y - self.predict_proba(theta, offset=self.offset)
        cols = [scaled_rows(self.X, r)]
        if self.fit_intercept:
            cols.append(r[:, None])
        return np.hstack(cols)

    def sample_response(self, theta, rng):
        """y ~ Bernoulli(p_i) under the model at theta."""
        return (rng.random(self.n_samples) < self.predict_proba(theta, offset=self.offset)
                ).astype(np.float64)

    def mean_kl(self, theta_old, theta_new):
        """(1/sum w) sum_i w_i KL(Bernoulli(p_i(theta_old)) || Bernoulli(p_i(theta_new)))."""
        eta0 = self.linear_predictor(theta_old, offset=self.offset)
        eta1 = self.linear_predictor(theta_new, offset=self.offset)
        p0 = expit(eta0)
        # KL = p0 (eta0 - eta1) + log(1 + e^eta1) - log(1 + e^eta0)
        kl = p0 * (eta0 - eta1) + np.logaddexp(0, eta1) - np.logaddexp(0, eta0)
        w = 1.0 if self.sample_weight is None else self.sample_weight
        return float(np.sum(w * kl) / self.weight_sum)

    def separation(self, delta):
        """(rows, columns) if moving along delta separates the classes (no MLE), else None."""
        if self.l2 > 0:
            return None
        w = np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight
        if margin_witness(self.X, self.y, delta, self.fit_intercept, w):
            return None
        rows = binary_certificate(self.X, self.y, delta, self.fit_intercept, w)
        if rows is None:
            return None
        return rows, involved_columns(self.X, delta[:self.n_features])

    def as_glm(self):
        """The same model as a binomial-logit :class:`ngd.models.GLM` (for statistics)."""
        from ngd.models.glm import GLM
        return GLM(self.X, self.y, "binomial", "logit", sample_weight=self.sample_weight,
                   offset=self.offset, fit_intercept=self.fit_intercept, l2=self.l2,
                   n_threads=self.n_threads)

    def gradient_lipschitz(self):
        """Upper bound on the curvature of L: lambda_max of (1/4) [X, 1]^T W [X, 1] / sum w + l2."""
        w = np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight
        bound = self.curvature_matrix(0.25 * w / self.weight_sum)
        return float(np.linalg.eigvalsh(bound)[-1])
