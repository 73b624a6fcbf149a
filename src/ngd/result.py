"""FitResult (a scipy OptimizeResult) and the per-iteration History of a fit.

The optimisers build these, so this module imports no fitting code: :meth:`FitResult.check`
runs the checker that ``ngd.check`` registers here on import (``import ngd`` imports it).
"""
import numpy as np
from scipy import stats as scipy_stats
from scipy.optimize import OptimizeResult

from ngd import report
from ngd.messages import default_names

STATUS_MESSAGES = {
    0: "Converged: gradient norm below tolerance.",
    1: "Converged: relative loss change below tolerance.",
    2: "Stopped: maximum number of iterations reached.",
    3: "Stopped: line search could not decrease the loss.",
    4: "Stopped: non-finite loss or gradient; returning the last finite iterate.",
    5: "Stopped by the callback.",
    6: "Stopped: the maximum-likelihood estimate does not exist (separation).",
}
CONVERGED_STATUSES = (0, 1)
SUMMARY_WIDTH = 100             # characters per line of FitResult.summary()

_CHECKER = {}                   # "check_fit": ngd.check.check_fit, set by register_checker

RESULT_KEYS = ("method", "fisher", "step_rule", "loss", "grad_norm", "n_iter", "n_fev",
               "converged", "status", "message", "damping", "time", "n_threads", "dtype",
               "cov_type", "df_inference", "n_groups", "solver", "solver_costs")
STATISTICS = ("dispersion", "deviance", "null_deviance", "df_resid", "llf", "aic", "bic")

HISTORY_COLUMNS = ("iter", "loss", "grad_norm", "decrement", "step_size", "kl", "damping",
                   "dir_deriv", "n_linesearch", "n_updates", "fisher_rows", "solver_iter",
                   "time")


def register_checker(check_fit):
    """Make ``check_fit(result, **options)`` the implementation of :meth:`FitResult.check`
    (called by ngd.check, which imports this module)."""
    _CHECKER["check_fit"] = check_fit


class History:
    """Per-iteration record, one array per column; row 0 is the starting point.

    Columns: iter, loss, grad_norm (inf-norm), decrement (the Newton decrement
    sqrt(g^T (C + lambda I)^{-1} g) at the start of the iteration: the natural-gradient norm,
    unchanged when a column of X is rescaled), step_size (alpha), kl (1/2 alpha^2 d^T F d for
    exact-Fisher steps, else nan), damping (lambda used), dir_deriv (g^T d), n_linesearch
    (trial steps), n_updates (parameter updates so far; for SGD a row is one epoch),
    fisher_rows (rows the curvature was computed on; fewer than n when subsampled),
    solver_iter (CG iterations of the solve), time (cumulative wall seconds).
    """

    def __init__(self):
        self._rows = {name: [] for name in HISTORY_COLUMNS}

    def append(self, **row):
        """Add one row; missing columns are nan.

        Parameters
        ----------
        **row : float
            Values by column name (HISTORY_COLUMNS).

        Raises
        ------
        KeyError
            A name that is not a history column.
        """
        unknown = set(row) - set(HISTORY_COLUMNS)
        if unknown:
            raise KeyError(f"unknown history columns: {sorted(unknown)}")
        for name in HISTORY_COLUMNS:
            self._rows[name].append(row.get(name, np.nan))

    def __len__(self):
        return len(self._rows["iter"])

    def __getitem__(self, column):
        return np.asarray(self._rows[column], dtype=float)

    def as_dict(self):
        """{column: list of floats}.

        Returns
        -------
        dict
            One list per column of HISTORY_COLUMNS, one float per row.
        """
        return {name: [float(v) for v in values] for name, values in self._rows.items()}

    def __repr__(self):
        return f"History({len(self)} rows: {', '.join(HISTORY_COLUMNS)})"


class FitResult(OptimizeResult):
    """Result of :func:`ngd.fit`: a dict with attribute access (scipy's OptimizeResult).

    Inference in the reported order (coefficient_names(): intercept first, as statsmodels'
    add_constant; softmax class by class): params, bse, tvalues, pvalues, conf_int(alpha),
    cov_params(); z statistics with normal p-values, or t(df_inference) where the dispersion
    is estimated (:attr:`distribution`). Tests: ngd.wald_test, ngd.lr_test.

    Attributes
    ----------
    coef, intercept, stderr : ndarray or float
        Estimates ((K, p) coef for softmax) and their standard errors (None without them).
    loss, grad, grad_norm : float, ndarray, float
        The objective, its gradient and the gradient's inf-norm at the solution.
    n_iter, n_fev, converged, status, message
        Iterations, loss evaluations, convergence flag, status code and its message.
    method, fisher, step_rule, damping, time, n_threads, dtype, classes
        How the fit ran, and the labels of classification models.
    history : History
        The per-iteration record.
    solver, solver_costs
        The curvature solver used; solver="auto": the per-iteration estimates
        {solver: {"seconds", "bytes"}} it chose the cheapest of (ngd.fisher.cost).
    x, fun, jac, nit, nfev, success
        scipy's aliases (x: coef then intercept).
    cov, cov_type, dispersion, deviance, llf, aic, bic, df_resid, nobs
        Statistics (ngd.statistics); cov is the covariance of x.
    use_t, df_inference, n_groups
        t inference and its degrees of freedom (t / F), number of clusters.
    """

    def attach_model(self, model):
        """Keep the fitted model object for :meth:`check` (an attribute, not a key: it is not
        printed, serialised or pickled).

        Parameters
        ----------
        model : object
            The model the fit ran on.
        """
        vars(self)["_model"] = model

    def __getstate__(self):
        return {key: value for key, value in vars(self).items() if key != "_model"}

    def check(self, **options):
        """Verify the Fisher-information propositions numerically on this fit:
        ``ngd.check_fit(self, **options)``.

        Parameters
        ----------
        **options
            Those of :func:`ngd.check_fit` after its ``result``.

        Returns
        -------
        list of ngd.check.CheckRow
        """
        return _CHECKER["check_fit"](self, **options)

    def coefficient_names(self, feature_names=None):
        """Names of the reported coefficients, in the order of :meth:`coefficient_rows`:
        '(intercept)' then the features (softmax: 'class:name' for each class in turn).

        Parameters
        ----------
        feature_names : sequence of str or None, default None
            One per coefficient column; None: ``result.feature_names``, else x0, x1, ...

        Returns
        -------
        list of str

        Raises
        ------
        ValueError
            feature_names of the wrong length.
        """
        coef = self.coef if np.ndim(self.coef) == 2 else np.reshape(self.coef, (1, -1))
        names = self._feature_names(feature_names)
        multi = np.ndim(self.coef) == 2
        classes = self.get("classes")
        labels = [report.class_label(c) for c in classes] if multi and classes is not None else \
            [str(k) for k in range(coef.shape[0])]
        out = []
        for k in range(coef.shape[0]):
            prefix = f"{labels[k]}:" if multi else ""
            out += [prefix + "(intercept)"] if self.get("fit_intercept", True) else []
            out += [prefix + name for name in names]
        return out

    def _feature_names(self, feature_names=None):
        """The feature names: ``feature_names``, else ``result.feature_names``, else x0, ..."""
        p = np.shape(self.coef)[-1]
        if feature_names is None:
            feature_names = self.get("feature_names")
        names = list(feature_names) if feature_names is not None else default_names(p)
        if len(names) != p:
            raise ValueError(f"feature_names has {len(names)} names for {p} coefficients")
        return names

    @property
    def params(self):
        """Estimates in the order of :meth:`coefficient_names` (intercept first)."""
        return self._layout(self.coef, self.intercept)

    @property
    def bse(self):
        """Standard errors in the order of :meth:`coefficient_names` (nan where unavailable)."""
        se = self.get("stderr")
        if se is None:
            return np.full(self.params.shape, np.nan)
        b_se = self.get("intercept_stderr")
        if b_se is None:
            b_se = np.full(np.shape(self.intercept), np.nan)
        return self._layout(np.reshape(se, np.shape(self.coef)), b_se)

    @property
    def distribution(self):
        """Reference distribution of the z (or t) statistics: "t" for families with an
        estimated dispersion (``use_t``; df = ``df_inference``), else "normal"."""
        return "t" if self.get("use_t") else "normal"

    def _critical(self, alpha):
        """The two-sided critical value of level ``alpha``."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
        if self.distribution == "t":
            return float(scipy_stats.t.ppf(1 - alpha / 2, self.df_inference))
        return float(scipy_stats.norm.ppf(1 - alpha / 2))

    @property
    def tvalues(self):
        """estimate / stderr (z or t statistics) in the order of :meth:`coefficient_names`."""
        se = self.bse
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(se) & (se > 0), self.params / se, np.nan)

    @property
    def pvalues(self):
        """Two-sided p-values 2 P(|Z| > |z|), Z normal or t(df_inference) (see
        :attr:`distribution`), in the order of :meth:`coefficient_names`."""
        stat = np.abs(self.tvalues)
        if self.distribution == "t":
            return 2 * scipy_stats.t.sf(stat, self.df_inference)
        return 2 * scipy_stats.norm.sf(stat)

    def conf_int(self, alpha=0.05):
        """[lower, upper] = estimate -/+ q stderr with q the 1 - alpha/2 quantile of
        :attr:`distribution` (statsmodels' conf_int).

        Parameters
        ----------
        alpha : float, default 0.05
            One minus the confidence level, in (0, 1).

        Returns
        -------
        ndarray
            (m, 2), rows in the order of :meth:`coefficient_names` (nan without stderr).

        Raises
        ------
        ValueError
            alpha outside (0, 1).
        """
        q = self._critical(alpha)
        params, se = self.params, self.bse
        return np.column_stack([params - q * se, params + q * se])

    def cov_params(self):
        """Covariance of :attr:`params` (the reported coefficients, intercept first; softmax:
        in the reported gauge, pinned entries zero).

        Returns
        -------
        ndarray or None
            (m, m); None without standard errors.

        Raises
        ------
        ValueError
            A softmax result whose covariance came without the reporting transform.
        """
        cov = self.get("cov")
        if cov is None:
            return None
        if np.ndim(self.coef) == 2:
            transform = vars(self).get("_report_matrix")
            if transform is None:
                raise ValueError("the covariance of the reported softmax coefficients is not "
                                 "available for this result")
            K, p = np.shape(self.coef)
            rows = [[K * p + k] * bool(self.get("fit_intercept", True))
                    + list(range(k * p, (k + 1) * p)) for k in range(K)]
            transform = transform[np.concatenate(rows)]
            return transform @ cov @ transform.T
        p = np.size(self.coef)
        order = ([p] if self.get("fit_intercept", True) else []) + list(range(p))
        return cov[np.ix_(order, order)]

    def _layout(self, coef, intercept):
        """[intercept_k, coef_k] for each output k, flattened (the reported order)."""
        coef = np.reshape(np.asarray(coef, dtype=float), (-1, np.shape(self.coef)[-1]))
        blocks = []
        for k in range(coef.shape[0]):
            if self.get("fit_intercept", True):
                blocks.append(np.atleast_1d(np.asarray(intercept, dtype=float))[k:k + 1])
            blocks.append(coef[k])
        return np.concatenate(blocks)

    def coefficient_rows(self, feature_names=None, alpha=0.05):
        """One dict per coefficient, intercept first (softmax: 'class:feature').

        Parameters
        ----------
        feature_names : sequence of str or None, default None
            As :meth:`coefficient_names`.
        alpha : float, default 0.05
            The confidence intervals' 1 - level, in (0, 1).

        Returns
        -------
        list of dict
            Keys name, estimate, stderr, "z" or "t" (estimate / stderr, see
            :attr:`distribution`), pvalue, ci_low, ci_high.

        Raises
        ------
        ValueError
            feature_names of the wrong length, or alpha outside (0, 1).
        """
        names = self.coefficient_names(feature_names)
        label = "t" if self.distribution == "t" else "z"
        columns = zip(names, self.params, self.bse, self.tvalues, self.pvalues,
                      self.conf_int(alpha))
        return [{"name": name, "estimate": float(est), "stderr": float(se), label: float(z),
                 "pvalue": float(pv), "ci_low": float(ci[0]), "ci_high": float(ci[1])}
                for name, est, se, z, pv, ci in columns]

    def summary(self, feature_names=None, alpha=0.05):
        """A text summary (at most SUMMARY_WIDTH columns, ngd.report.render of
        :meth:`to_dict`): model, method, standard errors, coefficient table (estimate, std.
        error, z or t, p-value, 1 - alpha confidence interval), fit statistics, convergence.

        Parameters
        ----------
        feature_names : sequence of str or None, default None
            As :meth:`coefficient_names`.
        alpha : float, default 0.05
            The confidence intervals' 1 - level, in (0, 1).

        Returns
        -------
        str

        Raises
        ------
        ValueError
            feature_names of the wrong length, or alpha outside (0, 1).
        """
        document = self.to_dict(feature_names, alpha)
        document["convergence"] = report.convergence_rows([document])[0]
        return report.render(document, width=SUMMARY_WIDTH)

    def to_dict(self, feature_names=None, alpha=0.05):
        """The fit as plain Python for JSON, schema ``ngd.fit/1`` (no history arrays, no
        aliases, nan as None).

        Parameters
        ----------
        feature_names : sequence of str or None, default None
            As :meth:`coefficient_names`.
        alpha : float, default 0.05
            The confidence intervals' 1 - level, in (0, 1).

        Returns
        -------
        dict
            The model, the fit's keys, the coefficient rows (p-values, 1 - alpha intervals),
            statistics, inference, separation (feature names), backend, nb_alpha, penalty
            (an L1 fit's alpha, l1_ratio, kkt_violation, n_nonzero; else None).

        Raises
        ------
        ValueError
            feature_names of the wrong length, or alpha outside (0, 1).
        """
        out = {"schema": "ngd.fit/1", "model": self.get("model"), "family": self.get("family"),
               "link": self.get("link"), "power": self.get("power"),
               "l2": _plain(self.get("l2", 0.0))}
        out.update((key, _plain(self.get(key))) for key in RESULT_KEYS)
        out["converged"] = bool(self.get("converged"))
        out["decrement"] = _plain(self.get("newton_decrement"))
        out["coef"] = _plain(self.coef)
        out["intercept"] = _plain(self.intercept)
        out["stderr"] = _plain(self.get("stderr"))
        out["classes"] = _plain(self.get("classes"))
        out["distribution"] = self.distribution
        out["coefficients"] = [{key: _plain(value) for key, value in row.items()}
                               for row in self.coefficient_rows(feature_names, alpha)]
        out["statistics"] = {key: _plain(self.get(key)) for key in STATISTICS}
        out["inference"] = self._inference(alpha)
        out["separation"] = self._separation_names(feature_names)
        out["backend"] = self.get("backend") or "numpy"
        out["n_passes"] = self.get("n_passes")
        out["nb_alpha"] = None if self.get("nb_alpha") is None else {
            "value": _plain(self.nb_alpha), "stderr": _plain(self.get("nb_alpha_stderr")),
            "estimated": bool(self.get("nb_alpha_estimated"))}
        out["penalty"] = None if self.get("kkt_violation") is None else {
            key: _plain(self.get(key)) for key in ("alpha", "l1_ratio", "kkt_violation",
                                                   "n_nonzero")}
        return out

    def _inference(self, alpha):
        """The inference block of :meth:`to_dict` (cluster: the column names, unknown here)."""
        t = self.distribution == "t"
        return {"statistic": "t" if t else "z", "distribution": self.distribution,
                "df": _plain(self.get("df_inference")) if t else None,
                "conf_level": 1 - alpha, "cluster": None,
                "n_groups": _plain(self.get("n_groups"))}

    def _separation_names(self, feature_names):
        """The features involved in a separation (None without one)."""
        separation = self.get("separation")
        if separation is None:
            return None
        names = self._feature_names(feature_names)
        return [names[j] for j in separation["columns"]]


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
