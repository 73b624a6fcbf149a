"""Logistic and GLM models on a :class:`ngd.design.Design`: X = [D | Z_1 | ... | Z_K] with each
one-hot block Z_k held as integer codes c_k, never as an n x L_k matrix.

theta = [dense coef (p), gamma_1 (L_1), ..., gamma_K (L_K), intercept] and

    eta_i = d_i . coef + sum_k gamma_k[c_ki] + intercept + offset_i       (gamma[-1] = 0).

The model composes with the dense model on D (``LogisticModel`` or ``GLM``): the categorical
terms enter that model's fused pass like an offset, the pass also writes the per-row residual
r_i = d(w_i nll_i)/d eta_i, and the gradient of gamma_k is (1/sum w) Z_k^T r + l2 gamma_k
(per-level sums of r). The l2 penalty covers every coefficient, gamma included.

The curvature C = X~^T diag(v) X~ + l2 (X~ = [D, Z_1, ..., Z_K, 1], v the per-row weights of
an evaluation) is available in blocks (:meth:`CategoricalModel.curvature_blocks`: the Gram of
[D, 1], per-level weight sums, per-level cross sums Z_k^T V [D, 1] and the sparse contingency
tables Z_k^T V Z_m), which the "schur" solver of ``ngd.fisher`` uses; as a dense matrix only
for small parameter counts. Row subsamples of the curvature are not supported (a subsample
can leave levels without rows).
"""
import copy

import numpy as np
import scipy.sparse as sp

from ngd._kernels import categorical as _categorical
from ngd._validation import MAX_ABS, _check_finite_rows
from ngd.design import is_design
from ngd.exceptions import DataError
from ngd.kernels import fisher_diagonal
from ngd.models._common import EvaluatedModel, Evaluation, augmented_gram
from ngd.models._linear import matvec, rmatvec
from ngd.models.glm import GLM
from ngd.models.separation import columns_by_movement, design_certificate

DENSE_MATRIX_MAX_PARAMS = 8192      # curvature_matrix refuses more (use the blocks)
FULL_COVARIANCE_MAX_PARAMS = 4096   # above: standard errors from the block inverse


class CurvatureBlocks:
    """C = X~^T diag(v) X~ + l2 on the coefficients, in blocks (theta order: dense, gamma_1,
    ..., gamma_K, intercept):

    gram:      (q, q) [D, 1]^T V [D, 1] + l2 on the dense diagonal (q = p + intercept)
    diagonals: per categorical k, (L_k,) weighted level counts Z_k^T v + l2
    cross:     per k, (L_k, q) Z_k^T V [D, 1] (the intercept column: the level counts)
    pairs:     {(k, m): CSR (L_k, L_m) Z_k^T V Z_m} for k < m
    dense_index: theta positions of the q columns of [D, 1]; level_slices: of each gamma_k.
    """

    def __init__(self, gram, diagonals, cross, pairs, dense_index, level_slices, n_params):
        self.gram = gram
        self.diagonals = diagonals
        self.cross = cross
        self.pairs = pairs
        self.dense_index = dense_index
        self.level_slices = level_slices
        self.n_params = n_params

    def pair(self, k, m):
        """Z_k^T V Z_m as CSR (either order)."""
        return self.pairs[(k, m)] if k < m else self.pairs[(m, k)].T.tocsr()

    def toarray(self):
        """The full (n_params, n_params) matrix."""
        C = np.zeros((self.n_params, self.n_params))
        d = self.dense_index
        C[np.ix_(d, d)] = self.gram
        for k, (rows, diagonal, cross) in enumerate(zip(self.level_slices, self.diagonals,
                                                        self.cross)):
            index = np.arange(rows.start, rows.stop)
            C[index, index] = diagonal
            C[np.ix_(index, d)] = cross
            C[np.ix_(d, index)] = cross.T
            for m in range(k + 1, len(self.diagonals)):
                other = self.level_slices[m]
                block = self.pairs[(k, m)].toarray()
                C[rows, other] = block
                C[other, rows] = block.T
        return C

    def matvec(self, u):
        """C u from the blocks (no pass over the data)."""
        d = self.dense_index
        out = np.zeros(self.n_params)
        out[d] = self.gram @ u[d]
        for k, (rows, diagonal, cross) in enumerate(zip(self.level_slices, self.diagonals,
                                                        self.cross)):
            out[rows] += diagonal * u[rows] + cross @ u[d]
            out[d] += cross.T @ u[rows]
            for m in range(k + 1, len(self.diagonals)):
                other = self.level_slices[m]
                table = self.pairs[(k, m)]
                out[rows] += table @ u[other]
                out[other] += table.T @ u[rows]
        return out


class PairPattern:
    """The level pairs (l, m) that occur in the rows of two categoricals, as a CSR pattern
    (n_a, n_b) with each row's position in it, so that Z_a^T diag(v) Z_b costs one bincount:
    the pattern does not depend on v (formed once per fit, O(n log n))."""

    def __init__(self, codes_a, n_a, codes_b, n_b):
        self.rows = np.flatnonzero((codes_a >= 0) & (codes_b >= 0))
        keys = codes_a[self.rows].astype(np.int64) * n_b + codes_b[self.rows]
        unique, self.position = np.unique(keys, return_inverse=True)
        index = np.int32 if unique.size < 2**31 else np.int64   # one type (sparse kernels)
        self.indices = (unique % n_b).astype(index)
        counts = np.bincount(unique // n_b, minlength=n_a)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
        self.shape = (n_a, n_b)

    def table(self, v):
        """Z_a^T diag(v) Z_b as CSR (canonical: sorted indices, no duplicates)."""
        data = np.bincount(self.position, weights=v[self.rows], minlength=self.indices.size)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=self.shape)


def _as_dense_part(X):
    """The dense part as a float32/float64 array with a unit stride (0 columns allowed);
    a non-finite value or one above MAX_ABS in magnitude is an error naming its row and
    column."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"the dense part of the design must be numeric, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    if X.size:
        _check_finite_rows(X, "the design's dense part", MAX_ABS)
    return X


def dense_part(design):
    """The validated dense part of a design (what the inner model is built on)."""
    if not is_design(design):
        raise TypeError(f"expected an ngd.design.Design, got {type(design).__name__}")
    if design.dense.shape[0] < 1:
        raise DataError("the design has no rows")
    return _as_dense_part(design.dense)


class CategoricalModel(EvaluatedModel):
    """``inner`` (a LogisticModel or GLM built on ``dense_part(design)`` with the fit's y,
    weights, offset, trials, intercept and l2) extended by the design's categorical blocks.
    coef (``split``) is every non-intercept coefficient in theta order; the dense Fisher
    accessors (exact_fisher, ...) are for small parameter counts."""

    def __init__(self, design, inner):
        self.design = design
        self.inner = inner
        self.X = design
        self.dense = inner.X
        self.codes = [block.codes for block in design.categoricals]
        self.n_levels = [block.n_columns for block in design.categoricals]
        n = inner.n_samples
        for block in design.categoricals:
            if block.codes.shape[0] != n:
                raise DataError(f"categorical {block.name!r} has {block.codes.shape[0]} rows, "
                                f"y has {n}")
        self.name = inner.name
        self.y, self.sample_weight, self.offset = inner.y, inner.sample_weight, inner.offset
        self.trials = getattr(inner, "trials", None)
        self.fit_intercept, self.l2, self.n_threads = inner.fit_intercept, inner.l2, \
            inner.n_threads
        self.n_samples, self.weight_sum = n, inner.weight_sum
        self.n_dense = inner.n_features
        starts = np.cumsum([self.n_dense] + self.n_levels)
        self.level_slices = [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        self.n_features = int(starts[-1])
        self.n_params = self.n_features + self.fit_intercept
        self.penalty_mask = np.arange(self.n_params) < self.n_features
        self.dense_index = np.r_[np.arange(self.n_dense),
                                 [self.n_params - 1] if self.fit_intercept else []].astype(np.intp)
        for name in ("family", "link", "family_name", "link_name"):
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))
        self._glm = None

    # --- parameters -------------------------------------------------------------------
    def _inner_theta(self, theta):
        return np.ascontiguousarray(theta[self.dense_index], dtype=np.float64)

    def initial_theta(self):
        """The dense model's start (coef 0, intercept at the null mean) with gamma = 0."""
        theta = np.zeros(self.n_params)
        theta[self.dense_index] = self.inner.initial_theta()
        return theta

    def _shift(self, theta, rows=None, offset=True):
        """sum_k gamma_k[c_ki] (+ offset_i) for all rows or ``rows``."""
        n = self.n_samples if rows is None else len(rows)
        base = self.offset if offset else None
        eta = np.zeros(n) if base is None else np.array(base if rows is None else base[rows],
                                                        dtype=np.float64)
        codes = self.codes if rows is None else [c[rows] for c in self.codes]
        gammas = [np.ascontiguousarray(theta[s], dtype=np.float64) for s in self.level_slices]
        _categorical._gather_add(eta, codes, gammas, self.n_threads)
        return eta

    def linear_predictor(self, theta, X=None, offset=None):
        """eta = D coef + sum_k gamma_k[c_k] + intercept (+ offset) on this design or ``X``."""
        if X is not None and X is not self.design:
            return self._on(X).linear_predictor(theta, offset=offset)
        shift = self._shift(theta, offset=False)
        if offset is not None:
            shift += offset
        return self.inner.linear_predictor(self._inner_theta(theta), self.dense, shift)

    def _on(self, design):
        """This model's coefficients on another design with the same blocks (prediction)."""
        other = copy.copy(self)
        other.design = other.X = design
        other.dense = _as_dense_part(design.dense)
        other.codes = [block.codes for block in design.categoricals]
        other.n_samples, other.offset = design.shape[0], None
        other.inner = copy.copy(self.inner)
        other.inner.X, other.inner.offset = other.dense, None
        return other

    # --- one pass: loss, gradient, curvature weights ------------------------------------
    def evaluate(self, theta, curvature=None):
        """Loss, gradient and (if curvature is given) per-row weights v_i / sum w: one fused
        pass over the dense part with the categorical terms as an offset, plus one pass of
        per-level sums of the residual per categorical."""
        return self._evaluate(theta, curvature, None)

    def evaluate_rows(self, theta, rows):
        """Loss and gradient of the objective restricted to ``rows`` (a mini-batch)."""
        rows = np.asarray(rows)
        return self._evaluate(theta, None, rows)

    def _evaluate(self, theta, curvature, rows):
        inner = self.inner
        take = (lambda a: a) if rows is None else (lambda a: None if a is None else a[rows])
        X, y, w = take(self.dense), take(self.y), take(self.sample_weight)
        w_sum = self.weight_sum if rows is None else \
            float(len(rows) if w is None else w.sum())
        shift = self._shift(theta, rows)
        resid = np.empty(len(y))
        args = (self._inner_theta(theta), curvature, X, y, w, shift, w_sum)
        if isinstance(inner, GLM):
            ev = inner._evaluate(*args, trials=take(self.trials), resid_out=resid)
        else:
            ev = inner._evaluate(*args, resid_out=resid)
        if not np.isfinite(ev.loss):
            return Evaluation(np.inf, np.full(self.n_params, np.nan), None, curvature)
        grad = np.empty(self.n_params)
        grad[self.dense_index] = ev.grad
        loss = ev.loss
        codes = self.codes if rows is None else [c[rows] for c in self.codes]
        for block, levels, code in zip(self.level_slices, self.n_levels, codes):
            gamma = theta[block]
            sums = np.empty(levels)
            _categorical._level_sums(code, resid, sums, self.n_threads)
            grad[block] = sums / w_sum + self.l2 * gamma
            loss += 0.5 * self.l2 * float(gamma @ gamma)
        return Evaluation(loss, grad, ev.weights, curvature)

    # --- curvature ----------------------------------------------------------------------
    @staticmethod
    def subsample_type(model, size, seed=0):
        """Row subsamples of the curvature are refused on a Design."""
        raise ValueError("subsample= is not supported on a Design (a row subsample can leave "
                         "levels without rows); use subsample=None")

    @staticmethod
    def _all_rows(rows):
        if rows is not None:
            raise ValueError("a row-subsampled curvature is not supported on a Design (a "
                             "subsample can leave levels without rows); use subsample=None")

    def curvature_blocks(self, weights, rows=None):
        """The blocks of C (see :class:`CurvatureBlocks`): one BLAS Gram of [D, 1], one pass
        of per-level cross sums per categorical, one contingency table per pair."""
        self._all_rows(rows)
        v = np.ascontiguousarray(weights, dtype=np.float64)
        q = self.dense_index.size
        if self.n_dense:
            gram = augmented_gram(self.dense, v, self.fit_intercept, self.n_threads)
        else:
            gram = np.full((q, q), float(v.sum()))
        gram[np.arange(self.n_dense), np.arange(self.n_dense)] += self.l2
        diagonals, cross = [], []
        for code, levels in zip(self.codes, self.n_levels):
            sums = np.empty((levels, q))
            _categorical._level_cross_sums(self.dense, code, v, self.fit_intercept, sums,
                                           self.n_threads)
            if self.fit_intercept:
                counts = sums[:, -1].copy()
            else:
                counts = np.empty(levels)
                _categorical._level_sums(code, v, counts, self.n_threads)
            diagonals.append(counts + self.l2)
            cross.append(sums)
        pairs = {(k, m): self._pair_pattern(k, m).table(v)
                 for k in range(len(self.codes)) for m in range(k + 1, len(self.codes))}
        return CurvatureBlocks(gram, diagonals, cross, pairs, self.dense_index,
                               self.level_slices, self.n_params)

    def _pair_pattern(self, k, m):
        """The (cached) sparsity pattern of Z_k^T Z_m."""
        cache = vars(self).setdefault("_patterns", {})
        if (k, m) not in cache:
            cache[(k, m)] = PairPattern(self.codes[k], self.n_levels[k], self.codes[m],
                                        self.n_levels[m])
        return cache[(k, m)]

    def curvature_matrix(self, weights, rows=None):
        """The dense C, assembled from the blocks; only for n_params <= 8192."""
        if self.n_params > DENSE_MATRIX_MAX_PARAMS:
            raise ValueError(f"the dense curvature of a design with {self.n_params} parameters "
                             f"is too large (limit {DENSE_MATRIX_MAX_PARAMS}); use "
                             "solver='schur' or 'cg'")
        return self.curvature_blocks(weights, rows).toarray()

    def curvature_vector(self, weights, u, rows=None):
        """C u = X~^T (v * (X~ u)) + l2 u on the coefficients: two passes, no matrix."""
        self._all_rows(rows)
        u = np.asarray(u, dtype=np.float64)
        t = self._shift(u, offset=False)
        if self.n_dense:
            t += matvec(self.dense, np.ascontiguousarray(u[:self.n_dense]), self.n_threads)
        if self.fit_intercept:
            t += u[-1]
        t *= weights
        out = np.empty(self.n_params)
        if self.n_dense:
            out[:self.n_dense] = rmatvec(self.dense, t, self.n_threads)
        if self.fit_intercept:
            out[-1] = t.sum()
        for block, levels, code in zip(self.level_slices, self.n_levels, self.codes):
            sums = np.empty(levels)
            _categorical._level_sums(code, t, sums, self.n_threads)
            out[block] = sums
        out[:self.n_features] += self.l2 * u[:self.n_features]
        return out

    def curvature_diagonal(self, weights, rows=None):
        """diag(C) = sum_i v_i x~_ij^2 + l2 on the coefficients (level counts for gamma)."""
        self._all_rows(rows)
        v = np.ascontiguousarray(weights, dtype=np.float64)
        out = np.empty(self.n_params)
        if self.n_dense:
            out[self.dense_index] = fisher_diagonal(self.dense, v,
                                                    intercept=self.fit_intercept,
                                                    n_threads=self.n_threads,
                                                    check_finite=False)
        elif self.fit_intercept:
            out[-1] = v.sum()
        for block, levels, code in zip(self.level_slices, self.n_levels, self.codes):
            sums = np.empty(levels)
            _categorical._level_sums(code, v, sums, self.n_threads)
            out[block] = sums
        out[:self.n_features] += self.l2
        return out

    def gradient_lipschitz(self):
        """lambda_max of the curvature at the start (logistic: Boehning's bound, GLM: the
        exact Fisher), by Lanczos on the matrix-free products."""
        from scipy.sparse.linalg import LinearOperator, eigsh
        kind = "exact" if isinstance(self.inner, GLM) else "bohning"
        weights = self.evaluate(self.initial_theta(), kind).weights
        if self.n_params <= 2:
            return float(np.linalg.eigvalsh(self.curvature_matrix(weights))[-1])
        operator = LinearOperator((self.n_params, self.n_params), dtype=np.float64,
                                  matvec=lambda u: self.curvature_vector(weights, u.ravel()))
        return float(eigsh(operator, k=1, which="LA", tol=1e-6,
                           return_eigenvectors=False)[0])

    # --- statistics ---------------------------------------------------------------------
    def _view(self, theta):
        """(the dense model with offset + categorical terms at theta, its theta)."""
        view = copy.copy(self.inner)
        view.offset = self._shift(theta)
        return view, self._inner_theta(theta)

    def as_glm(self):
        """The same model with a GLM inside (statistics helpers use ``as_glm``)."""
        if isinstance(self.inner, GLM):
            return self
        if self._glm is None:
            self._glm = CategoricalModel(self.design, self.inner.as_glm())
        return self._glm

    @property
    def has_dispersion(self):
        return getattr(self.inner, "has_dispersion", False)

    def deviance(self, theta):
        view, inner_theta = self._view(theta)
        return view.as_glm().deviance(inner_theta)

    def null_deviance(self):
        return self.inner.as_glm().null_deviance()

    def pearson_chi2(self, theta):
        view, inner_theta = self._view(theta)
        return view.as_glm().pearson_chi2(inner_theta)

    def log_likelihood(self, theta, phi):
        view, inner_theta = self._view(theta)
        return view.as_glm().log_likelihood(inner_theta, phi)

    def mean(self, theta, X=None, offset=None):
        """mu = h(eta) on this design (or the design X)."""
        eta = self.linear_predictor(theta, X, offset)
        return self.inner.as_glm().link.inverse(eta)

    def predict_proba(self, theta, X=None, offset=None):
        return self.mean(theta, X, offset)

    def sample_response(self, theta, rng):
        view, inner_theta = self._view(theta)
        return view.sample_response(inner_theta, rng)

    def mean_kl(self, theta_old, theta_new):
        """(1/sum w) sum_i w_i KL(p(. | mu_i(old)) || p(. | mu_i(new)))."""
        glm = self.as_glm()
        mu0, mu1 = glm.mean(theta_old, offset=self.offset), glm.mean(theta_new,
                                                                     offset=self.offset)
        return float(np.sum(glm.sample_weight * glm.inner.family.mean_kl(mu0, mu1))
                     / glm.weight_sum)

    def scores(self, theta):
        """Per-row log-likelihood scores r_i x~_i, (n, n_params) dense: small counts only."""
        if self.n_params > DENSE_MATRIX_MAX_PARAMS:
            raise ValueError(f"per-row scores of {self.n_params} parameters are too large")
        r = self._score_factor(theta)
        out = np.zeros((self.n_samples, self.n_params))
        if self.n_dense:
            out[:, :self.n_dense] = np.asarray(self.dense, dtype=np.float64) * r[:, None]
        if self.fit_intercept:
            out[:, -1] = r
        rows = np.arange(self.n_samples)
        for block, code in zip(self.level_slices, self.codes):
            keep = code >= 0
            out[rows[keep], block.start + code[keep]] = r[keep]
        return out

    def _score_factor(self, theta):
        """r_i with score_i = r_i x~_i: the dense model's score of one unit column with the
        whole linear predictor as its offset."""
        unit = copy.copy(self.inner)
        unit.X = np.ones((self.n_samples, 1))
        unit.n_features, unit.fit_intercept = 1, False
        unit.offset = self.linear_predictor(theta, offset=self.offset)
        return unit.scores(np.zeros(1))[:, 0]

    @property
    def uses_block_covariance(self):
        """True when standard errors come from the block inverse (more than
        FULL_COVARIANCE_MAX_PARAMS parameters) rather than the full covariance."""
        return self.n_params > FULL_COVARIANCE_MAX_PARAMS

    def attach_block_covariance(self, result, cov_type, phi):
        """Standard errors of every parameter from diag(C^{-1}) in blocks
        (``ngd.fisher.schur.inverse_diagonal``), times phi / sum w; result.cov_partial =
        (theta indices of the kept block: dense, intercept, smaller categoricals; their
        covariance). cov_type "model" only: a sandwich needs the full inverse."""
        from ngd.fisher.schur import inverse_diagonal
        if cov_type != "model":
            result.message += (f" Standard errors are not reported: cov_type={cov_type!r} "
                               f"needs the full covariance (at most "
                               f"{FULL_COVARIANCE_MAX_PARAMS} parameters, not {self.n_params}).")
            return
        blocks = self.curvature_blocks(self.evaluate(result.x, "exact").weights)
        inverse = inverse_diagonal(blocks, want_a_inverse=True)
        if inverse is None:
            result.message += (" Standard errors are unavailable: the Fisher information is "
                               "singular (or its block without the largest categorical "
                               "is too large to invert).")
            return
        diagonal, (index, a_inverse) = inverse
        scale = phi / self.weight_sum
        result.stderr, result.intercept_stderr = self.split(np.sqrt(scale * diagonal))
        if not self.fit_intercept:
            result.intercept_stderr = None
        result.cov_partial = (index, scale * a_inverse)

    def separation(self, delta):
        """(rows, columns) when moving along delta shows that the MLE does not exist, as the
        dense models check it (ngd.models.separation): binary responses driven to 0/1
        (logistic; binomial logit/probit/cloglog), or log-link count means of zero responses
        driven to 0 (Poisson, negative binomial, Tweedie 1 <= p < 2) — e.g. a level whose rows
        are all 0 (or all 1); else None. The margins are X~ delta on the design; the columns
        are named by their standardised movement."""
        if self.l2 > 0:
            return None
        y = self.y if self.name == "logistic" else self.inner.separation_response()
        if y is None:
            return None
        margin = self.linear_predictor(delta)
        ones = sum((codes >= 0).astype(np.float64) for codes in self.codes)
        norms = np.sqrt(np.einsum("ij,ij->i", self.dense, self.dense, dtype=np.float64)
                        + ones + float(self.fit_intercept))
        w = np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight
        rows = design_certificate(margin, norms, y, delta, w)
        if rows is None:
            return None
        return rows, columns_by_movement(self._column_std(), delta[:self.n_features])

    def _column_std(self):
        """Standard deviations of X's columns: the dense part's, and sqrt(f (1 - f)) for a
        level column with row share f."""
        parts = [np.std(self.dense, axis=0, dtype=np.float64)]
        for codes, n_columns in zip(self.codes, self.n_levels):
            share = np.bincount(codes[codes >= 0], minlength=n_columns) / self.n_samples
            parts.append(np.sqrt(share * (1.0 - share)))
        return np.concatenate(parts)
