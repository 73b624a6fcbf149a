"""The response-only part of the half deviance, c(y) (``Family.response_term``), which the fused
GLM passes leave out when asked (``response_terms=False``) and the model adds once per fit.

For every kernel family (tweedie at its special powers 0, 1, 2 too, and the negative binomial
on both sides of its NB_LARGE switch), dense and CSR X: the pass without c(y) plus
sum_i w_i c(y_i) equals the full pass to 1e-13 relative, the gradient and weights are bitwise
the same, and a family with no c(y) (None) gets a bitwise unchanged loss, so the kernel and
``response_term`` agree on which families drop what. The model's own evaluations use the split
and match the numpy reference; a mini-batch (other y) keeps every term; the constant is
computed once per fit.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from ngd._kernels import fused, sparse_fused
from ngd.models import GLM
from ngd.models.families import get_family
from ngd.models.glm import kernel_codes
from ngd.models.links import get_link

N = 3000
P = 4
# (family, link, tweedie power, nb_alpha)
CASES = [
    ("gaussian", "identity", None, None),
    ("binomial", "probit", None, None),
    ("binomial", "cloglog", None, None),
    ("poisson", "log", None, None),
    ("gamma", "log", None, None),
    ("inverse_gaussian", "log", None, None),
    ("tweedie", "log", 0.0, None),
    ("tweedie", "log", 1.0, None),
    ("tweedie", "log", 1.5, None),
    ("tweedie", "log", 2.0, None),
    ("tweedie", "log", 3.0, None),
    ("negative_binomial", "log", None, 0.5),
    ("negative_binomial", "log", None, 5e4),      # alpha max(y, mu) > NB_LARGE on most rows
]


def case_id(case):
    family, link, power, alpha = case
    return "-".join(str(v) for v in (family, link, power, alpha) if v is not None)


def problem(case, seed=0):
    family, link, power, alpha = case
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P)) * 0.3
    eta = X @ rng.standard_normal(P) * 0.5 + (0.2 if link == "log" else 0.0)
    mu = get_link(link).inverse(eta)
    if family == "binomial":
        y = rng.binomial(8, np.clip(mu, 0.01, 0.99)) / 8.0       # fractional: c(y) != 0
    elif family in ("poisson", "negative_binomial") or (family == "tweedie" and power < 2
                                                        and power > 0):
        y = rng.poisson(2.0 * mu).astype(float)
    elif family == "gaussian" or power == 0.0:
        y = mu + rng.standard_normal(N)
    else:
        y = rng.gamma(2.0, mu / 2.0)
    w = rng.uniform(0.5, 2.0, N)
    return X, y, w, get_family(family, power, alpha), get_link(link)


def passes(X, y, w, fam, lnk, response_terms, csr):
    codes = kernel_codes(fam, lnk)
    coef = np.full(X.shape[1], 0.1)
    grad = np.empty(X.shape[1] + 1)
    weights = np.empty(X.shape[0])
    args = (coef, 0.05, y, w, None, None, *codes, fused.GLM_CURVATURES["exact"], grad,
            weights, 2)
    if csr:
        A = sp.csr_matrix(X)
        loss, valid = sparse_fused._csr_glm_pass(A.data, A.indices, A.indptr, X.shape[1],
                                                 *args, response_terms=response_terms)
    else:
        loss, valid = fused._glm_pass(X, *args, response_terms=response_terms)
    assert valid
    return loss, grad, weights


@pytest.mark.parametrize("csr", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pass_without_response_terms_plus_constant_is_the_full_pass(case, csr):
    X, y, w, fam, lnk = problem(case)
    full, grad_full, weights_full = passes(X, y, w, fam, lnk, True, csr)
    part, grad_part, weights_part = passes(X, y, w, fam, lnk, False, csr)
    np.testing.assert_array_equal(grad_part, grad_full)
    np.testing.assert_array_equal(weights_part, weights_full)
    term = fam.response_term(y)
    if term is None:
        assert part == full                      # the kernel drops nothing either
        return
    constant = float(np.sum(w * term))
    assert part != full                          # something was dropped ...
    scale = np.sum(w * np.abs(term)) + abs(full)
    assert abs(part + constant - full) <= 1e-13 * scale   # ... and it was exactly c(y)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_model_loss_uses_the_split_and_matches_the_reference(case):
    X, y, w, fam, lnk = problem(case)
    model = GLM(X, y, family=fam, link=lnk, sample_weight=w, n_threads=2)
    theta = np.r_[np.full(P, 0.1), 0.05]
    ev = model.evaluate(theta, "exact")
    ref = model._evaluate_generic(theta, "exact", X, y, w, None, model.weight_sum)
    np.testing.assert_allclose(ev.loss, ref.loss, rtol=1e-12)
    np.testing.assert_allclose(ev.grad, ref.grad, rtol=1e-11, atol=1e-14)
    rows = np.arange(0, N, 3)
    batch = model.evaluate_rows(theta, rows)          # other y: every term in the kernel
    sub = GLM(X[rows], y[rows], family=fam, link=lnk, sample_weight=w[rows])
    np.testing.assert_allclose(batch.loss, sub._evaluate_generic(
        theta, None, X[rows], y[rows], w[rows], None, sub.weight_sum).loss, rtol=1e-12)


def test_constant_is_computed_once_and_shared_with_the_intercept_only_model():
    X, y, w, fam, lnk = problem(("tweedie", "log", 1.5, None))
    model = GLM(X, y, family=fam, link=lnk, sample_weight=w)
    model.initial_theta()                        # evaluates the intercept-only model first
    calls = []
    original = fam.response_term
    fam.response_term = lambda values: calls.append(1) or original(values)
    try:
        model.evaluate(np.zeros(P + 1))
        model.evaluate(np.full(P + 1, 0.01))
    finally:
        del fam.response_term
    assert calls == []                           # taken from the intercept-only model


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pearson_kernel_matches_numpy(case):
    """``_pearson_sum`` (GLM.pearson_chi2 for the kernel families) against
    sum_i w_i (y_i - mu_i)^2 / V(mu_i) in numpy, the same for 1 and 2 threads; NaN when a
    mean leaves the family's domain."""
    X, y, w, fam, lnk = problem(case)
    eta = X @ np.full(P, 0.1) + 0.05
    mu = lnk.inverse(eta)
    expected = float(np.sum(w * (y - mu) ** 2 / fam.variance(mu)))
    codes = kernel_codes(fam, lnk)
    one = fused._pearson_sum(eta, y, w, *codes, n_threads=1)
    assert one == fused._pearson_sum(eta, y, w, *codes, n_threads=2)
    np.testing.assert_allclose(one, expected, rtol=1e-12)
    model = GLM(X, y, family=fam, link=lnk, sample_weight=w)
    theta = np.r_[np.full(P, 0.1), 0.05]
    if type(fam).__name__ != "Gaussian":
        np.testing.assert_allclose(model.pearson_chi2(theta), expected, rtol=1e-12)
    if lnk.name == "identity":
        return
    bad = eta.copy()
    bad[7] = np.inf if lnk.name == "log" else np.nan
    assert np.isnan(fused._pearson_sum(bad, y, w, *codes))


def test_pearson_kernel_rejects_bad_codes_and_lengths():
    eta = np.zeros(5)
    with pytest.raises(ValueError, match="same length"):
        fused._pearson_sum(eta, np.ones(4), np.ones(5), 0, 0, 0.0, 1.0)
    with pytest.raises(ValueError, match="bad family"):
        fused._pearson_sum(eta, np.ones(5), np.ones(5), 99, 0, 0.0, 1.0)
