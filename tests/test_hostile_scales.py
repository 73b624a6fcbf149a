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
