"""Inference against statsmodels on the same data (1e-8 relative unless stated):

1. p-values and confidence intervals from the model covariance: normal for logistic,
   binomial counts and Poisson; t(df_resid) for Gamma and Gaussian (statsmodels GLM with
   use_t=True); the summary, to_dict and the reported-order covariance.
2. Clustered covariance (CR1), one- and two-way, with weights (statsmodels' freq_weights and
   var_weights give the same clustered covariance), softmax vs MNLogit, the expected-
   information bread for non-canonical links; robust (HC0) unchanged.
3. Wald tests of coefficient sets, of a categorical term and of R beta = r vs
   statsmodels' wald_test (chi2, or F where the dispersion is estimated).
4. Likelihood-ratio tests between nested fits vs statsmodels' llf differences,
   compare_lr_test and compare_f_test (OLS), and the deviance F test.
5. Bad input: one clear ValueError / TypeError.
"""
import json
import pickle
import warnings

import numpy as np
import pytest
import scipy.stats

import ngd

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-8
TIGHT = dict(tol=1e-13, ftol=0.0)


def sm_glm(endog, exog, family, cov_type="nonrobust", cov_kwds=None, use_t=None, **kwargs):
    """statsmodels GLM by IRLS to tol=1e-14 (warnings about weights/cov types silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(endog, exog, family=family, **kwargs).fit(
            tol=1e-14, maxiter=1000, cov_type=cov_type, cov_kwds=cov_kwds, use_t=use_t)


def close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


# --------------------------------------------------------------------------- data sets --
def spector():
    d = sm.datasets.spector.load_pandas()
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


def cpunish():
    d = sm.datasets.cpunish.load_pandas()
    X = d.exog.to_numpy(float).copy()
    X[:, 3] = np.log(X[:, 3])      # as statsmodels' example
    return X, d.endog.to_numpy(float)


def scotland():
    d = sm.datasets.scotland.load_pandas()
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


def star98():
    d = sm.datasets.star98.load_pandas()
    X = d.exog.to_numpy(float)[:, :8]
    Y = d.endog.to_numpy(float)              # successes, failures
    return X, Y


def grunfeld():
    d = sm.datasets.grunfeld.load_pandas().data
    X = d[["value", "capital"]].to_numpy(float)
    return X, d["invest"].to_numpy(float), d["firm"].to_numpy(str), d["year"].to_numpy(int)


def clustered_poisson(seed=3, n=600, G=40, H=15):
    """Counts with a cluster random effect (so clustering matters) and weights."""
    rng = np.random.default_rng(seed)
    g, h = rng.integers(0, G, n), rng.integers(0, H, n)
    X = rng.normal(size=(n, 3)) + 0.7 * rng.normal(size=(G, 3))[g]
    eta = 0.2 + X @ np.array([0.4, -0.3, 0.2]) + 0.5 * rng.normal(size=G)[g] \
        + 0.3 * rng.normal(size=H)[h]
    y = rng.poisson(np.exp(eta)).astype(float)
    return X, y, g, h, rng.uniform(0.5, 2.0, n)


# ================================================================= 1. model covariance ==
MODEL_CASES = {
    "spector-logistic": lambda: (*spector(), dict(model="logistic"), sm.families.Binomial(),
                                 {}),
    "cpunish-poisson": lambda: (*cpunish(), dict(model="poisson"), sm.families.Poisson(), {}),
    "scotland-gamma": lambda: (*scotland(), dict(model="gamma"), sm.families.Gamma(), {}),
    # non-canonical link: Newton (observed Hessian) converges quadratically to the optimum
    "scotland-gamma-log": lambda: (*scotland(), dict(model="gamma", link="log",
                                                     method="newton"),
                                   sm.families.Gamma(sm.families.links.Log()), {}),
    "grunfeld-gaussian": lambda: (*grunfeld()[:2], dict(model="gaussian"),
                                  sm.families.Gaussian(), {}),
}


def model_case(name):
    X, y, kwargs, family, extra = MODEL_CASES[name]()
    return X, y, kwargs, family


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_pvalues_and_intervals_match_statsmodels(name):
    X, y, kwargs, family = model_case(name)
    result = ngd.fit(X, y, **kwargs, **TIGHT)
    assert result.converged, result.message
    estimated = name.split("-")[1] in ("gamma", "gaussian")
    ref = sm_glm(y, sm.add_constant(X), family, use_t=estimated)
    assert result.use_t is estimated
    assert result.distribution == ("t" if estimated else "normal")
    if estimated:
        assert result.df_inference == ref.df_resid
    close(result.params, ref.params, rtol=1e-9)
    close(result.bse, ref.bse)
    close(result.tvalues, ref.tvalues)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())
    close(result.conf_int(0.1), ref.conf_int(0.1))
    close(result.cov_params(), ref.cov_params())
    rows = result.coefficient_rows()
    label = "t" if estimated else "z"
    close([row["pvalue"] for row in rows], ref.pvalues)
    close([row[label] for row in rows], ref.tvalues)
    close([[row["ci_low"], row["ci_high"]] for row in rows], ref.conf_int())


def test_logistic_matches_statsmodels_logit():
    X, y = spector()
    result = ngd.fit(X, y, **TIGHT)
    ref = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())


def test_binomial_counts_and_gaussian_ols():
    X, Y = star98()
    result = ngd.fit(X, Y[:, 0], model="binomial", trials=Y.sum(axis=1), **TIGHT)
    ref = sm_glm(Y, sm.add_constant(X), sm.families.Binomial())
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())
    # Gaussian: the OLS t table (df_resid = n - k)
    X, y = grunfeld()[:2]
    result = ngd.fit(X, y, model="gaussian", **TIGHT)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    close(result.pvalues, ols.pvalues)
    close(result.conf_int(), ols.conf_int())


def test_frequency_weights_give_t_with_weighted_df():
    X, y, _, _, w = clustered_poisson()
    counts = np.round(w * 2)            # integer frequency weights
    result = ngd.fit(X, y + 1.0, model="gamma", link="log", sample_weight=counts,
                     method="newton", **TIGHT)
    ref = sm_glm(y + 1.0, sm.add_constant(X), sm.families.Gamma(sm.families.links.Log()),
                 use_t=True, freq_weights=counts)
    assert result.df_inference == pytest.approx(ref.df_resid, rel=1e-14)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())


def test_feature_names_default_and_dataframe_names():
    X, y = spector()
    result = ngd.fit(X, y)
    assert result.coefficient_names() == ["(intercept)", "x0", "x1", "x2"]
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["GPA", "TUCE", "PSI"])
    named = ngd.fit(frame, y)
    assert [row["name"] for row in named.coefficient_rows()] == \
        ["(intercept)", "GPA", "TUCE", "PSI"]
    assert [row["name"] for row in named.coefficient_rows(["a", "b", "c"])][1:] == \
        ["a", "b", "c"]
    assert "GPA" in named.summary() and "GPA" in json.dumps(named.to_dict())


def test_summary_and_to_dict():
    X, y = scotland()
    result = ngd.fit(X, y, model="gamma", **TIGHT)
    text = result.summary()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "P>|t|" in text and "[0.025" in text and "0.975]" in text
    assert f"t distribution, {result.df_resid:g} df" in text
    row = text.splitlines()[[line.split()[0] if line.split() else ""
                             for line in text.splitlines()].index("x0")]
    assert f"{result.pvalues[1]:.3g}" in row
    document = json.loads(json.dumps(result.to_dict()))
    assert document["distribution"] == "t" and document["df_inference"] == result.df_resid
    close([c["pvalue"] for c in document["coefficients"]], result.pvalues, rtol=1e-15)
    close([c["ci_high"] for c in document["coefficients"]], result.conf_int()[:, 1],
          rtol=1e-15)
    logistic = ngd.fit(*spector())
    assert "P>|z|" in logistic.summary() and "normal distribution" in logistic.summary()
    assert "z" in logistic.coefficient_rows()[0] and "t" not in logistic.coefficient_rows()[0]


def test_without_standard_errors_pvalues_are_nan():
    X, y = spector()
    result = ngd.fit(X, y, stderr=False)
    assert np.isnan(result.pvalues).all() and np.isnan(result.conf_int()).all()
    assert result.cov_params() is None
    row = next(line for line in result.summary().splitlines() if line.startswith("x0"))
    assert row.split()[2:] == ["-"] * 5


def test_no_intercept_layout():
    X, y = cpunish()
    result = ngd.fit(X, y, model="poisson", fit_intercept=False, **TIGHT)
    ref = sm_glm(y, X, sm.families.Poisson())
    assert result.coefficient_names()[0] == "x0"
    close(result.pvalues, ref.pvalues)
    close(result.cov_params(), ref.cov_params())


# ======================================================================= 2. clusters ==
@pytest.mark.parametrize("two_way", [False, True], ids=["one-way", "two-way"])
def test_cluster_gaussian_grunfeld(two_way):
    """Real panel data: firm (11) and year (20) clusters; t with min(G) - 1 df."""
    X, y, firm, year = grunfeld()
    cluster = (firm, year) if two_way else firm
    result = ngd.fit(X, y, model="gaussian", cov_type="cluster", cluster=cluster, **TIGHT)
    groups = np.column_stack([np.unique(firm, return_inverse=True)[1], year]) if two_way \
        else np.unique(firm, return_inverse=True)[1]
    ref = sm_glm(y, sm.add_constant(X), sm.families.Gaussian(), cov_type="cluster",
                 cov_kwds={"groups": groups}, use_t=True)
    assert result.cov_type == "cluster"
    assert result.n_groups == ((11, 20) if two_way else (11,))
    assert result.df_inference == ref.df_resid_inference == 10
    close(result.cov_params(), ref.cov_params())
    close(result.bse, ref.bse)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())


@pytest.mark.parametrize("two_way", [False, True], ids=["one-way", "two-way"])
@pytest.mark.parametrize("weights", [None, "freq_weights", "var_weights"])
def test_cluster_poisson_with_weights(two_way, weights):
    X, y, g, h, w = clustered_poisson()
    cluster = np.column_stack([g, h]) if two_way else g
    kwargs = {} if weights is None else {weights: w}
    result = ngd.fit(X, y, model="poisson", cov_type="cluster", cluster=cluster,
                     sample_weight=None if weights is None else w, **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Poisson(), cov_type="cluster",
                 cov_kwds={"groups": cluster}, **kwargs)
    close(result.bse, ref.bse)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())
    # clustering matters here
    model_based = ngd.fit(X, y, model="poisson", sample_weight=kwargs.get(weights), **TIGHT)
    assert np.min(result.bse / model_based.bse) > 1.05


def test_cluster_logistic_vs_logit_and_label_kinds():
    rng = np.random.default_rng(5)
    n, G = 500, 25
    g = rng.integers(0, G, n)
    X = rng.normal(size=(n, 2)) + rng.normal(size=(G, 2))[g]
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.8, -0.5] + rng.normal(size=G)[g])))) * 1.0
    result = ngd.fit(X, y, cov_type="cluster", cluster=g, **TIGHT)
    ref = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0,
                                              cov_type="cluster", cov_kwds={"groups": g})
    close(result.bse, ref.bse)
    close(result.pvalues, ref.pvalues)
    assert result.distribution == "normal"
    # the labels' kind does not matter: strings, floats, a list, a pandas Series
    for labels in (np.array([f"c{k:03d}" for k in g]), g.astype(float) * 2.5, list(g)):
        again = ngd.fit(X, y, cov_type="cluster", cluster=labels, **TIGHT)
        close(again.cov, result.cov, rtol=1e-13)     # clusters summed in another order
    pd = pytest.importorskip("pandas")
    again = ngd.fit(X, y, cov_type="cluster", cluster=pd.Series(g).astype("category"),
                    **TIGHT)
    close(again.cov, result.cov, rtol=1e-13)


def test_cluster_with_categorical_fixed_effects_from_a_dataframe():
    """Firm fixed effects as a native categorical block (a Design) and standard errors
    clustered by firm, vs statsmodels with the dummy columns."""
    pd = pytest.importorskip("pandas")
    X, y, firm, _ = grunfeld()
    frame = pd.DataFrame({"value": X[:, 0], "capital": X[:, 1], "firm": firm})
    result = ngd.fit(frame, y, model="gaussian", cov_type="cluster", cluster=frame["firm"],
                     **TIGHT)
    levels, codes = np.unique(firm, return_inverse=True)
    dummies = (codes[:, None] == np.arange(1, levels.size)[None, :]).astype(float)
    ref = sm_glm(y, np.column_stack([np.ones(y.size), X, dummies]), sm.families.Gaussian(),
                 cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    assert result.coefficient_names()[3] == f"firm={levels[1]}"
    close(result.bse, ref.bse)
    close(result.pvalues, ref.pvalues)
    # Wald tests under the clustered covariance: F with G - 1 df; the firm effects are not
    # testable when clustering by firm (each firm's score sum for its dummy is zero, so the
    # meat has rank G - 1 < 10 + 3)
    test = ngd.wald_test(result, ["value", "capital"])
    expected = ref.wald_test(np.eye(13)[1:3], use_f=True, scalar=True)
    assert (test.df, test.df_denom) == (2, 10)
    close(test.statistic, expected.statistic)
    close(test.pvalue, expected.pvalue)
    with pytest.raises(ValueError, match=r"covariance of the 10 restrictions is singular"):
        ngd.wald_test(result, "firm")


def test_cluster_binomial_counts_and_compare():
    X, Y = star98()
    rng = np.random.default_rng(1)
    g = rng.integers(0, 30, X.shape[0])
    result = ngd.fit(X, Y[:, 0], model="binomial", trials=Y.sum(axis=1), cov_type="cluster",
                     cluster=g, **TIGHT)
    ref = sm_glm(Y, sm.add_constant(X), sm.families.Binomial(), cov_type="cluster",
                 cov_kwds={"groups": g})
    close(result.bse, ref.bse)
    # ngd.compare passes the clusters through (statistics of the first method)
    results = ngd.compare(X, Y[:, 0], methods=("ngd", "newton"), statistics="first",
                          model="binomial", trials=Y.sum(axis=1), cov_type="cluster",
                          cluster=g, **TIGHT)
    close(results["ngd"].bse, ref.bse)
    assert results["newton"].stderr is None


def test_cluster_softmax_vs_mnlogit():
    rng = np.random.default_rng(8)
    n, G, K = 600, 30, 3
    g = rng.integers(0, G, n)
    X = rng.normal(size=(n, 2)) + 0.5 * rng.normal(size=(G, 2))[g]
    logits = np.column_stack([np.zeros(n), 0.3 + X @ [0.7, -0.4], -0.2 + X @ [-0.3, 0.6]])
    logits += rng.normal(size=(G, K))[g]
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    result = ngd.fit(X, y, model="softmax", cov_type="cluster", cluster=g, **TIGHT)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0,
                                                cov_type="cluster", cov_kwds={"groups": g})
    # statsmodels' params: (p + 1, K - 1), class k >= 1 in column k - 1; ngd's reported order
    # is class by class [intercept, coef]; class 0 is the reference (nan standard errors)
    bse = result.bse.reshape(K, -1)
    assert np.isnan(bse[0]).all()
    close(bse[1:], np.asarray(ref.bse).T)
    close(result.pvalues.reshape(K, -1)[1:], np.asarray(ref.pvalues).T)
    # the reported covariance survives pickling
    again = pickle.loads(pickle.dumps(result))
    np.testing.assert_array_equal(again.cov_params(), result.cov_params())


def test_cluster_non_canonical_link_uses_expected_information():
    """Gamma-log: the bread is the expected information (as cov_type='robust'); it equals
    CR1 built from statsmodels' scores and hessian(observed=False), and differs from
    statsmodels' cluster covariance, whose bread is the observed Hessian."""
    X, y = scotland()
    g = np.arange(y.size) % 8
    family = sm.families.Gamma(sm.families.links.Log())
    result = ngd.fit(X, y, model="gamma", link="log", cov_type="cluster", cluster=g,
                     method="newton", **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), family, cov_type="cluster", cov_kwds={"groups": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(y, sm.add_constant(X), family=family)
    bread = np.linalg.inv(model.hessian(ref.params, observed=False))
    sums = np.array([model.score_obs(ref.params)[g == k].sum(axis=0) for k in range(8)])
    n, k = X.shape[0], X.shape[1] + 1
    expected = bread @ sums.T @ sums @ bread * (8 / 7) * (n - 1) / (n - k)
    close(result.cov_params(), expected, rtol=1e-8)
    assert np.max(np.abs(result.bse / ref.bse - 1)) > 1e-3


def test_robust_hc0_unchanged():
    X, y = cpunish()
    result = ngd.fit(X, y, model="poisson", cov_type="robust", **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Poisson(), cov_type="HC0")
    close(result.bse, ref.bse)
    close(result.pvalues, ref.pvalues)
    X, y = grunfeld()[:2]
    result = ngd.fit(X, y, model="gaussian", cov_type="robust", **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Gaussian(), cov_type="HC0", use_t=True)
    close(result.pvalues, ref.pvalues)
    close(result.conf_int(), ref.conf_int())


# ==================================================================== 3. Wald tests ==
def test_wald_coefficient_set_chi2():
    X, y = spector()
    result = ngd.fit(X, y, **TIGHT)
    ref = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    R = np.zeros((2, 4))
    R[0, 1] = R[1, 3] = 1.0
    expected = ref.wald_test(R, use_f=False, scalar=True)
    test = ngd.wald_test(result, ["x0", "x2"])
    assert (test.test, test.distribution, test.df) == ("wald", "chi2", 2)
    close(test.statistic, expected.statistic)
    close(test.pvalue, expected.pvalue)
    assert test.names == ("x0", "x2")
    # one coefficient: W = z^2 and the same p-value as the table
    single = ngd.wald_test(result, "x1")
    close(single.statistic, result.tvalues[2] ** 2)
    close(single.pvalue, result.pvalues[2])
    # ngd.wald_test is ngd.inference.wald_test; str is one line
    assert "\n" not in str(test) and "chi2(2)" in str(test)


def test_wald_matrix_and_value():
    X, y = cpunish()
    result = ngd.fit(X, y, model="poisson", **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Poisson())
    R = np.array([[0, 1, -1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0.5]])
    r = np.array([0.1, 0.2])
    expected = ref.wald_test((R, r), use_f=False, scalar=True)
    test = ngd.wald_test(result, R, value=r)
    close(test.statistic, expected.statistic)
    close(test.pvalue, expected.pvalue)
    # coefficients against given values
    named = ngd.wald_test(result, ["x1", "x2"], value=[0.05, -0.01])
    R2 = np.zeros((2, 7))
    R2[0, 2] = R2[1, 3] = 1.0
    close(named.statistic, ref.wald_test((R2, [0.05, -0.01]), use_f=False,
                                         scalar=True).statistic)


def test_wald_f_where_dispersion_is_estimated():
    X, y = scotland()
    result = ngd.fit(X, y, model="gamma", **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Gamma(), use_t=True)
    R = np.eye(8)[[2, 4, 5]]
    expected = ref.wald_test(R, use_f=True, scalar=True)
    test = ngd.wald_test(result, ["x1", "x3", "x4"])
    assert test.distribution == "F" and test.df == 3 and test.df_denom == ref.df_resid
    close(test.statistic, expected.statistic)
    close(test.pvalue, expected.pvalue)


def test_wald_cluster_covariance_f_with_cluster_df():
    X, y, firm, _ = grunfeld()
    codes = np.unique(firm, return_inverse=True)[1]
    result = ngd.fit(X, y, model="gaussian", cov_type="cluster", cluster=firm, **TIGHT)
    ref = sm_glm(y, sm.add_constant(X), sm.families.Gaussian(), cov_type="cluster",
                 cov_kwds={"groups": codes}, use_t=True)
    expected = ref.wald_test(np.eye(3)[1:], use_f=True, scalar=True)
    test = ngd.wald_test(result, ["x0", "x1"])
    assert test.df_denom == 10
    close(test.statistic, expected.statistic)
    close(test.pvalue, expected.pvalue)


def test_array_fit_terms_are_its_columns():
    """On a plain array every column is its own term: result.terms reads as
    {x0: [0], x1: [1], ...} (built lazily) and survives pickling."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 3))
    result = ngd.fit(X, (X[:, 0] + rng.standard_normal(80) > 0).astype(float), l2=0.1)
    expected = {"x0": [0], "x1": [1], "x2": [2]}
    assert result.terms == expected and dict(result.terms) == expected
    assert list(result.terms) == ["x0", "x1", "x2"] and result.terms["x2"] == [2]
    assert "x3" not in result.terms
    with pytest.raises(KeyError):
        result.terms["x3"]
    assert pickle.loads(pickle.dumps(result)).terms == expected


def test_wald_categorical_term():
    """A categorical's levels are one term (result.terms from a DataFrame): the joint test
    equals statsmodels' wald_test_terms for C(occupation)."""
    pd = pytest.importorskip("pandas")
    smf = pytest.importorskip("statsmodels.formula.api")
    d = sm.datasets.fair.load_pandas().data
    frame = d[["rate_marriage", "age", "yrs_married", "religious"]].copy()
    frame["occupation"] = d["occupation"].astype(int).astype(str)
    y = (d["affairs"] > 0).to_numpy(float)
    result = ngd.fit(frame, y, **TIGHT)
    assert len(result.terms["occupation"]) == 5
    data = frame.assign(y=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.glm("y ~ rate_marriage + age + yrs_married + religious + C(occupation)",
                      data, family=sm.families.Binomial()).fit(tol=1e-14)
        table = ref.wald_test_terms(scalar=True).table
    test = ngd.wald_test(result, "occupation")
    assert test.df == 5 and test.names[0] == "occupation=2"
    close(test.statistic, table.loc["C(occupation)", "statistic"])
    close(test.pvalue, table.loc["C(occupation)", "pvalue"])
    # a term and a coefficient together
    both = ngd.wald_test(result, ["occupation", "age"])
    R = np.zeros((6, 10))
    columns = [list(ref.params.index).index(f"C(occupation)[T.{k}]") for k in range(2, 7)]
    R[np.arange(5), columns] = 1.0
    R[5, list(ref.params.index).index("age")] = 1.0
    close(both.statistic, ref.wald_test(R, use_f=False, scalar=True).statistic)


def test_wald_softmax_feature_across_classes():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age"]].to_numpy(float)
    y = np.minimum(d.endog.to_numpy(int), 2)           # 3 classes
    result = ngd.fit(X, y, model="softmax", **TIGHT)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    # statsmodels' params are vec'ed column by column: class 1 (const, x0..x2), class 2
    R = np.zeros((2, 8))
    R[0, 2] = R[1, 6] = 1.0                            # x1 in classes 1 and 2
    expected = ref.wald_test(R, use_f=False, scalar=True)
    test = ngd.wald_test(result, "x1")
    assert test.df == 2 and test.names == ("1:x1", "2:x1")
    close(test.statistic, expected.statistic, rtol=1e-8)
    close(test.pvalue, expected.pvalue, rtol=1e-8)


# ======================================================================= 4. LR tests ==
def test_lr_logistic_and_poisson():
    X, y = spector()
    full = ngd.fit(X, y, **TIGHT)
    restricted = ngd.fit(X[:, [0, 2]], y, **TIGHT)
    ref_full = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    ref_r = sm.Logit(y, sm.add_constant(X[:, [0, 2]])).fit(method="newton", tol=1e-14, disp=0)
    test = ngd.lr_test(full, restricted)
    expected = 2 * (ref_full.llf - ref_r.llf)
    assert (test.test, test.df, test.distribution) == ("lr", 1, "chi2")
    close(test.statistic, expected, rtol=1e-8)
    close(test.pvalue, scipy.stats.chi2.sf(expected, 1), rtol=1e-8)
    X, y = cpunish()
    full = ngd.fit(X, y, model="poisson", **TIGHT)
    restricted = ngd.fit(X[:, :3], y, model="poisson", **TIGHT)
    ref_full = sm_glm(y, sm.add_constant(X), sm.families.Poisson())
    ref_r = sm_glm(y, sm.add_constant(X[:, :3]), sm.families.Poisson())
    test = ngd.lr_test(full, restricted)
    assert test.df == 3
    close(test.statistic, 2 * (ref_full.llf - ref_r.llf))
    close(test.statistic, ref_r.deviance - ref_full.deviance)


def test_lr_gaussian_ols_lr_and_f():
    X, y = grunfeld()[:2]
    full = ngd.fit(X, y, model="gaussian", **TIGHT)
    restricted = ngd.fit(X[:, :1], y, model="gaussian", **TIGHT)
    ols_full = sm.OLS(y, sm.add_constant(X)).fit()
    ols_r = sm.OLS(y, sm.add_constant(X[:, :1])).fit()
    lr, lr_p, lr_df = ols_full.compare_lr_test(ols_r)
    test = ngd.lr_test(full, restricted, test="lr")
    close(test.statistic, lr)
    close(test.pvalue, lr_p)
    assert test.df == lr_df == 1
    F, F_p, F_df = ols_full.compare_f_test(ols_r)
    default = ngd.lr_test(full, restricted)
    assert default.test == "f" and default.df_denom == ols_full.df_resid
    close(default.statistic, F)
    close(default.pvalue, F_p)


def test_lr_gamma_deviance_f_and_llf_difference():
    X, y = scotland()
    full = ngd.fit(X, y, model="gamma", **TIGHT)
    restricted = ngd.fit(X[:, [0, 1, 4]], y, model="gamma", **TIGHT)
    ref_full = sm_glm(y, sm.add_constant(X), sm.families.Gamma())
    ref_r = sm_glm(y, sm.add_constant(X[:, [0, 1, 4]]), sm.families.Gamma())
    test = ngd.lr_test(full, restricted)
    F = (ref_r.deviance - ref_full.deviance) / (4 * ref_full.scale)
    assert (test.test, test.df, test.df_denom) == ("f", 4, ref_full.df_resid)
    close(test.statistic, F)
    close(test.pvalue, scipy.stats.f.sf(F, 4, ref_full.df_resid))
    lr = ngd.lr_test(full, restricted, test="lr")
    close(lr.statistic, 2 * (ref_full.llf - ref_r.llf), rtol=1e-8)


def test_lr_softmax():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age"]].to_numpy(float)
    y = np.minimum(d.endog.to_numpy(int), 2)
    full = ngd.fit(X, y, model="softmax", **TIGHT)
    restricted = ngd.fit(X[:, [0, 2]], y, model="softmax", **TIGHT)
    ref_full = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, disp=0)
    ref_r = sm.MNLogit(y, sm.add_constant(X[:, [0, 2]])).fit(method="newton", tol=1e-14,
                                                             disp=0)
    test = ngd.lr_test(full, restricted)
    assert test.df == 2
    close(test.statistic, 2 * (ref_full.llf - ref_r.llf), rtol=1e-8)


def test_lr_restricted_by_offset_is_nested():
    """A coefficient fixed at a value through the offset is a nested model."""
    X, y = cpunish()
    full = ngd.fit(X, y, model="poisson", **TIGHT)
    fixed = 0.5 * full.coef[1]
    restricted = ngd.fit(np.delete(X, 1, axis=1), y, model="poisson", offset=fixed * X[:, 1],
                         **TIGHT)
    test = ngd.lr_test(full, restricted)
    assert test.df == 1 and test.statistic > 0
    close(test.statistic, restricted.deviance - full.deviance)


# ==================================================================== 5. bad input ==
X_BAD, Y_BAD = spector()
N_BAD = Y_BAD.size
GROUPS = np.arange(N_BAD) % 4
BAD_FITS = [
    (dict(cov_type="cluster"), ValueError, "needs cluster="),
    (dict(cluster=GROUPS), ValueError, "applies to cov_type='cluster'"),
    (dict(cov_type="robust", cluster=GROUPS), ValueError, "applies to cov_type='cluster'"),
    (dict(cov_type="cluster", cluster=GROUPS[:-1]), ValueError, r"cluster must have 32 labels"),
    (dict(cov_type="cluster", cluster=np.r_[GROUPS[:-1], np.nan]), ValueError,
     "missing label at row 31"),
    (dict(cov_type="cluster", cluster=np.array(list(GROUPS[:-1]) + [None], dtype=object)),
     ValueError,
     "missing label at row 31"),
    (dict(cov_type="cluster", cluster=np.zeros(N_BAD)), ValueError, "single group"),
    (dict(cov_type="cluster", cluster=(GROUPS, np.zeros(N_BAD))), ValueError,
     r"dimension 1\) has a single group"),
    (dict(cov_type="cluster", cluster=np.column_stack([GROUPS] * 3)), ValueError,
     "one label array"),
    (dict(cov_type="cluster", cluster=np.array(list(GROUPS[:-1]) + ["a"], dtype=object)),
     TypeError,
     "mixes labels"),
    (dict(cov_type="cluster", cluster=GROUPS, backend="chunked"), ValueError,
     "in-memory backend"),
    (dict(cov_type="cluster", cluster=GROUPS, alpha=0.1, l1_ratio=0.5), ValueError,
     "not the elastic net"),
    (dict(cov_type="sandwich"), ValueError, "cov_type must be one of"),
    (dict(X=np.eye(N_BAD, 3), cov_type="cluster", cluster=GROUPS, sparse=True), ValueError,
     "needs a dense X"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_FITS)
def test_bad_cluster_input(kwargs, error, match):
    kwargs = dict(kwargs)
    X = kwargs.pop("X", X_BAD)
    if kwargs.pop("sparse", False):
        X = pytest.importorskip("scipy.sparse").csr_matrix(X)
    with pytest.raises(error, match=match) as info:
        ngd.fit(X, Y_BAD, **kwargs)
    assert "\n" not in str(info.value)


def test_cluster_needs_more_rows_than_parameters():
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match="more rows"):
        ngd.fit(X, np.array([1.0, 2.0, 3.0, 4.5]), model="gaussian", cov_type="cluster",
                cluster=[0, 0, 1, 1])


@pytest.fixture(scope="module")
def fits():
    X, y = spector()
    return {"full": ngd.fit(X, y), "no_se": ngd.fit(X, y, stderr=False),
            "softmax": ngd.fit(X[:, :2], (y + (X[:, 2] > 0)).astype(int), model="softmax"),
            "restricted": ngd.fit(X[:, :2], y), "other": ngd.fit(X[:, [2]], y),
            "short": ngd.fit(X[:-2], y[:-2]), "ridge": ngd.fit(X[:, :2], y, l2=0.1),
            "probit": ngd.fit(X[:, :2], y, model="binomial", link="probit"),
            "flipped": ngd.fit(X[:, :2], 1 - y)}


BAD_WALD = [
    ("full", dict(terms="GPA"), ValueError, "unknown coefficient or term 'GPA'"),
    ("full", dict(terms=[]), ValueError, "at least one"),
    ("full", dict(terms=np.ones((2, 3))), ValueError, "must have 4 columns"),
    ("full", dict(terms=np.array([[0, 1, 0, 0], [0, 2, 0, 0]])), ValueError,
     "linearly dependent"),
    ("full", dict(terms=["x0", "x1"], value=[1, 2, 3]), ValueError, "one entry per"),
    ("full", dict(terms="x0", value=np.nan), ValueError, "value must be finite"),
    ("full", dict(terms=[[np.inf, 0, 0, 0]]), ValueError, "non-finite"),
    ("full", dict(terms=[{"x0"}]), TypeError, "terms must be"),
    ("no_se", dict(terms="x0"), ValueError, "no covariance"),
    ("softmax", dict(terms="0:x0"), ValueError, "singular"),
]


@pytest.mark.parametrize("which,kwargs,error,match", BAD_WALD)
def test_bad_wald_input(fits, which, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        ngd.wald_test(fits[which], **kwargs)
    assert "\n" not in str(info.value)


BAD_LR = [
    ("full", "probit", "differ in model"),
    ("full", "short", "different numbers of observations"),
    ("restricted", "other", "not nested"),
    ("full", "ridge", "penalised"),
    ("restricted", "full", "more parameters"),
    ("full", "flipped", "differ in their y"),
    ("softmax", "restricted", "differ in model"),
]


@pytest.mark.parametrize("full,restricted,match", BAD_LR)
def test_bad_lr_input(fits, full, restricted, match):
    with pytest.raises(ValueError, match=match) as info:
        ngd.lr_test(fits[full], fits[restricted])
    assert "\n" not in str(info.value)


def test_bad_lr_arguments(fits):
    with pytest.raises(TypeError, match="FitResult"):
        ngd.lr_test(fits["full"], {"llf": 1.0})
    with pytest.raises(ValueError, match="test must be"):
        ngd.lr_test(fits["full"], fits["restricted"], test="wald")
    with pytest.raises(ValueError, match="alpha must lie"):
        fits["full"].conf_int(1.5)
