"""``ngd.fit``: validate once, build the model, run one optimiser, attach statistics."""
import math
import numbers

import numpy as np

from ngd import _validation
from ngd._threads import effective_n_threads, fit_threads
from ngd.exceptions import DataError
from ngd.kernels import damped_cholesky, cholesky_solve
from ngd.models import get_model
from ngd.models.logistic import CURVATURES
from ngd.optim import CurvatureStepper, SGDStepper, run

METHODS = ("ngd", "newton", "sgd")
FISHERS = ("exact", "empirical")
DEFAULT_MAX_ITER = {"ngd": 100, "newton": 100, "sgd": 30}


def fit(X, y, model="logistic", method="ngd", fisher="exact", l2=0.0, link=None, power=None,
        trials=None, sample_weight=None, offset=None, fit_intercept=True, tol=1e-8,
        max_iter=None, backend="numpy", *, ftol=1e-12, damping=0.0, step="armijo", kl=0.01,
        batch_size=256, learning_rate=None, seed=0, n_threads=None, callback=None):
    """Fit ``model`` to (X, y) by ``method`` on the objective

        L(theta) = (1/sum w) sum_i w_i nll_i(theta) + (l2/2) ||coef||^2   (intercept unpenalised)

    method: "ngd" (step -(F + lambda I)^{-1} g; fisher="exact" is Fisher scoring, "empirical"
    uses (1/sum w) sum w_i s_i s_i^T, the BHHH curvature), "newton" (observed Hessian) or
    "sgd" (mini-batch, lr_e = lr0/(1+e), one history row per epoch).
    step: "armijo" (backtracking from alpha = 1) or "kl" (backtracking from
    alpha = min(1, sqrt(2 kl / g^T F^{-1} g)), the KL-budget step).
    y: two distinct labels, mapped to 0/1 in sorted order (``result.classes``).
    Stops when max|g| <= tol or the loss changes by <= ftol * max(1, |L|) (see FitResult).
    Returns a FitResult with coef, intercept, stderr (from the inverse exact Fisher at the
    solution, frequency-weight convention), history and diagnostics.
    """
    prepared = _prepare(X, y, model, link, power, trials, sample_weight, offset, fit_intercept,
                        l2, n_threads, backend)
    return _fit_prepared(prepared, method, fisher, tol, max_iter, ftol, damping, step, kl,
                         batch_size, learning_rate, seed, callback)


def compare(X, y, methods=METHODS, **options):
    """Fit the same objective with each of ``methods``; returns {method: FitResult}.
    Options are those of :func:`fit` (a method ignores options that do not apply to it)."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}")
    data_keys = ("model", "link", "power", "trials", "sample_weight", "offset",
                 "fit_intercept", "l2", "n_threads", "backend")
    data = {key: options.pop(key) for key in data_keys if key in options}
    prepared = _prepare(X, y, data.get("model", "logistic"), data.get("link"),
                        data.get("power"), data.get("trials"), data.get("sample_weight"),
                        data.get("offset"), data.get("fit_intercept", True),
                        data.get("l2", 0.0), data.get("n_threads"), data.get("backend", "numpy"))
    defaults = dict(fisher="exact", tol=1e-8, max_iter=None, ftol=1e-12, damping=0.0,
                    step="armijo", kl=0.01, batch_size=256, learning_rate=None, seed=0,
                    callback=None)
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected options: {', '.join(sorted(unknown))}")
    defaults.update(options)
    return {method: _fit_prepared(prepared, method, **defaults) for method in methods}


class _Prepared:
    """Validated arrays and the model built on them (shared by the methods of a comparison)."""

    def __init__(self, model, classes, n_threads, dtype):
        self.model = model
        self.classes = classes
        self.n_threads = n_threads
        self.dtype = dtype


def _prepare(X, y, model, link, power, trials, sample_weight, offset, fit_intercept, l2,
             n_threads, backend):
    model_cls = get_model(model)
    if backend != "numpy":
        raise ValueError(f"backend must be 'numpy' (others are not implemented yet), "
                         f"got {backend!r}")
    if link not in (None, "logit"):
        raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}")
    if power is not None:
        raise ValueError("power applies to the tweedie model only")
    if trials is not None:
        raise ValueError("trials (binomial counts) is not supported by model 'logistic' yet")
    _check_real(l2, "l2", minimum=0.0)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    X = _validation.as_matrix(X, "X")
    n = X.shape[0]
    y01, classes = _binary_labels(y, n)
    w = None
    if sample_weight is not None:
        w = _validation.as_vector(sample_weight, n, "sample_weight")
        if (w < 0).any():
            raise DataError("sample_weight must be >= 0")
        if w.sum() <= 0:
            raise DataError("sample_weight must have a positive sum")
    off = None if offset is None else _validation.as_vector(offset, n, "offset")
    threads = effective_n_threads(n_threads)
    built = model_cls(X, y01, sample_weight=w, offset=off, fit_intercept=bool(fit_intercept),
                      l2=float(l2), n_threads=threads)
    return _Prepared(built, classes, threads, X.dtype.name)


def _binary_labels(y, n):
    """Map a vector with exactly two distinct values to 0/1 (sorted order)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"y must have shape ({n},) to match X, got {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"y has a non-finite value ({y[i]}) at index {i}")
    if y.dtype.kind == "O":
        y = y.astype(str)
    classes, y01 = np.unique(y, return_inverse=True)
    if classes.size != 2:
        what = "only one class" if classes.size == 1 else f"{classes.size} distinct values"
        raise DataError(f"logistic regression needs exactly two classes in y, found {what}")
    return y01.astype(np.float64), classes


def _check_real(value, name, minimum=None, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or (minimum is not None and value < minimum) \
            or (positive and value <= 0):
        bound = "> 0" if positive else f">= {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _fit_prepared(prepared, method, fisher, tol, max_iter, ftol, damping, step, kl,
                  batch_size, learning_rate, seed, callback):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if fisher not in FISHERS:
        raise ValueError(f"fisher must be one of {FISHERS}, got {fisher!r}")
    _check_real(tol, "tol", minimum=0.0)
    _check_real(ftol, "ftol", minimum=0.0)
    _check_real(damping, "damping", minimum=0.0)
    _check_real(kl, "kl", positive=True)
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER[method]
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    model = prepared.model
    with fit_threads(prepared.n_threads):
        if method == "sgd":
            stepper = SGDStepper(model, batch_size=batch_size, learning_rate=learning_rate,
                                 seed=seed)
            curvature, step_rule = None, "sgd"
        else:
            curvature = fisher if method == "ngd" else "hessian"
            stepper = CurvatureStepper(model, curvature, damping=float(damping),
                                       step_rule=step, kl_budget=float(kl))
            step_rule = step
        result = run(stepper, model.initial_theta(), tol=float(tol), ftol=float(ftol),
                     max_iter=int(max_iter), method=method, callback=callback)
        _attach_statistics(result, model)
    assert curvature is None or curvature in CURVATURES
    result.update(fisher=curvature, step_rule=step_rule, n_threads=prepared.n_threads,
                  dtype=prepared.dtype, classes=prepared.classes, tol=float(tol),
                  max_iter=int(max_iter), model=model.name, l2=model.l2,
                  fit_intercept=model.fit_intercept,
                  damping=float(result.history["damping"][-1]) if result.n_iter else 0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result


def _attach_statistics(result, model):
    """coef, intercept, and standard errors sqrt(diag((sum w * F(theta))^{-1})) with F the
    exact Fisher of the objective (frequency-weight convention; includes the l2 term)."""
    coef, intercept = model.split(result.x)
    result.coef = coef.copy()
    result.intercept = intercept
    result.stderr = None
    result.intercept_stderr = None
    result.cov = None
    if not np.all(np.isfinite(result.x)):
        return
    fisher = model.exact_fisher(result.x) * model.weight_sum
    try:
        factor, used, escalations = damped_cholesky(fisher, 0.0)
    except np.linalg.LinAlgError:
        escalations = -1
    if escalations != 0:
        result.message += " Standard errors are unavailable: the Fisher information is singular."
        return
    cov = np.column_stack([cholesky_solve(factor, e) for e in np.eye(model.n_params)])
    se = np.sqrt(np.diag(cov))
    result.cov = cov
    result.stderr = se[:model.n_features]
    if model.fit_intercept:
        result.intercept_stderr = float(se[-1])
