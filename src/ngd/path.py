"""Regularization paths: the elastic net of ``ngd.elastic_net`` over a log grid of alphas.

    alpha_max = max_j |g_j(theta_0)| / (r f_j)      (penalised j with f_j > 0)
    alpha_k   = alpha_max * ratio^(k / (n - 1)),  k = 0, ..., n - 1,

g the gradient of L at theta_0, the fit with every penalised coefficient at 0 (intercepts and
features with factor 0 fitted): alpha_max is the smallest alpha whose solution is theta_0.
Each alpha starts from the previous solution (warm start), screens features with the
sequential strong rule (KKT re-checked on the discarded ones) and reuses the stored curvature
while the Fisher weights move by less than ``curvature_reuse`` (relative L1 change). X may be
CSR (logistic and the GLM families): alpha_max, the screening and the KKT checks use the sparse
gradient, the curvature the sparse Gram of the working set's columns.
"""
import numbers
import time

import numpy as np
from scipy.optimize import OptimizeResult

from ngd._threads import fit_threads
from ngd._validation import MAX_ABS, check_real
from ngd.elastic_net import (centre_unpenalised, check_curvature, check_solver,
                             parameter_factors, path_penalty, prepare)
from ngd.messages import default_names
from ngd.optim.proximal import CompositeProblem, CurvatureCache, LastEvaluation, minimise

#: iterations per grid point of a path (and of ngd.cv's folds and refit): proximal NGD
PATH_MAX_ITER = 100


def fit_path(X, y, model="logistic", l1_ratio=1.0, n_alphas=100, alpha_min_ratio=1e-3,
             alphas=None, penalty_factor=None, *, link=None, power=None, trials=None,
             sample_weight=None, offset=None, fit_intercept=True, fisher="exact", tol=1e-8,
             max_iter=PATH_MAX_ITER, curvature_reuse=0.1, n_threads=None):
    """Fit the elastic net ``alpha f_j [(1 - r)/2 beta_j^2 + r |beta_j|]`` for a decreasing
    sequence of alphas (see the module docstring).

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
        Kernel threads (None: all cores).

    Returns
    -------
    PathResult
        alphas, coef (n_alphas, p) or (n_alphas, K, p), intercept, deviance, null_deviance,
        deviance_ratio, n_nonzero, n_iter, kkt_violation, converged, n_gram (Fisher builds),
        alpha_max, time; ``.plot()`` draws the coefficient paths.

    Raises
    ------
    ValueError
        An invalid option (l1_ratio, grid, fisher, tol, max_iter, curvature_reuse), a ridge
        path without ``alphas``, every penalty factor 0, an alpha_max above MAX_ABS, or
        invalid data (ngd.DataError).
    TypeError
        A sparse X with softmax, or an option of the wrong type.
    """
    penalty = path_penalty(l1_ratio, penalty_factor)
    check_grid(penalty, alphas)
    check_solver(tol, max_iter)
    curvature = check_curvature("ngd", fisher)
    prepared = prepare(X, y, model=model, link=link, power=power, trials=trials,
                       sample_weight=sample_weight, offset=offset, fit_intercept=fit_intercept,
                       n_threads=n_threads)
    grid = GridSpec(n_alphas, alpha_min_ratio, alphas)
    with fit_threads(prepared.n_threads):
        return solve_path(prepared, penalty, grid, curvature=curvature, tol=tol,
                          max_iter=max_iter, curvature_reuse=curvature_reuse)


def check_grid(penalty, alphas):
    """A grid needs alpha_max: some L1 penalty on some feature (else pass ``alphas``)."""
    if alphas is not None:
        return
    if penalty.l1_ratio == 0:
        raise ValueError("a ridge path (l1_ratio = 0) has no alpha_max: pass alphas=")
    if penalty.factor is not None and not np.any(penalty.factor > 0):
        raise ValueError("every feature has penalty factor 0: there is no path to compute")


MAX_ALPHAS = 100_000      # grid points: each one is a fit (glmnet's default is 100)


class GridSpec:
    """n_alphas and alpha_min_ratio of a log grid, or explicit alphas."""

    def __init__(self, n_alphas=100, alpha_min_ratio=1e-3, alphas=None):
        if alphas is not None:
            alphas = _alpha_list(alphas)
        else:
            if isinstance(n_alphas, bool) or not isinstance(n_alphas, (int, np.integer)) \
                    or not 1 <= n_alphas <= MAX_ALPHAS:
                raise ValueError(f"n_alphas must be an integer in [1, {MAX_ALPHAS}], "
                                 f"got {n_alphas!r}")
            if isinstance(alpha_min_ratio, (bool, np.bool_)) or \
                    not isinstance(alpha_min_ratio, numbers.Real) or \
                    not 0 < alpha_min_ratio < 1:
                raise ValueError(f"alpha_min_ratio must lie in (0, 1), got {alpha_min_ratio!r}")
        self.n_alphas = n_alphas
        self.ratio = alpha_min_ratio
        self.alphas = alphas

    def resolve(self, alpha_max):
        """The alphas, decreasing: alpha_max ratio^(k / (n - 1)) unless given."""
        if self.alphas is not None:
            return self.alphas
        if self.n_alphas == 1:
            return np.array([alpha_max])
        return alpha_max * self.ratio ** np.linspace(0.0, 1.0, self.n_alphas)


def _alpha_list(alphas):
    """``alphas`` as a float64 array sorted decreasing: a non-empty list of real numbers in
    [0, MAX_ABS] (larger penalties overflow the curvature, as l2)."""
    values = np.asarray(alphas, dtype=object).ravel()
    if values.size == 0 or values.size > MAX_ALPHAS:
        raise ValueError(f"alphas must be a list of 1 to {MAX_ALPHAS} numbers, got "
                         f"{values.size}")
    for value in values:
        check_real(value, "alphas", 0.0, MAX_ABS)
    return np.sort(values.astype(np.float64))[::-1]


def minimise_refreshed(problem, theta, *, tol, max_iter, cache, previous_l1=None):
    """Proximal NGD from theta (ftol = 0); a stored curvature can stall at a rounding-level
    loss change above tol: then the fit is finished from there with a fresh one."""
    result = minimise(problem, theta, tol=tol, ftol=0.0, max_iter=max_iter, cache=cache,
                      previous_l1=previous_l1)
    if result.kkt_violation > tol and cache.reuse > 0 and np.all(np.isfinite(result.x)):
        cache.expired = True
        stalled = result
        result = minimise(problem, result.x, tol=tol, ftol=0.0, max_iter=max_iter,
                          cache=cache, previous_l1=previous_l1)
        result.n_iter += stalled.n_iter
        result.n_fev += stalled.n_fev
    return result


def null_fit(prepared, penalty, curvature, tol, max_iter, cache, memo=None):
    """(theta_0, alpha_max, its FitResult): the fit with every penalised coefficient at 0
    (alpha_max is nan without an L1 part)."""
    model = prepared.model
    factors = parameter_factors(model, penalty.factor)
    frozen = np.where(factors > 0, np.inf, 0.0)
    problem = CompositeProblem(model, frozen, np.zeros_like(frozen), curvature, memo)
    result = minimise_refreshed(problem, model.initial_theta(), tol=tol, max_iter=max_iter,
                                cache=cache)
    grad = problem.evaluate(result.x).smooth_grad
    scaled = factors * penalty.l1_ratio
    active = scaled > 0
    if not active.any():
        return result.x, np.nan, result
    with np.errstate(over="ignore"):
        alpha_max = float(np.max(np.abs(grad[active]) / scaled[active]))
    if not alpha_max <= MAX_ABS:
        raise ValueError(f"alpha_max = max_j |gradient_j| / (l1_ratio * penalty_factor_j) is "
                         f"{alpha_max:g} (> {MAX_ABS:g}): l1_ratio or a penalty factor is too "
                         "small; pass alphas=")
    return result.x, (alpha_max if alpha_max > 0 else 1.0), result   # 0: any alpha zeroes all


def solve_path(prepared, penalty, grid, *, curvature="exact", tol=1e-8,
               max_iter=PATH_MAX_ITER, curvature_reuse=0.1, alpha_max=None):
    """The path on a prepared model (thread limits set by the caller). ``alpha_max`` given
    (e.g. from the full data in cross-validation) fixes the grid; theta_0 is still fitted."""
    start = time.perf_counter()
    model = prepared.model
    cache = CurvatureCache(model, check_real(curvature_reuse, "curvature_reuse", minimum=0.0))
    memo = LastEvaluation()
    theta, own_max, null = null_fit(prepared, penalty, curvature, tol, max_iter, cache, memo)
    alpha_max = own_max if alpha_max is None else alpha_max
    alphas = grid.resolve(alpha_max)
    records = []
    previous = None             # the first alpha: the basic strong rule (from alpha_max)
    for alpha in alphas:
        l1, ridge = penalty.at(alpha).vectors(model)
        problem = CompositeProblem(model, l1, ridge, curvature, memo)
        result = minimise_refreshed(problem, theta, tol=tol, max_iter=max_iter, cache=cache,
                                    previous_l1=previous)
        if np.all(np.isfinite(result.x)):
            theta = result.x
        previous = l1
        records.append(result)
    return _path_result(prepared, penalty, alphas, alpha_max, null, records, cache,
                        time.perf_counter() - start)


def _path_result(prepared, penalty, alphas, alpha_max, null, records, cache, elapsed):
    model = prepared.model
    thetas = [centre_unpenalised(model, r.x, penalty.factor) for r in records]
    split = [model.split(theta) for theta in thetas]
    coef = np.array([c for c, _ in split])
    intercept = np.array([b for _, b in split], dtype=np.float64)
    deviance = np.array([2.0 * model.weight_sum * r.nll for r in records])
    null_deviance = 2.0 * model.weight_sum * null.nll
    return PathResult(
        alphas=alphas, alpha_max=alpha_max, l1_ratio=penalty.l1_ratio,
        penalty_factor=penalty.factor, coef=coef, intercept=intercept, deviance=deviance,
        null_deviance=null_deviance,
        deviance_ratio=1.0 - deviance / null_deviance if null_deviance > 0 else
        np.full(len(records), np.nan),
        n_nonzero=np.array([np.count_nonzero(c) for c, _ in split]),
        n_iter=np.array([r.n_iter for r in records]),
        kkt_violation=np.array([r.kkt_violation for r in records]),
        converged=np.array([bool(r.converged) for r in records]),
        n_gram=cache.n_builds, n_gram_reused=cache.n_reused, gram_cells=cache.n_cells,
        n_fev=int(sum(r.n_fev for r in records) + null.n_fev),
        model=model.name, classes=prepared.classes, fit_intercept=model.fit_intercept,
        x=np.array(thetas), time=elapsed)


class PathResult(OptimizeResult):
    """Result of :func:`fit_path`: a dict with attribute access.

    Attributes
    ----------
    alphas : ndarray
        (n_alphas,), decreasing.
    coef, intercept : ndarray
        (n_alphas, p) or (n_alphas, K, p); (n_alphas,) or (n_alphas, K).
    deviance, deviance_ratio, n_nonzero, n_iter, kkt_violation, converged : ndarray
        One entry per alpha.
    null_deviance, alpha_max, l1_ratio : float
    n_gram, n_gram_reused, n_fev : int
        Fisher builds, reuses, loss evaluations.
    x : ndarray
        (n_alphas, n_parameters) the solutions' parameter vectors.
    model, classes, fit_intercept, penalty_factor, time
    """

    def plot(self, ax=None, feature_names=None, path=None):
        """Coefficient paths against log10(alpha) (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default None
            None: a new figure.
        feature_names : sequence of str or None, default None
            Curve labels; None: x0, x1, ...
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
        coef = self.coef.reshape(len(self.alphas), -1)
        x = np.log10(self.alphas)
        names = _curve_names(self.coef.shape[1:], feature_names, self.get("classes"))
        for j in range(coef.shape[1]):
            if np.any(coef[:, j]):
                ax.plot(x, coef[:, j], linewidth=1.2, label=names[j])
        ax.invert_xaxis()
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel("log10(alpha)")
        ax.set_ylabel("coefficient")
        top = ax.secondary_xaxis("top")
        top.set_xticks(x[::max(1, len(x) // 8)],
                       labels=[str(k) for k in self.n_nonzero[::max(1, len(x) // 8)]])
        top.set_xlabel("non-zero coefficients")
        ax.set_title(f"{self.model} elastic-net path, l1_ratio = {self.l1_ratio:g}", fontsize=10)
        if coef.shape[1] <= 12:
            ax.legend(fontsize=8, frameon=False)
        if path is not None:
            fig.savefig(path, format="png")
        return fig

    def to_dict(self):
        """Plain-Python summary for JSON.

        Returns
        -------
        dict
            The arrays as lists, nan/inf as None.
        """
        keys = ("alphas", "alpha_max", "l1_ratio", "coef", "intercept", "deviance",
                "null_deviance", "deviance_ratio", "n_nonzero", "n_iter", "kkt_violation",
                "converged", "n_gram", "n_gram_reused", "n_fev", "time")
        return {key: json_value(self.get(key)) for key in keys}


def _curve_names(shape, feature_names, classes):
    p = shape[-1]
    names = list(feature_names) if feature_names is not None else default_names(p)
    if len(shape) == 1:
        return names
    labels = [str(c) for c in classes] if classes is not None else \
        [str(k) for k in range(shape[0])]
    return [f"{k}:{name}" for k in labels for name in names]


def json_value(value):
    """A JSON-ready value: arrays to lists, numpy scalars to Python, nan/inf to None."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
