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
}
CONVERGED_STATUSES = (0, 1)

HISTORY_COLUMNS = ("iter", "loss", "grad_norm", "step_size", "kl", "damping", "dir_deriv",
                   "n_linesearch", "n_updates", "time")


class History:
    """Per-iteration record, one array per column; row 0 is the starting point.

    Columns: iter, loss, grad_norm (inf-norm), step_size (alpha), kl (1/2 alpha^2 d^T F d for
    exact-Fisher steps, else nan), damping (lambda used), dir_deriv (g^T d; -g^T F^{-1} g is the
    squared Newton decrement), n_linesearch (trial steps), n_updates (parameter updates so
    far; for SGD a row is one epoch), time (cumulative wall seconds).
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
