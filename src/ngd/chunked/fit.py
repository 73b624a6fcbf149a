"""What the chunked backends share around a fit: the options they support, the model ``spec``
the chunk tasks rebuild models from, and the run through the shared optimiser.

A chunked model is wrapped in an ``ngd.fitting.Prepared`` and fitted by the path the
in-memory backend uses (``ngd.fitting.fit_prepared``, or ``ngd.elastic_net.fit_prepared``
with a penalty); this module does not import ``ngd.api``, which calls the backends."""
import numpy as np

from ngd import elastic_net
from ngd.chunked.tasks import LABEL_MODELS
from ngd.elastic_net import check_curvature, check_penalty
from ngd.exceptions import DataError
from ngd.fitting import Prepared, fit_prepared, model_kind

METHODS = ("ngd", "newton")


def model_spec(backend, model, method, fisher, l2, link, power, trials, fit_intercept, solver,
               alpha, l1_ratio, penalty_factor):
    """(spec, l2, penalty) for a chunked fit (penalty: an ``ngd.elastic_net`` Penalty or
    None), or a ValueError/TypeError naming what ``backend`` does not support."""
    l2, penalty = check_penalty(l2, alpha, l1_ratio, penalty_factor)
    if penalty is not None:
        check_curvature(method, fisher)
    if method not in METHODS:
        raise ValueError(f"backend={backend!r} supports method 'ngd' or 'newton', "
                         f"got {method!r}")
    if fisher in ("diagonal", "kfac"):
        raise ValueError(f"backend={backend!r} does not support fisher={fisher!r}")
    if solver not in ("auto", "cholesky"):
        raise ValueError(f"backend={backend!r} forms the p x p curvature in each pass: solver "
                         f"must be 'auto' or 'cholesky', got {solver!r}")
    kind, family = model_kind(model, link, power, trials, fit_intercept, l2)
    if family == "negative_binomial":
        raise ValueError(f"backend={backend!r} does not fit the negative_binomial model; use "
                         "backend='numpy'")
    spec = {"name": kind} if family is None else {"name": family, "link": link, "power": power}
    spec["fit_intercept"] = bool(fit_intercept)
    return spec, l2, penalty


def construction_l2(spec, l2, penalty):
    """The l2 a chunked model is built with: ``l2``; with an elastic-net penalty 0, except
    for softmax, whose gauge is fixed at construction (the symmetric one of L1 fits needs
    l2 > 0; :func:`run_fit` then sets the model's own l2 to 0, as ngd.elastic_net.prepare)."""
    if penalty is None:
        return l2
    return 1.0 if spec["name"] == "softmax" else 0.0


def run_fit(model, method, backend, dtype, n_threads, statistics=True, penalty=None,
            **options):
    """ngd.fit's optimiser and statistics on a chunked ``model`` (dense Cholesky solves of
    the reduced Gram), or with an elastic-net ``penalty`` proximal NGD (``ngd.elastic_net``;
    the model's own l2 is 0); the result also carries ``backend``, ``n_passes`` (passes over
    the data, statistics included) and ``n_chunks``."""
    if model.fit_intercept is False and model.name not in LABEL_MODELS:
        if not np.isfinite(model.loss(model.initial_theta())):
            raise DataError(f"no valid starting point for the {model.spec['name']} family with "
                            f"the {model.link_name} link at coef = 0 (a chunked fit has no "
                            "least-squares start); try an intercept or another link")
    model.cov_type = options["cov_type"]
    prepared = Prepared(model, model.classes, n_threads, dtype)
    if penalty is not None:
        model.l2 = 0.0
        result = elastic_net.fit_prepared(
            prepared, penalty, curvature=check_curvature(method, options["fisher"]),
            tol=options["tol"],
            max_iter=100 if options["max_iter"] is None else options["max_iter"],
            ftol=options["ftol"], callback=options["callback"])
    else:
        options["solver"] = "cholesky"
        result = fit_prepared(prepared, method, statistics=statistics, **options)
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
