"""The fused CSR passes (``ngd._kernels.sparse_fused``, behind LogisticModel and GLM on CSR X)
against the dense evaluation of X.toarray() (the dense fused kernels).

For logistic and every GLM family x link pair of test_glm.PAIRS (and a user-defined link, which
falls back to numpy): with weights (some zero), offset, binomial trials, intercept on/off,
float32/float64 data, int32/int64 indices, empty rows and an empty column, the loss, gradient
and each curvature's per-row weights agree to 1e-12 relative; n_threads 1 and 2 give bitwise
identical results (several row blocks, so both threads work); out-of-domain / overflowing eta
give the dense kernel's answer (loss inf, nan gradient, no weights); the Python entries reject
bad arguments with a message naming them.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from ngd._kernels import fused, sparse_fused
from ngd.models import GLM, LogisticModel
from ngd.models import families as _families
from ngd.models.links import LogLink
from test_glm import PAIRS, SPREAD, make_problem, pair_id

RTOL = 1e-12
N_ROWS = 20_000          # 5 row blocks of 4096 rows: several slots, two threads at work
GLM_CURVATURES = (None, "exact", "empirical", "observed")
LOGISTIC_CURVATURES = (None, "exact", "empirical", "observed", "bohning")
LAYOUTS = [(dtype, index) for dtype in (np.float64, np.float32) for index in (np.int32, np.int64)]

CONFIGS = {
    "weights-offset-intercept-l2": dict(weighted=True, offset=True, fit_intercept=True, l2=0.3),
    "plain-no_intercept": dict(weighted=False, offset=False, fit_intercept=False, l2=0.0),
    "trials": dict(weighted=True, offset=True, fit_intercept=True, l2=0.1, trials=True),
}
CASES = [(pair, name) for pair in PAIRS for name in CONFIGS
         if name != "trials" or pair[0] == "binomial"]


def case_id(case):
    return f"{pair_id(case[0])}-{case[1]}"


def layout_id(layout):
    return f"{np.dtype(layout[0]).name}-{np.dtype(layout[1]).name}"


def sparsify(X, fit_intercept, rng, dtype, index):
    """CSR copy of X with ~40% of its entries zeroed, every 9th row empty (with an intercept;
    without, the constant first column stays) and an empty last column; data dtype and index
    type as asked."""
    X = X.copy()
    keep = rng.random(X.shape) < 0.6
    if not fit_intercept:
        keep[:, 0] = True
    X[~keep] = 0.0
    if fit_intercept:
        X[::9] = 0.0
    X = np.hstack([X, np.zeros((X.shape[0], 1))]).astype(dtype)
    A = sp.csr_matrix(X)
    A.indices = A.indices.astype(index)
    A.indptr = A.indptr.astype(index)
    assert A.getnnz(axis=0)[-1] == 0 and (not fit_intercept or A.getnnz(axis=1).min() == 0)
    return A


def zero_some(w, rng):
    """w with about one weight in ten set to zero (None stays None)."""
    if w is None:
        return None
    w = w.copy()
    w[rng.random(w.shape) < 0.1] = 0.0
    return w


def glm_pair(case, dtype=np.float64, index=np.int32, n=N_ROWS, seed=0, link=None):
    """(CSR model, dense model on X.toarray(), theta)."""
    (family, link_name, power), name = case
    cfg = dict(CONFIGS[name])
    l2 = cfg.pop("l2")
    X, y, w, off, m, truth = make_problem(family, link_name, power, n=n, seed=seed, **cfg)
    rng = np.random.default_rng(seed + 7)
    A = sparsify(X, cfg["fit_intercept"], rng, dtype, index)
    w = zero_some(w, rng)
    theta = truth + 0.05 * SPREAD[link_name] * rng.uniform(-1, 1, size=truth.size)
    p = X.shape[1]
    theta = np.r_[theta[:p], 0.7, theta[p:]]          # the empty column's coefficient

    def model(Z):
        return GLM(Z, y, family=family, link=link if link is not None else link_name,
                   power=power, trials=m, sample_weight=w, offset=off,
                   fit_intercept=cfg["fit_intercept"], l2=l2, n_threads=1)
    return model(A), model(A.toarray()), theta


def assert_close(actual, expected):
    """Equal to RTOL relative (scaled by the largest finite |expected|), nan where nan."""
    expected = np.asarray(expected)
    finite = np.abs(expected[np.isfinite(expected)])
    np.testing.assert_allclose(actual, expected, rtol=RTOL,
                               atol=RTOL * float(finite.max()) if finite.size else 0.0)


def assert_grad_matches_dense(csr, ev, ref, theta):
    """Gradients equal to RTOL except that a nan residual reaches only the columns where a row
    has a non-zero: the dense product sums 0 * nan = nan over explicit zeros, CSR skips
    structural zeros (as scipy's X.T @ r), so an empty column keeps its l2 term."""
    empty = np.flatnonzero(csr.X.getnnz(axis=0) == 0)
    assert_close(np.delete(ev.grad, empty), np.delete(ref.grad, empty))
    np.testing.assert_array_equal(ev.grad[empty], csr.l2 * theta[empty])


def assert_same(one, two):
    """Bitwise equal evaluations."""
    assert one.loss == two.loss
    np.testing.assert_array_equal(one.grad, two.grad)
    if one.weights is None:
        assert two.weights is None
    else:
        np.testing.assert_array_equal(one.weights, two.weights)


def check_against_dense(csr, dense, theta, curvatures):
    for curvature in curvatures:
        ref = dense.evaluate(theta, curvature)
        assert np.isfinite(ref.loss)
        csr.n_threads = 1
        one = csr.evaluate(theta, curvature)
        csr.n_threads = 2
        two = csr.evaluate(theta, curvature)
        assert one.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(one.grad, ref.grad)
        if curvature is None:
            assert one.weights is None and ref.weights is None
        else:
            assert one.weights.shape == ref.weights.shape
            assert_close(one.weights, ref.weights)
        assert_same(one, two)


# --- GLM ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS, ids=layout_id)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_glm_csr_matches_dense(case, layout):
    csr, dense, theta = glm_pair(case, *layout)
    assert csr._kernel_codes is not None
    check_against_dense(csr, dense, theta, GLM_CURVATURES)


class UserLog(LogLink):
    """The log link under another type: no kernel codes, so GLM takes the numpy path."""


def test_user_defined_link_falls_back_on_csr():
    case = (("poisson", "log", None), "weights-offset-intercept-l2")
    csr, dense, theta = glm_pair(case, n=3000, link=UserLog())
    assert csr._kernel_codes is None
    for curvature in GLM_CURVATURES:
        ref = dense.evaluate(theta, curvature)
        ev = csr.evaluate(theta, curvature)
        assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(ev.grad, ref.grad)
        if curvature is not None:
            assert_close(ev.weights, ref.weights)
    # the fallback agrees with the kernel on the same data
    kernel = GLM(csr.X, csr.y, family=_families.Poisson(), link="log",
                 sample_weight=csr.sample_weight, offset=csr.offset, l2=csr.l2)
    assert kernel.evaluate(theta).loss == pytest.approx(csr.evaluate(theta).loss, rel=RTOL)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "weights-offset-intercept-l2"],
                         ids=case_id)
def test_glm_minibatch_rows_match_dense(case):
    csr, dense, theta = glm_pair(case, n=2000)
    rows = np.random.default_rng(1).choice(csr.n_samples, size=300, replace=False)
    ev, ref = csr.evaluate_rows(theta, rows), dense.evaluate_rows(theta, rows)
    assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
    assert_close(ev.grad, ref.grad)


def csr_flag(model, theta):
    """csr_glm_pass's valid flag, called directly."""
    family, link, power, link_power = model._kernel_codes
    coef, intercept = model.split(theta)
    X = model.X
    _, valid = sparse_fused._csr_glm_pass(X.data, X.indices, X.indptr, X.shape[1],
                                          np.ascontiguousarray(coef), intercept, model.y,
                                          model.sample_weight, model.offset, None, family, link,
                                          power, link_power, fused.GLM_CURVATURES[None],
                                          np.empty(X.shape[1] + 1), None, 1)
    return valid


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_out_of_domain_matches_dense(pair):
    csr, dense, theta = glm_pair((pair, "weights-offset-intercept-l2"), n=200)
    n_invalid = 0
    for shift in (0.0, -1e3, -40.0, -5.0, -0.5, 0.5, 5.0, 40.0, 1e3, 1e300, np.inf, np.nan):
        trial = theta.copy()
        trial[-1] += shift
        for curvature in GLM_CURVATURES:
            ref = dense.evaluate(trial, curvature)
            ev = csr.evaluate(trial, curvature)
            valid = bool(np.isfinite(ref.loss))
            n_invalid += not valid
            assert csr_flag(csr, trial) == valid, shift
            if valid:
                assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
                assert_grad_matches_dense(csr, ev, ref, trial)
                if curvature is not None:
                    assert_close(ev.weights, ref.weights)
            else:
                assert ev.loss == np.inf and ev.weights is None and np.all(np.isnan(ev.grad))
    assert n_invalid >= 1          # nan at least


# --- logistic -----------------------------------------------------------------------------

def logistic_pair(weighted, offset, fit_intercept, dtype=np.float64, index=np.int32, n=N_ROWS,
                  seed=0, scale=1.0):
    """(CSR model, dense model on X.toarray(), theta) for a logistic problem."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    theta = scale * rng.standard_normal(7 + fit_intercept)
    A = sparsify(X, fit_intercept, rng, dtype, index)
    eta = A.toarray().astype(np.float64) @ theta[:7] + (theta[-1] if fit_intercept else 0.0)
    y = (rng.random(n) < expit(eta)).astype(float)
    w = zero_some(rng.uniform(0.5, 2.0, n), rng) if weighted else None
    off = rng.uniform(-0.5, 0.5, n) if offset else None

    def model(Z):
        return LogisticModel(Z, y, sample_weight=w, offset=off, fit_intercept=fit_intercept,
                             l2=0.2, n_threads=1)
    return model(A), model(A.toarray()), theta


@pytest.mark.parametrize("layout", LAYOUTS, ids=layout_id)
@pytest.mark.parametrize("weighted,offset,fit_intercept",
                         [(True, True, True), (False, False, False), (True, False, False),
                          (False, True, True)])
def test_logistic_csr_matches_dense(weighted, offset, fit_intercept, layout):
    csr, dense, theta = logistic_pair(weighted, offset, fit_intercept, *layout)
    check_against_dense(csr, dense, theta, LOGISTIC_CURVATURES)


@pytest.mark.parametrize("scale", [40.0, 1e3, 1e150])
def test_logistic_overflowing_eta_matches_dense(scale):
    """|eta| far beyond exp's range: the stable row terms give finite, equal results."""
    csr, dense, theta = logistic_pair(True, True, True, n=5000, scale=scale)
    for curvature in LOGISTIC_CURVATURES:
        ref, ev = dense.evaluate(theta, curvature), csr.evaluate(theta, curvature)
        assert np.isfinite(ref.loss)
        assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(ev.grad, ref.grad)
        if curvature is not None:
            assert_close(ev.weights, ref.weights)


def test_logistic_non_finite_theta_matches_dense():
    csr, dense, theta = logistic_pair(True, True, True, n=500)
    theta[-1] = np.nan               # every eta nan
    for curvature in LOGISTIC_CURVATURES:
        ref, ev = dense.evaluate(theta, curvature), csr.evaluate(theta, curvature)
        assert np.isnan(ev.loss) and np.isnan(ref.loss)
        assert_grad_matches_dense(csr, ev, ref, theta)
        if curvature not in (None, "bohning"):
            assert_close(ev.weights, ref.weights)


def test_logistic_minibatch_rows_match_dense():
    csr, dense, theta = logistic_pair(True, True, True, n=2000)
    rows = np.random.default_rng(1).choice(csr.n_samples, size=300, replace=False)
    ev, ref = csr.evaluate_rows(theta, rows), dense.evaluate_rows(theta, rows)
    assert ev.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
    assert_close(ev.grad, ref.grad)


def test_wide_csr_matches_generic_across_threads():
    """Wide X (fewer slots than row blocks: the slots' accumulators are capped at nnz / 8
    doubles): n_threads 1 and 2 bitwise equal, and equal to the numpy reference (sparse matvec,
    numpy row terms, sparse rmatvec) on the same CSR X."""
    rng = np.random.default_rng(3)
    n, p = 2000, 6000
    X = sp.random(n, p, density=0.01, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    theta = np.r_[0.2 * rng.standard_normal(p), 0.3]
    eta = X @ theta[:p] + theta[p]
    w = zero_some(rng.uniform(0.5, 2.0, n), rng)
    off = rng.uniform(-0.5, 0.5, n)
    for family, y in (("binomial", (rng.random(n) < expit(eta)).astype(float)),
                      ("poisson", rng.poisson(np.exp(eta)).astype(float))):
        model = GLM(X, y, family=family, sample_weight=w, offset=off, l2=0.1)
        logistic = LogisticModel(X, y, sample_weight=w, offset=off, l2=0.1)
        for curvature in GLM_CURVATURES:
            ref = model._evaluate_generic(theta, curvature, X, y, w, off, model.weight_sum)
            runs = [model] + ([logistic] if family == "binomial" else [])
            for m in runs:
                m.n_threads = 1
                one = m.evaluate(theta, curvature)
                m.n_threads = 2
                assert_same(one, m.evaluate(theta, curvature))
                assert one.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
                assert_close(one.grad, ref.grad)
                if curvature is not None:
                    assert_close(one.weights, ref.weights)


# --- the Python entries -------------------------------------------------------------------

def csr_args(n=5, p=3, dtype=np.float64, index=np.int32):
    X = sp.csr_matrix(np.arange(n * p, dtype=dtype).reshape(n, p) % 3)
    X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)
    return X.data, X.indices, X.indptr, p


def test_all_empty_rows_and_no_rows():
    data, indices, indptr = np.zeros(0), np.zeros(0, np.int32), np.zeros(4, np.int32)
    grad = np.full(3, 9.0)
    weights = np.empty(3)
    loss = sparse_fused._csr_logistic_pass(data, indices, indptr, 2, np.ones(2), 0.0,
                                           np.array([0.0, 1.0, 1.0]), None, None,
                                           fused.FISHER_KINDS["exact"], grad, weights, 2)
    assert loss == pytest.approx(3 * np.log(2.0))
    np.testing.assert_allclose(grad, [0.0, 0.0, -0.5])
    np.testing.assert_allclose(weights, 0.25)
    grad = np.full(3, 9.0)
    loss, valid = sparse_fused._csr_glm_pass(data, indices, np.zeros(1, np.int32), 2,
                                             np.ones(2), 0.0, np.zeros(0), None, None, None,
                                             fused.GLM_FAMILIES["poisson"],
                                             fused.GLM_LINKS["log"], 0.0, 1.0, 0, grad, None, 1)
    assert loss == 0.0 and valid and np.all(grad == 0.0)


def call_logistic(**changes):
    data, indices, indptr, p = csr_args()
    n = indptr.shape[0] - 1
    args = dict(data=data, indices=indices, indptr=indptr, n_features=p, coef=np.zeros(p),
                intercept=0.0, y=np.zeros(n), w=None, offset=None,
                fisher_kind=fused.FISHER_KINDS["exact"], grad_out=np.empty(p + 1),
                weight_out=np.empty(n))
    args.update(changes)
    return sparse_fused._csr_logistic_pass(**args)


@pytest.mark.parametrize("changes,error,match", [
    (dict(data=np.ones(10, np.int64)), TypeError, "data"),
    (dict(indices=np.zeros(10, np.int64)), TypeError, "indices and indptr"),
    (dict(indptr=[0, 1]), TypeError, "indptr"),
    (dict(indptr=np.array([1, 2, 3, 4, 5, 6], np.int32)), ValueError, "indptr"),
    (dict(indptr=np.array([0, 3, 6, 9, 12, 99], np.int32)), ValueError, "indptr ends"),
    (dict(coef=np.zeros(4)), ValueError, "coef"),
    (dict(y=np.zeros(5, np.float32)), TypeError, "y must be float64"),
    (dict(y=np.zeros(6)), ValueError, "y must"),
    (dict(w=np.ones(4)), ValueError, "w must"),
    (dict(offset=np.ones((5, 1))), ValueError, "offset must"),
    (dict(grad_out=np.empty(3)), ValueError, "grad_out"),
    (dict(grad_out=[0.0] * 4), TypeError, "grad_out"),
    (dict(weight_out=None), ValueError, "weight_out is required"),
    (dict(weight_out=np.empty(5, np.float32)), TypeError, "weight_out"),
    (dict(fisher_kind=7), ValueError, "fisher_kind"),
])
def test_logistic_entry_rejects_bad_arguments(changes, error, match):
    with pytest.raises(error, match=match):
        call_logistic(**changes)


def test_glm_entry_rejects_bad_codes_and_arguments():
    data, indices, indptr, p = csr_args()
    base = (data, indices, indptr, p, np.zeros(p), 0.0, np.ones(5), None, None)
    with pytest.raises(ValueError, match="bad family"):
        sparse_fused._csr_glm_pass(*base, None, 99, 0, 0.0, 1.0, 0, np.empty(p + 1), None, 1)
    with pytest.raises(ValueError, match="bad family"):
        sparse_fused._csr_glm_pass(*base, None, 0, fused.GLM_LINKS["power"], 0.0, 0.0, 0,
                                   np.empty(p + 1), None, 1)
    with pytest.raises(ValueError, match="curvature"):
        sparse_fused._csr_glm_pass(*base, None, 0, 0, 0.0, 1.0, 9, np.empty(p + 1), None, 1)
    with pytest.raises(ValueError, match="trials"):
        sparse_fused._csr_glm_pass(*base, np.ones(3), 1, 2, 0.0, 1.0, 2, np.empty(p + 1),
                                   np.empty(5), 1)
    with pytest.raises(ValueError, match="weight_out is required"):
        sparse_fused._csr_glm_pass(*base, None, 0, 0, 0.0, 1.0, 1, np.empty(p + 1), None, 1)
