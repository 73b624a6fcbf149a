"""Defects of the model-conformance review, each fixed: cross-validation of a design with a
categorical column, covariance of chunked softmax fits, FitResult.check on every model (runs
or one-line ValueError), logistic per-row scores on CSR X, and the chunked models' Pearson
chi^2 offered only where it is computed."""
import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

import ngd
from ngd.check import CheckRow
from ngd.cli.main import cli
from ngd.models import get_model
from ngd.models.base import capabilities
from ngd.statistics import cluster_covariance

N = 240


def _frame(seed=0):
    """(DataFrame with two numeric columns and a 3-level categorical, its one-hot twin, eta)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.standard_normal(N), "b": rng.standard_normal(N),
                          "c": pd.Categorical(rng.choice(["x", "y", "z"], N))})
    onehot = pd.get_dummies(frame, columns=["c"], drop_first=True, dtype=float).to_numpy()
    eta = 0.5 * frame["a"].to_numpy() + np.where(frame["c"] == "y", 0.6, -0.2)
    return frame, onehot, eta, rng


def _response(model, eta, rng):
    if model == "logistic":
        return (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    return rng.poisson(np.exp(eta)).astype(float)


# --- 1. cross_validate on a design with a categorical column ---------------------------------
@pytest.mark.parametrize("model", ["logistic", "poisson"])
def test_cross_validate_categorical_frame_matches_its_onehot_columns(model):
    """The categorical column is a Design (its codes are not softmax classes): the scores are
    finite and those of the same fit on explicit one-hot columns."""
    frame, onehot, eta, rng = _frame()
    y = _response(model, eta, rng)
    w = rng.uniform(0.5, 2.0, N)
    options = dict(model=model, n_alphas=8, cv=4, sample_weight=w, n_threads=1)
    if model == "poisson":
        options["offset"] = 0.1 * rng.standard_normal(N)
    found = ngd.cross_validate(frame, y, **options)
    expected = ngd.cross_validate(onehot, y, **options)
    assert np.all(np.isfinite(found.cv_scores))
    np.testing.assert_array_equal(found.folds, expected.folds)
    np.testing.assert_allclose(found.alphas, expected.alphas, rtol=1e-12)
    np.testing.assert_allclose(found.cv_scores, expected.cv_scores, rtol=1e-6)
    assert found.index_best == expected.index_best


def test_cross_validate_categorical_frame_misclassification_is_stratified_by_y():
    frame, _, eta, rng = _frame(seed=1)
    y = _response("logistic", eta, rng)
    found = ngd.cross_validate(frame, y, metric="misclassification", n_alphas=5, cv=3,
                               n_threads=1)
    assert np.all((found.cv_scores >= 0) & (found.cv_scores <= 1))
    for k in range(3):                      # each fold holds its share of y == 1 to one row
        assert abs(np.sum(y[found.folds == k]) - np.sum(y) / 3) <= 1


@pytest.mark.parametrize("model", ["logistic", "poisson"])
def test_cli_cv_with_a_categorical_column(tmp_path, model):
    frame, _, eta, rng = _frame(seed=2)
    frame["y"] = _response(model, eta, rng)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["fit", str(path), "--model", model, "--categorical", "c",
                                      "--cv", "3", "--n-alphas", "5", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "c=y" in result.output and "Traceback" not in result.output


# --- 2. chunked softmax covariance -------------------------------------------------------------
def _softmax_data(seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, 3))
    eta = X @ rng.standard_normal((3, 3)).T
    y = np.argmax(eta + rng.gumbel(size=eta.shape), axis=1)
    return X, y, rng.uniform(0.5, 2.0, N)


@pytest.mark.parametrize("backend", ["chunked", "dask"])
@pytest.mark.parametrize("l2", [0.0, 1e-2])                 # reference and symmetric gauges
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_chunked_softmax_cov_params_equal_the_in_memory_fit(backend, l2, fit_intercept):
    if backend == "dask":
        pytest.importorskip("dask.array")
    X, y, w = _softmax_data()
    options = dict(model="softmax", l2=l2, sample_weight=w, fit_intercept=fit_intercept,
                   tol=1e-12, n_threads=1)
    ref = ngd.fit(X, y, subsample=None, **options)
    fit = ngd.fit(X, y, backend=backend, chunk_rows=70, **options)
    cov = fit.cov_params()
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8, equal_nan=True)
    free = np.isfinite(fit.bse)                       # the reference gauge's pinned: nan
    np.testing.assert_allclose(np.sqrt(np.diag(cov))[free], fit.bse[free], rtol=1e-12)
    np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-8, equal_nan=True)


# --- 3. FitResult.check on every model ---------------------------------------------------------
def _check_data(model, power, rng):
    X = 0.5 * rng.standard_normal((N, 3))
    eta = X @ np.array([0.4, -0.3, 0.2])
    mu = np.exp(eta)
    if model in ("logistic", "binomial"):
        return X, (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    if model == "softmax":
        return X, np.argmax(np.column_stack([eta, -eta, 0 * eta]) + rng.gumbel(size=(N, 3)), 1)
    if model in ("poisson", "negative_binomial") or (model == "tweedie" and power == 1):
        return X, rng.poisson(mu).astype(float)
    if model == "gaussian" or (model == "tweedie" and power == 0):
        return X, mu + 0.5 * rng.standard_normal(N)
    if model == "inverse_gaussian":
        return X, rng.wald(mu, 4.0)
    if model == "tweedie" and power < 2:
        return X, rng.poisson(mu) * rng.gamma(2.0, 0.5, N)
    return X, rng.gamma(2.0, mu / 2.0)                    # gamma, tweedie power >= 2


CHECK_CASES = [("logistic", {}), ("softmax", {}), ("binomial", {"link": "probit"}),
               ("poisson", {}), ("gamma", {"link": "log"}), ("gaussian", {}),
               ("inverse_gaussian", {"link": "log"}), ("negative_binomial", {})]
CHECK_CASES += [("tweedie", {"power": p}) for p in (0, 1, 1.2, 1.5, 2, 2.5, 3)]
CHECK_CASES += [("logistic", {"sparse": True}), ("poisson", {"sparse": True}),
                ("softmax", {"sparse": True}), ("binomial", {"trials": True}),
                ("logistic", {"backend": "chunked"}), ("poisson", {"backend": "chunked"}),
                ("softmax", {"backend": "chunked"}), ("gamma", {"backend": "chunked"})]


@pytest.mark.parametrize("model, options", CHECK_CASES,
                         ids=[f"{m}-{'-'.join(f'{k}{v}' for k, v in o.items())}"
                              for m, o in CHECK_CASES])
def test_check_runs_or_refuses_in_one_line(model, options):
    """Every model's check either gives its eight rows or is a one-line ValueError naming the
    model (never NotImplementedError or AttributeError); only out-of-core fits and the
    Tweedie family (no closed-form KL in ngd.models.families) may refuse."""
    options = dict(options)
    may_refuse = "backend" in options or model == "tweedie"
    rng = np.random.default_rng(4)
    X, y = _check_data(model, options.get("power"), rng)
    if options.pop("sparse", False):
        X = sp.csr_matrix(X)
    if options.pop("trials", False):
        options["trials"] = rng.integers(1, 5, N).astype(float)
        y = rng.binomial(options["trials"].astype(int), 0.4).astype(float)
    fit = ngd.fit(X, y, model=model, n_threads=1, **options)
    try:
        rows = fit.check(n_draws=20)
    except ValueError as exc:
        message = str(exc)
        assert may_refuse, message
        assert "\n" not in message and f"cannot check the {model}" in message
        return
    assert len(rows) == 8 and all(isinstance(row, CheckRow) for row in rows)
    assert all(np.isfinite(row.value) for row in rows)


def test_check_of_a_family_without_a_sampler_names_the_model_and_power():
    rng = np.random.default_rng(5)
    X, y = _check_data("tweedie", 2.5, rng)
    fit = ngd.fit(X, y, model="tweedie", power=2.5, n_threads=1)
    with pytest.raises(ValueError, match=r"cannot check the tweedie \(power 2\.5\) model: "
                                         "sampling is not available"):
        fit.check(n_draws=20)


def test_check_of_an_out_of_core_fit_says_to_refit_in_memory():
    rng = np.random.default_rng(6)
    X, y = _check_data("logistic", None, rng)
    fit = ngd.fit(X, y, backend="chunked", chunk_rows=100, n_threads=1)
    with pytest.raises(ValueError, match=r"cannot check the logistic model fitted out of core "
                                         r"\(refit with backend='numpy'\): it has no hessian"):
        fit.check(n_draws=20)


# --- 4. logistic scores on CSR X ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse_type", [sp.csr_matrix, sp.csr_array])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_scores_on_csr_equal_the_dense_scores(dtype, sparse_type, fit_intercept):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N, 4)).astype(dtype)
    X[rng.random(X.shape) < 0.6] = 0.0
    y = (rng.random(N) < 0.4).astype(float)
    options = dict(sample_weight=rng.uniform(0.5, 2.0, N), offset=0.1 * rng.standard_normal(N),
                   fit_intercept=fit_intercept, n_threads=1)
    model = get_model("logistic")(sparse_type(X), y, **options)
    theta = 0.2 * rng.standard_normal(model.n_params)
    S = model.scores(theta)
    X64 = X.astype(np.float64)
    eta = X64 @ theta[:4] + options["offset"] + (theta[-1] if fit_intercept else 0.0)
    r = y - 1 / (1 + np.exp(-eta))
    expected = np.column_stack([X64 * r[:, None]] + ([r] if fit_intercept else []))
    assert isinstance(S, np.ndarray) and S.shape == (N, model.n_params)
    np.testing.assert_allclose(S, expected, rtol=1e-12, atol=1e-14)
    if dtype == np.float64:
        dense = get_model("logistic")(X, y, **options).scores(theta)
        np.testing.assert_allclose(S, dense, rtol=1e-12, atol=1e-14)


def test_cluster_covariance_of_a_csr_logistic_model_equals_the_dense_one():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((N, 3))
    X[rng.random(X.shape) < 0.5] = 0.0
    y = (rng.random(N) < 0.5).astype(float)
    groups = [rng.integers(0, 12, N)]
    w = rng.uniform(0.5, 2.0, N)
    dense = get_model("logistic")(X, y, sample_weight=w, n_threads=1)
    csr = get_model("logistic")(sp.csr_matrix(X), y, sample_weight=w, n_threads=1)
    theta = 0.1 * rng.standard_normal(dense.n_params)
    bread = np.linalg.inv(dense.exact_fisher(theta) * dense.weight_sum)
    np.testing.assert_allclose(cluster_covariance(csr, theta, bread, groups),
                               cluster_covariance(dense, theta, bread, groups), rtol=1e-12)


# --- 5. chunked Pearson chi^2 --------------------------------------------------------------------
@pytest.mark.parametrize("model", ["logistic", "softmax", "poisson"])
def test_chunked_pearson_chi2_is_not_offered_without_a_dispersion(model):
    rng = np.random.default_rng(9)
    X, y = _check_data(model, None, rng)
    fit = ngd.fit(X, y, model=model, backend="chunked", chunk_rows=70, n_threads=1)
    chunked = vars(fit)["_model"]
    assert not chunked.has_dispersion
    assert not hasattr(chunked, "pearson_chi2") and "dispersion" not in capabilities(chunked)
    assert "pearson_chi2" not in fit and fit.dispersion == 1.0


@pytest.mark.parametrize("backend", ["chunked", "dask"])
def test_chunked_pearson_chi2_equals_the_in_memory_value(backend):
    if backend == "dask":
        pytest.importorskip("dask.array")
    rng = np.random.default_rng(10)
    X, y = _check_data("gamma", None, rng)
    w = rng.uniform(0.5, 2.0, N)
    options = dict(model="gamma", link="log", sample_weight=w, tol=1e-12, n_threads=1)
    ref = ngd.fit(X, y, **options)
    fit = ngd.fit(X, y, backend=backend, chunk_rows=70, **options)
    chunked, glm = vars(fit)["_model"], vars(ref)["_model"].as_glm()
    assert "dispersion" in capabilities(chunked)
    if backend == "chunked":                    # a Dask model releases its blocks after the fit
        theta = ref.x + 0.05 * rng.standard_normal(ref.x.size)
        assert chunked.pearson_chi2(theta) == pytest.approx(glm.pearson_chi2(theta), rel=1e-10)
    assert fit.pearson_chi2 == pytest.approx(ref.pearson_chi2, rel=1e-8)
    assert fit.dispersion == pytest.approx(ref.dispersion, rel=1e-8)
