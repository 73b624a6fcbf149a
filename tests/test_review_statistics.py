"""Review of issue 14's statistics against statsmodels on cases nobody had tested: defects
found by the review, each with the test that failed before its fix."""
import numpy as np
import pytest

import ngd

sm = pytest.importorskip("statsmodels.api")


def counts_with_an_all_zero_level(seed=0, n=2000, levels=20, empty=5):
    """One-hot level indicators (reference level 0 dropped) plus one numeric column; the
    responses of level ``empty`` are all 0, so its coefficient's MLE is at -infinity."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, levels, n)
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(0.3 * x + 0.5 * rng.normal(size=levels)[g])).astype(float)
    y[g == empty] = 0.0
    onehot = (g[:, None] == np.arange(1, levels)[None, :]).astype(float)
    return np.column_stack([x, onehot]), y, g


@pytest.mark.parametrize("model, options", [
    ("poisson", {}),
    ("tweedie", {"power": 1.5}),
    ("negative_binomial", {"nb_alpha": 0.3}),
    ("negative_binomial", {}),              # alpha estimated: the rounds' warm starts
])
@pytest.mark.parametrize("method", ["newton", "ngd"])
def test_count_level_of_zeros_is_reported_as_separation(model, options, method):
    """A level whose responses are all 0 has no finite MLE under a log link. Before the fix
    ngd said 'Converged' with the coefficient at about -33 (-64 for Tweedie), a standard
    error of 1e6 and no message (statsmodels does the same, silently: -24.8, se 1.2e4);
    now it stops with status 6 naming the column, as for binary separation."""
    X, y, _ = counts_with_an_all_zero_level()
    result = ngd.fit(X, y, model=model, method=method, **options)
    assert result.status == 6 and not result.converged
    assert "does not exist" in result.message and "columns 5" in result.message
    assert np.all(np.isnan(result.pvalues))
    assert result.separation["columns"] == [5]


def test_counts_with_many_zeros_but_a_finite_mle_still_converge():
    """No false alarm: with the all-zero level's rows removed the MLE exists (zeros
    elsewhere), and ngd matches statsmodels' GLM to 1e-8; an l2 penalty also has a
    minimiser with the level kept."""
    X, y, g = counts_with_an_all_zero_level()
    keep = g != 5
    Xk = np.delete(X[keep], 5, axis=1)
    result = ngd.fit(Xk, y[keep], model="poisson", method="newton", tol=1e-12)
    assert result.status in (0, 1)
    ref = sm.GLM(y[keep], sm.add_constant(Xk), family=sm.families.Poisson()).fit(tol=1e-14)
    np.testing.assert_allclose(result.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(result.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(result.pvalues, ref.pvalues, rtol=1e-8)
    assert ngd.fit(X, y, model="poisson", l2=1e-3).converged
