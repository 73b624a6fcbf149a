"""K-fold cross-validation of an elastic-net path: the best alpha and the one-standard-error
alpha, then the fit on all rows at the chosen one.

    score_k(alpha) = sum_{i in fold k} w_i loss_i(alpha) / sum_{i in fold k} w_i
    mean(alpha) = (1/K) sum_k score_k(alpha),  se(alpha) = sd_k(score_k(alpha)) / sqrt(K)
    best = argmin mean;  1se = the largest alpha with mean(alpha) <= mean(best) + se(best)

loss_i is the unit deviance (default; 2 nll_i), or squared / absolute error of the mean, or
misclassification. The grid is that of the full data (alpha_max from all rows). Folds are
seeded and stratified by class for logistic and softmax models.

No fold copies X: each fold's model is the full X with the held-out rows' weights set to 0
(the training objective is unchanged; the passes still visit those rows, K/(K-1) times the
work of a copied training set, 1.25x for K = 5), and the held-out predictions gather the test
rows one block at a time (a CSR X stays CSR: X[rows] of a CSR matrix is CSR; a Design's
one-hot columns are gathered from its codes). The folds (and the full-data path) run in
parallel threads, each with cores / n_jobs kernel threads.
"""
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.optimize import OptimizeResult
from scipy.special import logsumexp, softmax

from ngd._threads import effective_n_threads, fit_threads
from ngd._validation import check_seed
from ngd.design import is_design
from ngd.elastic_net import check_curvature, check_solver, fit_prepared, path_penalty, prepare
from ngd.models.base import capabilities
from ngd.optim.proximal import CurvatureCache, LastEvaluation
from ngd.path import PATH_MAX_ITER, GridSpec, check_grid, json_value, null_fit, solve_path

METRICS = ("deviance", "mse", "mae", "misclassification")
SELECT = ("best", "1se")
_BLOCK_ROWS = 8192


def make_folds(n, k, seed=0, labels=None):
    """Fold index (0..k-1) of each of n rows: a seeded permutation cut into k near-equal
    parts, or, with ``labels``, each class's rows shuffled and dealt to the folds in turn
    (continuing where the previous class stopped), so every fold has each class's share to
    within one row."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"the number of folds must be an integer >= 2, got {k!r}")
    if k > n:
        raise ValueError(f"cannot split {n} sample(s) into {k} folds")
    rng = np.random.default_rng(seed)
    folds = np.empty(n, dtype=np.intp)
    if labels is None:
        folds[rng.permutation(n)] = np.arange(n) % k
        return folds
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"class {classes[np.argmin(counts)]!r} has fewer than 2 rows: "
                         "stratified folds cannot keep it in every training set")
    dealt = 0
    for c in range(classes.size):
        rows = rng.permutation(np.flatnonzero(codes == c))
        folds[rows] = (dealt + np.arange(rows.size)) % k
        dealt += rows.size
    return folds


def one_standard_error(mean, se):
    """Index of the largest alpha (alphas decreasing: the smallest index) whose mean score
    is within one standard error of the best: mean <= mean[best] + se[best]."""
    best = int(np.nanargmin(mean))
    return int(np.flatnonzero(mean <= mean[best] + se[best])[0])


def cross_validate(X, y, model="logistic", l1_ratio=1.0, n_alphas=100, alpha_min_ratio=1e-3,
                   alphas=None, penalty_factor=None, *, cv=5, metric="deviance",
                   stratify=None, seed=0, select="best", n_jobs=None, link=None, power=None,
                   trials=None, sample_weight=None, offset=None, fit_intercept=True,
                   fisher="exact", tol=1e-8, max_iter=PATH_MAX_ITER, curvature_reuse=0.1,
                   n_threads=None):
    """K-fold cross-validation of :func:`ngd.fit_path` (see the module docstring).

    Parameters
    ----------
    X : array, sparse matrix, Design or table
        (n, p) inputs; CSR stays sparse (not for softmax), a table is converted by ngd.frames.
    y : array-like
        (n,) response (class labels for logistic / softmax).
    model : str, default "logistic"
        "logistic", "softmax" or a GLM family, as :func:`ngd.fit`.
    l1_ratio : float, default 1.0
        r in [0, 1]: 1 the lasso, 0 the ridge (then ``alphas`` is required).
    n_alphas : int, default 100
        Grid points, in [1, MAX_ALPHAS].
    alpha_min_ratio : float, default 1e-3
        alpha_min / alpha_max, in (0, 1).
    alphas : array-like or None, default None
        An explicit grid (sorted decreasing), overriding n_alphas and alpha_min_ratio.
    penalty_factor : array-like or None, default None
        f_j >= 0 per feature (0: unpenalised); None: all 1.
    cv : int, array-like, sequence of (train, test) or splitter, default 5
        The number of folds (>= 2), an integer array giving each row's fold, (train, test)
        index pairs whose test sets partition the rows, or a scikit-learn splitter.
    metric : str or callable, default "deviance"
        One of METRICS or callable(y, mean, sample_weight) -> loss (lower is better; mean
        of shape (n,) or (n, K)).
    stratify : bool or None, default None
        Stratify integer cv by class; None: for logistic and softmax.
    seed : int, default 0
        The folds' seed.
    select : {"best", "1se"}, default "best"
        The alpha of the final fit on all rows.
    n_jobs : int or None, default None
        Folds run at once (None: as many as the cores allow).
    link, power, trials, sample_weight, offset, fit_intercept
        As :func:`ngd.fit` (defaults None, None, None, None, None, True).
    fisher : {"exact", "empirical"}, default "exact"
        The curvature of proximal NGD.
    tol : float, default 1e-8
        KKT tolerance of each fit.
    max_iter : int, default PATH_MAX_ITER (100)
        Iterations per grid point.
    curvature_reuse : float, default 0.1
        >= 0: the stored Fisher is reused while the weights move by less (relative L1
        change); 0 rebuilds it at every iteration.
    n_threads : int or None, default None
        Kernel threads in all (None: all cores), shared by the n_jobs folds.

    Returns
    -------
    CVResult
        alphas, cv_scores (K, n_alphas), cv_mean, cv_se, index_best, alpha_best, index_1se,
        alpha_1se, alpha (selected), folds, path (the full-data path), fit (FitResult at the
        selected alpha), n_nonzero, time.

    Raises
    ------
    ValueError
        As :func:`ngd.fit_path`; also an invalid select, metric, n_jobs or cv (fewer than 2
        folds, more folds than rows, overlapping or incomplete test sets, a class with
        fewer than 2 rows when stratified), stratify=True or "misclassification" without a
        classification model.
    TypeError
        cv a string, or a sparse X with softmax.
    """
    start = time.perf_counter()
    penalty = path_penalty(l1_ratio, penalty_factor)
    check_solver(tol, max_iter)
    curvature = check_curvature("ngd", fisher)
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {select!r}")
    if not (callable(metric) or metric in METRICS):
        raise ValueError(f"metric must be one of {METRICS} or a callable, got {metric!r}")
    check_grid(penalty, alphas)
    threads = effective_n_threads(n_threads)
    data = dict(model=model, link=link, power=power, trials=trials, offset=offset,
                fit_intercept=fit_intercept)
    full = prepare(X, y, sample_weight=sample_weight, n_threads=threads, **data)
    folds = _folds(cv, full, stratify, check_seed(seed))
    n_folds = int(folds.max()) + 1
    jobs = _jobs(n_jobs, threads, n_folds + 1)
    if metric == "misclassification" and full.model.name not in ("logistic", "softmax",
                                                                  "binomial"):
        raise ValueError("metric 'misclassification' needs a classification model")
    grid = GridSpec(n_alphas, alpha_min_ratio, alphas)
    options = dict(curvature=curvature, tol=tol, max_iter=max_iter,
                   curvature_reuse=curvature_reuse)
    weights = np.ones(full.model.n_samples) if sample_weight is None else \
        np.asarray(sample_weight, dtype=np.float64)
    scorer = _Scorer(full.model, metric)

    with fit_threads(threads):
        _, alpha_max, _ = null_fit(full, penalty, curvature, tol, max_iter,
                                   CurvatureCache(full.model), LastEvaluation())
        full.model.n_threads = max(1, threads // jobs)

        def run_fold(k):
            train = prepare(full.model.X, y, sample_weight=weights * (folds != k),
                            n_threads=max(1, threads // jobs), **data)
            path = solve_path(train, penalty, grid, alpha_max=alpha_max, **options)
            return scorer.scores(path, np.flatnonzero(folds == k)), path

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            full_job = pool.submit(solve_path, full, penalty, grid, alpha_max=alpha_max,
                                   **options)
            outcomes = list(pool.map(run_fold, range(n_folds)))
            full_path = full_job.result()
        scores = np.array([s for s, _ in outcomes])
        mean = scores.mean(axis=0)
        se = scores.std(axis=0, ddof=1) / np.sqrt(n_folds)
        best, one_se = int(np.nanargmin(mean)), one_standard_error(mean, se)
        index = best if select == "best" else one_se
        full.model.n_threads = threads
    final = fit_prepared(full, penalty.at(full_path.alphas[index]), curvature=curvature,
                         tol=tol, max_iter=max_iter, theta0=full_path.x[index])
    return CVResult(alphas=full_path.alphas, l1_ratio=penalty.l1_ratio, metric=metric,
                    folds=folds, n_folds=n_folds, cv_scores=scores, cv_mean=mean, cv_se=se,
                    index_best=best, alpha_best=float(full_path.alphas[best]),
                    index_1se=one_se, alpha_1se=float(full_path.alphas[one_se]),
                    select=select, index=index, alpha=float(full_path.alphas[index]),
                    path=full_path, fit=final, n_nonzero=full_path.n_nonzero,
                    fold_n_gram=[p.n_gram for _, p in outcomes], n_jobs=jobs,
                    time=time.perf_counter() - start)


fit_cv = cross_validate


def _folds(cv, prepared, stratify, seed):
    n = prepared.model.n_samples
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        classify = prepared.model.name in ("logistic", "softmax")
        if stratify is None:
            stratify = classify
        if stratify and not classify:
            raise ValueError("stratify=True needs a classification model (logistic, softmax)")
        labels = _labels(prepared.model) if stratify else None
        return make_folds(n, int(cv), seed, labels)
    if isinstance(cv, (str, bytes)):
        raise TypeError(f"cv must be a number of folds, an integer array of shape ({n},), "
                        f"(train, test) index pairs or a scikit-learn splitter, got {cv!r}")
    if hasattr(cv, "split"):                          # a scikit-learn splitter
        cv = list(cv.split(np.empty((n, 1)), _labels(prepared.model)))
    if isinstance(cv, (list, tuple)) and cv and isinstance(cv[0], (list, tuple)):
        return _folds_from_splits(cv, n)
    folds = np.asarray(cv)
    if folds.shape != (n,) or folds.dtype.kind not in "iu":
        raise ValueError(f"cv must be a number of folds, an integer array of shape ({n},), "
                         "(train, test) index pairs or a scikit-learn splitter")
    ids, folds = np.unique(folds, return_inverse=True)
    if ids.size < 2:
        raise ValueError("cv needs at least two distinct folds")
    return folds.astype(np.intp)


def _folds_from_splits(splits, n):
    """Fold index of each row from (train, test) pairs whose test sets partition the rows
    (each fold trains on the rows outside its test set)."""
    folds = np.full(n, -1, dtype=np.intp)
    for k, (_, test) in enumerate(splits):
        test = np.asarray(test)
        if np.any(folds[test] >= 0):
            raise ValueError("the test sets of cv must not overlap")
        folds[test] = k
    if np.any(folds < 0) or len(splits) < 2:
        raise ValueError("the test sets of cv must cover every row, in two folds or more")
    return folds


def _is_softmax(model):
    """True for a model whose response is class codes (a Design's ``codes`` are its
    categoricals', not classes)."""
    return "class_codes" in capabilities(model)


def _labels(model):
    return model.codes if _is_softmax(model) else model.y


def _rows_times(X, rows, B):
    """X[rows] @ B in float64 for an array, a CSR matrix or a Design (its one-hot columns
    gathered from the codes)."""
    if not is_design(X):
        return X[rows].astype(np.float64, copy=False) @ B
    out = X.dense[rows].astype(np.float64, copy=False) @ B[:X.n_dense]
    start = X.n_dense
    for block in X.categoricals:
        codes = block.codes[rows]
        keep = codes >= 0
        out[keep] += B[start + codes[keep]]
        start += block.n_columns
    return out


def _jobs(n_jobs, threads, tasks):
    if n_jobs is None:
        return max(1, min(threads, tasks))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an integer >= 1 or None, got {n_jobs!r}")
    return int(min(n_jobs, tasks))


class _Scorer:
    """Held-out scores of a path's coefficients on a set of rows of the full-data model."""

    def __init__(self, model, metric):
        self.model = model
        self.metric = metric
        self.softmax = _is_softmax(model)
        self.stats = None if self.softmax else model.as_glm()
        self.weights = model.sample_weight if self.softmax else self.stats.sample_weight
        self.y = model.codes if self.softmax else self.stats.y

    def linear_predictors(self, path, rows):
        """eta of ``rows`` for every alpha: (rows, n_alphas) or (rows, n_alphas, K); X is
        gathered one block of rows at a time."""
        coef = path.coef.reshape(len(path.alphas), -1, path.coef.shape[-1])
        B = np.ascontiguousarray(coef.reshape(-1, coef.shape[-1]).T)
        eta = np.empty((rows.size, B.shape[1]))
        X = self.model.X
        for start in range(0, rows.size, _BLOCK_ROWS):
            block = rows[start:start + _BLOCK_ROWS]
            eta[start:start + block.size] = _rows_times(X, block, B)
        eta = eta.reshape(rows.size, *coef.shape[:2]) + \
            np.reshape(path.intercept, (1,) + coef.shape[:2])
        if not self.softmax:
            eta = eta[:, :, 0]
            if self.stats.offset is not None:
                eta += self.stats.offset[rows, None]
        return eta

    def scores(self, path, rows):
        """Score per alpha (lower is better) on ``rows``."""
        eta = self.linear_predictors(path, rows)
        y, w = self.y[rows], self.weights[rows]
        if callable(self.metric):
            return np.array([self.metric(y, self._mean(eta[:, a]), w)
                             for a in range(eta.shape[1])])
        loss = self._row_loss(eta, y)
        return (w @ loss) / w.sum()

    def _mean(self, eta):
        if self.softmax:
            return softmax(eta, axis=-1)
        return self.stats.link.inverse(eta)

    def _row_loss(self, eta, y):
        """(rows, n_alphas) losses of the metric."""
        metric = self.metric
        if self.softmax:
            rows = np.arange(y.size)
            if metric == "deviance":
                return 2.0 * (logsumexp(eta, axis=2) - eta[rows, :, y])
            if metric == "misclassification":
                return (np.argmax(eta, axis=2) != y[:, None]).astype(np.float64)
            onehot = np.zeros(eta.shape[::2])
            onehot[rows, y] = 1.0
            diff = softmax(eta, axis=2) - onehot[:, None, :]
            return np.sum(diff * diff if metric == "mse" else np.abs(diff), axis=2)
        y = y[:, None]
        with np.errstate(all="ignore"):
            mu = self.stats.link.inverse(eta)
            if metric == "deviance":
                loss = 2.0 * self.stats.family.half_deviance(y, eta, mu, self.stats.link)
                return np.where(np.isfinite(loss), loss, np.inf)
        if metric == "misclassification":
            return ((mu > 0.5) != (y > 0.5)).astype(np.float64)
        return (mu - y) ** 2 if metric == "mse" else np.abs(mu - y)


class CVResult(OptimizeResult):
    """Result of :func:`cross_validate`: a dict with attribute access.

    Attributes
    ----------
    alphas : ndarray
        (n_alphas,) the full data's grid, decreasing.
    cv_scores : ndarray
        (n_folds, n_alphas) held-out scores.
    cv_mean, cv_se : ndarray
        (n_alphas,) their mean and standard error.
    index_best, alpha_best, index_1se, alpha_1se : int, float, int, float
        The best and the one-standard-error alphas.
    select, index, alpha : str, int, float
        The rule and the alpha of the final fit.
    folds : ndarray
        (n,) each row's fold; n_folds its count.
    path : PathResult
        The full-data path.
    fit : FitResult
        The fit on all rows at ``alpha``.
    l1_ratio, metric, n_nonzero, fold_n_gram, n_jobs, time
    """

    def plot(self, ax=None, path=None):
        """Mean CV score +- one standard error against log10(alpha), the best and 1-SE alphas
        marked (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default None
            None: a new figure.
        path : str, path-like or None, default None
            Where to write the figure as PNG.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(8, 5), dpi=110, layout="constrained")
            ax = fig.subplots()
        else:
            fig = ax.figure
        x = np.log10(self.alphas)
        ax.errorbar(x, self.cv_mean, yerr=self.cv_se, fmt="o", markersize=3, color="tab:red",
                    ecolor="0.6", elinewidth=0.8)
        for index, style in ((self.index_best, "--"), (self.index_1se, ":")):
            ax.axvline(x[index], color="0.3", linestyle=style, linewidth=1)
        ax.invert_xaxis()
        ax.set_xlabel("log10(alpha)  (dashed: best, dotted: 1-SE)")
        metric = self.metric if isinstance(self.metric, str) else "metric"
        ax.set_ylabel(f"{self.n_folds}-fold CV {metric}")
        if path is not None:
            fig.savefig(path, format="png")
        return fig

    def to_dict(self):
        """Plain-Python summary for JSON.

        Returns
        -------
        dict
            The selection and scores (nan as None), the full-data path under "path".
        """
        out = {key: json_value(self.get(key)) for key in (
            "alphas", "l1_ratio", "n_folds", "cv_mean", "cv_se", "index_best", "alpha_best",
            "index_1se", "alpha_1se", "select", "index", "alpha", "n_nonzero", "time")}
        out["metric"] = self.metric if isinstance(self.metric, str) else "callable"
        out["path"] = self.path.to_dict()
        return out
