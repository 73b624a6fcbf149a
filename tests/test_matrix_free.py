"""CGSolver's forcing term across the gradients of one fit: sqrt(||g||) on the first,
||g_k|| / ||g_{k-1}|| (at most 0.1) on each new one, kept when a gradient is solved again; and
the in-place PCG against a dense solve."""
import numpy as np
import pytest

from ngd.fisher import CGSolver


class DenseCurvature:
    """The two curvature accessors CGSolver uses, for a fixed SPD matrix C."""

    def __init__(self, C):
        self.C = C

    def curvature_vector(self, weights, u, rows=None):
        return self.C @ u

    def curvature_diagonal(self, weights, rows=None):
        return np.diag(self.C).copy()


def _curvature(p=60, seed=0, smallest=1e-4):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return DenseCurvature((Q * np.logspace(np.log10(smallest), 0, p)) @ Q.T), rng


def _residual(model, solve, g):
    return np.linalg.norm(model.C @ solve.direction + solve.damping * solve.direction - g)


def test_forcing_follows_the_ratio_of_gradient_norms():
    model, rng = _curvature()
    solver = CGSolver()
    g1 = 1e-6 * rng.standard_normal(60)
    first = solver.solve(model, None, g1, 0.0)
    assert _residual(model, first, g1) <= 1.0001 * np.sqrt(np.linalg.norm(g1)) * \
        np.linalg.norm(g1)
    g2 = 1e-9 * rng.standard_normal(60)
    ratio = np.linalg.norm(g2) / np.linalg.norm(g1)
    second = solver.solve(model, None, g2, 0.0)
    assert _residual(model, second, g2) <= 1.0001 * ratio * np.linalg.norm(g2)
    again = solver.solve(model, None, g2, 1e-3)          # same gradient, other damping
    assert _residual(model, again, g2) <= 1.0001 * ratio * np.linalg.norm(g2)
    assert solver.forcing(np.linalg.norm(g2)) == pytest.approx(ratio)
    fresh = CGSolver().solve(model, None, g2, 0.0)       # sqrt(||g2||) < ratio: tighter
    assert fresh.info["cg_iter"] >= second.info["cg_iter"]
    assert solver.forcing(10 * np.linalg.norm(g2)) == 0.1        # a growing gradient: capped


def test_inplace_pcg_matches_a_dense_solve_and_tracks_its_residual():
    model, rng = _curvature(seed=1, smallest=1e-2)
    g = rng.standard_normal(60)
    for damping in (0.0, 1e-2):                 # the two operators (damped adds in place)
        solve = CGSolver().solve(model, None, 1e-20 * g, damping)   # forcing ~ 3e-10
        np.testing.assert_allclose(1e-20 * solve.direction,
                                   np.linalg.solve(model.C + damping * np.eye(60), 1e-40 * g),
                                   rtol=1e-5)
        true = _residual(model, solve, 1e-20 * g) / np.linalg.norm(1e-20 * g)
        assert solve.info["residual"] == pytest.approx(true, rel=1e-3, abs=1e-14)
    assert np.array_equal(model.curvature_vector(None, g), model.C @ g)   # inputs untouched


def _csr_problem(n=300, p=80, seed=2, intercept=True, negative=False):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.08, random_state=seed, format="csr")
    v = rng.uniform(0.1, 1.0, n) / n
    if negative:
        v[: n // 2] *= -10.0
    pw = p + intercept
    shift = np.where(np.arange(pw) < p, 1e-3, 0.0) + 1e-6     # l2 on coef + damping
    X1 = np.hstack([X.toarray(), np.ones((n, 1))]) if intercept else X.toarray()
    A = X1.T @ (v[:, None] * X1) + np.diag(shift)
    return X, v, shift, A, rng.standard_normal(pw)


@pytest.mark.parametrize("intercept", [True, False])
def test_csr_cg_kernel_is_the_python_iteration(intercept):
    """ngd._sparse.cg_solve (the whole PCG in one kernel call) takes the same iterates as
    CGSolver._pcg on the same operator, and solves A x = g at a tight threshold."""
    from ngd import _sparse
    X, v, shift, A, g = _csr_problem(intercept=intercept)
    minv = 1.0 / np.diag(A)
    # the same iterates (to rounding: dot products are summed in another order) ...
    x, it, res, positive = _sparse.cg_solve(X, v, shift, minv, g, 0.0, 7, intercept)
    ref = CGSolver._pcg(lambda u: _sparse.fisher_vector(X, v, u, intercept) + shift * u,
                        np.diag(A), g, 0.0, 7)
    assert positive and ref[3] and it == ref[1] == 7
    np.testing.assert_allclose(x, ref[0], rtol=1e-10, atol=1e-12 * np.abs(ref[0]).max())
    assert res == pytest.approx(np.linalg.norm(g - A @ x), rel=1e-6)
    # ... and the same stopping rule: ||r|| <= threshold
    threshold = 1e-3 * np.linalg.norm(g)
    x, it, res, positive = _sparse.cg_solve(X, v, shift, minv, g, threshold, 1000, intercept)
    assert np.linalg.norm(g - A @ x) <= 1.0001 * threshold and 7 < it < 1000
    x, it, res, positive = _sparse.cg_solve(X, v, shift, minv, g, 1e-12 * np.linalg.norm(g),
                                            1000, intercept)
    np.testing.assert_allclose(x, np.linalg.solve(A, g), rtol=1e-8)
    x, it, res, positive = _sparse.cg_solve(X, v, shift, minv, 0.0 * g, 0.0, 10, intercept)
    assert it == 0 and res == 0.0 and not x.any()


def test_csr_cg_kernel_reports_indefinite_curvature():
    """Rows with negative weights make A indefinite: the kernel stops with positive=False
    (CGSolver then raises the damping), as the Python iteration does."""
    from ngd import _sparse
    X, v, shift, A, g = _csr_problem(negative=True)
    assert np.linalg.eigvalsh(A).min() < 0
    minv = np.ones(A.shape[0])
    x, it, res, positive = _sparse.cg_solve(X, v, shift, minv, g, 0.0, 1000, True)
    ref = CGSolver._pcg(lambda u: A @ u, minv, g, 0.0, 1000)
    assert not positive and not ref[3] and it == ref[1]
    assert np.all(np.isfinite(x))
