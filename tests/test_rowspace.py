"""Ridge fits with n < p in an orthonormal basis of X's row space (ngd.rowspace): the basis
identities, the same optimum as the fit on X (certified by scipy.optimize), and when the
reduction applies."""
import warnings

import numpy as np
import pytest
import scipy.sparse
from scipy import optimize, special

import ngd
from ngd import rowspace
from ngd.fitting import FitData, build_model
from ngd.spec import ModelSpec

N, P = 120, 2400          # solver="auto" picks the Woodbury solve at this shape


def _data(n=N, p=P, seed=0, rank=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if rank is not None:                          # rows beyond ``rank`` repeat earlier ones
        X[rank:] = X[rng.integers(0, rank, n - rank)]
    return X, rng


@pytest.mark.parametrize("rank", [None, 70])
def test_basis_is_orthonormal_spans_the_rows_and_maps_x_to_r(rank):
    X, _ = _data(rank=rank)
    basis = rowspace.RowSpaceBasis(X, X @ X.T)
    assert basis.rank == (N if rank is None else rank)
    Q = np.column_stack([basis.coefficients(e) for e in np.eye(basis.rank)])
    np.testing.assert_allclose(Q.T @ Q, np.eye(basis.rank), atol=1e-10)
    np.testing.assert_allclose(X @ Q, basis.design, atol=1e-9 * np.abs(basis.design).max())
    # every row of X lies in span(Q)
    np.testing.assert_allclose(Q @ (Q.T @ X.T), X.T, atol=1e-9 * np.abs(X).max())


def _objective(X, y, l2, kind, w=None, offset=None, intercept=True):
    """DESIGN.md's objective in numpy, for scipy.optimize."""
    w = np.ones(len(y)) if w is None else w
    off = 0.0 if offset is None else offset

    def f(theta):
        coef, b = (theta[:-1], theta[-1]) if intercept else (theta, 0.0)
        eta = X @ coef + b + off
        if kind == "logistic":
            nll, r = np.logaddexp(0, eta) - y * eta, 1 / (1 + np.exp(-eta)) - y
        else:                                     # poisson, log link: half deviance
            mu = np.exp(eta)
            nll, r = mu - y * eta + special.xlogy(y, y) - y, mu - y
        grad_eta = w * r / w.sum()
        g = X.T @ grad_eta + l2 * coef
        g = np.append(g, grad_eta.sum()) if intercept else g
        return float(w @ nll / w.sum() + 0.5 * l2 * coef @ coef), g
    return f


@pytest.mark.parametrize("kind", ["logistic", "poisson"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_optimum_as_the_fit_on_x_and_as_scipy(kind, intercept, weighted):
    X, rng = _data(seed=1)
    X /= np.sqrt(P)
    eta = X @ rng.standard_normal(P)
    y = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float) if kind == "logistic" \
        else rng.poisson(np.exp(0.5 * eta)).astype(float)
    w = rng.uniform(0.2, 3.0, N) if weighted else None
    offset = 0.1 * rng.standard_normal(N) if kind == "poisson" else None
    l2 = 1e-3
    fit = dict(model=kind, l2=l2, fit_intercept=intercept, sample_weight=w, offset=offset,
               tol=1e-10)
    reduced = ngd.fit(X, y, **fit)
    plain = ngd.fit(X, y, solver="woodbury", **fit)
    assert "row space" in reduced.message and "row space" not in plain.message
    assert reduced.converged and reduced.solver == "woodbury"
    scale = 1 + np.abs(plain.x).max()
    np.testing.assert_allclose(reduced.x, plain.x, rtol=0, atol=1e-7 * scale)
    f = _objective(X, y, l2, kind, w, offset, intercept)
    ref = optimize.minimize(f, plain.x, jac=True, method="L-BFGS-B",
                            options=dict(ftol=1e-15, gtol=1e-12, maxiter=5000))
    assert reduced.loss <= ref.fun + 1e-12 * abs(ref.fun)
    loss, grad = f(reduced.x)
    assert loss == pytest.approx(reduced.loss, rel=1e-12)
    np.testing.assert_allclose(reduced.grad, grad, atol=1e-12)
    assert reduced.grad_norm == pytest.approx(np.abs(grad).max(), rel=1e-6, abs=1e-15)
    assert np.abs(grad).max() < 1e-8


def test_rank_deficient_x_reaches_the_same_optimum():
    X, rng = _data(seed=2, rank=60)
    y = (rng.random(N) < 0.5).astype(float)
    reduced = ngd.fit(X, y, l2=1e-2, tol=1e-10)
    plain = ngd.fit(X, y, l2=1e-2, tol=1e-10, solver="woodbury")
    assert "60 columns for 2400" in reduced.message
    np.testing.assert_allclose(reduced.x, plain.x, atol=1e-7 * (1 + np.abs(plain.x).max()))


def test_float32_x_and_statistics_are_those_of_the_original_model():
    X, rng = _data(n=80, p=1600, seed=3)
    y = (rng.random(80) < 0.5).astype(float)
    reduced = ngd.fit(X.astype(np.float32), y, l2=1e-2, tol=1e-10, stderr=True)
    plain = ngd.fit(X.astype(np.float32), y, l2=1e-2, tol=1e-10, stderr=True,
                    solver="woodbury")
    assert "row space" in reduced.message
    np.testing.assert_allclose(reduced.x, plain.x, atol=1e-7 * (1 + np.abs(plain.x).max()))
    np.testing.assert_allclose(reduced.stderr, plain.stderr, rtol=1e-6)


@pytest.mark.parametrize("change", [
    dict(l2=0.0), dict(solver="cg"), dict(solver="woodbury"), dict(callback=lambda r: None),
    dict(method="sgd"), dict(sparse=True), dict(narrow=True)])
def test_applies_only_to_auto_dense_wide_ridge_fits(change):
    X, rng = _data(seed=4)
    y = (rng.random(N) < 0.5).astype(float)
    options = dict(l2=1e-2, max_iter=3)
    if change.pop("sparse", False):
        X = scipy.sparse.csr_matrix(np.where(np.abs(X) > 1.5, X, 0.0))
    if change.pop("narrow", False):
        X = X[:, :2 * N - 1]
    options.update(change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # max_iter=3: not converged
        result = ngd.fit(X, y, **options)
    assert "row space" not in result.message


def test_on_design_keeps_rows_and_penalty():
    X, rng = _data(n=30, p=80, seed=5)
    y = (rng.random(30) < 0.5).astype(float)
    w = rng.uniform(0.5, 2, 30)
    model = build_model(ModelSpec(model="logistic", l2=0.1),
                        FitData(X, y, sample_weight=w)).model
    R = rowspace.RowSpaceBasis(X, X @ X.T).design
    other = model.on_design(R)
    assert other.n_features == R.shape[1] and other.n_params == R.shape[1] + 1
    assert other.X is R and model.X is X and other.l2 == model.l2
    theta = np.append(rng.standard_normal(R.shape[1]), 0.3)
    basis = rowspace.RowSpaceBasis(X, X @ X.T)
    beta = basis.coefficients(theta[:-1])
    assert other.evaluate(theta).loss == pytest.approx(
        model.evaluate(np.append(beta, 0.3)).loss, rel=1e-12)
    with pytest.raises(ValueError, match="rows"):
        model.on_design(R[:10])


@pytest.mark.parametrize("scale", [0.0, 1e149])
def test_zero_or_huge_x_gives_no_nan_from_the_basis(scale):
    """X = 0 has no row space; X near the float range overflows X X^T: the plain fit runs
    near the float range: either way no NaN coefficients come from the basis."""
    X, rng = _data(seed=6)
    y = (rng.random(N) < 0.5).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = ngd.fit(X * scale, y, l2=1e-2)
        except (ValueError, np.linalg.LinAlgError) as exc:   # the plain fit's own refusal
            assert "row space" not in str(exc)
            return
    assert np.all(np.isfinite(result.x)) and np.isfinite(result.loss)
    if scale == 0.0:
        assert "row space" not in result.message
        np.testing.assert_allclose(result.coef, 0.0, atol=0)
        assert result.intercept == pytest.approx(np.log(y.mean() / (1 - y.mean())), rel=1e-8)


def test_cg_in_the_basis_reaches_the_same_optimum(monkeypatch):
    """Either solve on R (Woodbury on K, or CG) gives the fit on X; the result names the one
    that ran and the estimates it was chosen by."""
    X, rng = _data(seed=5)
    y = (rng.random(N) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    plain = ngd.fit(X, y, l2=1e-2, tol=1e-10, solver="woodbury")
    monkeypatch.setattr(rowspace, "cheapest", lambda costs: "cg")
    reduced = ngd.fit(X, y, l2=1e-2, tol=1e-10)
    assert "row space" in reduced.message and reduced.solver == "cg"
    assert set(reduced.solver_costs) == {"woodbury", "cg"}
    np.testing.assert_allclose(reduced.x, plain.x, atol=1e-8 * (1 + np.abs(plain.x).max()))
    assert reduced.loss == pytest.approx(plain.loss, rel=1e-12)


def test_the_basis_solve_is_the_cheaper_estimate():
    """rowspace_costs: K is formed already, so Woodbury pays the n^3/3 factor alone; CG's
    steps follow X's aspect ratio (a wide X is well conditioned in its row space), each two
    passes over the n x r design: CG for n = 2000, p = 20000 (the factor is 2.7e9 flops, a
    CG step 1.6e7), Woodbury for a small n. The fit reports the cheaper."""
    from ngd.fisher.choice import cheapest
    from ngd.fisher.cost import Cost, ProblemShape, rowspace_costs

    def shape(n, p):
        return ProblemShape(rows=n, columns=p, outputs=1, params=p + 1, entries_per_row=p,
                            row_square=p * p, column_square=p, mean_square=1.0,
                            sparse=False, mu=1e-3)
    wide = rowspace_costs(shape(2000, 20000), 2000)
    assert cheapest(wide) == "cg" and wide["cg"].bytes < wide["woodbury"].bytes
    assert cheapest(rowspace_costs(shape(100, 2000), 100)) == "woodbury"
    X, rng = _data(seed=6)
    fit = ngd.fit(X, (rng.random(N) < 0.5).astype(float), l2=1e-2)
    assert fit.solver == cheapest({k: Cost(**c) for k, c in fit.solver_costs.items()})


@pytest.mark.parametrize("chosen, pick_seconds, expected", [
    ("cg", 1e3, True), ("cg", 1e-9, False), ("woodbury", 1e3, True), ("cholesky", 1e3, False)])
def test_the_basis_replaces_auto_pick_only_when_estimated_cheaper(chosen, pick_seconds,
                                                                   expected):
    """After auto picked CG (or Woodbury) on X, the basis is used when its setup amortised
    plus the cheaper solve on R costs less per iteration than that pick's estimate."""
    from types import SimpleNamespace
    from ngd.spec import SolverOptions
    X, rng = _data(seed=7)
    model = build_model(ModelSpec(model="logistic", l2=0.1),
                        FitData(X, (rng.random(N) < 0.5).astype(float))).model
    stepper = SimpleNamespace(solver_name=chosen, subsample=None, damping=0.0,
                              solver_costs={chosen: {"seconds": pick_seconds, "bytes": 0.0}})
    assert rowspace.applies(model, SolverOptions(), stepper, None) is expected
