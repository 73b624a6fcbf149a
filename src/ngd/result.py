"""FitResult (a scipy OptimizeResult) and the per-iteration History of a fit."""
import numpy as np
from scipy.optimize import OptimizeResult

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

HISTORY_COLUMNS = ("iter", "loss", "grad_norm", "decrement", "step_size", "kl", "damping",
                   "dir_deriv", "n_linesearch", "n_updates", "fisher_rows", "solver_iter",
                   "time")


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
        """Add one row; missing columns are nan."""
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
        """{column: list of floats}."""
        return {name: [float(v) for v in values] for name, values in self._rows.items()}

    def __repr__(self):
        return f"History({len(self)} rows: {', '.join(HISTORY_COLUMNS)})"


class FitResult(OptimizeResult):
    """Result of :func:`ngd.fit`: a dict with attribute access (scipy's OptimizeResult).

    Keys: coef, intercept, stderr, loss, grad, grad_norm, n_iter, n_fev, converged, status,
    message, method, fisher, step_rule, damping, time, n_threads, dtype, classes, history; and
    scipy's aliases x (coef then intercept), fun, jac, nit, nfev, success.
    """

    def attach_model(self, model):
        """Keep the fitted model object for :meth:`check` (an attribute, not a key: it is not
        printed, serialised or pickled)."""
        vars(self)["_model"] = model

    def __getstate__(self):
        return {key: value for key, value in vars(self).items() if key != "_model"}

    def check(self, **options):
        """Verify the Fisher-information propositions numerically on this fit; a list of
        :class:`ngd.check.CheckRow` (see :func:`ngd.check.check_fit` for the options)."""
        from ngd.check import check_fit
        return check_fit(self, **options)

    def coefficient_rows(self, feature_names=None):
        """One dict per coefficient: name, estimate, stderr, z (softmax: 'class:feature')."""
        coef = np.atleast_2d(self.coef) if np.ndim(self.coef) == 2 else self.coef[None, :]
        se = self.get("stderr")
        se = np.full(coef.shape, np.nan) if se is None else np.reshape(se, coef.shape)
        p = coef.shape[1]
        names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(p)]
        if len(names) != p:
            raise ValueError(f"feature_names has {len(names)} names for {p} coefficients")
        multi = np.ndim(self.coef) == 2
        classes = self.get("classes")
        labels = [_label(c) for c in classes] if multi and classes is not None else \
            [str(k) for k in range(coef.shape[0])]
        rows = []
        for k in range(coef.shape[0]):
            prefix = f"{labels[k]}:" if multi else ""
            if self.get("fit_intercept", True):
                b = np.atleast_1d(self.intercept)[k]
                b_se = self.get("intercept_stderr")
                b_se = np.nan if b_se is None else np.atleast_1d(b_se)[k]
                rows.append(_coef_row(prefix + "(intercept)", b, b_se))
            for j in range(p):
                rows.append(_coef_row(prefix + names[j], coef[k, j], se[k, j]))
        return rows

    def summary(self, feature_names=None):
        """An R-like text summary: model, coefficient table, fit statistics, convergence."""
        head = [f"{self.get('model')} model (family {self.get('family')}, link "
                f"{self.get('link')}) fitted by {self.method}"
                + (f" with {self.fisher} curvature" if self.get("fisher") else ""),
                f"l2 = {self.get('l2', 0.0):g}; {self.message}", ""]
        table = [f"{'':24s} {'estimate':>12s} {'std.err':>10s} {'z':>8s}"]
        for row in self.coefficient_rows(feature_names):
            table.append(f"{row['name'][:24]:24s} {_num(row['estimate'], '.6g', 12)} "
                         f"{_num(row['stderr'], '.4g', 10)} {_num(row['z'], '.3f', 8)}")
        stats = []
        for key, label in (("dispersion", "dispersion"), ("deviance", "deviance"),
                           ("null_deviance", "null deviance"), ("df_resid", "df residual"),
                           ("llf", "log-likelihood"), ("aic", "AIC"), ("bic", "BIC")):
            value = self.get(key)
            if value is not None and np.isfinite(value):
                stats.append(f"{label}: {value:.6g}")
        tail = ["", "; ".join(stats),
                f"iterations: {self.n_iter}; loss {self.loss:.12g}; max|gradient| "
                f"{self.grad_norm:.2e}; time {self.get('time', 0.0):.3g} s"]
        return "\n".join(head + table + tail)

    def to_dict(self):
        """Plain-Python summary for JSON (no history arrays, no aliases)."""
        keys = ("method", "fisher", "step_rule", "loss", "grad_norm", "n_iter", "n_fev",
                "converged", "status", "message", "damping", "time", "n_threads", "dtype")
        out = {key: _plain(self.get(key)) for key in keys}
        out["coef"] = _plain(self.coef)
        out["intercept"] = _plain(self.intercept)
        out["stderr"] = _plain(self.get("stderr"))
        out["classes"] = _plain(self.get("classes"))
        return out


def _label(value):
    """A class label as text: integral floats without the decimal point (2.0 -> '2')."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _coef_row(name, estimate, stderr):
    estimate, stderr = float(estimate), float(stderr)
    z = estimate / stderr if np.isfinite(stderr) and stderr > 0 else float("nan")
    return {"name": name, "estimate": estimate, "stderr": stderr, "z": z}


def _num(value, spec, width):
    text = "-" if value is None or not np.isfinite(value) else format(value, spec)
    return text.rjust(width)


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
