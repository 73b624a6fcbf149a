"""ngd.spec: ModelSpec and SolverOptions are checked once where they are built, hold the one
default of every option, and are what ngd.fit and the backends pass down."""
import dataclasses
import inspect

import numpy as np
import pytest

import ngd
from ngd.spec import DEFAULT_MAX_ITER, ModelSpec, SolverOptions, split_options


def _defaults(function):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("cls", [ModelSpec, SolverOptions])
def test_fit_takes_its_defaults_from_the_dataclasses(cls):
    defaults = _defaults(ngd.fit)
    shared = [f for f in dataclasses.fields(cls)
              if f.init and f.name in defaults and f.name != "trials"]   # data in fit
    assert len(shared) >= 8 if cls is SolverOptions else len(shared) >= 6
    for field in shared:
        assert defaults[field.name] is field.default or defaults[field.name] == field.default, \
            field.name


def test_estimators_take_their_defaults_from_the_dataclasses():
    for estimator in (ngd.estimators.LogisticRegression, ngd.estimators.GLMRegressor):
        defaults = _defaults(estimator.__init__)
        for name in ("tol", "max_iter", "method", "fisher", "step", "damping", "l2"):
            owner = ModelSpec if name == "l2" else SolverOptions
            assert defaults[name] == getattr(owner, name), (estimator, name)


def test_the_objects_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SolverOptions().tol = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelSpec().l2 = 1.0


@pytest.mark.parametrize("options, error, match", [
    (dict(method="bfgs"), ValueError, "method must be one of"),
    (dict(fisher="nope"), ValueError, "fisher must be one of"),
    (dict(tol=-1.0), ValueError, "tol must be"),
    (dict(kl=0.0), ValueError, "kl must be"),
    (dict(damping=True), TypeError, "damping must be a number"),
    (dict(max_iter=2.5), ValueError, "max_iter must be an integer"),
    (dict(seed=-1), ValueError, "seed must be"),
    (dict(subsample=1.5), ValueError, "fractional subsample"),
    (dict(subsample="all"), ValueError, "subsample must be"),
    (dict(stderr="yes"), ValueError, "stderr must be"),
    (dict(n_threads=0), ValueError, "n_threads must not be 0"),
])
def test_solver_options_are_checked_once_at_construction(options, error, match):
    with pytest.raises(error, match=match):
        SolverOptions(**options)
    X, y = np.eye(4), np.array([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(error, match=match):     # the same message from the front door
        ngd.fit(X, y, **options)


@pytest.mark.parametrize("options, error, match", [
    (dict(model="probit"), ValueError, "unknown model"),
    (dict(l2=-1.0), ValueError, "l2 must be"),
    (dict(fit_intercept=1), TypeError, "fit_intercept must be True or False"),
    (dict(model="poisson", power=1.5), ValueError, "power= applies to the tweedie"),
    (dict(link="probit"), ValueError, "uses the logit link"),
    (dict(model="softmax", link="log"), ValueError, "takes no link"),
    (dict(nb_alpha=1.0), ValueError, "nb_alpha= applies to the negative_binomial"),
    (dict(model="nb2", alpha=0.1, l1_ratio=0.5), ValueError, "fitted in memory"),
    (dict(l1_ratio=0.5), ValueError, "need alpha="),
    (dict(l2=0.1, alpha=0.1), ValueError, "either l2="),
    (dict(gauge="symmetric"), ValueError, "gauge= applies to the softmax model only"),
    (dict(model="softmax", gauge="centred"), ValueError, "gauge must be one of"),
])
def test_model_spec_is_checked_once_at_construction(options, error, match):
    with pytest.raises(error, match=match):
        ModelSpec(**options)


def test_model_spec_resolves_name_kind_penalty_and_gauge():
    spec = ModelSpec(model="Negative-Binomial", nb_alpha=2)
    assert (spec.name, spec.kind, spec.family, spec.nb_alpha) == \
        ("negative_binomial", "glm", "negative_binomial", 2.0)
    assert ModelSpec(model="logistic", trials=True).family == "binomial"
    ridge = ModelSpec(alpha=0.5)                 # alpha alone is the ridge l2
    assert ridge.penalty is None and ridge.model_l2 == 0.5
    enet = ModelSpec(alpha=0.5, l1_ratio=0.25)
    assert enet.model_l2 == 0.0 and enet.penalty.l1_ratio == 0.25
    assert ModelSpec(model="softmax").gauge == "reference"
    assert ModelSpec(model="softmax", l2=0.1).gauge == "symmetric"
    assert ModelSpec(model="softmax", alpha=0.1, l1_ratio=1.0).gauge == "symmetric"
    assert ModelSpec(model="softmax", l2=0.1, gauge="reference").gauge == "reference"
    assert ModelSpec().gauge is None


def test_max_iter_none_is_the_method_default():
    for method, limit in DEFAULT_MAX_ITER.items():
        assert SolverOptions(method=method).iterations == limit
    assert SolverOptions(max_iter=7).iterations == 7
    assert SolverOptions().replace(method="sgd").iterations == DEFAULT_MAX_ITER["sgd"]


def test_split_options_routes_keywords_and_names_unknown_ones():
    spec, options = split_options(dict(model="poisson", l2=0.1, tol=1e-6, method="newton"))
    assert (spec.name, spec.model_l2, options.tol, options.method) == \
        ("poisson", 0.1, 1e-6, "newton")
    with pytest.raises(TypeError, match="unexpected options: bogus"):
        split_options(dict(bogus=1))


def test_softmax_gauge_is_explicit():
    from ngd.models.softmax import SoftmaxModel
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), np.arange(30) % 3
    assert SoftmaxModel(X, y, 3).reference                       # l2 = 0: reference
    assert not SoftmaxModel(X, y, 3, l2=0.1).reference           # l2 > 0: symmetric
    pinned = SoftmaxModel(X, y, 3, l2=0.1, gauge="reference")
    assert pinned.reference and pinned.n_params == 3 * 2 + 3 - 2 - 1
    free = SoftmaxModel(X, y, 3, gauge="symmetric")
    assert not free.reference and free.l2 == 0 and free.n_params == 3 * 2 + 3 - 1
    with pytest.raises(ValueError, match="gauge must be one of"):
        SoftmaxModel(X, y, 3, gauge="sum")


def test_build_model_is_the_model_ngd_fit_fits():
    from ngd.fitting import FitData, build_model, fit_prepared
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 3
    spec = ModelSpec(model="softmax", l2=0.05)
    prepared = build_model(spec, FitData(X, y), threads=1)
    assert prepared.model.gauge.startswith("symmetric") and prepared.model.l2 == 0.05
    mine = fit_prepared(prepared, SolverOptions(n_threads=1))
    np.testing.assert_array_equal(mine.coef, ngd.fit(X, y, model="softmax", l2=0.05,
                                                     n_threads=1).coef)
    with pytest.raises(ValueError, match="backend must be 'numpy', 'chunked' or 'dask'"):
        build_model(spec, FitData(X, y), backend="gpu")


def test_backends_say_what_they_support():
    from ngd.chunked.local import LocalBackend
    from ngd.dask_backend.model import DaskBackend
    from ngd.fitting import FitData
    for backend in (LocalBackend(), DaskBackend()):
        assert backend.supports(ModelSpec(model="softmax", alpha=0.1, l1_ratio=0.5))
        assert backend.supports(ModelSpec(), SolverOptions(method="newton"))
        assert not backend.supports(ModelSpec(), SolverOptions(method="sgd"))
        assert not backend.supports(ModelSpec(), SolverOptions(fisher="diagonal"))
        assert not backend.supports(ModelSpec(), SolverOptions(solver="cg"))
        assert not backend.supports(ModelSpec(model="negbin"))
        assert not backend.supports(ModelSpec(), SolverOptions(cov_type="cluster"),
                                    FitData(np.eye(2), np.arange(2)))
        with pytest.raises(ValueError, match=f"backend={backend.name!r} supports method"):
            backend.check(ModelSpec(), SolverOptions(method="adam"))
    with pytest.raises(ValueError, match="chunk_rows must be an integer >= 1"):
        LocalBackend(0)


def test_backend_supports_is_the_public_question():
    assert ngd.backend_supports("chunked", method="newton", model="poisson")
    assert not ngd.backend_supports("chunked", method="sgd")
    assert not ngd.backend_supports("dask", model="negative_binomial")
    assert ngd.backend_supports("numpy", method="sgd")
    assert not ngd.backend_supports("numpy", method="newton", alpha=0.1, l1_ratio=1.0)
    with pytest.raises(ValueError, match="backend must be"):
        ngd.backend_supports("gpu")
    with pytest.raises(ValueError, match="method must be one of"):
        ngd.backend_supports("chunked", method="bfgs")


def test_compare_on_dask_skips_what_it_does_not_run_and_equals_fit():
    pytest.importorskip("dask.array")
    import scipy.sparse as sp
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(float)
    results = ngd.compare(sp.csr_matrix(X), y, backend="dask", chunk_rows=50)
    assert list(results) == ["ngd", "newton"]
    alone = ngd.fit(X, y, backend="dask", chunk_rows=50)
    np.testing.assert_array_equal(results["ngd"].coef, alone.coef)
    assert results["ngd"].backend == "dask"
