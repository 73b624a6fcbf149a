"""Negative binomial (NB2) regression: ngd.fit(model="negative_binomial", nb_alpha=...).

Against statsmodels: with alpha estimated, statsmodels.discrete NegativeBinomial(loglike_method=
"nb2") fitted by Newton to its score's rounding (coefficients, alpha and llf to 1e-8 relative,
AIC/BIC counting alpha, standard errors of the coefficients and alpha to 1e-6: both invert
the joint observed information of (beta, alpha)) on simulated overdispersed counts with an
offset or an exposure, on RAND HIE (statsmodels.datasets.randhie, 20 190 visits counts) and,
for frequency weights (statsmodels' discrete models take none), against the fit of the
repeated rows; with a fixed alpha, sm.GLM(family=NegativeBinomial(alpha)) with offset and
freq_weights (params, bse, deviance, Pearson chi2, llf, null deviance, AIC, BIC to 1e-8).
Also: the alpha derivatives of the log-likelihood against finite differences and, at tiny
alpha, against a cancellation-free series; the GLM gradient against finite differences; the
boundary alpha = 0 on underdispersed counts (the Poisson fit, a message, no NaN); compare(),
the estimator, save/load/predict; bad inputs; the CLI.
"""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import gammaln

import ngd
from ngd.cli.main import cli
from ngd.models import GLM
from ngd.models import negbin
from ngd.models.families import nb_log_pmf

sm = pytest.importorskip("statsmodels.api")
from statsmodels.discrete.discrete_model import NegativeBinomial  # noqa: E402

RTOL = 1e-8
SE_RTOL = 1e-6


def simulate(n=3000, alpha=0.8, seed=1, offset=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    off = rng.uniform(-0.5, 0.5, size=n) if offset else None
    eta = 0.5 + X @ np.array([0.3, -0.2, 0.1]) + (0.0 if off is None else off)
    mu = np.exp(eta)
    y = rng.poisson(mu * rng.gamma(1.0 / alpha, alpha, size=n)).astype(float)
    return X, y, off


def sm_negbin(y, X, **kwargs):
    """statsmodels' NB2 maximum-likelihood fit, by Newton from its default start to the
    score's rounding."""
    model = NegativeBinomial(y, sm.add_constant(X, prepend=False), loglike_method="nb2",
                             **kwargs)
    fitted = model.fit(method="newton", tol=1e-14, maxiter=200, disp=0)
    assert fitted.mle_retvals["converged"]
    assert np.abs(fitted.mle_retvals["score"]).max() < 1e-10
    return fitted


def ngd_params(result):
    return np.r_[result.coef, result.intercept, result.nb_alpha]


def ngd_bse(result):
    return np.r_[result.stderr, result.intercept_stderr, result.nb_alpha_stderr]


def assert_matches_discrete(result, reference):
    assert result.converged and result.nb_alpha_estimated
    np.testing.assert_allclose(ngd_params(result), reference.params, rtol=RTOL)
    np.testing.assert_allclose(ngd_bse(result), reference.bse, rtol=SE_RTOL)
    assert result.llf == pytest.approx(reference.llf, rel=RTOL)
    assert result.aic == pytest.approx(reference.aic, rel=RTOL)
    assert result.bic == pytest.approx(reference.bic, rel=RTOL)
    assert result.dispersion == 1.0


# --- alpha by maximum likelihood vs statsmodels' NegativeBinomial ----------------------------
@pytest.mark.parametrize("method", ["ngd", "newton"])
@pytest.mark.parametrize("kind", ["plain", "offset", "exposure"])
def test_ml_alpha_matches_statsmodels(kind, method):
    X, y, off = simulate(offset=kind != "plain")
    if kind == "exposure":
        exposure = np.exp(off)
        reference = sm_negbin(y, X, exposure=exposure)
        result = ngd.fit(X, y, model="negative_binomial", method=method, offset=np.log(exposure),
                         tol=1e-10)
    else:
        reference = sm_negbin(y, X, offset=off)
        result = ngd.fit(X, y, model="negative_binomial", method=method, offset=off,
                         tol=1e-10)
    assert_matches_discrete(result, reference)
    assert result.model == "negative_binomial" and result.link == "log"
    assert "maximum likelihood" in result.message
    # deviance and Pearson chi2 at the estimated alpha: those of the GLM at that alpha
    glm = sm.GLM(y, sm.add_constant(X, prepend=False),
                 family=sm.families.NegativeBinomial(alpha=result.nb_alpha),
                 offset=off).fit(start_params=reference.params[:-1], tol=1e-14)
    assert result.deviance == pytest.approx(glm.deviance, rel=RTOL)
    assert result.pearson_chi2 == pytest.approx(glm.pearson_chi2, rel=1e-7)


def test_ml_alpha_on_randhie():
    data = sm.datasets.randhie.load_pandas()
    X, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    reference = sm_negbin(y, X)
    result = ngd.fit(X, y, model="negbin", tol=1e-10)
    assert_matches_discrete(result, reference)
    assert result.nb_alpha == pytest.approx(1.29295, abs=1e-5)


def test_ml_alpha_with_frequency_weights_equals_repeated_rows():
    X, y, off = simulate(n=800, alpha=1.5, seed=3, offset=True)
    counts = np.random.default_rng(4).integers(1, 4, size=y.size)
    rows = np.repeat(np.arange(y.size), counts)
    reference = sm_negbin(y[rows], X[rows], offset=off[rows])
    result = ngd.fit(X, y, model="nb2", sample_weight=counts.astype(float), offset=off,
                     tol=1e-10)
    assert_matches_discrete(result, reference)


def test_ml_alpha_robust_covariance_matches_statsmodels_hc0():
    X, y, off = simulate(n=1500, seed=5)
    model = NegativeBinomial(y, sm.add_constant(X, prepend=False), loglike_method="nb2")
    reference = model.fit(method="newton", tol=1e-14, maxiter=200, disp=0, cov_type="HC0")
    result = ngd.fit(X, y, model="negative_binomial", cov_type="robust", tol=1e-10)
    np.testing.assert_allclose(ngd_params(result), reference.params, rtol=RTOL)
    np.testing.assert_allclose(ngd_bse(result), reference.bse, rtol=SE_RTOL)


def test_l2_penalised_ml_alpha_is_a_stationary_point():
    X, y, _ = simulate(n=1000, seed=6)
    result = ngd.fit(X, y, model="negative_binomial", l2=0.05, tol=1e-10)
    assert result.converged
    model = GLM(X, y, family="negative_binomial", nb_alpha=result.nb_alpha, l2=0.05)
    assert np.abs(model.gradient(result.x)).max() < 1e-9
    mu = model.mean(result.x)
    score = np.sum(negbin.alpha_derivatives(y, mu, result.nb_alpha, second=False))
    assert abs(score) / y.size < 1e-9


@pytest.mark.parametrize("cov_type", ["model", "robust"])
def test_ml_alpha_on_categorical_blocks_equals_the_one_hot_fit(cov_type):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(19)
    g = rng.choice(list("abcd"), size=2500)
    x = rng.normal(size=g.size)
    effect = np.array([0.0, 0.3, -0.2, 0.5])[np.searchsorted(list("abcd"), g)]
    y = rng.poisson(np.exp(0.4 + 0.3 * x + effect) * rng.gamma(2.0, 0.5, g.size)).astype(float)
    table = ngd.fit(pd.DataFrame({"x": x, "g": g}), y, model="negative_binomial",
                    cov_type=cov_type, tol=1e-10)
    onehot = np.column_stack([x] + [(g == level).astype(float) for level in "bcd"])
    dense = ngd.fit(onehot, y, model="negative_binomial", cov_type=cov_type, tol=1e-10)
    assert table.feature_names == ["x", "g=b", "g=c", "g=d"]
    np.testing.assert_allclose(ngd_params(table), ngd_params(dense), rtol=1e-10)
    np.testing.assert_allclose(ngd_bse(table), ngd_bse(dense), rtol=1e-10)
    assert table.llf == pytest.approx(dense.llf, rel=1e-12)
    rows = table.check(n_draws=100, seed=1)      # the Fisher identities at alpha-hat
    assert all(row.passed for row in rows), [row for row in rows if not row.passed]


# --- fixed alpha vs sm.GLM(NegativeBinomial(alpha)) ------------------------------------------
@pytest.mark.filterwarnings("ignore:The Sqrt link")
@pytest.mark.parametrize("link", ["log", "sqrt"])
@pytest.mark.parametrize("method", ["newton", "ngd"])
def test_fixed_alpha_matches_statsmodels_glm(method, link):
    X, y, off = simulate(n=2000, seed=7, offset=True)
    w = np.random.default_rng(8).integers(1, 4, size=y.size).astype(float)
    links = {"log": sm.families.links.Log(), "sqrt": sm.families.links.Sqrt()}
    if link == "sqrt":
        off = None
    reference = sm.GLM(y, sm.add_constant(X, prepend=False),
                       family=sm.families.NegativeBinomial(alpha=0.5, link=links[link]),
                       offset=off, freq_weights=w)
    fitted = reference.fit(tol=1e-14, maxiter=200)
    fitted = reference.fit(start_params=fitted.params, method="newton", tol=1e-15,
                           maxiter=50)
    expected = sm.GLM(y, sm.add_constant(X, prepend=False),
                      family=sm.families.NegativeBinomial(alpha=0.5, link=links[link]),
                      offset=off, freq_weights=w).fit(start_params=fitted.params, tol=1e-15)
    result = ngd.fit(X, y, model="negative_binomial", nb_alpha=0.5, link=link, method=method,
                     offset=off, sample_weight=w, tol=1e-12)
    params = np.r_[result.coef, result.intercept]
    scale = np.abs(expected.params).max()
    # ngd (Fisher scoring) stops at a gradient ~1e-9 where its loss change is rounding:
    # coefficients to 1e-8 of the largest; Newton to 1e-8 each
    atol = 0.0 if method == "newton" else RTOL * scale
    np.testing.assert_allclose(params, expected.params, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(np.r_[result.stderr, result.intercept_stderr], expected.bse,
                               rtol=RTOL)
    for ours, theirs in [(result.deviance, expected.deviance),
                         (result.pearson_chi2, expected.pearson_chi2),
                         (result.llf, expected.llf), (result.aic, expected.aic),
                         (result.bic, expected.bic_llf),
                         (result.null_deviance, expected.null_deviance)]:
        assert ours == pytest.approx(theirs, rel=RTOL)
    assert result.nb_alpha == 0.5 and result.nb_alpha_estimated is False
    assert result.nb_alpha_stderr is None and result.dispersion == 1.0


# --- derivatives --------------------------------------------------------------------------------
def _profile(y, mu, tau):
    return float(np.sum(nb_log_pmf(y, mu, np.exp(tau))))


@pytest.mark.parametrize("alpha", [1e-2, 0.05, 0.9, 4.0])
def test_alpha_derivatives_match_finite_differences(alpha):
    rng = np.random.default_rng(9)
    mu = rng.uniform(0.2, 20.0, size=500)
    y = rng.poisson(mu * rng.gamma(1.0 / alpha, alpha, size=mu.size)).astype(float)
    tau, h = np.log(alpha), 1e-4
    score, curvature = (np.sum(v) for v in negbin.alpha_derivatives(y, mu, alpha))
    f = [_profile(y, mu, tau + k * h) for k in (-2, -1, 0, 1, 2)]
    fd_score = (f[0] - 8 * f[1] + 8 * f[3] - f[4]) / (12 * h)
    fd_curvature = (-f[0] + 16 * f[1] - 30 * f[2] + 16 * f[3] - f[4]) / (12 * h * h)
    assert score == pytest.approx(fd_score, rel=1e-7, abs=1e-7 * np.abs(f[2]) * 1e-3)
    assert curvature == pytest.approx(fd_curvature, rel=1e-4)


@pytest.mark.parametrize("alpha", [1e-9, 1e-6, 1e-3])
def test_alpha_score_at_small_alpha_matches_a_cancellation_free_sum(alpha):
    """For integer y, dl/dtau = sum_{k<y} k alpha/(1 + k alpha) - y alpha mu/(1 + alpha mu)
    + [log1p(x) - x/(1 + x)]/alpha (x = alpha mu; the bracket by its Taylor series)."""
    rng = np.random.default_rng(10)
    mu = rng.uniform(0.2, 8.0, size=300)
    y = rng.poisson(mu).astype(float)
    x = alpha * mu
    bracket = sum((-1.0) ** j * (j - 1) / j * x ** j for j in range(2, 30))
    rows = [sum(k * alpha / (1 + k * alpha) for k in range(int(v))) for v in y]
    expected = np.sum(np.array(rows) - y * x / (1 + x) + bracket / alpha)
    score = np.sum(negbin.alpha_derivatives(y, mu, alpha, second=False))
    assert score == pytest.approx(expected, rel=1e-9)
    # the overdispersion score is the limit of dl/dalpha (the next term is O(alpha))
    if alpha <= 1e-6:
        limit = negbin.overdispersion_score(y, mu, np.ones_like(y))
        assert score / alpha == pytest.approx(limit, rel=1e3 * alpha)


def test_glm_gradient_matches_finite_differences():
    X, y, off = simulate(n=400, seed=11, offset=True)
    w = np.random.default_rng(12).uniform(0.5, 2.0, size=y.size)
    model = GLM(X, y, family="negative_binomial", nb_alpha=0.7, offset=off, sample_weight=w,
                l2=0.1)
    theta = np.array([0.2, -0.1, 0.05, 0.4])
    h = 1e-6
    numeric = [(model.loss(theta + h * e) - model.loss(theta - h * e)) / (2 * h)
               for e in np.eye(theta.size)]
    np.testing.assert_allclose(model.gradient(theta), numeric, rtol=1e-7, atol=1e-9)
    # the full log-likelihood's beta-score is the negative gradient (times sum w), l2 aside
    model0 = GLM(X, y, family="negative_binomial", nb_alpha=0.7, offset=off,
                 sample_weight=w)

    def llf(t):
        return model0.family.log_likelihood(y, model0.mean(t, offset=off), w, 1.0)
    numeric = [(llf(theta + h * e) - llf(theta - h * e)) / (2 * h)
               for e in np.eye(theta.size)]
    np.testing.assert_allclose(-model0.gradient(theta) * w.sum(), numeric, rtol=1e-6,
                               atol=1e-6 * np.abs(numeric).max())


# --- the boundary alpha -> 0 ------------------------------------------------------------------
def test_underdispersed_counts_give_the_poisson_fit_at_alpha_zero():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(2000, 2))
    y = rng.binomial(4, 1 / (1 + np.exp(-(X @ [0.3, -0.2])))).astype(float)   # Var < mean
    result = ngd.fit(X, y, model="negative_binomial")
    poisson = ngd.fit(X, y, model="poisson")
    assert result.nb_alpha == 0.0 and result.nb_alpha_stderr is None
    assert result.converged and "no overdispersion" in result.message
    np.testing.assert_allclose(result.coef, poisson.coef, rtol=1e-10)
    assert result.llf == pytest.approx(poisson.llf, rel=1e-12)
    assert result.aic == pytest.approx(poisson.aic + 2, rel=1e-12)
    assert np.all(np.isfinite(result.stderr))
    assert result.model == "negative_binomial"
    # predictions and the saved model work at the boundary too
    loaded = ngd.load_model(__import__("io").StringIO(ngd.serialize.dumps(result)))
    assert loaded.nb_alpha == 0.0
    np.testing.assert_allclose(loaded.predict(X), np.exp(X @ result.coef + result.intercept))


def test_nearly_poisson_counts_give_a_small_finite_alpha():
    rng = np.random.default_rng(14)
    X = rng.normal(size=(20_000, 2))
    mu = np.exp(0.5 + X @ [0.3, -0.2])
    y = rng.poisson(mu * rng.gamma(1 / 0.01, 0.01, size=mu.size)).astype(float)
    result = ngd.fit(X, y, model="negative_binomial", tol=1e-10)
    assert result.converged and 0 < result.nb_alpha < 0.05
    assert np.isfinite(result.nb_alpha_stderr) and result.nb_alpha_stderr > 0
    mu_hat = result._model.mean(result.x)
    lls = [np.sum(nb_log_pmf(y, mu_hat, result.nb_alpha * f)) for f in (0.999, 1.0, 1.001)]
    assert lls[1] >= max(lls[0], lls[2])


# --- compare, estimator, save / load / predict ------------------------------------------------
@pytest.mark.filterwarnings("ignore::ngd.ConvergenceWarning")
def test_compare_fits_later_methods_at_the_first_estimate():
    X, y, _ = simulate(n=1500, seed=15)
    results = ngd.compare(X, y, methods=("ngd", "newton", "sgd"), model="negative_binomial",
                          statistics="first")
    first = results["ngd"]
    assert first.nb_alpha_estimated and first.nb_alpha_stderr is not None
    for method in ("newton", "sgd"):
        assert results[method].nb_alpha == first.nb_alpha
    np.testing.assert_allclose(results["newton"].coef, first.coef, rtol=1e-7)
    assert results["newton"].loss == pytest.approx(first.loss, rel=1e-12)


def test_estimator_and_saved_model_predict_the_log_link_mean(tmp_path):
    X, y, _ = simulate(n=1000, seed=16)
    estimator = ngd.GLMRegressor(model="negative_binomial").fit(X, y)
    result = estimator.result_
    assert result.nb_alpha > 0 and result.nb_alpha_stderr > 0
    expected = np.exp(X @ estimator.coef_ + estimator.intercept_)
    np.testing.assert_allclose(estimator.predict(X), expected, rtol=1e-12)
    assert 0 < estimator.score(X, y) < 1
    fixed = ngd.GLMRegressor(model="negative_binomial", nb_alpha=result.nb_alpha).fit(X, y)
    np.testing.assert_allclose(fixed.coef_, estimator.coef_, rtol=1e-6)
    path = tmp_path / "nb.json"
    ngd.save_model(result, path)
    document = json.loads(path.read_text())
    assert document["model"] == "negative_binomial" and document["link"] == "log"
    assert document["nb_alpha"] == {"value": result.nb_alpha,
                                    "stderr": result.nb_alpha_stderr, "estimated": True}
    loaded = ngd.load_model(path)
    assert loaded.nb_alpha == result.nb_alpha
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-12)
    # documents of other models carry no nb_alpha key (readers of version 1 see no change)
    poisson = ngd.fit(X, y, model="poisson")
    assert "nb_alpha" not in json.loads(ngd.serialize.dumps(poisson))
    assert ngd.load_model(__import__("io").StringIO(ngd.serialize.dumps(poisson))) \
        .nb_alpha is None
    document["nb_alpha"] = {"value": -1}
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="nb_alpha"):
        ngd.load_model(path)


# --- bad inputs -----------------------------------------------------------------------------------
X5 = np.arange(12.0).reshape(6, 2) / 10
Y5 = np.array([0.0, 1, 3, 0, 2, 5])

BAD = [
    (dict(y=-Y5, model="negative_binomial"), ValueError, "negative_binomial responses must be "
                                                          "counts >= 0"),
    (dict(y=Y5, model="negative_binomial", nb_alpha=0.0), ValueError, "nb_alpha must be a "
                                                                     "finite number > 0"),
    (dict(y=Y5, model="negative_binomial", nb_alpha=-2.0), ValueError, "nb_alpha"),
    (dict(y=Y5, model="negative_binomial", nb_alpha=np.inf), ValueError, "nb_alpha"),
    (dict(y=Y5, model="negative_binomial", nb_alpha="x"), TypeError, "nb_alpha must be a "
                                                                    "number"),
    (dict(y=Y5, model="poisson", nb_alpha=1.0), ValueError, "nb_alpha= applies to the "
                                                           "negative_binomial model only"),
    (dict(y=Y5, model="negative_binomial", method="sgd"), ValueError, "method 'ngd' or "
                                                                     "'newton'"),
    (dict(y=Y5, model="negative_binomial", backend="chunked"), ValueError, "negative_binomial"),
    (dict(y=Y5, model="negative_binomial", alpha=0.1, l1_ratio=0.5), ValueError,
     "elastic net"),
    (dict(y=Y5, model="negative_binomial", trials=np.ones(6)), ValueError, "trials"),
    (dict(y=Y5, model="negative_binomial", power=1.5), ValueError, "power"),
    (dict(y=Y5, model="negative_binomial", link="logit"), ValueError, "logit"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_inputs_raise_one_clear_error(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        ngd.fit(X5, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.filterwarnings("ignore::ngd.ConvergenceWarning")
def test_sgd_runs_at_a_fixed_alpha():
    X, y, _ = simulate(n=500, seed=17)
    result = ngd.fit(X, y, model="negative_binomial", nb_alpha=0.8, method="sgd")
    assert np.all(np.isfinite(result.coef)) and result.nb_alpha == 0.8


# --- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def counts_csv(tmp_path):
    X, y, _ = simulate(n=600, seed=18)
    path = tmp_path / "counts.csv"
    rows = ["a,b,c,y"] + [f"{a:.17g},{b:.17g},{c:.17g},{int(v)}" for (a, b, c), v in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")
    return path, X, y


def test_cli_estimates_alpha_and_prints_it(counts_csv, tmp_path):
    path, X, y = counts_csv
    model_path = tmp_path / "m.json"
    run = CliRunner().invoke(cli, ["fit", str(path), "--model", "negative_binomial",
                                   "-o", str(model_path), "--quiet"])
    assert run.exit_code == 0, run.output
    expected = ngd.fit(X, y, model="negative_binomial")
    assert f"NB2 alpha {expected.nb_alpha:.6g}, std. err. {expected.nb_alpha_stderr:.4g}" \
        in run.output
    assert json.loads(model_path.read_text())["nb_alpha"]["estimated"] is True
    run = CliRunner().invoke(cli, ["fit", str(path), "--model", "negbin", "--json",
                                   "--no-compare"])
    report = json.loads(run.output)
    assert report["nb_alpha"]["value"] == pytest.approx(expected.nb_alpha, rel=1e-8)
    assert report["nb_alpha"]["stderr"] == pytest.approx(expected.nb_alpha_stderr, rel=1e-6)
    assert report["nb_alpha"]["estimated"] is True
    assert report["statistics"]["aic"] == pytest.approx(expected.aic, rel=1e-10)


def test_cli_fixed_alpha(counts_csv):
    path, X, y = counts_csv
    run = CliRunner().invoke(cli, ["fit", str(path), "--model", "negative_binomial",
                                   "--nb-alpha", "0.5", "--json", "--no-compare"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert report["nb_alpha"] == {"value": 0.5, "stderr": None, "estimated": False}
    expected = ngd.fit(X, y, model="negative_binomial", nb_alpha=0.5)
    assert report["coefficients"][1]["estimate"] == pytest.approx(expected.coef[0], rel=1e-8)
    run = CliRunner().invoke(cli, ["fit", str(path), "--model", "negative_binomial",
                                   "--nb-alpha", "estimate", "--no-compare", "--quiet"])
    assert run.exit_code == 0 and "maximum likelihood" in run.output


@pytest.mark.parametrize("args,match", [
    (["--model", "poisson", "--nb-alpha", "0.5"], "--nb-alpha applies to --model "
                                                  "negative_binomial"),
    (["--model", "negative_binomial", "--nb-alpha", "0"], "expected 'estimate' or a number"),
    (["--model", "negative_binomial", "--nb-alpha", "abc"], "expected 'estimate' or a number"),
    (["--model", "negative_binomial", "--method", "adam", "--no-compare"], "'ngd' or 'newton'"),
    (["--model", "negative_binomial", "--path"], "not available for the negative_binomial"),
])
def test_cli_bad_options_are_one_line_errors(counts_csv, args, match):
    path, _, _ = counts_csv
    run = CliRunner().invoke(cli, ["fit", str(path)] + args)
    assert run.exit_code == 2
    assert match in run.output
    assert "Traceback" not in run.output


def test_log_pmf_matches_gammaln_form():
    y = np.array([0.0, 1, 2, 7, 30])
    mu = np.array([0.5, 1.0, 3.0, 6.0, 25.0])
    for alpha in (0.02, 0.5, 3.0):
        r = 1 / alpha
        direct = (gammaln(y + r) - gammaln(r) - gammaln(y + 1)
                  + y * np.log(alpha * mu / (1 + alpha * mu)) - r * np.log1p(alpha * mu))
        np.testing.assert_allclose(nb_log_pmf(y, mu, alpha), direct, rtol=1e-12)
