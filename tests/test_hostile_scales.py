"""Non-finite derived scales (issue 17, class 5): refused with one line naming the input."""
import numpy as np
import pytest

import ngd


def _data(n=60, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X @ np.array([1.0, -0.5, 0.25]) + rng.normal(size=n) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("kwargs, name", [
    (dict(sample_weight="overflow"), "sample_weight"),
    (dict(l2=1e308), "l2"), (dict(l2=np.inf), "l2"), (dict(l2=np.nan), "l2"),
    (dict(damping=1e308), "damping"), (dict(tol=np.inf), "tol"),
])
def test_overflowing_scale_is_refused_by_name(kwargs, name):
    X, y = _data()
    if kwargs.get("sample_weight") == "overflow":
        kwargs = dict(sample_weight=np.full(len(y), 1e308))
    with pytest.raises(ValueError, match=name) as info:
        ngd.fit(X, y, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("scale", [1e-300, 1e100])
def test_extreme_finite_weights_fit_as_rescaled(scale):
    X, y = _data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    ref = ngd.fit(X, y, sample_weight=w, l2=1e-3, stderr=False)
    got = ngd.fit(X, y, sample_weight=w * scale, l2=1e-3, stderr=False)
    np.testing.assert_allclose(got.coef, ref.coef, rtol=0, atol=1e-10)


def _counts(n=60, seed=0):
    X, _ = _data(n, seed=seed)
    return X, np.random.default_rng(seed).poisson(2.0, n).astype(float)


# option -> (the call with the option set to v, whether a maximum (MAX_ABS) applies)
_FIT_OPTIONS = {
    "l2": (lambda X, y, v: ngd.fit(X, y, l2=v), True),
    "tol": (lambda X, y, v: ngd.fit(X, y, tol=v), False),
    "ftol": (lambda X, y, v: ngd.fit(X, y, ftol=v), False),
    "damping": (lambda X, y, v: ngd.fit(X, y, damping=v), True),
    "kl": (lambda X, y, v: ngd.fit(X, y, kl=v, step="kl"), False),
    "learning_rate": (lambda X, y, v: ngd.fit(X, y, method="sgd", learning_rate=v), True),
    "alpha": (lambda X, y, v: ngd.fit(X, y, alpha=v, l1_ratio=0.5), True),
    "l1_ratio": (lambda X, y, v: ngd.fit(X, y, alpha=0.01, l1_ratio=v), True),
    "power": (lambda X, y, v: ngd.fit(X, y + 1, model="tweedie", power=v), False),
    "nb_alpha": (lambda X, y, v: ngd.fit(X, y, model="negative_binomial", nb_alpha=v), True),
    "subsample": (lambda X, y, v: ngd.fit(X, y, subsample=v), True),
    "max_iter": (lambda X, y, v: ngd.fit(X, y, max_iter=v), True),
    "seed": (lambda X, y, v: ngd.fit(X, y, method="sgd", seed=v), True),
    "alphas": (lambda X, y, v: ngd.fit_path(X, y, alphas=[0.1, v]), True),
    "n_alphas": (lambda X, y, v: ngd.fit_path(X, y, n_alphas=v), True),
    "alpha_min_ratio": (lambda X, y, v: ngd.fit_path(X, y, alpha_min_ratio=v), True),
    "curvature_reuse": (lambda X, y, v: ngd.fit_path(X, y, n_alphas=3, curvature_reuse=v),
                        False),
}
_COUNT_MODELS = ("power", "nb_alpha")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e308, "x", None, [1.0]],
                         ids=["nan", "inf", "-inf", "1e308", "str", "None", "list"])
@pytest.mark.parametrize("name", sorted(_FIT_OPTIONS))
def test_every_scalar_option_is_checked_by_name(name, value):
    call, capped = _FIT_OPTIONS[name]
    if value is None and name in ("max_iter", "seed", "learning_rate", "nb_alpha", "power",
                                  "subsample", "alpha"):
        pytest.skip("None is this option's default")
    if value == 1e308 and not capped:
        pytest.skip("no maximum: a huge finite value is valid")
    X, y = _counts() if name in _COUNT_MODELS else _data()
    with pytest.raises((ValueError, TypeError), match=name) as info:
        call(X, y, value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["LogisticRegression", "LogisticRegressionCV"])
@pytest.mark.parametrize("value", [np.nan, 1.5, "x"])
def test_estimator_random_state_is_named(name, value):
    X, y = _data()
    with pytest.raises((ValueError, TypeError), match="random_state"):
        getattr(ngd, name)(random_state=value).fit(X, y)


def _no_numpy_warnings(record):
    return [w for w in record if issubclass(w.category, RuntimeWarning)] == []


@pytest.mark.parametrize("model", ["poisson", "gaussian", "gamma", "logistic", "binomial"])
@pytest.mark.parametrize("value", [1e308, -1e308, 1e200])
def test_an_offset_beyond_the_data_bound_is_refused_by_name(model, value, recwarn):
    X, y = _counts()
    y = (y > 1).astype(float) if model in ("logistic", "binomial") else y + (model == "gamma")
    offset = np.zeros(len(y))
    offset[3] = value
    with pytest.raises(ValueError, match="offset") as info:
        ngd.fit(X, y, model=model, offset=offset)
    assert "index 3" in str(info.value) and "\n" not in str(info.value)
    assert _no_numpy_warnings(recwarn)


@pytest.mark.parametrize("model", ["poisson", "gamma"])
def test_an_offset_without_a_valid_start_is_named(model, recwarn):
    X, y = _counts()
    offset = np.zeros(len(y))
    offset[0] = 1e4             # exp(1e4) overflows: no intercept fits every row
    with pytest.raises(ValueError, match="^offset: no valid starting point") as info:
        ngd.fit(X, y + 1, model=model, offset=offset)
    assert "[0, 10000]" in str(info.value)
    assert _no_numpy_warnings(recwarn)


def test_a_large_constant_offset_still_fits():
    X, y = _counts()
    ref = ngd.fit(X, y, model="poisson", stderr=False)
    got = ngd.fit(X, y, model="poisson", offset=np.full(len(y), 300.0), stderr=False)
    np.testing.assert_allclose(got.coef, ref.coef, rtol=0, atol=1e-8)
    assert got.intercept == pytest.approx(ref.intercept - 300.0, abs=1e-8)


def test_overflowing_weight_sum_prints_no_numpy_warning(recwarn):
    X, y = _data()
    with pytest.raises(ValueError, match="sample_weight sums to inf"):
        ngd.fit(X, y, sample_weight=np.full(len(y), 1e308))
    assert _no_numpy_warnings(recwarn)


def test_penalty_factor_scale_is_checked():
    X, y = _data()
    with pytest.raises(TypeError, match="penalty_factor"):
        ngd.fit(X, y, alpha=0.1, l1_ratio=0.5, penalty_factor=["x", 1, 1])
    with pytest.raises(ValueError, match="penalty_factor"):
        ngd.fit(X, y, alpha=0.1, l1_ratio=0.5, penalty_factor=[1e200, 1, 1])
    with pytest.raises(ValueError, match="alpha \\* penalty_factor"):
        ngd.fit(X, y, alpha=1e100, l1_ratio=0.5, penalty_factor=[1e100, 1, 1])


def test_a_tiny_penalty_factor_cannot_overflow_alpha_max():
    X, y = _data()
    with pytest.raises(ValueError, match="alpha_max"):
        ngd.fit_path(X, y, penalty_factor=[1e-320, 1.0, 1.0], n_alphas=3)


@pytest.mark.parametrize("nb_alpha", [1e20, 1e100, 1e150])
def test_a_huge_fixed_nb_alpha_has_a_valid_start(recwarn, nb_alpha):
    # (it had none, and was named, while log1p(alpha (y - mu) / (1 + alpha mu)) rounded to
    # log1p(-1) at y = 0; the large-alpha form of the deviance is finite)
    X, y = _counts()
    fit = ngd.fit(X, y, model="negative_binomial", nb_alpha=nb_alpha)
    assert fit.converged and np.isfinite(fit.loss) and np.all(np.isfinite(fit.coef))
    assert _no_numpy_warnings(recwarn)
