"""The one fit path every backend shares: validate the data and build the model
(:func:`prepare` -> :class:`Prepared`), then run one optimiser and attach the statistics
(:func:`fit_prepared`); :func:`model_fields` describes the fitted model on a result.

Layering: this module sits below ``ngd.api`` (the front door, which dispatches on the
backend), ``ngd.elastic_net`` and the chunked / Dask backends, which all call it; it imports
none of them. The in-memory backend is :func:`prepare` then :func:`fit_prepared`; a chunked
backend builds its own model, wraps it in a :class:`Prepared` and runs :func:`fit_prepared`
(and checks its options with :func:`model_kind`, the checks all backends share).
"""
import numbers

import numpy as np

from ngd import _sparse, _validation
from ngd._threads import effective_n_threads, fit_threads
from ngd.design import is_design
from ngd.exceptions import DataError
from ngd.fisher import SOLVERS, auto_subsample_size
from ngd.models import get_model, normalise_model_name
from ngd.models.categorical import CategoricalModel, dense_part
from ngd.models.families import check_nb_alpha
from ngd.optim import CurvatureStepper, SGDStepper, run
from ngd.optim.adam import AdamStepper
from ngd.optim.diagonal import DiagonalStepper
from ngd.optim.sqn import SQNStepper
from ngd.statistics import COV_TYPES, attach_statistics

METHODS = ("ngd", "newton", "sgd", "sqn", "adam", "rmsprop")
FISHERS = ("exact", "empirical", "observed", "kfac", "bohning",  # kfac: softmax; bohning: logistic
           "diagonal")
STDERR_MAX_PARAMS = 4096       # above this, stderr="auto" skips the p x p inverse
NB_START_ALPHA = 1.0           # negative binomial: alpha of the data-carrier model
DEFAULT_MAX_ITER = {"ngd": 100, "newton": 100, "sgd": 30, "sqn": 30, "adam": 30, "rmsprop": 30}


class Prepared:
    """Validated arrays and the model built on them (shared by the methods of a comparison)."""

    def __init__(self, model, classes, n_threads, dtype, cluster=None):
        self.model = model
        self.classes = classes
        self.n_threads = n_threads
        self.dtype = dtype
        self.cluster = cluster      # cluster codes of cov_type="cluster" (ngd.clusters)
        self.negative_binomial = False  # model "negative_binomial": fitted by ngd.models.negbin
        self.nb_alpha = None            # its fixed alpha (None: estimated)


def model_kind(model, link, power, trials, fit_intercept, l2):
    """("logistic" | "softmax" | "glm", the GLM's family or None) of ``fit``'s model options,
    after the checks every backend shares (l2, fit_intercept, power, link, trials)."""
    name = normalise_model_name(model)
    _validation.check_real(l2, "l2", minimum=0.0, maximum=_validation.MAX_ABS)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    if power is not None and name != "tweedie":
        raise ValueError(f"power= applies to the tweedie model only, not {name!r}")
    if power is not None:
        _validation.check_real(power, "power")     # its range: the family's check
    if name == "logistic" and trials is None:
        if link not in (None, "logit"):
            raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}; "
                             "use model='binomial' for other links")
        return "logistic", None
    if name == "softmax":
        if link is not None or trials is not None:
            raise ValueError("model 'softmax' takes no link= or trials=")
        return "softmax", None
    return "glm", "binomial" if name == "logistic" else name


def prepare(X, y, model, link, power, trials, sample_weight, offset, fit_intercept, l2,
             n_threads, backend, nb_alpha=None):
    """A :class:`Prepared` problem of the in-memory backend: X, y, weights, offset and trials
    validated once and the model of ``model`` built on them (a Design: the categorical model
    on its dense part, softmax the one-hot CSR)."""
    if backend != "numpy":
        raise ValueError(f"backend={backend!r} is for ngd.fit (one method per call), not "
                         "compare()" if backend in ("dask", "chunked") else
                         f"backend must be 'numpy', 'chunked' or 'dask', got {backend!r}")
    kind, family = model_kind(model, link, power, trials, fit_intercept, l2)
    negative_binomial = family == "negative_binomial"
    if nb_alpha is not None:
        if not negative_binomial:
            raise ValueError(f"nb_alpha= applies to the negative_binomial model only, not "
                             f"{normalise_model_name(model)!r}")
        nb_alpha = _validation.check_real(check_nb_alpha(nb_alpha), "nb_alpha",
                                          maximum=_validation.MAX_ABS)
    design = X if is_design(X) else None
    if design is not None:      # softmax: the one-hot CSR path; else the dense part + codes
        X = design.to_csr() if kind == "softmax" else dense_part(design)
    elif _sparse.is_sparse(X):
        X = _sparse.as_csr(X, "X")
    else:
        X = _validation.as_matrix(X, "X", max_abs=_validation.MAX_ABS)
    n = X.shape[0]
    w = None
    if sample_weight is not None:
        w = _validation.as_vector(sample_weight, n, "sample_weight")
        if (w < 0).any():
            raise DataError("sample_weight must be >= 0")
        _validation.check_weight_sum(w, "sample_weight")
    off = None if offset is None else _validation.as_vector(offset, n, "offset",
                                                            max_abs=_validation.MAX_ABS)
    threads = effective_n_threads(n_threads)
    common = dict(sample_weight=w, offset=off, fit_intercept=bool(fit_intercept),
                  l2=float(l2), n_threads=threads)
    if kind == "logistic":
        y01, classes = _labels(y, n, exactly=2)
        built = get_model("logistic")(X, y01, **common)
    elif kind == "softmax":
        codes, classes = _labels(y, n, exactly=None)
        built = get_model("softmax")(X, codes, n_classes=len(classes), **common)
    else:
        y = _validation.as_vector(y, n, "y")
        t = None if trials is None else _validation.as_vector(trials, n, "trials")
        if t is not None:
            with np.errstate(over="ignore"):
                _validation.check_finite_scale(t.sum(), "the sum of trials")
        # alpha to estimate: the model at NB_START_ALPHA carries the validated data only
        built = get_model(family)(X, y, family=family, link=link, power=power, trials=t,
                                  nb_alpha=(NB_START_ALPHA if nb_alpha is None else nb_alpha)
                                  if negative_binomial else None, **common)
        classes = None
    if design is not None and kind != "softmax":
        built = CategoricalModel(design, built)
    prepared = Prepared(built, classes, threads, X.dtype.name)
    prepared.negative_binomial, prepared.nb_alpha = negative_binomial, nb_alpha
    return prepared


def _labels(y, n, exactly):
    """Map labels to codes 0..K-1 in sorted order; K must be ``exactly`` (or >= 2)."""
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
    if exactly == 2 and y.dtype.kind in "biuf":     # O(n) instead of a sort
        low, high = y.min(), y.max()
        is_high = y == high
        if low != high and np.all(is_high | (y == low)):
            return is_high.astype(np.float64), np.array([low, high])
    classes, codes = np.unique(y, return_inverse=True)
    if exactly is not None and classes.size != exactly:
        what = "only one class" if classes.size == 1 else f"{classes.size} distinct values"
        raise DataError(f"logistic regression needs exactly two classes in y, found {what}; "
                        "use model='softmax' for more")
    if classes.size < 2:
        raise DataError("y has only one class; at least two are needed")
    return codes.astype(np.float64 if exactly == 2 else np.intp), classes


def _subsample_size(subsample, method, model, curvature):
    """Rows of the curvature subsample for the ``subsample`` option, or None for all rows."""
    n = model.n_samples
    if subsample is None or subsample is False:
        return None
    if isinstance(subsample, str):
        if subsample != "auto":
            raise ValueError(f"subsample must be 'auto', None, a row count or a fraction, "
                             f"got {subsample!r}")
        if method != "ngd" or curvature == "bohning":     # a fixed curvature is formed once
            return None
        if hasattr(model, "curvature_blocks"):    # a Design: a subsample can miss levels
            return None
        return auto_subsample_size(n, model.n_params)
    if isinstance(subsample, bool) or not isinstance(subsample, numbers.Real):
        raise TypeError(f"subsample must be 'auto', None, a row count or a fraction, "
                        f"got {subsample!r}")
    if isinstance(subsample, numbers.Integral):
        if subsample < 1:
            raise ValueError(f"subsample must be >= 1 row, got {subsample!r}")
        return min(int(subsample), n)
    if not 0 < subsample <= 1:
        raise ValueError(f"a fractional subsample must lie in (0, 1], got {subsample!r}")
    return max(1, int(round(subsample * n)))


def fit_prepared(prepared, method, statistics=True, **options):
    """One method on a prepared problem: the negative-binomial model through
    ngd.models.negbin (alpha estimated or fixed), every other model by _fit_single."""
    if prepared.negative_binomial:
        from ngd.models import negbin
        return negbin.fit(prepared, method, _fit_single, statistics=statistics, **options)
    return _fit_single(prepared, method, statistics=statistics, **options)


def _fit_single(prepared, method, *, fisher, tol, max_iter, ftol, damping, step, kl,
                batch_size, learning_rate, seed, callback, cov_type, solver="auto",
                subsample="auto", stderr="auto", statistics=True, theta0=None):
    """``method``'s stepper run on ``prepared.model`` from its start (or ``theta0``), with
    standard errors and deviances when ``statistics``; the options checked here once."""
    max_iter = _check_options(method, fisher, solver, stderr, cov_type, tol, ftol, damping, kl,
                              learning_rate, seed, max_iter)
    model = prepared.model
    with fit_threads(prepared.n_threads):
        stepper, curvature, step_rule = _stepper(
            model, method, fisher, damping=damping, step=step, kl=kl, batch_size=batch_size,
            learning_rate=learning_rate, seed=seed, solver=solver, subsample=subsample)
        start = _start(model, prepared.nb_alpha) if theta0 is None else theta0
        result = run(stepper, start, tol=float(tol), ftol=float(ftol),
                     max_iter=int(max_iter), method=method, callback=callback)
        result.attach_model(model)
        result.solver = getattr(stepper, "solver_name", None)
        result.solver_costs = getattr(stepper, "solver_costs", None)
        _statistics(result, prepared, statistics, stderr, cov_type)
    result.update(fisher=curvature, step_rule=step_rule, n_threads=prepared.n_threads,
                  dtype=prepared.dtype, classes=prepared.classes, tol=float(tol),
                  max_iter=int(max_iter), **model_fields(model),
                  l2=model.l2, fit_intercept=model.fit_intercept,
                  damping=float(result.history["damping"][-1]) if result.n_iter else 0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result


def _check_options(method, fisher, solver, stderr, cov_type, tol, ftol, damping, kl,
                   learning_rate, seed, max_iter):
    """The solver options of :func:`fit_prepared` checked (ValueError/TypeError naming the
    option); returns max_iter, ``method``'s default when None."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if fisher not in FISHERS:
        raise ValueError(f"fisher must be one of {FISHERS}, got {fisher!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if stderr not in ("auto", True, False):
        raise ValueError(f"stderr must be 'auto', True or False, got {stderr!r}")
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    _validation.check_real(tol, "tol", minimum=0.0)
    _validation.check_real(ftol, "ftol", minimum=0.0)
    _validation.check_real(damping, "damping", minimum=0.0, maximum=_validation.MAX_ABS)
    _validation.check_real(kl, "kl", positive=True)
    if learning_rate is not None:
        _validation.check_real(learning_rate, "learning_rate", positive=True,
                               maximum=_validation.MAX_ABS)
    _validation.check_seed(seed)
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER[method]
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    return max_iter


def _stepper(model, method, fisher, *, damping, step, kl, batch_size, learning_rate, seed,
             solver, subsample):
    """(stepper, curvature, step rule) of ``method`` on ``model``; curvature None for the
    stochastic methods."""
    if method == "sgd":
        stepper = SGDStepper(model, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed)
        return stepper, None, "sgd"
    if method == "sqn":
        stepper = SQNStepper(model, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed)
        return stepper, None, "sqn"
    if method in ("adam", "rmsprop"):
        stepper = AdamStepper(model, method, batch_size=batch_size,
                              learning_rate=learning_rate, seed=seed)
        return stepper, None, method
    if method == "ngd" and fisher == "diagonal":
        stepper = DiagonalStepper(model, damping=float(damping), step_rule=step,
                                  kl_budget=float(kl))
        return stepper, fisher, step
    curvature = fisher if method == "ngd" else "observed"
    stepper = CurvatureStepper(model, curvature, damping=float(damping), step_rule=step,
                               kl_budget=float(kl), solver=solver,
                               subsample=_subsample_size(subsample, method, model, curvature),
                               seed=seed)
    return stepper, curvature, step


def _statistics(result, prepared, statistics, stderr, cov_type):
    """Standard errors, covariance and deviances on ``result`` when ``statistics``, else
    coef and intercept with the statistics None."""
    model = prepared.model
    if statistics:
        covariance = stderr is True or (stderr == "auto" and (
            model.n_params <= STDERR_MAX_PARAMS
            or getattr(model, "uses_block_covariance", False)))   # a Design: blocks
        attach_statistics(result, model, cov_type, covariance=covariance,
                          cluster=prepared.cluster)
    else:
        coef, intercept = model.split(result.x)
        result.update(coef=coef, intercept=intercept, stderr=None, intercept_stderr=None,
                      cov=None, cov_type=None, dispersion=None)


def _start(model, nb_alpha=None):
    """The model's starting point; with an offset or a fixed ``nb_alpha``, no valid start is
    an error naming them (the offset is on the linear predictor's scale: log(exposure))."""
    offset = getattr(model, "offset", None)
    causes = {}
    if offset is not None:
        causes["offset"] = (f"the offset spans [{offset.min():g}, {offset.max():g}] on the "
                            "linear predictor's scale; pass log(exposure) for a log link, "
                            "not the exposure")
    if nb_alpha is not None:
        causes["nb_alpha"] = f"nb_alpha = {nb_alpha:g} may be too large for these means"
    if not causes:
        return model.initial_theta()
    try:
        with np.errstate(all="ignore"):         # our message, not numpy's warnings
            return model.initial_theta()
    except DataError as exc:
        raise DataError(f"{' and '.join(causes)}: {exc} ({'; '.join(causes.values())})") \
            from None


def model_fields(model):
    """The fitted model's description on a result: model, family, link and power (None where
    the model has none)."""
    return dict(model=model.name,
                family=getattr(model, "family_name", None) or _family_name(model),
                link=getattr(model, "link_name", None) or _link_name(model),
                power=getattr(getattr(model, "family", None), "power", None))


def _family_name(model):
    """The name of the model's family, or None for models without one."""
    family = getattr(model, "family", None)
    return None if family is None else family.name


def _link_name(model):
    """The name of the model's link, or None for models without one."""
    link = getattr(model, "link", None)
    return None if link is None else link.name
