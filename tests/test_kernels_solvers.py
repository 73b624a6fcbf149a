"""Solvers with the Fisher: matrix-free preconditioned CG (single- and multi-output), the
Woodbury n < p solve, and the Cholesky solve with several right-hand sides."""
import numpy as np
import pytest

from ngd import kernels

DTYPES = [np.float64, np.float32]
ORDERS = ["C", "F"]


def make_problem(n, p, dtype=np.float64, order="C", seed=0, spread=0.0):
    """X (n, p) with column scales 10^U(-spread, spread), Fisher weights v = p(1-p)/n."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * 10.0 ** rng.uniform(-spread, spread, p)
    prob = rng.uniform(0.05, 0.95, n)
    v = prob * (1 - prob) / n
    g = rng.standard_normal(p)
    return np.asarray(X, dtype=dtype, order=order), v, g


def dense(X, v, damping, intercept=False):
    X1 = np.asarray(X, dtype=np.float64)
    if intercept:
        X1 = np.column_stack([X1, np.ones(X1.shape[0])])
    return X1.T @ (v[:, None] * X1) + damping * np.eye(X1.shape[1])


# --- cg_solve ------------------------------------------------------------------------------
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cg_reaches_cholesky_solution_within_p_iterations(dtype, order, intercept):
    n, p = 2001, 30
    X, v, g = make_problem(n, p, dtype, order, seed=1)
    pw = p + intercept
    g = np.random.default_rng(2).standard_normal(pw)
    damping = 1e-3
    d, info = kernels.cg_solve(X, v, g, damping, tol=1e-12, intercept=intercept, n_threads=2)
    F = dense(X, v, 0.0, intercept)
    factor, used, _ = kernels.damped_cholesky(F, damping)
    ref = kernels.cholesky_solve(factor, g)
    assert used == damping
    assert info["converged"] and info["status"] == "converged"
    assert 1 <= info["n_iter"] <= pw
    assert info["residual"] <= 1e-12
    assert np.linalg.norm(d - ref) <= 1e-8 * np.linalg.norm(ref)
    assert d.shape == (pw,) and d.dtype == np.float64


def test_jacobi_preconditioner_needs_fewer_iterations_on_rescaled_columns():
    X, v, g = make_problem(1000, 40, seed=3, spread=2.0)      # column scales over 4 decades
    plain_d, plain = kernels.cg_solve(X, v, g, 1e-6, tol=1e-10, preconditioner=None)
    jac_d, jac = kernels.cg_solve(X, v, g, 1e-6, tol=1e-10)
    assert jac["converged"]
    assert jac["n_iter"] < plain["n_iter"]
    assert jac["n_iter"] <= 40
    ref = np.linalg.solve(dense(X, v, 1e-6), g)
    assert np.linalg.norm(jac_d - ref) <= 1e-7 * np.linalg.norm(ref)


def test_cg_without_preconditioner_matches_dense():
    X, v, g = make_problem(1500, 25, seed=4)
    d, info = kernels.cg_solve(X, v, g, 0.01, tol=1e-12, preconditioner="none")
    assert info["converged"] and info["n_iter"] <= 25
    np.testing.assert_allclose(d, np.linalg.solve(dense(X, v, 0.01), g), rtol=1e-9)


def test_cg_maxiter_warm_start_and_zero_rhs():
    X, v, g = make_problem(1000, 20, seed=5, spread=1.0)
    d3, info3 = kernels.cg_solve(X, v, g, 1e-4, tol=1e-14, maxiter=3)
    assert info3["n_iter"] == 3 and not info3["converged"] and info3["status"] == "maxiter"
    # warm start from the 3-iteration answer continues towards the solution
    d, info = kernels.cg_solve(X, v, g, 1e-4, tol=1e-12, x0=d3)
    ref = np.linalg.solve(dense(X, v, 1e-4), g)
    assert info["converged"]
    np.testing.assert_allclose(d, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
    # starting at the solution: no iteration needed
    d0, info0 = kernels.cg_solve(X, v, g, 1e-4, tol=1e-6, x0=ref)
    assert info0["n_iter"] == 0 and info0["converged"]
    np.testing.assert_array_equal(d0, ref)
    z, infoz = kernels.cg_solve(X, v, np.zeros(20), 1e-4)
    assert infoz == {"n_iter": 0, "residual": 0.0, "converged": True, "status": "converged"}
    assert np.array_equal(z, np.zeros(20))
    d0, info0 = kernels.cg_solve(X, v, g, 1e-4, maxiter=0)
    assert info0["n_iter"] == 0 and not info0["converged"] and np.all(d0 == 0)


def test_cg_indefinite_operator_stops_without_nan():
    # negative weights make X^T diag(v) X indefinite: p^T A p <= 0 must stop the iteration
    X, _, g = make_problem(400, 10, seed=6)
    v = -np.ones(400)
    d, info = kernels.cg_solve(X, v, g, 0.0, preconditioner=None)
    assert info["status"] == "breakdown" and not info["converged"]
    assert np.all(np.isfinite(d))
    v = np.where(np.arange(400) % 2 == 0, 1.0, -1.2)
    d, info = kernels.cg_solve(X, v, g, 0.0)
    assert np.all(np.isfinite(d))
    assert info["status"] in ("breakdown", "converged")


def test_cg_singular_fisher_needs_damping():
    X, v, g = make_problem(500, 8, seed=7)
    X = np.column_stack([X, X[:, 0]])                      # duplicated column: F singular
    g = X.T @ (v * np.random.default_rng(8).standard_normal(500))   # g in range(F)
    d, info = kernels.cg_solve(X, v, g, 1e-8, tol=1e-10)
    assert info["converged"]
    F = dense(X, v, 1e-8)
    assert np.linalg.norm(F @ d - g) <= 1e-9 * np.linalg.norm(g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cg_independent_of_thread_count(dtype):
    X, v, g = make_problem(30000, 15, dtype, seed=9, spread=1.0)
    ref, info_ref = kernels.cg_solve(X, v, np.append(g, 0.3), 1e-5, intercept=True,
                                     n_threads=1)
    for t in (2, 4):
        d, info = kernels.cg_solve(X, v, np.append(g, 0.3), 1e-5, intercept=True, n_threads=t)
        assert info["n_iter"] == info_ref["n_iter"]
        np.testing.assert_allclose(d, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["proba", "resid"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_output_cg_matches_dense(kind, dtype, order):
    n, p, K = 1200, 6, 3
    X, _, _ = make_problem(n, p, dtype, order, seed=10)
    rng = np.random.default_rng(11)
    A = rng.dirichlet(np.ones(K), size=n) if kind == "proba" else rng.standard_normal((n, K))
    w = np.full(n, 1.0 / n)
    kw = {kind: A, "v": w}
    F = kernels.multi_output_gram(X, intercept=True, **kw)
    g = rng.standard_normal((K, p + 1))
    damping = 1e-3                       # softmax F is singular along 1 (x) u: damp it
    d, info = kernels.multi_output_cg_solve(X, g=g, damping=damping, tol=1e-12,
                                            intercept=True, **kw)
    # the damped null space 1 (x) u makes F + damping I ill-conditioned: allow a few extra
    # iterations over the dimension
    assert info["converged"] and info["n_iter"] <= 2 * K * (p + 1)
    assert d.shape == g.shape
    ref = np.linalg.solve(F + damping * np.eye(K * (p + 1)), g.ravel())
    assert np.linalg.norm(d.ravel() - ref) <= 1e-8 * np.linalg.norm(ref)
    ts = [kernels.multi_output_cg_solve(X, g=g, damping=damping, intercept=True,
                                        n_threads=t, **kw)[0] for t in (1, 2, 4)]
    for t in ts[1:]:
        np.testing.assert_allclose(t, ts[0], rtol=1e-12, atol=1e-12 * np.abs(ts[0]).max())


def test_cg_argument_errors():
    X, v, g = make_problem(50, 4)
    with pytest.raises(ValueError, match="damping"):
        kernels.cg_solve(X, v, g, -1.0)
    with pytest.raises(ValueError, match="damping"):
        kernels.cg_solve(X, v, g, np.nan)
    with pytest.raises(TypeError, match="damping"):
        kernels.cg_solve(X, v, g, "big")
    with pytest.raises(ValueError, match="tol"):
        kernels.cg_solve(X, v, g, 0.1, tol=-1e-3)
    with pytest.raises(TypeError, match="maxiter"):
        kernels.cg_solve(X, v, g, 0.1, maxiter=2.5)
    with pytest.raises(ValueError, match="maxiter"):
        kernels.cg_solve(X, v, g, 0.1, maxiter=-1)
    with pytest.raises(ValueError, match="g"):
        kernels.cg_solve(X, v, g, 0.1, intercept=True)
    with pytest.raises(ValueError, match="g"):
        kernels.cg_solve(X, v, np.append(g[:3], np.inf), 0.1)
    with pytest.raises(ValueError, match="x0"):
        kernels.cg_solve(X, v, g, 0.1, x0=np.ones(3))
    with pytest.raises(ValueError, match="preconditioner"):
        kernels.cg_solve(X, v, g, 0.1, preconditioner="ilu")
    with pytest.raises(ValueError, match="v"):
        kernels.cg_solve(X, v[:-1], g, 0.1)
    with pytest.raises(TypeError, match="g"):
        kernels.multi_output_cg_solve(X, proba=np.full((50, 2), 0.5))


# --- woodbury_solve -------------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_woodbury_equals_dense(dtype, order):
    n, p = 40, 300
    rng = np.random.default_rng(12)
    G = np.asarray(rng.standard_normal((n, p)), dtype=dtype, order=order)
    g = rng.standard_normal(p)
    Gd = G.astype(np.float64)
    for damping in (1e-3, 0.1, 10.0):
        d = kernels.woodbury_solve(G, g, damping, n_threads=2)
        ref = np.linalg.solve(Gd.T @ Gd / n + damping * np.eye(p), g)
        assert np.linalg.norm(d - ref) <= 1e-10 * np.linalg.norm(ref)


def test_woodbury_float32_blocks_and_mean_gradient_form():
    # p large enough that float32 G is converted in several column blocks (~2^20 / n columns)
    n, p = 20, 60000
    rng = np.random.default_rng(13)
    G = rng.standard_normal((n, p)).astype(np.float32)
    Gd = G.astype(np.float64)
    lam = 0.05
    gbar = Gd.T @ np.ones(n) / n                   # mean gradient
    d = kernels.woodbury_solve(G, gbar, lam)
    # natural-gradient.md 2.5: (G^T G / n + lam I)^{-1} g = G^T (G G^T + lam n I)^{-1} 1
    alpha = np.linalg.solve(Gd @ Gd.T + lam * n * np.eye(n), np.ones(n))
    # cond(G^T G / n + lam I) is about p / (n lam) = 6e4, so agreement is to ~1e-11 relative
    # for any backward-stable method; the float32 column blocks add their own summation order
    assert np.linalg.norm(d - Gd.T @ alpha) <= 1e-8 * np.linalg.norm(d)
    d64 = kernels.woodbury_solve(Gd, gbar, lam)
    assert np.linalg.norm(d - d64) <= 1e-8 * np.linalg.norm(d)


def test_woodbury_independent_of_thread_count():
    rng = np.random.default_rng(14)
    G = rng.standard_normal((300, 2000))
    g = rng.standard_normal(2000)
    ds = [kernels.woodbury_solve(G, g, 0.01, n_threads=t) for t in (1, 2, 4)]
    for d in ds[1:]:
        np.testing.assert_allclose(d, ds[0], rtol=1e-12, atol=1e-12 * np.abs(ds[0]).max())


def test_woodbury_argument_errors():
    G = np.ones((3, 5))
    with pytest.raises(ValueError, match="damping"):
        kernels.woodbury_solve(G, np.ones(5), 0.0)
    with pytest.raises(ValueError, match="damping"):
        kernels.woodbury_solve(G, np.ones(5), np.inf)
    with pytest.raises(ValueError, match="g"):
        kernels.woodbury_solve(G, np.ones(3), 1.0)
    with pytest.raises(ValueError, match="G"):
        kernels.woodbury_solve(np.ones(5), np.ones(5), 1.0)
    with pytest.raises(TypeError, match="G"):
        kernels.woodbury_solve(G.astype(str), np.ones(5), 1.0)


# --- cholesky_solve with several right-hand sides -----------------------------------------
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_cholesky_solve_matrix_rhs(layout):
    rng = np.random.default_rng(15)
    p = 12
    A = rng.standard_normal((40, p))
    F = A.T @ A
    factor, used, _ = kernels.damped_cholesky(F, 0.1)
    B = rng.standard_normal((p, 10))
    B = {"C": np.ascontiguousarray(B), "F": np.asfortranarray(B), "strided": B[:, ::2]}[layout]
    X = kernels.cholesky_solve(factor, B)
    assert X.shape == B.shape
    ref = np.linalg.solve(F + 0.1 * np.eye(p), B)
    np.testing.assert_allclose(X, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    cols = np.column_stack([kernels.cholesky_solve(factor, B[:, j]) for j in range(B.shape[1])])
    np.testing.assert_allclose(X, cols, rtol=1e-14, atol=1e-14 * np.abs(cols).max())
    inv = kernels.cholesky_solve(factor, np.eye(p))          # the covariance use
    np.testing.assert_allclose(inv, np.linalg.inv(F + 0.1 * np.eye(p)), rtol=1e-10)
    B_before = B.copy()
    kernels.cholesky_solve(factor, B)
    np.testing.assert_array_equal(B, B_before)                # b is not overwritten


def test_cholesky_solve_argument_errors():
    factor, _, _ = kernels.damped_cholesky(np.eye(3) * 2.0)
    with pytest.raises(ValueError, match="b"):
        kernels.cholesky_solve(factor, np.ones((4, 2)))
    with pytest.raises(ValueError, match="b"):
        kernels.cholesky_solve(factor, np.ones(4))
    with pytest.raises(ValueError, match="b"):
        kernels.cholesky_solve(factor, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match="b"):
        kernels.cholesky_solve(factor, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="factor"):
        kernels.cholesky_solve(np.ones((3, 2)), np.ones(3))
    np.testing.assert_allclose(kernels.cholesky_solve(factor, np.ones((3, 1))), 0.5 * np.ones(
        (3, 1)))
