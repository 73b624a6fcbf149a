"""What the chunked backends share around a fit: :class:`ChunkedBackend` (what a backend
supports, checked in one place; the model it builds; the fit), the task ``spec`` the chunk
tasks rebuild models from, and the run through the shared optimiser.

A chunked model is built by ``ngd.fitting.build_model`` (asking the backend object) and
fitted by the path the in-memory backend uses (``ngd.fitting.fit_prepared``, or ``ngd.elastic_net.fit_prepared``
with a penalty); this module does not import ``ngd.api``, which calls the backends."""
import numpy as np

from ngd import elastic_net
from ngd.chunked.tasks import LABEL_MODELS
from ngd.elastic_net import check_curvature
from ngd.exceptions import DataError
from ngd.design import is_design
from ngd.fitting import build_model, fit_prepared
from ngd.spec import NB_SCOPE, ModelSpec, SolverOptions

METHODS = ("ngd", "newton")


class ChunkedBackend:
    """A backend of ``ngd.fit`` over row chunks: what it fits (:meth:`supports`,
    :meth:`check`: the one place its limits are checked), the model it builds on the data
    (:meth:`build`, called by ``ngd.fitting.build_model``) and the fit (:meth:`fit`: the
    shared optimiser on that model). Subclasses set ``name`` and implement :meth:`build`."""

    name = "chunked"

    def supports(self, spec, options=None, data=None):
        """Whether this backend fits ``spec`` by ``options`` (default SolverOptions()) on
        ``data`` (an ``ngd.fitting.FitData`` or None)."""
        try:
            self.check(spec, options, data)
        except ValueError:
            return False
        return True

    def check(self, spec, options=None, data=None):
        """None, or a ValueError naming the first option (or input) this backend does not
        support."""
        check_supported(self.name, spec, SolverOptions() if options is None else options)
        if data is not None and is_design(data.X):
            raise ValueError(f"backend={self.name!r} does not take a Design (categorical "
                             "blocks); use backend='numpy'")
        if data is not None and (data.cluster is not None or
                                 (options is not None and options.cov_type == "cluster")):
            raise ValueError(f"cov_type='cluster' needs the in-memory backend (backend="
                             f"'numpy'), not {self.name!r}")

    def build(self, spec, data, threads):
        """(model, dtype name): the chunked model of ``spec`` on ``data``."""
        raise NotImplementedError

    def release(self, model):
        """Called when a fit on ``model`` is done (default: nothing)."""

    def fit(self, spec, options, data, statistics=True):
        """The FitResult of ``spec`` by ``options`` on ``data`` (:func:`run_fit`)."""
        self.check(spec, options, data)
        prepared = build_model(spec, data, self, options.threads)
        try:
            return run_fit(prepared, options, self.name, statistics=statistics,
                           penalty=spec.penalty)
        finally:
            self.release(prepared.model)


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
        raise ValueError(NB_SCOPE)


def task_spec(spec):
    """The plain-dict model description the chunk tasks rebuild models from (it travels to
    Dask's workers): name, link, power, fit_intercept; softmax its gauge."""
    task = {"name": spec.kind} if spec.family is None else {
        "name": spec.family, "link": spec.link, "power": spec.power}
    task["fit_intercept"] = bool(spec.fit_intercept)
    if spec.gauge is not None:
        task["gauge"] = spec.gauge
    return task


def run_fit(prepared, options, backend, statistics=True, penalty=None):
    """ngd.fit's optimiser and statistics on a prepared chunked model by ``options`` (an
    :class:`ngd.spec.SolverOptions`; dense Cholesky solves of the reduced Gram), or with an
    elastic-net ``penalty`` proximal NGD (``ngd.elastic_net``; the model's own l2 is 0, as
    :func:`ngd.spec.ModelSpec` sets ``model_l2`` with a penalty); the
    result also carries ``backend``, ``n_passes`` (passes over the data, statistics
    included) and ``n_chunks``."""
    model = prepared.model
    if model.fit_intercept is False and model.name not in LABEL_MODELS:
        if not np.isfinite(model.loss(model.initial_theta())):
            raise DataError(f"no valid starting point for the {model.spec['name']} family with "
                            f"the {model.link_name} link at coef = 0 (a chunked fit has no "
                            "least-squares start); try an intercept or another link")
    model.cov_type = options.cov_type
    if penalty is not None:
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
