"""Native categorical blocks: kernels on integer codes, the Design model, the Schur solver and
the block standard errors, each against the same quantity computed on the one-hot matrix."""
import numpy as np
import pytest

from ngd import kernels
from ngd._kernels import fused as _fused
from ngd.exceptions import DataError


def _onehot(codes, L):
    Z = np.zeros((codes.size, L))
    rows = np.flatnonzero(codes >= 0)
    Z[rows, codes[rows]] = 1.0
    return Z


@pytest.fixture(scope="module")
def coded():
    rng = np.random.default_rng(0)
    n, L, p = 5003, 41, 6
    codes = rng.integers(-1, L, n).astype(np.int32)
    codes[:L] = np.arange(L)                        # every level present
    return rng.standard_normal((n, p)), codes, rng.uniform(0.2, 2.0, n), L


# ------------------------------------------------------------------------------ kernels --

@pytest.mark.parametrize("weighted", [False, True])
def test_level_sums_match_bincount(coded, weighted):
    X, codes, v, L = coded
    v = v if weighted else None
    keep = codes >= 0
    expected = np.bincount(codes[keep], None if v is None else v[keep], minlength=L)
    out = kernels.level_sums(codes, L, v, n_threads=2)
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    assert np.array_equal(out, kernels.level_sums(codes, L, v, n_threads=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("intercept", [False, True])
def test_level_cross_sums_match_onehot_product(coded, dtype, order, intercept):
    X, codes, v, L = coded
    Xd = np.asarray(X, dtype=dtype, order=order)
    X1 = np.column_stack([Xd.astype(np.float64)] + ([np.ones(len(v))] if intercept else []))
    expected = _onehot(codes, L).T @ (v[:, None] * X1)
    two = kernels.level_cross_sums(Xd, codes, L, v, intercept=intercept, n_threads=2)
    np.testing.assert_allclose(two, expected, rtol=1e-12, atol=1e-12)
    one = kernels.level_cross_sums(Xd, codes, L, v, intercept=intercept, n_threads=1)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("order", ["C", "F"])
def test_slot_accumulators_are_thread_independent(order):
    """Enough rows for several row-block slots: 1 and 2 threads bit-identical, = numpy."""
    rng = np.random.default_rng(21)
    n, L = 70_000, 5
    X = np.asarray(rng.standard_normal((n, 3)), order=order)
    codes = rng.integers(-1, L, n).astype(np.int32)
    v = rng.random(n)
    one = kernels.level_cross_sums(X, codes, L, v, intercept=True, n_threads=1)
    two = kernels.level_cross_sums(X, codes, L, v, intercept=True, n_threads=2)
    assert np.array_equal(one, two)
    expected = _onehot(codes, L).T @ (v[:, None] * np.column_stack([X, np.ones(n)]))
    np.testing.assert_allclose(two, expected, rtol=1e-12)
    assert np.array_equal(kernels.level_sums(codes, L, v, n_threads=1),
                          kernels.level_sums(codes, L, v, n_threads=2))


def test_level_cross_sums_without_dense_columns(coded):
    X, codes, v, L = coded
    out = kernels.level_cross_sums(np.empty((len(v), 0)), codes, L, v, intercept=True)
    np.testing.assert_allclose(out[:, 0], kernels.level_sums(codes, L, v), rtol=1e-15)


def test_gather_add_several_blocks(coded):
    X, codes, v, L = coded
    rng = np.random.default_rng(1)
    other = rng.integers(-1, 7, len(v)).astype(np.int32)
    gamma_a, gamma_b = rng.standard_normal(L), rng.standard_normal(7)
    eta = v.copy()
    kernels.gather_add(eta, [codes, other], [gamma_a, gamma_b], n_threads=2)
    expected = v + _onehot(codes, L) @ gamma_a + _onehot(other, 7) @ gamma_b
    np.testing.assert_allclose(eta, expected, rtol=1e-15, atol=1e-15)


def test_contingency_table(coded):
    X, codes, v, L = coded
    other = np.random.default_rng(2).integers(-1, 5, len(v)).astype(np.int32)
    table = kernels.contingency_table(codes, L, other, 5, v)
    expected = _onehot(codes, L).T @ (v[:, None] * _onehot(other, 5))
    np.testing.assert_allclose(table.toarray(), expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("bad, message", [
    (lambda c: np.where(c == 3, 41, c), "must lie in"),
    (lambda c: np.where(c == 3, -2, c), "must lie in"),
    (lambda c: c[:-1], "must have shape"),
    (lambda c: c.astype(float), "integer codes"),
])
def test_bad_codes_are_one_clear_error(coded, bad, message):
    X, codes, v, L = coded
    with pytest.raises((DataError, TypeError), match=message):
        kernels.level_cross_sums(X, bad(codes), L, v)


@pytest.mark.parametrize("pass_name", ["logistic", "glm"])
def test_fused_residual_output_is_the_gradient_term(coded, pass_name):
    """resid_out = d(w nll)/d eta; with it the pass's other outputs are bit-identical; p = 0."""
    X, codes, v, L = coded
    rng = np.random.default_rng(4)
    coef = 0.1 * rng.standard_normal(X.shape[1])
    if pass_name == "logistic":
        y = (rng.random(len(v)) < 0.4).astype(float)

        def run(Xa, c, resid):
            grad, weights = np.empty(Xa.shape[1] + 1), np.empty(len(v))
            loss = _fused._logistic_pass(Xa, c, 0.2, y, v, None, 1, grad, weights, 2, resid)
            return loss, grad, weights
    else:
        y = rng.poisson(1.5, len(v)).astype(float)
        codes_glm = (_fused.GLM_FAMILIES["poisson"], _fused.GLM_LINKS["log"], 0.0, 1.0, 1)

        def run(Xa, c, resid):
            grad, weights = np.empty(Xa.shape[1] + 1), np.empty(len(v))
            loss, _ = _fused._glm_pass(Xa, c, 0.2, y, v, None, None, *codes_glm, grad,
                                       weights, 2, resid)
            return loss, grad, weights
    resid = np.empty(len(v))
    plain = run(X, coef, None)
    with_resid = run(X, coef, resid)
    assert plain[0] == with_resid[0]
    assert np.array_equal(plain[1], with_resid[1]) and np.array_equal(plain[2], with_resid[2])
    np.testing.assert_allclose(X.T @ resid, plain[1][:-1], rtol=1e-11, atol=1e-11)
    eta = X @ coef + 0.2
    if pass_name == "logistic":
        expected = v * (1 / (1 + np.exp(-eta)) - y)
    else:
        expected = v * (np.exp(eta) - y)
    np.testing.assert_allclose(resid, expected, rtol=1e-12, atol=1e-14)
    # no dense columns: eta = intercept, the same rows terms
    none = run(np.empty((len(v), 0)), np.empty(0), resid)
    eta0 = np.full(len(v), 0.2)
    expected0 = v * ((1 / (1 + np.exp(-eta0)) - y) if pass_name == "logistic"
                     else (np.exp(eta0) - y))
    np.testing.assert_allclose(resid, expected0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(none[1], [expected0.sum()], rtol=1e-12)


# ------------------------------------------------------------------- Design vs one-hot --

import scipy.optimize  # noqa: E402

import ngd  # noqa: E402
from ngd.design import Categorical, Design  # noqa: E402
from ngd.fisher import schur  # noqa: E402
from ngd.fisher.schur import SchurSolver, inverse_diagonal  # noqa: E402
from ngd.models import GLM  # noqa: E402
from ngd.models.categorical import CategoricalModel, dense_part  # noqa: E402


def _design(rng, n=3000, p=3, levels=(7, 23), dtype=np.float64, order="C"):
    dense = np.asarray(rng.standard_normal((n, p)), dtype=dtype, order=order)
    blocks = []
    for k, L in enumerate(levels):
        codes = rng.integers(-1, L - 1, n)
        codes[:L - 1] = np.arange(L - 1)                 # every level has rows
        blocks.append(Categorical(f"c{k}", codes, [f"v{j}" for j in range(L)]))
    return Design(dense, blocks)


def _response(rng, design, model):
    eta = 0.2 * design.dense.astype(float) @ np.linspace(-1, 1, design.n_dense)
    for block in design.categoricals:
        gamma = 0.3 * rng.standard_normal(block.n_columns)
        eta += np.where(block.codes >= 0, gamma[np.maximum(block.codes, 0)], 0.0)
    if model in ("logistic", "binomial"):
        return eta, (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(float)
    if model == "poisson":
        return eta, rng.poisson(np.exp(eta)).astype(float)
    if model == "gamma":
        return eta, rng.gamma(2.0, np.exp(eta) / 2.0)
    return eta, eta + rng.standard_normal(eta.size)


CASES = [
    dict(model="logistic"),
    dict(model="logistic", fit_intercept=False, l2=0.01, weights=True),
    dict(model="poisson", offset=True, weights=True),
    dict(model="poisson", offset=True, weights=True, fit_intercept=False, l2=0.003),
    dict(model="gamma", link="log"),
    dict(model="binomial", link="probit", trials=True, method="newton"),
    dict(model="gaussian", l2=0.02),
    dict(model="gaussian", fit_intercept=False, dtype=np.float32, order="F"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in
                                                             c.items()))
def test_design_fit_equals_onehot_fit(case):
    """Same coefficients, loss, standard errors and statistics as the one-hot fits (Newton for
    probit: Fisher scoring converges linearly there, and its last step sits at rounding)."""
    case = dict(case)
    rng = np.random.default_rng(11)
    design = _design(rng, dtype=case.pop("dtype", np.float64), order=case.pop("order", "C"))
    model = case.pop("model")
    _, y = _response(rng, design, model)
    n = y.size
    options = dict(model=model, link=case.pop("link", None), l2=case.pop("l2", 0.0),
                   fit_intercept=case.pop("fit_intercept", True), tol=1e-11, ftol=0.0,
                   method=case.pop("method", "ngd"))
    if case.pop("weights", False):
        options["sample_weight"] = rng.uniform(0.3, 2.0, n)
    if case.pop("offset", False):
        options["offset"] = 0.1 * rng.standard_normal(n)
    if case.pop("trials", False):
        options["trials"] = rng.integers(1, 6, n).astype(float)
        y = rng.binomial(options["trials"].astype(int), 0.4).astype(float)
    assert not case
    native = ngd.fit(design, y, **options)
    dense = ngd.fit(design.toarray(), y, **options)
    csr = ngd.fit(design.to_csr(), y, **options)
    assert native.solver == "schur" and native.converged
    for reference in (dense, csr):
        scale = max(1.0, np.abs(reference.coef).max())
        np.testing.assert_allclose(native.coef, reference.coef, rtol=0, atol=1e-10 * scale)
        assert abs(native.intercept - reference.intercept) <= 1e-10 * scale
        assert abs(native.loss - reference.loss) <= 1e-12 * max(1.0, abs(reference.loss))
        np.testing.assert_allclose(native.stderr, reference.stderr, rtol=1e-9)
        if options["fit_intercept"]:
            np.testing.assert_allclose(native.intercept_stderr, reference.intercept_stderr,
                                       rtol=1e-9)
        for key in ("deviance", "null_deviance", "llf", "aic"):
            np.testing.assert_allclose(native[key], reference[key], rtol=1e-9, atol=1e-9)
    assert native.feature_names == design.feature_names
    assert native.terms["c1"] == list(range(3 + 6, 3 + 6 + 22))
    mean = ngd.predict(model, native.coef, native.intercept, design,
                       offset=options.get("offset"), link=options["link"])
    np.testing.assert_allclose(mean, ngd.predict(model, dense.coef, dense.intercept,
                                                 design.toarray(), offset=options.get("offset"),
                                                 link=options["link"]), rtol=1e-9)


def test_design_without_dense_columns_and_robust_stderr():
    rng = np.random.default_rng(5)
    design = _design(rng, p=0, levels=(9, 31))
    _, y = _response(rng, design, "poisson")
    native = ngd.fit(design, y, model="poisson", tol=1e-11, cov_type="robust")
    dense = ngd.fit(design.toarray(), y, model="poisson", tol=1e-11, cov_type="robust")
    np.testing.assert_allclose(native.coef, dense.coef, atol=1e-10)
    np.testing.assert_allclose(native.stderr, dense.stderr, rtol=1e-9)


def test_softmax_on_a_design_uses_the_onehot_csr_path():
    rng = np.random.default_rng(6)
    design = _design(rng, n=1500, levels=(5,))
    y = rng.integers(0, 3, 1500)
    native = ngd.fit(design, y, model="softmax", l2=0.01, tol=1e-10)
    dense = ngd.fit(design.toarray(), y, model="softmax", l2=0.01, tol=1e-10)
    np.testing.assert_allclose(native.coef, dense.coef, atol=1e-9)
    assert native.feature_names == design.feature_names


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_methods_on_a_design_follow_the_onehot_path(method):
    rng = np.random.default_rng(8)
    design = _design(rng, n=800, levels=(4,))
    _, y = _response(rng, design, "logistic")
    native = ngd.fit(design, y, method=method, max_iter=3, seed=1)
    dense = ngd.fit(design.toarray(), y, method=method, max_iter=3, seed=1)
    np.testing.assert_allclose(native.coef, dense.coef, rtol=1e-9, atol=1e-11)


def test_elastic_net_on_a_design_goes_through_csr():
    rng = np.random.default_rng(9)
    design = _design(rng, n=1500, levels=(6,))
    _, y = _response(rng, design, "poisson")
    native = ngd.fit(design, y, model="poisson", alpha=0.01, l1_ratio=0.5, tol=1e-10)
    dense = ngd.fit(design.to_csr(), y, model="poisson", alpha=0.01, l1_ratio=0.5, tol=1e-10)
    np.testing.assert_allclose(native.coef, dense.coef, atol=1e-9)
    assert native.feature_names == design.feature_names


# ------------------------------------------------------------------------ Schur solve --

def _model(rng, levels, fit_intercept=True, l2=0.0, family="poisson"):
    design = _design(rng, levels=levels)
    _, y = _response(rng, design, family)
    inner = GLM(dense_part(design), y, family, fit_intercept=fit_intercept, l2=l2)
    model = CategoricalModel(design, inner)
    theta = 0.1 * rng.standard_normal(model.n_params)
    return model, model.evaluate(theta, "exact").weights


@pytest.mark.parametrize("levels", [(7,), (7, 23), (5, 23, 9)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("damping", [0.0, 0.25])
def test_schur_solve_equals_dense_solve(levels, fit_intercept, damping):
    rng = np.random.default_rng(len(levels))
    model, weights = _model(rng, levels, fit_intercept)
    C = model.curvature_matrix(weights)
    g = rng.standard_normal(model.n_params)
    expected = np.linalg.solve(C + damping * np.eye(C.shape[0]), g)
    solve = SchurSolver().solve(model, weights, g, damping)
    assert solve.escalations == 0 and solve.damping == damping
    np.testing.assert_allclose(solve.direction, expected, rtol=0,
                               atol=1e-10 * np.abs(expected).max())


def test_schur_cg_branch_equals_dense_solve(monkeypatch):
    rng = np.random.default_rng(3)
    model, weights = _model(rng, (15, 23, 9), l2=1e-3)
    C = model.curvature_matrix(weights)
    g = rng.standard_normal(model.n_params)
    monkeypatch.setattr(schur, "SCHUR_MAX_DENSE", 8)      # force the two-large-blocks branch
    solve = SchurSolver(tol=1e-13, forcing=False).solve(model, weights, g, 0.0)
    assert solve.info["cg_iter"] > 0
    expected = np.linalg.solve(C, g)
    np.testing.assert_allclose(solve.direction, expected, atol=1e-10 * np.abs(expected).max())


def test_schur_escalates_damping_on_an_empty_level():
    rng = np.random.default_rng(4)
    design = _design(rng, levels=(6, 12))
    design.categoricals[1].codes[design.categoricals[1].codes == 3] = -1   # level 3: no rows
    _, y = _response(rng, design, "poisson")
    model = CategoricalModel(design, GLM(dense_part(design), y, "poisson"))
    weights = model.evaluate(model.initial_theta(), "exact").weights
    g = rng.standard_normal(model.n_params)
    solve = SchurSolver().solve(model, weights, g, 0.0)
    assert solve.escalations > 0 and solve.damping > 0
    C = model.curvature_matrix(weights)
    expected = np.linalg.solve(C + solve.damping * np.eye(C.shape[0]), g)
    np.testing.assert_allclose(solve.direction, expected, rtol=1e-8,
                               atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("levels", [(7,), (7, 23), (5, 23, 9)])
def test_block_inverse_diagonal_equals_dense_inverse(levels):
    rng = np.random.default_rng(7)
    model, weights = _model(rng, levels, l2=1e-3)
    diagonal, (index, a_inverse) = inverse_diagonal(model.curvature_blocks(weights), True)
    inverse = np.linalg.inv(model.curvature_matrix(weights))
    np.testing.assert_allclose(diagonal, np.diag(inverse), rtol=1e-9)
    np.testing.assert_allclose(a_inverse, inverse[np.ix_(index, index)], rtol=1e-9,
                               atol=1e-12 * np.abs(a_inverse).max())


def test_block_stderr_of_a_large_design_equals_dense(monkeypatch):
    """Above the full-covariance limit the stderr come from the block inverse."""
    import ngd.models.categorical as categorical
    rng = np.random.default_rng(12)
    design = _design(rng, levels=(7, 23))
    _, y = _response(rng, design, "gamma")
    dense = ngd.fit(design.toarray(), y, model="gamma", link="log", tol=1e-11)
    monkeypatch.setattr(categorical, "FULL_COVARIANCE_MAX_PARAMS", 10)
    native = ngd.fit(design, y, model="gamma", link="log", tol=1e-11)
    assert native.cov is None
    np.testing.assert_allclose(native.stderr, dense.stderr, rtol=1e-9)
    np.testing.assert_allclose(native.intercept_stderr, dense.intercept_stderr, rtol=1e-9)
    index, cov = native.cov_partial
    np.testing.assert_allclose(cov, dense.cov[np.ix_(index, index)], rtol=1e-8,
                               atol=1e-10 * np.abs(cov).max())


def test_optimum_certified_by_scipy():
    """At the fit the gradient of the objective (computed here from the one-hot matrix) is
    ~0, and L-BFGS started there finds nothing lower."""
    rng = np.random.default_rng(13)
    design = _design(rng, levels=(6, 17))
    _, y = _response(rng, design, "poisson")
    w = rng.uniform(0.5, 1.5, y.size)
    l2 = 1e-3
    fit = ngd.fit(design, y, model="poisson", sample_weight=w, l2=l2, tol=1e-12)
    X = design.toarray()

    def objective(theta):
        eta = X @ theta[:-1] + theta[-1]
        mu = np.exp(eta)
        loss = np.sum(w * (mu - y * eta)) / w.sum() + 0.5 * l2 * theta[:-1] @ theta[:-1]
        r = w * (mu - y) / w.sum()
        return loss, np.r_[X.T @ r + l2 * theta[:-1], r.sum()]

    theta = np.r_[fit.coef, fit.intercept]
    value, grad = objective(theta)
    assert np.abs(grad).max() < 1e-11
    better = scipy.optimize.minimize(objective, theta, jac=True, method="L-BFGS-B",
                                     options=dict(ftol=0, gtol=1e-14))
    assert better.fun >= value - 1e-14 * abs(value)
    constant = np.sum(w * (y * np.log(np.where(y > 0, y, 1)) - y)) / w.sum()
    assert abs(fit.loss - (value + constant)) < 1e-12 * abs(value)


def test_hundred_thousand_level_fixed_effect_memory():
    """A 100 000-level fixed effect: peak traced memory O(n + L p), far below the one-hot."""
    import tracemalloc
    rng = np.random.default_rng(14)
    n, L, p = 300_000, 100_000, 4
    codes = np.concatenate([np.arange(L), rng.integers(0, L, n - L)]).astype(np.int32) - 1
    dense = rng.standard_normal((n, p))
    design = Design(dense, [Categorical("firm", codes, [str(j) for j in range(L)])])
    effect = 0.3 * rng.standard_normal(L)
    eta = dense @ np.full(p, 0.1) + effect[codes + 1]
    y = rng.poisson(np.exp(eta)).astype(float)
    tracemalloc.start()
    fit = ngd.fit(design, y, model="poisson", l2=1e-4, tol=1e-8)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert fit.converged and fit.solver == "schur"
    assert fit.coef.shape == (p + L - 1,) and np.all(np.isfinite(fit.stderr))
    budget = 8 * (24 * n + 12 * L * (p + 1))            # a few dozen n- and L p-vectors
    assert peak < budget, (peak, budget)
    assert peak < 1e-3 * 8 * n * L                       # the dense one-hot: 240 GB
    # the fixed effects are recovered up to their noise (levels with ~3 rows each)
    recovered = fit.coef[p:] - fit.coef[p:].mean()
    truth = effect[1:] - effect[1:].mean()
    assert np.corrcoef(recovered, truth)[0, 1] > 0.3
    np.testing.assert_allclose(fit.coef[:p], 0.1, atol=0.02)


# ------------------------------------------------------------------------- bad input --

def test_bad_design_input_is_one_clear_error():
    rng = np.random.default_rng(15)
    design = _design(rng, n=200, levels=(5,))
    with pytest.raises(DataError, match="must lie in"):
        Categorical("c", np.array([0, 1, 7]), ["a", "b", "c"])
    with pytest.raises(DataError, match="rows"):
        Design(np.zeros((10, 2)), [Categorical("c", np.zeros(9, dtype=int), ["a", "b"])])
    with pytest.raises(DataError, match="y must have shape|y has"):
        ngd.fit(design, np.zeros(150), model="poisson")
    with pytest.raises(ValueError, match="backend='chunked' does not take a Design"):
        ngd.fit(design, np.zeros(200), model="poisson", backend="chunked")
    with pytest.raises(ValueError, match="subsample= is not supported on a Design"):
        ngd.fit(design, rng.poisson(1.0, 200).astype(float), model="poisson", subsample=50)
    with pytest.raises(ValueError, match="solver='schur' needs"):
        ngd.fit(design.toarray(), rng.poisson(1.0, 200).astype(float), model="poisson",
                solver="schur")


# ------------------------------------------------------------------------- benchmark --

@pytest.mark.parametrize("model", ["poisson", "gamma"])
def test_bench_objective_and_glum_translation(model, monkeypatch):
    """bench_categorical's numpy objective is ngd's loss, and glum on the tabmat SplitMatrix
    (drop_first, alpha = 0) fits the same coefficients in the same order."""
    import pathlib
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parent.parent))
    bench = pytest.importorskip("bench.bench_categorical")
    problem = bench.Problem(model, quick=True)
    fit = ngd.fit(problem.design(), problem.y, model=model, link="log", tol=1e-10,
                  stderr=False)
    assert abs(bench.objective(problem, fit.coef, fit.intercept) - fit.loss) <= \
        1e-12 * abs(fit.loss)
    pytest.importorskip("glum")
    pytest.importorskip("pandas")
    coef, intercept, _, _ = bench.glum_split(problem)(1e-10)
    np.testing.assert_allclose(coef, fit.coef, atol=1e-6)
    assert abs(intercept - fit.intercept) < 1e-6


def test_a_level_of_only_zeros_is_separation_as_in_the_onehot_fit():
    """A level whose rows all have y = 0 has no MLE (its coefficient runs to -infinity): the
    Design fit stops with status 6 and the same rows and column as the one-hot fit, for
    logistic and for binomial probit; without that level the fit converges."""
    rng = np.random.default_rng(11)
    n = 2000
    x = rng.normal(size=n)
    codes = rng.integers(0, 8, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x + 0.8 * (codes == 2))))).astype(float)
    design = Design(x[:, None], [Categorical("g", codes - 1, [str(k) for k in range(8)])],
                    ["x"])
    clean = ngd.fit(design, y)
    assert clean.converged and clean.get("separation") is None
    y[codes == 4] = 0.0
    onehot = ngd.fit(design.toarray(), y)
    assert onehot.status == 6
    for model, link in (("logistic", None), ("binomial", "probit")):
        fit = ngd.fit(design, y, model=model, link=link)
        assert fit.status == 6, fit.message
        np.testing.assert_array_equal(fit.separation["rows"], np.flatnonzero(codes == 4))
        assert fit.separation["columns"] == [1 + 3]          # x, then g=1, g=2, g=3, g=4
    np.testing.assert_array_equal(onehot.separation["rows"], np.flatnonzero(codes == 4))
    assert ngd.fit(design, y, l2=1e-3).converged             # a penalty has an optimum


@pytest.mark.parametrize("model", ["poisson", "negative_binomial"])
def test_a_count_level_of_only_zeros_is_separation_as_in_the_onehot_fit(model):
    """Poisson / NB with a log link: a level whose counts are all 0 has its MLE at -infinity;
    the Design fit stops with status 6 naming that level's column, as the one-hot fit does."""
    rng = np.random.default_rng(12)
    n = 2000
    x = rng.normal(size=n)
    codes = rng.integers(0, 20, n)
    y = rng.poisson(np.exp(0.3 * x + 0.5 * rng.normal(size=20)[codes])).astype(float)
    y[codes == 5] = 0.0
    design = Design(x[:, None], [Categorical("g", codes - 1, [str(k) for k in range(20)])],
                    ["x"])
    options = dict(model=model, nb_alpha=0.5) if model == "negative_binomial" else \
        dict(model=model)
    fit = ngd.fit(design, y, **options)
    onehot = ngd.fit(design.toarray(), y, **options)
    assert fit.status == 6 and onehot.status == 6, fit.message
    assert fit.separation["columns"] == onehot.separation["columns"] == [5]
    assert "g=5" in fit.message
