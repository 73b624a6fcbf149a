"""Optimisers through ngd.fit: NGD (exact / empirical Fisher, Armijo / KL-budget steps),
Newton and SGD against an independent numpy + scipy reference of the DESIGN.md objective

    L = (1/sum w) sum_i w_i [log(1 + exp(eta_i)) - y_i eta_i] + (l2/2) ||coef||^2,

and the bookkeeping of FitResult (history, status, labels, threads, dtypes, validation)."""
import csv
import functools
import pathlib
import warnings

import numpy as np
import pytest
import scipy.optimize
from scipy.special import expit

import ngd
from ngd.result import CONVERGED_STATUSES, STATUS_MESSAGES

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


# --- data ---------------------------------------------------------------------------------
def load_csv(name, target):
    path = EXAMPLES / f"{name}.csv"
    with open(path, newline="") as fh:
        header = next(csv.reader(fh))
    data = np.genfromtxt(path, delimiter=",", skip_header=1)
    j = header.index(target)
    X = np.ascontiguousarray(np.delete(data, j, axis=1))
    y = np.ascontiguousarray(data[:, j])
    assert np.all(np.isfinite(X)) and set(np.unique(y)) == {0.0, 1.0}
    return X, y


@functools.lru_cache(maxsize=None)
def dataset(name):
    """(X, y, sample_weight, offset, l2) of a named test problem."""
    if name == "breast_cancer":
        X, y = load_csv("breast_cancer", "malignant")
        assert X.shape == (569, 10)
        return X, y, None, None, 0.0
    if name == "spector":
        X, y = load_csv("spector", "GRADE")
        assert X.shape == (32, 3)
        return X, y, None, None, 0.0
    if name == "synthetic":
        rng = np.random.default_rng(2024)
        n, p = 400, 6
        X = rng.standard_normal((n, p)) @ rng.normal(size=(p, p)) + rng.normal(size=p)
        off = rng.normal(scale=0.3, size=n)
        y = (rng.random(n) < expit(X @ rng.normal(scale=0.5, size=p) - 0.5 + off)).astype(float)
        w = rng.uniform(0.1, 4.0, size=n)
        return np.ascontiguousarray(X), y, w, off, 0.05
    raise KeyError(name)


# --- independent reference ----------------------------------------------------------------
def objective(X, y, w, off, l2):
    """(f, hess) of the DESIGN.md objective in theta = [coef, intercept], numpy only."""
    n, p = X.shape
    w = np.ones(n) if w is None else w
    off = np.zeros(n) if off is None else off
    A = np.column_stack([X, np.ones(n)])
    pen = np.r_[np.full(p, l2), 0.0]
    W = w.sum()

    def f(theta):
        eta = A @ theta + off
        loss = np.sum(w * (np.logaddexp(0.0, eta) - y * eta)) / W + 0.5 * l2 * theta[:p] @ theta[:p]
        return loss, A.T @ (w * (expit(eta) - y)) / W + pen * theta

    def hess(theta):
        eta = A @ theta + off
        return (A.T * (w * expit(eta) * expit(-eta) / W)) @ A + np.diag(pen)

    return f, hess


@functools.lru_cache(maxsize=None)
def reference(name):
    """Truly converged optimum: L-BFGS-B in standardised variables, then trust-exact and
    plain Newton polishing with the numpy Hessian. Returns (theta*, L*, max|grad|)."""
    X, y, w, off, l2 = dataset(name)
    n, p = X.shape
    f, hess = objective(X, y, w, off, l2)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    # theta = T z: coef = z_coef / sd, intercept = z_int - mu . coef (standardised features)
    T = np.zeros((p + 1, p + 1))
    T[:p, :p] = np.diag(1.0 / sd)
    T[p, :p] = -mu / sd
    T[p, p] = 1.0

    def fz(z):
        loss, g = f(T @ z)
        return loss, T.T @ g

    res = scipy.optimize.minimize(fz, np.zeros(p + 1), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-10, ftol=1e-15, maxiter=100000,
                                               maxcor=30))
    res = scipy.optimize.minimize(lambda z: fz(z)[0], res.x, jac=lambda z: fz(z)[1],
                                  hess=lambda z: T.T @ hess(T @ z) @ T, method="trust-exact",
                                  options=dict(gtol=1e-13))
    theta = T @ res.x
    for _ in range(10):                      # Newton polish in the original coordinates
        loss, g = f(theta)
        trial = theta - np.linalg.solve(hess(theta), g)
        loss_t, g_t = f(trial)
        if loss_t <= loss + 1e-15 * abs(loss) and np.abs(g_t).max() < np.abs(g).max():
            theta = trial
        else:
            break
    loss, g = f(theta)
    return theta, loss, float(np.abs(g).max())


@pytest.mark.parametrize("name", ["breast_cancer", "spector", "synthetic"])
def test_reference_is_converged(name):
    theta, loss, gnorm = reference(name)
    assert gnorm < 1e-11
    X, y, w, off, l2 = dataset(name)
    f, hess = objective(X, y, w, off, l2)
    assert np.linalg.eigvalsh(hess(theta))[0] > 0          # a strict minimum
    # no coordinate perturbation lowers the loss
    for j in range(theta.size):
        for h in (1e-4, -1e-4):
            t = theta.copy()
            t[j] += h * max(1.0, abs(t[j]))
            assert f(t)[0] >= loss


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ngd.fit(*args, **kwargs)


SECOND_ORDER = {
    "ngd_exact": dict(method="ngd", fisher="exact"),
    "ngd_empirical": dict(method="ngd", fisher="empirical", max_iter=5000),
    "newton": dict(method="newton"),
    "ngd_kl": dict(method="ngd", fisher="exact", step="kl", kl=0.01, max_iter=2000),
}


@pytest.mark.parametrize("method", list(SECOND_ORDER))
@pytest.mark.parametrize("name", ["breast_cancer", "spector", "synthetic"])
def test_second_order_methods_reach_reference_optimum(name, method):
    X, y, w, off, l2 = dataset(name)
    theta_ref, loss_ref, _ = reference(name)
    res = ngd.fit(X, y, sample_weight=w, offset=off, l2=l2, n_threads=1,
                  **SECOND_ORDER[method])
    assert res.converged, res.message
    assert abs(res.loss - loss_ref) <= 1e-8
    assert res.loss >= loss_ref - 1e-12                   # cannot beat the true optimum
    # the reported loss is the objective at the returned x
    f, _ = objective(X, y, w, off, l2)
    assert res.loss == pytest.approx(f(res.x)[0], rel=1e-12)
    np.testing.assert_array_equal(res.x, np.r_[res.coef, res.intercept])
    if method != "ngd_empirical":            # quadratic convergence: the point is accurate too
        assert res.grad_norm <= 1e-8
        scale = np.abs(theta_ref).max()
        np.testing.assert_allclose(res.x, theta_ref, rtol=0, atol=1e-5 * scale)


def test_second_order_matches_plain_lbfgsb_on_spector():
    """The plain scipy L-BFGS-B run (no reparametrisation) agrees as well."""
    X, y, w, off, l2 = dataset("spector")
    f, _ = objective(X, y, w, off, l2)
    lb = scipy.optimize.minimize(f, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                                 options=dict(gtol=1e-10, ftol=1e-15, maxiter=100000))
    res = ngd.fit(X, y, n_threads=1)
    assert res.loss <= lb.fun + 1e-12
    assert abs(res.loss - lb.fun) <= 1e-8


def test_spector_matches_published_logit_estimates():
    """Spector & Mazzeo (1980) logit, as printed by statsmodels' Logit example."""
    X, y, *_ = dataset("spector")
    res = ngd.fit(X, y, n_threads=1)
    np.testing.assert_allclose(res.coef, [2.8261, 0.0952, 2.3787], atol=6e-4)
    assert res.intercept == pytest.approx(-13.0213, abs=6e-4)
    np.testing.assert_allclose(res.stderr, [1.263, 0.142, 1.065], atol=6e-4)
    assert res.intercept_stderr == pytest.approx(4.931, abs=6e-4)


def test_stderr_is_inverse_fisher_at_optimum():
    X, y, w, off, l2 = dataset("synthetic")
    res = ngd.fit(X, y, sample_weight=w, offset=off, l2=l2, n_threads=1)
    _, hess = objective(X, y, w, off, l2)
    cov = np.linalg.inv(hess(res.x) * w.sum())
    np.testing.assert_allclose(res.stderr, np.sqrt(np.diag(cov))[:-1], rtol=1e-8)
    assert res.intercept_stderr == pytest.approx(np.sqrt(cov[-1, -1]), rel=1e-8)


# --- NGD with exact Fisher and unit step is Newton ----------------------------------------
@pytest.mark.parametrize("name", ["breast_cancer", "spector", "synthetic"])
def test_one_exact_ngd_step_is_one_newton_step(name):
    X, y, w, off, l2 = dataset(name)
    kw = dict(sample_weight=w, offset=off, l2=l2, max_iter=1, damping=0.0, n_threads=1)
    with pytest.warns(ngd.ConvergenceWarning):
        r_ngd = ngd.fit(X, y, method="ngd", fisher="exact", **kw)
    with pytest.warns(ngd.ConvergenceWarning):
        r_newton = ngd.fit(X, y, method="newton", **kw)
    assert r_ngd.n_iter == r_newton.n_iter == 1
    assert r_ngd.history["step_size"][1] == 1.0             # the unit step was accepted
    assert r_ngd.history["damping"][1] == 0.0
    scale = max(1.0, np.abs(r_newton.x).max())
    np.testing.assert_allclose(r_ngd.x, r_newton.x, rtol=0, atol=1e-10 * scale)
    # ... and that is theta0 - H^{-1} g computed with numpy from the null-model start
    f, hess = objective(X, y, w, off, l2)
    ww = np.ones(len(y)) if w is None else w
    theta0 = np.zeros(X.shape[1] + 1)
    ybar = np.sum(ww * y) / ww.sum()
    theta0[-1] = np.log(ybar / (1 - ybar))
    newton = theta0 - np.linalg.solve(hess(theta0), f(theta0)[1])
    np.testing.assert_allclose(r_ngd.x, newton, rtol=0, atol=1e-8 * max(1.0, np.abs(newton).max()))


def test_exact_ngd_and_newton_histories_coincide():
    X, y, *_ = dataset("breast_cancer")
    a = ngd.fit(X, y, method="ngd", n_threads=1)
    b = ngd.fit(X, y, method="newton", n_threads=1)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-13)
    assert a.fisher == "exact" and b.fisher == "observed"


# --- KL-budget step -------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [1e-3, 0.01, 0.1])
def test_kl_step_respects_budget(budget):
    X, y, w, off, l2 = dataset("synthetic")
    iterates = []
    res = ngd.fit(X, y, sample_weight=w, offset=off, l2=l2, method="ngd", step="kl",
                  kl=budget, damping=0.0, max_iter=3000, n_threads=1,
                  callback=lambda r: iterates.append(r.x.copy()))
    assert res.converged
    kl = res.history["kl"][1:]
    assert np.all(np.isfinite(kl))
    assert np.all(kl <= budget + 1e-12)
    assert np.all(res.history["damping"][1:] == 0.0)
    assert res.step_rule == "kl"
    from ngd.models import LogisticModel
    model = LogisticModel(X, y, sample_weight=w, offset=off, l2=0.0)
    theta0 = LogisticModel(X, y, sample_weight=w, offset=off, l2=l2).initial_theta()
    step = iterates[0] - theta0
    p = X.shape[1]
    # the budget binds at the start (far from the optimum): alpha is set from the curvature
    # F + l2 I of the objective, 1/2 alpha^2 d^T (F + l2 I) d = budget, of which the recorded
    # KL is the likelihood part 1/2 alpha^2 d^T F d
    assert res.history["step_size"][1] < 1.0
    assert kl[0] + 0.5 * l2 * step[:p] @ step[:p] == pytest.approx(budget, rel=1e-9)
    F = model.exact_fisher(theta0)
    assert kl[0] == pytest.approx(0.5 * step @ F @ step, rel=1e-9)
    # ... and the recorded quadratic KL is close to the true mean KL of the step
    true_kl = model.mean_kl(theta0, iterates[0])
    assert true_kl == pytest.approx(kl[0], rel=0.5 * np.sqrt(budget) + 1e-3)


def test_kl_budget_slows_exact_ngd_down():
    X, y, *_ = dataset("breast_cancer")
    fast = ngd.fit(X, y, n_threads=1)
    slow = quiet_fit(X, y, step="kl", kl=1e-3, max_iter=3000, n_threads=1)
    assert slow.converged
    assert slow.n_iter > fast.n_iter
    assert np.all(slow.history["kl"][1:] <= 1e-3 + 1e-12)


# --- SGD --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def well_conditioned():
    rng = np.random.default_rng(17)
    n, p = 2000, 5
    X = rng.standard_normal((n, p))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (rng.random(n) < expit(X @ rng.normal(scale=0.7, size=p) + 0.3)).astype(float)
    return np.ascontiguousarray(X), y


def test_sgd_approaches_optimum():
    X, y = well_conditioned()
    f, _ = objective(X, y, None, None, 0.0)
    best = ngd.fit(X, y, n_threads=1)
    assert best.converged
    res = quiet_fit(X, y, method="sgd", seed=0, n_threads=1)
    assert res.method == "sgd" and res.n_iter == 30            # default: 30 epochs
    loss = res.history["loss"]
    assert len(loss) == res.n_iter + 1
    gap = res.loss - best.loss
    assert 0 <= gap < 1e-3
    assert res.loss == pytest.approx(f(res.x)[0], rel=1e-12)
    # monotone-ish: big overall decrease, no increase larger than a small fraction of it
    total = loss[0] - loss.min()
    assert loss[-1] < loss[0] and total > 0.05
    assert np.max(np.diff(loss)) <= 0.01 * total
    assert loss[-1] <= loss.min() + 1e-3
    # one epoch = ceil(n / batch) updates
    assert res.history["n_updates"][1] == np.ceil(2000 / 256)
    assert res.n_updates == 30 * np.ceil(2000 / 256)


def test_sgd_seed_reproducible_and_seed_dependent():
    X, y = well_conditioned()
    a = quiet_fit(X, y, method="sgd", seed=3, max_iter=5, n_threads=1)
    b = quiet_fit(X, y, method="sgd", seed=3, max_iter=5, n_threads=1)
    c = quiet_fit(X, y, method="sgd", seed=4, max_iter=5, n_threads=1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    assert not np.array_equal(a.x, c.x)
    assert np.abs(a.x - c.x).max() > 1e-8


def test_sgd_learning_rate_and_batch_size():
    X, y = well_conditioned()
    a = quiet_fit(X, y, method="sgd", learning_rate=0.5, batch_size=2000, max_iter=2,
                  n_threads=1)
    # full batch: plain gradient descent with lr_e = 0.5 / (1 + e)
    f, _ = objective(X, y, None, None, 0.0)
    theta = np.zeros(6)
    theta[-1] = np.log(y.mean() / (1 - y.mean()))
    for e in range(2):
        theta = theta - 0.5 / (1 + e) * f(theta)[1]
    np.testing.assert_allclose(a.x, theta, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.history["step_size"][1:], [0.5, 0.25])
    with pytest.raises(ValueError):
        ngd.fit(X, y, method="sgd", batch_size=0)
    with pytest.raises(ValueError):
        ngd.fit(X, y, method="sgd", learning_rate=-1.0)


# --- FitResult bookkeeping ------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(method="ngd"), dict(method="ngd", fisher="empirical"),
                                dict(method="newton"), dict(method="ngd", step="kl"),
                                dict(method="sgd", max_iter=4)])
def test_history_and_status_consistent(kw):
    X, y, w, off, l2 = dataset("synthetic")
    res = quiet_fit(X, y, sample_weight=w, l2=l2, n_threads=1, **kw)
    h = res.history
    assert len(h) == res.n_iter + 1
    np.testing.assert_array_equal(h["iter"], np.arange(res.n_iter + 1))
    assert h["loss"][-1] == res.loss
    assert h["grad_norm"][-1] == pytest.approx(res.grad_norm, rel=1e-15)
    assert res.grad_norm == pytest.approx(np.abs(res.grad).max(), rel=1e-15)
    assert np.all(np.diff(h["time"]) >= 0)
    assert res.status in STATUS_MESSAGES
    assert res.converged == (res.status in CONVERGED_STATUSES)
    assert res.success == res.converged and res.nit == res.n_iter and res.fun == res.loss
    assert res.message.startswith(STATUS_MESSAGES[res.status])
    if res.status == 0:
        assert res.grad_norm <= res.tol
    if kw["method"] != "sgd":
        assert res.converged
        # every accepted step of a line-search method decreases the loss (Armijo)
        assert np.all(np.diff(h["loss"]) <= 1e-15 * np.abs(h["loss"][1:]))
        assert np.all(h["dir_deriv"][1:] < 0)
    else:
        assert res.status == 2 and not res.converged


def test_max_iter_reached_warns_and_reports():
    X, y, *_ = dataset("breast_cancer")
    with pytest.warns(ngd.ConvergenceWarning):
        res = ngd.fit(X, y, max_iter=2, n_threads=1)
    assert res.status == 2 and not res.converged and res.n_iter == 2
    assert "maximum number of iterations" in res.message
    res0 = quiet_fit(X, y, max_iter=0, n_threads=1)
    assert res0.n_iter == 0 and len(res0.history) == 1


def test_callback_can_stop():
    X, y, *_ = dataset("breast_cancer")
    seen = []

    def cb(r):
        seen.append(r.n_iter)
        if r.n_iter == 3:
            raise StopIteration

    res = ngd.fit(X, y, callback=cb, n_threads=1)
    assert res.status == 5 and not res.converged and res.n_iter == 3
    assert seen == [1, 2, 3]


def test_compare_equals_individual_fits():
    X, y, w, off, l2 = dataset("spector")
    out = ngd.compare(X, y, methods=("ngd", "newton"), n_threads=1)
    assert set(out) == {"ngd", "newton"}
    np.testing.assert_array_equal(out["ngd"].x, ngd.fit(X, y, n_threads=1).x)
    with pytest.raises(ValueError):
        ngd.compare(X, y, methods=("bfgs",))


@pytest.mark.parametrize("method", ["ngd", "newton"])
def test_float32_same_optimum_as_float64(method):
    X, y, w, off, l2 = dataset("synthetic")
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    r32 = ngd.fit(X32, y, sample_weight=w, offset=off, l2=l2, method=method, n_threads=1)
    r64 = ngd.fit(X64, y, sample_weight=w, offset=off, l2=l2, method=method, n_threads=1)
    assert r32.dtype == "float32" and r64.dtype == "float64"
    np.testing.assert_allclose(r32.x, r64.x, rtol=1e-6, atol=1e-9)
    assert r32.loss == pytest.approx(r64.loss, rel=1e-10)
    # F-ordered float32 as well
    rF = ngd.fit(np.asfortranarray(X32), y, sample_weight=w, offset=off, l2=l2,
                 method=method, n_threads=1)
    np.testing.assert_allclose(rF.x, r64.x, rtol=1e-6, atol=1e-9)


def test_label_mapping():
    X, y, *_ = dataset("spector")
    base = ngd.fit(X, y, n_threads=1)
    np.testing.assert_array_equal(base.classes, [0.0, 1.0])
    r24 = ngd.fit(X, np.where(y == 1, 4, 2), n_threads=1)
    np.testing.assert_array_equal(r24.classes, [2, 4])
    np.testing.assert_allclose(r24.x, base.x, rtol=1e-12)
    labels = np.where(y == 1, "pass", "fail")
    rs = ngd.fit(X, labels, n_threads=1)
    assert list(rs.classes) == ["fail", "pass"]
    np.testing.assert_allclose(rs.x, base.x, rtol=1e-12)
    ro = ngd.fit(X, labels.astype(object).tolist(), n_threads=1)
    assert list(ro.classes) == ["fail", "pass"]
    # the sorted order decides which class is "1": reversing the coding flips the signs
    rb = ngd.fit(X, np.where(y == 1, "a_pass", "b_fail"), n_threads=1)
    np.testing.assert_allclose(rb.x, -base.x, rtol=1e-10)
    rcol = ngd.fit(X, y[:, None], n_threads=1)          # column vector y
    np.testing.assert_array_equal(rcol.x, base.x)


@pytest.mark.parametrize("kw", [dict(method="ngd"), dict(method="ngd", fisher="empirical"),
                                dict(method="newton"), dict(method="sgd", max_iter=3)])
def test_thread_count_does_not_change_result(kw):
    rng = np.random.default_rng(5)
    n, p = 12000, 4                                  # several row blocks (4096 rows each)
    X = rng.standard_normal((n, p))
    y = (rng.random(n) < expit(X @ [0.5, -1.0, 0.2, 0.0])).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    r1 = quiet_fit(X, y, sample_weight=w, l2=1e-3, n_threads=1, **kw)
    r2 = quiet_fit(X, y, sample_weight=w, l2=1e-3, n_threads=2, **kw)
    assert r1.n_threads == 1 and r2.n_threads == 2
    assert r1.n_iter == r2.n_iter
    np.testing.assert_allclose(r2.x, r1.x, rtol=1e-12, atol=1e-12)
    assert r2.loss == pytest.approx(r1.loss, rel=1e-12, abs=0)
    f, _ = objective(X, y, w, None, 1e-3)
    assert r2.loss == pytest.approx(f(r2.x)[0], rel=1e-12)


def test_separable_data_stays_finite():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    for kw in (dict(method="ngd"), dict(method="newton"), dict(method="ngd", step="kl"),
               dict(method="ngd", fisher="empirical"), dict(method="sgd")):
        res = quiet_fit(X, y, max_iter=50, n_threads=1, **kw)
        assert np.isfinite(res.loss) and 0 <= res.loss < np.log(2)
        assert res.n_iter <= 50
        assert len(res.history) == res.n_iter + 1
        assert np.all(np.isfinite(res.coef)) and np.isfinite(res.intercept)
        assert res.coef[0] > 0                                   # pointing the right way
        assert not res.converged
        if kw["method"] == "sgd":
            assert res.status == 2
        else:                                    # separation is detected and named
            assert res.status == 6 and res.separation["columns"] == [0]
            assert "does not exist" in res.message


def test_collinear_columns_fit_and_report_no_stderr():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    X = np.column_stack([X, X[:, 1]])                # duplicated column
    y = (rng.random(200) < expit(X[:, 0])).astype(float)
    with pytest.warns(ngd.DampingWarning):
        res = ngd.fit(X, y, n_threads=1)
    assert res.converged and res.grad_norm <= 1e-7
    assert np.all(res.history["damping"][1:] > 0)
    assert "damping was raised" in res.message
    ref = ngd.fit(X[:, :3], y, n_threads=1)
    assert res.loss == pytest.approx(ref.loss, rel=1e-10)
    assert res.coef[1] + res.coef[3] == pytest.approx(ref.coef[1], rel=1e-6)
    assert res.stderr is None and "Standard errors are unavailable" in res.message


# --- validation -----------------------------------------------------------------------------
def test_bad_inputs_raise():
    X, y, *_ = dataset("spector")
    Xn = X.copy()
    Xn[3, 1] = np.nan
    cases = [
        (ValueError, dict(X=Xn)),
        (ValueError, dict(X=np.where(np.arange(32)[:, None] == 0, np.inf, X))),
        (ValueError, dict(y=np.ones(32))),                        # one class
        (ValueError, dict(y=np.arange(32) % 3)),                  # three classes
        (ValueError, dict(y=np.where(np.arange(32) == 2, np.nan, y))),
        (ValueError, dict(y=y[:-1])),                             # mismatched lengths
        (ValueError, dict(X=X[:-1])),
        (ValueError, dict(sample_weight=np.where(np.arange(32) == 5, -1.0, 1.0))),
        (ValueError, dict(sample_weight=np.zeros(32))),
        (ValueError, dict(sample_weight=np.ones(31))),
        (ValueError, dict(offset=np.ones(30))),
        (ValueError, dict(method="lbfgs")),
        (ValueError, dict(fisher="hessian")),
        (ValueError, dict(model="no_such_model")),
        (ValueError, dict(model="poisson", y=-y)),                # negative counts
        (ValueError, dict(model="gamma")),                        # y = 0 is outside gamma
        (ValueError, dict(model="poisson", link="logit")),        # invalid family/link
        (TypeError, dict(model=None)),
        (ValueError, dict(l2=-0.1)),
        (ValueError, dict(l2=np.inf)),
        (TypeError, dict(l2="0.1")),
        (TypeError, dict(X=X.astype(str))),
        (TypeError, dict(X=[["a", "b"]] * 32)),
        (ValueError, dict(X=X[:, 0])),                            # 1-D X
        (ValueError, dict(damping=-1.0)),
        (ValueError, dict(kl=0.0)),
        (ValueError, dict(step="wolfe")),
        (ValueError, dict(max_iter=-1)),
        (ValueError, dict(tol=-1e-3)),
        (ValueError, dict(link="probit")),
        (ValueError, dict(backend="jax")),
        (TypeError, dict(fit_intercept="yes")),
        (ValueError, dict(n_threads=0)),
    ]
    for exc, kw in cases:
        args = dict(X=X, y=y)
        args.update(kw)
        with pytest.raises(exc):
            ngd.fit(args.pop("X"), args.pop("y"), **args)
    assert issubclass(ngd.DataError, ValueError)
    with pytest.raises(ngd.DataError, match="X"):
        ngd.fit(Xn, y)


def test_sparse_input_fits_like_dense():
    sparse = pytest.importorskip("scipy.sparse")
    X, y, *_ = dataset("spector")
    dense = ngd.fit(X, y, tol=1e-10)
    np.testing.assert_allclose(ngd.fit(sparse.csr_matrix(X), y, tol=1e-10).x, dense.x,
                               rtol=1e-10)


def test_accepts_lists_ints_and_noncontiguous():
    X, y, *_ = dataset("spector")
    base = ngd.fit(X, y, n_threads=1)
    np.testing.assert_allclose(ngd.fit(X.tolist(), y.tolist(), n_threads=1).x, base.x,
                               rtol=1e-12)
    wide = np.repeat(X, 2, axis=1)[:, ::2]              # non-contiguous view, same values
    assert not (wide.flags.c_contiguous or wide.flags.f_contiguous)
    np.testing.assert_allclose(ngd.fit(wide, y, n_threads=1).x, base.x, rtol=1e-12)
    yi = y.astype(int)
    np.testing.assert_allclose(ngd.fit(X, yi, n_threads=1).x, base.x, rtol=1e-12)
