"""Softmax (multinomial) regression with K classes.

    L = (1/sum w) sum_i w_i [logsumexp(eta_i) - eta_{i, y_i}] + (l2/2) ||W||^2,
    eta_i = W x_i + b  (W of shape (K, p), b of shape (K,); intercepts unpenalised).

The likelihood does not change when one vector is added to every class row, so the fit pins
that gauge, chosen by ``gauge=``: "symmetric" (the default when l2 > 0) lets the penalty pin W (the optimum has sum_k W_k = 0: the symmetric
parametrisation, as scikit-learn; an elastic net pins it likewise) and b is reported centred
(sum_k b_k = 0). "reference" (the default when l2 = 0): the first class is the reference (W_0 = 0, b_0 = 0, as statsmodels' MNLogit); its standard errors
are nan. The free parameters theta are the full vector [vec(W) (class-major), b] without the
pinned entries.

Curvatures: exact Fisher, block (k, l) = X~^T diag(w p_k (delta_kl - p_l)) X~ / sum w with
X~ = [X, 1] (equal to the Hessian: canonical link); empirical, block weights w r_k r_l with
r = p - onehot(y); "kfac": the Kronecker factorisation E[A] (x) E[x~ x~^T] with
A_i = diag(p_i) - p_i p_i^T, the expectations weighted by w.

X is dense or CSR (validated by ``ngd.fit``): CSR goes through the sparse kernels (logits
X W^T, gradient X^T R, the (k, l) blocks in one pass per group of class pairs, products and
diagonals as compositions of X B and X~^T R).
"""
import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp, softmax

from ngd import _sparse
from ngd.kernels import (multi_output_fisher_diagonal, multi_output_fisher_vector,
                         multi_output_gram, softmax_pass)
from ngd.models._common import Evaluation, augmented_gram
from ngd.models._linear import matvec, rmatvec
from ngd.models.separation import (_SLACK, _row_norms, involved_columns,
                                   multiclass_certificate)

CURVATURES = ("exact", "empirical", "observed", "kfac")
GAUGES = ("reference", "symmetric")


def _times(X, B, n_threads):
    """X B in float64 (n, K) for B (p, K)."""
    if _sparse.is_sparse(X):
        return _sparse.matmat(X, B, n_threads=n_threads)
    return matvec(X, B)


def _transpose_times(X, R, n_threads):
    """X^T R in float64 (p, K) for R (n, K)."""
    if _sparse.is_sparse(X):
        return _sparse.rmatvec(X, R, n_threads=n_threads)
    return rmatvec(X, R)


def _packed_row_weights(curvature, P, D, wn):
    """The upper triangles (k <= l, row by row) of the per-row K x K curvature weights V_i,
    (n, K(K+1)/2): exact w_i (delta_kl p_ik - p_ik p_il), empirical w_i r_ik r_il."""
    k, l = np.triu_indices(P.shape[1])
    if curvature == "empirical":
        return wn[:, None] * D[:, k] * D[:, l]
    return wn[:, None] * P[:, k] * ((k == l) - P[:, l])


def _apply_row_weights(curvature, P, D, wn, Z):
    """Rows V_i z_i (n, K): exact w_i p_i * (z_i - p_i . z_i), empirical w_i r_i (r_i . z_i)."""
    if curvature == "empirical":
        return (wn * np.einsum("ik,ik->i", D, Z))[:, None] * D
    return wn[:, None] * P * (Z - np.einsum("ik,ik->i", P, Z)[:, None])


def _diagonal_row_weights(curvature, P, D, wn):
    """Diagonals V_i[k, k] (n, K): exact w_i p_ik (1 - p_ik), empirical w_i r_ik^2."""
    if curvature == "empirical":
        return wn[:, None] * D * D
    return wn[:, None] * P * (1.0 - P)


def _scale_rows(X, d):
    """diag(d) X as a dense float64 array."""
    if _sparse.is_sparse(X):
        return (sp.diags(d) @ X).toarray()
    return X * d[:, None]


class SoftmaxModel:
    """Multinomial logit on integer class codes 0..K-1 (validated arrays; see ``ngd.api``).
    gauge: "reference" or "symmetric" (module docstring); None: symmetric when l2 > 0."""

    name = "softmax"
    family_name = "multinomial"
    link_name = "softmax"

    def __init__(self, X, y, n_classes, sample_weight=None, offset=None, fit_intercept=True,
                 l2=0.0, n_threads=1, gauge=None):
        if offset is not None:
            raise ValueError("offset= is not supported by the softmax model")
        if gauge is None:
            gauge = "reference" if float(l2) == 0 else "symmetric"
        if gauge not in GAUGES:
            raise ValueError(f"gauge must be one of {GAUGES}, got {gauge!r}")
        self.X = X
        self.codes = np.asarray(y, dtype=np.intp)
        self.n_samples, self.n_features = X.shape
        self.n_classes = int(n_classes)
        self.onehot = np.zeros((self.n_samples, self.n_classes))
        self.onehot[np.arange(self.n_samples), self.codes] = 1.0
        self.sample_weight = np.ones(self.n_samples) if sample_weight is None else sample_weight
        self.weight_sum = float(self.sample_weight.sum())
        self.fit_intercept = bool(fit_intercept)
        self.l2 = float(l2)
        self.n_threads = int(n_threads)
        self.reference = gauge == "reference"
        K, p = self.n_classes, self.n_features
        full = np.arange(K * p + K * self.fit_intercept)
        pinned = set()
        if self.reference:
            pinned.update(range(p))                        # W_0
        if self.fit_intercept:
            pinned.add(K * p)                              # b_0
        self.free = np.array([i for i in full if i not in pinned], dtype=np.intp)
        self.n_full = full.size
        self.n_params = self.free.size
        self.penalty_mask = self.free < K * p
        self.gauge = ("reference class: the first class has zero coefficients and intercept"
                      if self.reference else
                      "symmetric: coefficients sum to zero over classes (l2 pins them), "
                      "intercepts centred")

    # --- parameters -------------------------------------------------------------------
    def expand(self, theta):
        """Full parameter vector (pinned entries zero) from the free theta."""
        full = np.zeros(self.n_full)
        full[self.free] = theta
        return full

    def _unpack(self, theta):
        K, p = self.n_classes, self.n_features
        full = self.expand(theta)
        W = full[:K * p].reshape(K, p)
        b = full[K * p:] if self.fit_intercept else np.zeros(K)
        return W, b

    def split(self, theta):
        """(coef (K, p), intercept (K,)) in the reported gauge (see module docstring)."""
        W, b = self._unpack(theta)
        if self.fit_intercept and not self.reference:
            b = b - b.mean()
        return W.copy(), (b.copy() if self.fit_intercept else 0.0)

    def split_stderr(self, cov):
        """Standard errors of split(theta) from the covariance of the free theta."""
        transform = self._report_matrix()
        var = np.einsum("ij,jk,ik->i", transform, cov, transform)
        se = np.sqrt(np.maximum(var, 0.0))
        pinned = np.ones(self.n_full, dtype=bool)
        pinned[self.free] = False
        if self.reference:
            se[pinned] = np.nan
        K, p = self.n_classes, self.n_features
        return se[:K * p].reshape(K, p), (se[K * p:] if self.fit_intercept else None)

    def _report_matrix(self):
        """R with split(theta) = R theta (flattened): expansion, then intercept centring."""
        R = np.zeros((self.n_full, self.n_params))
        R[self.free, np.arange(self.n_params)] = 1.0
        if self.fit_intercept and not self.reference:
            K, p = self.n_classes, self.n_features
            rows = slice(K * p, K * p + K)
            R[rows] -= R[rows].mean(axis=0, keepdims=True)
        return R

    def initial_theta(self):
        """W = 0 and b = log of the weighted class frequencies (the intercept-only MLE)."""
        full = np.zeros(self.n_full)
        if self.fit_intercept:
            K, p = self.n_classes, self.n_features
            freq = np.bincount(self.codes, weights=self.sample_weight, minlength=K)
            logf = np.log(np.maximum(freq / self.weight_sum, 1e-12))
            full[K * p:] = logf - logf[0]
        return full[self.free]

    def linear_predictor(self, theta, X=None):
        """eta = X W^T + b, shape (n, K)."""
        W, b = self._unpack(theta)
        return _times(self.X if X is None else X, np.ascontiguousarray(W.T), self.n_threads) + b

    # --- evaluation ---------------------------------------------------------------------
    def evaluate(self, theta, curvature=None):
        """Loss, gradient (free parameters) and curvature weights (n, K, K) / sum w."""
        return self._evaluate(theta, curvature, self.X, self.codes, self.onehot,
                              self.sample_weight, self.weight_sum)

    def evaluate_rows(self, theta, rows):
        """Loss and gradient on a mini-batch."""
        w = self.sample_weight[rows]
        return self._evaluate(theta, None, self.X[rows], self.codes[rows], self.onehot[rows], w,
                              float(w.sum()))

    def _evaluate(self, theta, curvature, X, codes, onehot, w, w_sum):
        if curvature not in (None,) + CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        W, b = self._unpack(theta)
        K, p = self.n_classes, self.n_features
        if _sparse.is_sparse(X):
            loss_sum, grad, P = self._sparse_pass(X, W, b, codes, onehot, w)
        else:
            loss_sum, grad, P = softmax_pass(X, W, b, codes, w, proba=curvature is not None,
                                             n_threads=self.n_threads, check_finite=False)
        loss = loss_sum / w_sum + 0.5 * self.l2 * float(np.sum(W * W))
        full = np.empty(self.n_full)
        full[:K * p] = (grad[:, :p] / w_sum + self.l2 * W).ravel()
        if self.fit_intercept:
            full[K * p:] = grad[:, p] / w_sum
        weights = None
        if curvature is not None:
            weights = (curvature, P, P - onehot, w / w_sum)
        return Evaluation(loss, full[self.free], weights, curvature)

    def _sparse_pass(self, X, W, b, codes, onehot, w):
        """softmax_pass's (loss sum, gradient (K, p + 1), P) for CSR X: logits X W^T, then
        X^T R with R = w (P - onehot) (one exp per entry: P = exp(eta - m) / s,
        logsumexp = m + log s, m the row maximum)."""
        eta = _times(X, np.ascontiguousarray(W.T), self.n_threads) + b
        shifted = eta - eta.max(axis=1, keepdims=True)
        P = np.exp(shifted)
        total = P.sum(axis=1)
        P /= total[:, None]
        nll = np.log(total) - np.sum(shifted * onehot, axis=1)
        R = w[:, None] * P
        R[np.arange(R.shape[0]), codes] -= w
        grad = np.column_stack([_transpose_times(X, R, self.n_threads).T, R.sum(axis=0)])
        return float(w @ nll), grad, P

    def loss(self, theta):
        return self.evaluate(theta).loss

    def gradient(self, theta):
        return self.evaluate(theta).grad

    # --- curvature ------------------------------------------------------------------------
    def _gram(self, v):
        """[X, 1]^T diag(v) [X, 1] (or X^T diag(v) X without intercept)."""
        return augmented_gram(self.X, v, self.fit_intercept, self.n_threads)

    def _curvature_rows(self, weights, rows):
        """(kind, X, P, D, v) of the curvature, on ``rows`` (a RowSample) when given."""
        curvature, P, D, wn = weights
        if rows is None:
            return curvature, self.X, P, D, wn
        i = rows.index
        return curvature, rows.X, P[i], D[i], wn[i] * rows.scale

    def _row_weight_options(self, curvature, P, D, wn):
        """Keyword arguments of the multi-output kernels for this curvature."""
        options = dict(v=wn, intercept=self.fit_intercept, n_threads=self.n_threads,
                       check_finite=False)
        if curvature == "empirical":
            return dict(options, resid=D)
        return dict(options, proba=P)    # exact Fisher = observed Hessian (canonical link)

    def curvature_matrix(self, weights, rows=None):
        """Curvature on the free parameters from the weights of ``evaluate``: the (k, l) block
        is [X, 1]^T diag(v_kl) [X, 1], built by the multi-output Gram kernel (dense X: one
        pass; CSR X: one pass per group of class pairs) (kfac: E[A]_kl times E[x~ x~^T]);
        l2 on the W diagonal."""
        curvature, X, P, D, wn = self._curvature_rows(weights, rows)
        # the blocks of the free classes only: the reference class has no free parameters
        first = 1 if self.reference and curvature != "kfac" else 0
        P, D = P[:, first:], D[:, first:]
        if curvature == "kfac":
            A = np.diag(wn @ P) - (P * wn[:, None]).T @ P
            class_major = np.kron(A, augmented_gram(X, wn, self.fit_intercept, self.n_threads))
        elif _sparse.is_sparse(X):
            class_major = _sparse.multi_output_gram(
                X, _packed_row_weights(curvature, P, D, wn), self.fit_intercept,
                self.n_threads)
        else:
            class_major = multi_output_gram(X, **self._row_weight_options(curvature, P, D, wn))
        order = self._class_major_order(first)
        position = np.empty(self.n_full, dtype=np.intp)   # class-major index of each parameter
        position[order] = np.arange(order.size)
        at = position[self.free]
        out = class_major[np.ix_(at, at)]
        penalised = np.flatnonzero(self.penalty_mask)
        out[penalised, penalised] += self.l2
        return out

    def curvature_vector(self, weights, u, rows=None):
        """C u on the free parameters without forming C (not for kfac)."""
        curvature, X, P, D, wn = self._curvature_rows(weights, rows)
        if curvature == "kfac":
            raise ValueError("the kfac curvature has no matrix-free product; use a dense solve")
        order = self._class_major_order()
        full = self.expand(u)
        U = full[order].reshape(self.n_classes, -1)
        if _sparse.is_sparse(X):
            product = self._sparse_curvature_vector(X, curvature, P, D, wn, U)
        else:
            options = self._row_weight_options(curvature, P, D, wn)
            product = multi_output_fisher_vector(X, U=U, **options)
        out = np.empty(self.n_full)
        out[order] = product.ravel()
        penalised = slice(0, self.n_classes * self.n_features)
        out[penalised] += self.l2 * full[penalised]
        return out[self.free]

    def curvature_diagonal(self, weights, rows=None):
        """diag(C) on the free parameters (not for kfac)."""
        curvature, X, P, D, wn = self._curvature_rows(weights, rows)
        if curvature == "kfac":
            raise ValueError("the kfac curvature has no matrix-free diagonal; use a dense solve")
        if _sparse.is_sparse(X):
            diagonal = _sparse.fisher_diagonal(X, _diagonal_row_weights(curvature, P, D, wn),
                                               self.fit_intercept, self.n_threads).T
        else:
            diagonal = multi_output_fisher_diagonal(
                X, **self._row_weight_options(curvature, P, D, wn))
        out = np.empty(self.n_full)
        out[self._class_major_order()] = diagonal.ravel()
        out[:self.n_classes * self.n_features] += self.l2
        return out[self.free]

    def _sparse_curvature_vector(self, X, curvature, P, D, wn, U):
        """sum_i (V_i z_i) (x) x~_i with z_i = U x~_i, U (K, pw) class-major, for CSR X: Z by
        X U^T, then the row weights, then X~^T (K, pw)."""
        p = self.n_features
        shift = U[:, p] if self.fit_intercept else None
        Z = _sparse.matmat(X, U[:, :p].T, shift, self.n_threads)
        Y = _apply_row_weights(curvature, P, D, wn, Z)
        return _sparse.rmatvec(X, Y, self.fit_intercept, self.n_threads).T

    def _class_major_order(self, first=0):
        """Position in theta's layout [vec(W), b] of each class-major index
        (k - first) (p + 1) + j of the classes k = first, ..., K - 1."""
        K, p = self.n_classes, self.n_features
        rows = [np.r_[k * p:(k + 1) * p, [K * p + k] if self.fit_intercept else []]
                for k in range(first, K)]
        return np.concatenate(rows).astype(np.intp)

    def exact_fisher(self, theta):
        """Exact Fisher of the objective on the free parameters (= its Hessian)."""
        return self.curvature_matrix(self.evaluate(theta, "exact").weights)

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T with s_i = (p_i - onehot_i) (x) x~_i (+ l2 on W)."""
        return self.curvature_matrix(self.evaluate(theta, "empirical").weights)

    def hessian(self, theta):
        """Observed Hessian; equal to the exact Fisher (canonical link)."""
        return self.exact_fisher(theta)

    def gradient_lipschitz(self):
        """Boehning's bound: lambda_max of (1/2) [X, 1]^T W [X, 1] / sum w, plus l2."""
        gram = self._gram(self.sample_weight / self.weight_sum)
        return 0.5 * float(np.linalg.eigvalsh(gram)[-1]) + self.l2

    def separation(self, delta):
        """(rows, columns) if moving along delta raises every observed class's margin (no
        MLE), else None."""
        if self.l2 > 0:
            return None
        W, b = self._unpack(delta)
        scale = float(np.max(np.abs(delta)))
        if scale == 0 or not np.isfinite(scale):
            return None
        change = _times(self.X, np.ascontiguousarray(W.T), self.n_threads) + b
        slack = _SLACK * scale * _row_norms(self.X, self.fit_intercept)
        rows = multiclass_certificate(change, self.codes, self.sample_weight, slack)
        if rows is None:
            return None
        return rows, involved_columns(self.X, W)

    # --- statistics --------------------------------------------------------------------
    def predict_proba(self, theta, X=None):
        """P(y = k | x), shape (n, K)."""
        return softmax(self.linear_predictor(theta, X), axis=1)

    def scores(self, theta):
        """Per-row scores of the log-likelihood on the free parameters, (onehot - p) (x) x~."""
        P = self.predict_proba(theta)
        D = self.onehot - P
        X = self.X if _sparse.is_sparse(self.X) else np.asarray(self.X, dtype=np.float64)
        K, p = self.n_classes, self.n_features
        full = np.empty((self.n_samples, self.n_full))
        for k in range(K):
            full[:, k * p:(k + 1) * p] = _scale_rows(X, D[:, k])
        if self.fit_intercept:
            full[:, K * p:] = D
        return full[:, self.free]

    def sample_response(self, theta, rng):
        """Class codes drawn from the model's probabilities."""
        P = self.predict_proba(theta)
        u = rng.random(self.n_samples)[:, None]
        return np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.n_classes - 1)

    def mean_kl(self, theta_old, theta_new):
        """(1/sum w) sum_i w_i KL(Cat(p_i(old)) || Cat(p_i(new)))."""
        e0, e1 = self.linear_predictor(theta_old), self.linear_predictor(theta_new)
        l0 = e0 - logsumexp(e0, axis=1, keepdims=True)
        l1 = e1 - logsumexp(e1, axis=1, keepdims=True)
        kl = np.sum(np.exp(l0) * (l0 - l1), axis=1)
        return float(self.sample_weight @ kl / self.weight_sum)

    def deviance(self, theta):
        """2 sum_i w_i nll_i."""
        return 2 * (self.loss(theta) - 0.5 * self.l2 * float(np.sum(self._unpack(theta)[0] ** 2))
                    ) * self.weight_sum

    def null_deviance(self):
        """Deviance of the intercept-only model (class frequencies)."""
        freq = np.bincount(self.codes, weights=self.sample_weight, minlength=self.n_classes)
        prob = freq / self.weight_sum
        return float(-2 * np.sum(self.sample_weight * np.log(prob[self.codes])))

    def log_likelihood(self, theta, phi=1.0):
        """sum_i w_i log p(y_i | x_i)."""
        return -0.5 * self.deviance(theta)
