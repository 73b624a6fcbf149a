"""What the chunked backends share around a fit: the options they support, the model ``spec``
the chunk tasks rebuild models from, and the run through the shared optimiser.

A chunked model is wrapped in an ``ngd.fitting.Prepared`` and fitted by the path the
in-memory backend uses (``ngd.fitting.fit_prepared``, or ``ngd.elastic_net.fit_prepared``
with a penalty); this module does not import ``ngd.api``, which calls the backends."""
import numpy as np

from ngd import elastic_net
from ngd.chunked.tasks import LABEL_MODELS
from ngd.elastic_net import check_curvature
from ngd.exceptions import DataError
from ngd.fitting import Prepared, fit_prepared
from ngd.spec import ModelSpec, SolverOptions

METHODS = ("ngd", "newton")


def check_supported(backend, spec, options):
    """None if ``backend`` ("chunked" or "dask") fits ``spec`` (an :class:`ngd.spec.ModelSpec`)
    by ``options`` (an :class:`ngd.spec.SolverOptions`), else a ValueError naming what it does
    not support."""
    if spec.penalty is not None:
        check_curvature(options.method, options.fisher)
    if options.method not in METHODS:
        raise ValueError(f"backend={backend!r} supports method 'ngd' or 'newton', "
                         f"got {options.method!r}")
    if options.fisher in ("diagonal", "kfac"):
        raise ValueError(f"backend={backend!r} does not support fisher={options.fisher!r}")
    if options.solver not in ("auto", "cholesky"):
        raise ValueError(f"backend={backend!r} forms the p x p curvature in each pass: solver "
                         f"must be 'auto' or 'cholesky', got {options.solver!r}")
    if spec.negative_binomial:
        raise ValueError(f"backend={backend!r} does not fit the negative_binomial model; use "
                         "backend='numpy'")


def task_spec(spec):
    """The plain-dict model description the chunk tasks rebuild models from (it travels to
    Dask's workers): name, link, power, fit_intercept."""
    task = {"name": spec.kind} if spec.family is None else {
        "name": spec.family, "link": spec.link, "power": spec.power}
    task["fit_intercept"] = bool(spec.fit_intercept)
    return task


def model_spec(backend, model, method, fisher, l2, link, power, trials, fit_intercept, solver,
               alpha, l1_ratio, penalty_factor):
    """(task spec, l2, penalty) for a chunked fit of these ``ngd.fit`` options (penalty: an
    ``ngd.penalty.Penalty`` or None), or a ValueError/TypeError naming what ``backend`` does
    not support (:func:`check_supported`)."""
    spec = ModelSpec(model=model, link=link, power=power, trials=trials is not None,
                     fit_intercept=fit_intercept, l2=l2, alpha=alpha, l1_ratio=l1_ratio,
                     penalty_factor=penalty_factor)
    check_supported(backend, spec, SolverOptions(method=method, fisher=fisher, solver=solver))
    return task_spec(spec), spec.model_l2, spec.penalty


def construction_l2(spec):
    """The l2 a chunked model of ``spec`` is built with: the objective's; with an elastic-net
    penalty 0, except for softmax, whose gauge is fixed at construction (the symmetric one of
    L1 fits needs l2 > 0; :func:`run_fit` then sets the model's own l2 to 0)."""
    if spec.penalty is None:
        return spec.model_l2
    return 1.0 if spec.kind == "softmax" else 0.0


def run_fit(model, options, backend, dtype, statistics=True, penalty=None):
    """ngd.fit's optimiser and statistics on a chunked ``model`` by ``options`` (an
    :class:`ngd.spec.SolverOptions`; dense Cholesky solves of the reduced Gram), or with an
    elastic-net ``penalty`` proximal NGD (``ngd.elastic_net``; the model's own l2 is 0); the
    result also carries ``backend``, ``n_passes`` (passes over the data, statistics
    included) and ``n_chunks``."""
    if model.fit_intercept is False and model.name not in LABEL_MODELS:
        if not np.isfinite(model.loss(model.initial_theta())):
            raise DataError(f"no valid starting point for the {model.spec['name']} family with "
                            f"the {model.link_name} link at coef = 0 (a chunked fit has no "
                            "least-squares start); try an intercept or another link")
    model.cov_type = options.cov_type
    prepared = Prepared(model, model.classes, options.threads, dtype)
    if penalty is not None:
        model.l2 = 0.0
        result = elastic_net.fit_prepared(
            prepared, penalty, curvature=check_curvature(options.method, options.fisher),
            tol=options.tol, max_iter=options.iterations, ftol=options.ftol,
            callback=options.callback)
    else:
        result = fit_prepared(prepared, options.replace(solver="cholesky"),
                              statistics=statistics)
    result.update(backend=backend, n_passes=model.n_passes,
                  n_chunks=sum(1 for rows in model.chunk_rows if rows > 0))
    return result


def fit_methods(fit, dataset, options, **backend_options):
    """{method: FitResult} of ``ngd fit`` on a chunked backend's ``fit``: the first of
    ``options["methods"]`` and the others the backend runs (ngd, newton); statistics for the
    first only."""
    options = dict(options)
    methods = options.pop("methods")
    options.pop("statistics", None)
    methods = methods[:1] + [m for m in methods[1:] if m in METHODS]
    return {method: fit(dataset.X, dataset.y, method=method, statistics=(i == 0), **options,
                        **backend_options)
            for i, method in enumerate(methods)}
