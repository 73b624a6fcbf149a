"""What the chunked backends share around a fit: the options they support, the model ``spec``
the chunk tasks rebuild models from, and the run through the shared optimiser."""
import numpy as np

from ngd.chunked.tasks import LABEL_MODELS
from ngd.exceptions import DataError

METHODS = ("ngd", "newton")


def model_spec(backend, model, method, fisher, l2, link, power, trials, fit_intercept, solver,
               alpha, l1_ratio, penalty_factor):
    """(spec, l2, penalty) for a chunked fit (penalty: an ``ngd.elastic_net`` Penalty or
    None), or a ValueError/TypeError naming what ``backend`` does not support."""
    from ngd import api
    from ngd.elastic_net import check_curvature, check_penalty
    from ngd.models import normalise_model_name

    l2, penalty = check_penalty(l2, alpha, l1_ratio, penalty_factor)
    if penalty is not None:
        check_curvature(method, fisher)
    name = normalise_model_name(model)
    if method not in METHODS:
        raise ValueError(f"backend={backend!r} supports method 'ngd' or 'newton', "
                         f"got {method!r}")
    if fisher in ("diagonal", "kfac"):
        raise ValueError(f"backend={backend!r} does not support fisher={fisher!r}")
    if solver not in ("auto", "cholesky"):
        raise ValueError(f"backend={backend!r} forms the p x p curvature in each pass: solver "
                         f"must be 'auto' or 'cholesky', got {solver!r}")
    api._check_real(l2, "l2", minimum=0.0)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    if power is not None and name != "tweedie":
        raise ValueError(f"power= applies to the tweedie model only, not {name!r}")
    if name == "softmax":
        if link is not None or trials is not None:
            raise ValueError("model 'softmax' takes no link= or trials=")
        spec = {"name": "softmax"}
    elif name == "logistic" and trials is None:
        if link not in (None, "logit"):
            raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}; "
                             "use model='binomial' for other links")
        spec = {"name": "logistic"}
    else:
        spec = {"name": "binomial" if name == "logistic" else name, "link": link,
                "power": power}
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
    from ngd import api
    from ngd.elastic_net import check_curvature, fit_prepared
    if model.fit_intercept is False and model.name not in LABEL_MODELS:
        if not np.isfinite(model.loss(model.initial_theta())):
            raise DataError(f"no valid starting point for the {model.spec['name']} family with "
                            f"the {model.link_name} link at coef = 0 (a chunked fit has no "
                            "least-squares start); try an intercept or another link")
    model.cov_type = options["cov_type"]
    prepared = api._Prepared(model, model.classes, n_threads, dtype)
    if penalty is not None:
        model.l2 = 0.0
        result = fit_prepared(prepared, penalty,
                              curvature=check_curvature(method, options["fisher"]),
                              tol=options["tol"],
                              max_iter=100 if options["max_iter"] is None else options["max_iter"],
                              ftol=options["ftol"], callback=options["callback"])
    else:
        options["solver"] = "cholesky"
        result = api._fit_prepared(prepared, method, statistics=statistics, **options)
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
