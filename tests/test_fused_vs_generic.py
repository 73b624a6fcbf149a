"""The fused one-pass GLM kernel (``glm_pass``, behind GLM._evaluate) against the numpy
reference GLM._evaluate_generic, for every family x link pair of test_glm.PAIRS.

Loss, gradient and each curvature's per-row weights agree to 1e-12 relative (float32 X is
converted exactly to float64 in both), for float32/float64 and C/F-ordered X, with weights,
offset, l2, binomial trials, with and without an intercept; results are bitwise identical for
n_threads 1 and 2 (several row blocks, so both threads work); the kernel's out-of-domain flag
(loss = inf) matches the reference's; the probit link's log Phi matches scipy's log_ndtr.
"""
import numpy as np
import pytest
from scipy.special import log_ndtr

from ngd._kernels import fused
from ngd.models import GLM
from test_glm import PAIRS, SPREAD, make_problem, pair_id

RTOL = 1e-12
CURVATURES = (None, "exact", "empirical", "observed")
N_ROWS = 50_000          # 13 row blocks of 4096 rows (p = 3): enough work for two threads

CONFIGS = {
    "weights-offset-intercept-l2": dict(weighted=True, offset=True, fit_intercept=True, l2=0.3),
    "plain-no_intercept": dict(weighted=False, offset=False, fit_intercept=False, l2=0.0),
    "weights-offset-no_intercept": dict(weighted=True, offset=True, fit_intercept=False,
                                        l2=0.1),
    "trials": dict(weighted=True, offset=True, fit_intercept=True, l2=0.1, trials=True),
}
CASES = [(pair, name) for pair in PAIRS for name in CONFIGS
         if name != "trials" or pair[0] == "binomial"]


def case_id(case):
    return f"{pair_id(case[0])}-{case[1]}"


def build(case, dtype=np.float64, order="C", n=N_ROWS, seed=0):
    (family, link, power), name = case
    cfg = dict(CONFIGS[name])
    l2 = cfg.pop("l2")
    X, y, w, off, m, truth = make_problem(family, link, power, n=n, seed=seed, **cfg)
    X = np.asarray(X, dtype=dtype, order=order)
    model = GLM(X, y, family=family, link=link, power=power, trials=m, sample_weight=w,
                offset=off, fit_intercept=cfg["fit_intercept"], l2=l2, n_threads=1)
    rng = np.random.default_rng(seed + 100)
    theta = truth + 0.05 * SPREAD[link] * rng.uniform(-1, 1, size=truth.size)
    return model, theta


def generic(model, theta, curvature):
    return model._evaluate_generic(theta, curvature, model.X, model.y, model.sample_weight,
                                   model.offset, model.weight_sum, model.trials)


def assert_close(actual, expected):
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=RTOL,
                               atol=RTOL * float(np.abs(expected).max()))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_kernel_matches_generic(case, dtype, order):
    model, theta = build(case, dtype, order)
    assert model._kernel_codes is not None
    for curvature in CURVATURES:
        ref = generic(model, theta, curvature)
        assert np.isfinite(ref.loss)
        model.n_threads = 1
        one = model.evaluate(theta, curvature)
        model.n_threads = 2
        two = model.evaluate(theta, curvature)
        assert one.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(one.grad, ref.grad)
        # identical whatever the thread count
        assert one.loss == two.loss
        np.testing.assert_array_equal(one.grad, two.grad)
        if curvature is None:
            assert one.weights is None and ref.weights is None
        else:
            assert one.weights.shape == ref.weights.shape
            assert_close(one.weights, ref.weights)
            np.testing.assert_array_equal(one.weights, two.weights)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "weights-offset-intercept-l2"],
                         ids=case_id)
def test_minibatch_rows_match_generic(case):
    model, theta = build(case, n=2000)
    rows = np.random.default_rng(1).choice(model.n_samples, size=300, replace=False)
    ev = model.evaluate_rows(theta, rows)
    w = model.sample_weight[rows]
    ref = model._evaluate_generic(theta, None, model.X[rows], model.y[rows], w,
                                  model.offset[rows], float(w.sum()))
    assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
    assert_close(ev.grad, ref.grad)


def kernel_flag(model, theta):
    """glm_pass's valid flag, called directly."""
    family, link, power, link_power = model._kernel_codes
    coef, intercept = model.split(theta)
    grad = np.empty(model.n_features + 1)
    _, valid = fused._glm_pass(model.X, np.ascontiguousarray(coef), intercept, model.y,
                               model.sample_weight, model.offset, None, family, link, power,
                               link_power, fused.GLM_CURVATURES[None], grad, None, 1)
    return valid


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_out_of_domain_flag_matches_generic(pair):
    model, theta = build((pair, "weights-offset-intercept-l2"), n=200)
    n_invalid = 0
    for shift in (0.0, -1e3, -40.0, -5.0, -0.5, 0.5, 5.0, 40.0, 1e3, np.nan):
        trial = theta.copy()
        trial[-1] += shift
        ref = generic(model, trial, "observed")
        ev = model.evaluate(trial, "observed")
        valid = np.isfinite(ref.loss)
        n_invalid += not valid
        assert kernel_flag(model, trial) == valid, shift
        assert np.isfinite(ev.loss) == valid, shift
        if not valid:
            assert ev.loss == np.inf and ev.weights is None and np.all(np.isnan(ev.grad))
        eta = model.linear_predictor(trial, offset=model.offset)
        terms = model._pointwise(model.y, eta)
        assert valid == (terms is not None and bool(np.all(np.isfinite(terms[1]))))
    assert n_invalid >= 1          # nan at least


def test_tweedie_special_powers_equal_their_families():
    X, y, w, off, _, truth = make_problem("poisson", "log", None, n=500, weighted=True,
                                          offset=True)
    for power, family in ((0.0, "gaussian"), (1.0, "poisson"), (2.0, "gamma")):
        yy = np.abs(y) + 0.5 if power == 2.0 else y
        a = GLM(X, yy, family="tweedie", power=power, link="log", sample_weight=w, offset=off)
        b = GLM(X, yy, family=family, link="log", sample_weight=w, offset=off)
        for curvature in CURVATURES:
            ea, eb = a.evaluate(truth, curvature), b.evaluate(truth, curvature)
            assert ea.loss == eb.loss
            np.testing.assert_array_equal(ea.grad, eb.grad)
            if curvature is not None:
                np.testing.assert_array_equal(ea.weights, eb.weights)


def test_log_ndtr_matches_scipy():
    x = np.concatenate([np.linspace(-40.0, 40.0, 160_001),
                        [-30.0, np.nextafter(-30.0, 0), -1.0, np.nextafter(-1.0, 0), 0.0,
                         -38.0, -39.9, 37.0]])
    out = np.empty_like(x)
    fused._log_ndtr_into(x, out)
    # atol: beyond x ~ 37.5, log Phi(x) = -Phi(-x) is subnormal (no relative precision left;
    # scipy flushes it to -0.0)
    np.testing.assert_allclose(out, log_ndtr(x), rtol=1e-13, atol=np.finfo(float).tiny)
    assert np.all(np.isfinite(out[x >= -40.0]))


def test_bad_codes_raise():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="bad family"):
        fused._glm_pass(X, np.zeros(2), 0.0, np.ones(4), None, None, None, 99, 0, 0.0, 1.0,
                        0, np.empty(3), None, 1)
    with pytest.raises(ValueError, match="bad family"):
        fused._glm_pass(X, np.zeros(2), 0.0, np.ones(4), None, None, None, 0,
                        fused.GLM_LINKS["power"], 0.0, 0.0, 0, np.empty(3), None, 1)
