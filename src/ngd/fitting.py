"""The one fit path every backend shares: build the model of a :class:`ngd.spec.ModelSpec`
on the data (:func:`build_model` -> :class:`Prepared`), then run the optimiser of a
:class:`ngd.spec.SolverOptions` and attach the statistics (:func:`fit_prepared`);
:func:`model_fields` describes the fitted model on a result.

Layering: this module sits below ``ngd.api`` (the front door, which dispatches on the
backend), ``ngd.elastic_net`` and the chunked / Dask backends, which all call it; it imports
none of them. A chunked backend is an object passed to :func:`build_model`, which asks it for
its model (``backend.build``); the options were checked when the spec objects were built.
"""
import numbers

import numpy as np

from ngd import _sparse, _validation, rowspace
from ngd._threads import fit_threads
from ngd.design import is_design
from ngd.exceptions import DataError
from ngd.fisher import auto_subsample_size
from ngd.models import get_model
from ngd.models.categorical import CategoricalModel, dense_part
from ngd.optim import CurvatureStepper, SGDStepper, run
from ngd.optim.adam import AdamStepper
from ngd.optim.diagonal import DiagonalStepper
from ngd.optim.sqn import SQNStepper
from ngd.statistics import attach_statistics

STDERR_MAX_PARAMS = 4096       # above this, stderr="auto" skips the p x p inverse
NB_START_ALPHA = 1.0           # negative binomial: alpha of the data-carrier model


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


class FitData:
    """The per-row inputs of a fit as given (X, y, weights, offset, trials; cluster labels of
    cov_type="cluster"): what :func:`build_model` validates and builds the model on."""

    def __init__(self, X, y, sample_weight=None, offset=None, trials=None, cluster=None):
        self.X, self.y = X, y
        self.sample_weight, self.offset, self.trials = sample_weight, offset, trials
        self.cluster = cluster


def build_model(spec, data, backend="numpy", threads=1):
    """The :class:`Prepared` problem of ``spec`` (a :class:`ngd.spec.ModelSpec`) on ``data``
    (a :class:`FitData`) with ``threads`` kernel threads: the one place a model is built
    from a fit's options. ``backend`` "numpy": in memory (:func:`_in_memory`); otherwise a
    backend object (``ngd.chunked.fit.ChunkedBackend``), whose ``build(spec, data, threads)``
    returns (model, dtype name) -- a model of the same protocol (ngd.models.base)."""
    if isinstance(backend, str):
        if backend != "numpy":
            raise ValueError(f"backend must be 'numpy', 'chunked' or 'dask', got {backend!r}")
        return _in_memory(spec, data, threads)
    model, dtype = backend.build(spec, data, threads)
    return Prepared(model, model.classes, threads, dtype)


def _in_memory(spec, data, threads):
    """The in-memory problem: ``data`` validated once and the model of ``spec`` built on it
    (a Design: the categorical model on its dense part, softmax the one-hot CSR)."""
    kind, family, X = spec.kind, spec.family, data.X
    design = X if is_design(X) else None
    if design is not None:      # softmax: the one-hot CSR path; else the dense part + codes
        X = design.to_csr() if kind == "softmax" else dense_part(design)
    elif _sparse.is_sparse(X):
        X = _sparse.as_csr(X, "X")
    else:
        X = _validation.as_matrix(X, "X", max_abs=_validation.MAX_ABS)
    n = X.shape[0]
    w = None
    if data.sample_weight is not None:
        w = _validation.as_vector(data.sample_weight, n, "sample_weight")
        if (w < 0).any():
            raise DataError("sample_weight must be >= 0")
        _validation.check_weight_sum(w, "sample_weight")
    off = None if data.offset is None else _validation.as_vector(
        data.offset, n, "offset", max_abs=_validation.MAX_ABS)
    common = dict(sample_weight=w, offset=off, fit_intercept=bool(spec.fit_intercept),
                  l2=spec.model_l2, n_threads=threads)
    if kind == "logistic":
        y01, classes = _labels(data.y, n, exactly=2)
        built = get_model("logistic")(X, y01, **common)
    elif kind == "softmax":
        codes, classes = _labels(data.y, n, exactly=None)
        built = get_model("softmax")(X, codes, n_classes=len(classes), gauge=spec.gauge,
                                     **common)
    else:
        y = _validation.as_vector(data.y, n, "y")
        t = None if data.trials is None else _validation.as_vector(data.trials, n, "trials")
        if t is not None:
            with np.errstate(over="ignore"):
                _validation.check_finite_scale(t.sum(), "the sum of trials")
        # alpha to estimate: the model at NB_START_ALPHA carries the validated data only
        built = get_model(family)(X, y, family=family, link=spec.link, power=spec.power,
                                  trials=t, nb_alpha=(NB_START_ALPHA if spec.nb_alpha is None
                                                      else spec.nb_alpha)
                                  if spec.negative_binomial else None, **common)
        classes = None
    if design is not None and kind != "softmax":
        built = CategoricalModel(design, built)
    prepared = Prepared(built, classes, threads, X.dtype.name)
    prepared.negative_binomial, prepared.nb_alpha = spec.negative_binomial, spec.nb_alpha
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
    """Rows of the curvature subsample for the (checked) ``subsample`` option, or None for
    all rows."""
    n = model.n_samples
    if subsample is None or subsample is False:
        return None
    if isinstance(subsample, str):                      # "auto"
        if method != "ngd" or curvature == "bohning":     # a fixed curvature is formed once
            return None
        fixed = getattr(model, "curvature_is_fixed", None)
        if fixed is not None and fixed(curvature):        # so is one whose weights are fixed
            return None
        if hasattr(model, "curvature_blocks"):    # a Design: a subsample can miss levels
            return None
        return auto_subsample_size(model, curvature)
    if isinstance(subsample, numbers.Integral):
        return min(int(subsample), n)
    return max(1, int(round(subsample * n)))


def fit_prepared(prepared, options, statistics=True, theta0=None):
    """One fit by ``options`` (a :class:`ngd.spec.SolverOptions`) on a prepared problem: the
    negative-binomial model through ngd.models.negbin (alpha estimated or fixed), every other
    model by _fit_single (from ``theta0`` when given)."""
    if prepared.negative_binomial:
        from ngd.models import negbin

        def fixed(at, method, statistics=True, theta0=None, **_):
            return _fit_single(at, options, statistics=statistics, theta0=theta0)
        return negbin.fit(prepared, options.method, fixed, statistics=statistics,
                          tol=options.tol, cov_type=options.cov_type)
    return _fit_single(prepared, options, statistics=statistics, theta0=theta0)


def _fit_single(prepared, options, statistics=True, theta0=None):
    """``options.method``'s stepper run on ``prepared.model`` from its start (or ``theta0``),
    with standard errors and deviances when ``statistics``."""
    method, max_iter = options.method, options.iterations
    model = prepared.model
    with fit_threads(prepared.n_threads):
        stepper, curvature, step_rule = _stepper(model, options)
        start = _start(model) if theta0 is None else theta0
        if rowspace.applies(model, options, stepper, theta0):
            result = rowspace.fit(model, options, stepper, start)
        else:
            result = run(stepper, start, tol=float(options.tol), ftol=float(options.ftol),
                         max_iter=max_iter, method=method, callback=options.callback)
        result.attach_model(model)
        if "solver" not in result:          # rowspace.fit reports its own solve
            result.solver = getattr(stepper, "solver_name", None)
            result.solver_costs = getattr(stepper, "solver_costs", None)
        _statistics(result, prepared, statistics, options.stderr, options.cov_type)
    result.update(fisher=curvature, step_rule=step_rule, n_threads=prepared.n_threads,
                  dtype=prepared.dtype, classes=prepared.classes, tol=float(options.tol),
                  max_iter=max_iter, **model_fields(model),
                  l2=model.l2, fit_intercept=model.fit_intercept,
                  damping=float(result.history["damping"][-1]) if result.n_iter else 0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result


def _stepper(model, options):
    """(stepper, curvature, step rule) of ``options.method`` on ``model``; curvature None for
    the stochastic methods."""
    method, fisher, seed = options.method, options.fisher, options.seed
    stochastic = dict(batch_size=options.batch_size, learning_rate=options.learning_rate,
                      seed=seed)
    if method == "sgd":
        return SGDStepper(model, **stochastic), None, "sgd"
    if method == "sqn":
        return SQNStepper(model, **stochastic), None, "sqn"
    if method in ("adam", "rmsprop"):
        return AdamStepper(model, method, **stochastic), None, method
    if method == "ngd" and fisher == "diagonal":
        stepper = DiagonalStepper(model, damping=float(options.damping),
                                  step_rule=options.step, kl_budget=float(options.kl))
        return stepper, fisher, options.step
    curvature = fisher if method == "ngd" else "observed"
    stepper = CurvatureStepper(model, curvature, damping=float(options.damping),
                               step_rule=options.step, kl_budget=float(options.kl),
                               solver=options.solver,
                               subsample=_subsample_size(options.subsample, method, model,
                                                         curvature),
                               seed=seed)
    return stepper, curvature, options.step


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


def _start(model):
    """The model's starting point; with an offset, no valid start is an error naming it (the
    offset is on the linear predictor's scale: log(exposure)). A fixed nb_alpha never is the
    cause: the NB deviance is finite for every alpha (ngd.models.families.NB_LARGE)."""
    offset = getattr(model, "offset", None)
    if offset is None:
        return model.initial_theta()
    try:
        with np.errstate(all="ignore"):         # our message, not numpy's warnings
            return model.initial_theta()
    except DataError as exc:
        raise DataError(f"offset: {exc} (the offset spans [{offset.min():g}, {offset.max():g}] "
                        "on the linear predictor's scale; pass log(exposure) for a log link, "
                        "not the exposure)") from None


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
