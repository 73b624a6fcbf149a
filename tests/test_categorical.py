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
