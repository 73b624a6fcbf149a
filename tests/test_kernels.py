"""ngd.kernels against plain numpy: weighted Gram, empirical Fisher, the fused logistic pass
and the damped Cholesky solve.

Shapes are chosen so that the row-block size of the kernels (``chunk_rows`` in
``_kernels/_rows.pxd``: about 32768 / p rows, clamped to [16, 4096] and to n) does not divide n,
and so that several blocks (hence several accumulation slots) exist.
"""
import numpy as np
import pytest
from scipy.special import expit

import ngd
from ngd import kernels


def chunk_rows(n, p):
    """Python mirror of ``_rows.pxd:chunk_rows`` (used only to document the test shapes)."""
    rows = min(max(32768 // max(p, 1), 16), 4096)
    return min(rows, n) if n > 0 else 1


# (n, p): single block (1001, 7), (37, 50), (1, 4); several blocks with a remainder:
# (5000, 3) -> 4096 + 904, (1001, 50) -> 655 + 346, (1001, 300) -> 9 x 109 + 20,
# (100, 2500) -> 6 x 16 + 4 (minimum block), (9000, 1) -> 2 x 4096 + 808 (p = 1).
SHAPES = [(1001, 7), (5000, 3), (37, 50), (1, 4), (1001, 50), (1001, 300), (100, 2500),
          (9000, 1), (3, 1)]
DTYPES = [np.float64, np.float32]
ORDERS = ["C", "F"]


def test_shapes_exercise_partial_blocks():
    partial = [(n, p) for n, p in SHAPES if n % chunk_rows(n, p) != 0 and n > chunk_rows(n, p)]
    assert len(partial) >= 4


def make_X(n, p, dtype, order, seed=0):
    rng = np.random.default_rng(seed + 1000 * n + p)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, size=p) + rng.normal(size=p)
    X = np.asarray(X, dtype=dtype, order=order)
    assert X.dtype == dtype
    assert X.flags.c_contiguous if order == "C" else X.flags.f_contiguous
    return X


def gram_ref(X, v):
    """X^T diag(v) X in float64 and the elementwise bound |X|^T |v| |X| for tolerances."""
    Xd = np.asarray(X, dtype=np.float64)
    ref = Xd.T @ (v[:, None] * Xd)
    bound = np.abs(Xd).T @ (np.abs(v)[:, None] * np.abs(Xd))
    return ref, bound


def assert_close_bound(got, ref, bound, rtol=1e-12):
    err = np.abs(got - ref)
    worst = np.max(err - rtol * bound - 1e-300)
    assert worst <= 0, f"max excess error {worst:.3g} (max err {err.max():.3g})"


# --- weighted_gram ----------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", SHAPES)
@pytest.mark.parametrize("sign", ["nonneg", "mixed"])
def test_weighted_gram_matches_numpy(n, p, dtype, order, sign):
    X = make_X(n, p, dtype, order)
    rng = np.random.default_rng(n + p)
    v = rng.uniform(0.0, 2.0, size=n) if sign == "nonneg" else rng.standard_normal(n)
    if sign == "mixed" and n > 1:
        v[0] = -abs(v[0]) - 0.1          # make sure the gemm (signed) path is taken
    if sign == "nonneg" and n > 2:
        v[1] = 0.0
    G = kernels.weighted_gram(X, v, n_threads=2)
    ref, bound = gram_ref(X, v)
    assert G.shape == (p, p) and G.dtype == np.float64
    assert np.array_equal(G, G.T)
    # float32 input: the kernel accumulates in float64, so it matches the float64 computation
    # on X.astype(float64) to the same 1e-12.
    assert_close_bound(G, ref, bound, 1e-12)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", [(1001, 7), (5000, 3), (37, 50), (1, 4), (1001, 300),
                                 (9000, 1)])
@pytest.mark.parametrize("sign", ["nonneg", "mixed"])
def test_weighted_gram_intercept_is_augmented_gram(n, p, dtype, order, sign):
    X = make_X(n, p, dtype, order, seed=3)
    rng = np.random.default_rng(7 * n + p)
    v = rng.uniform(0.1, 2.0, size=n) if sign == "nonneg" else rng.standard_normal(n)
    if sign == "mixed":
        v[-1] = -abs(v[-1]) - 0.1
    G = kernels.weighted_gram(X, v, intercept=True, n_threads=2)
    A = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(n)])
    ref, bound = gram_ref(A, v)
    assert G.shape == (p + 1, p + 1)
    assert np.array_equal(G, G.T)
    assert_close_bound(G, ref, bound, 1e-12)
    # the (p, p) block is the plain weighted Gram
    np.testing.assert_allclose(G[:p, :p], kernels.weighted_gram(X, v, n_threads=1),
                               rtol=1e-13, atol=1e-13 * np.abs(ref).max())


def test_weighted_gram_negative_weights_not_psd():
    # With mixed-sign v the result is indefinite; a sqrt-based path would produce nonsense.
    X = make_X(500, 4, np.float64, "C")
    v = np.where(np.arange(500) % 2 == 0, 1.0, -3.0)
    G = kernels.weighted_gram(X, v)
    ref, bound = gram_ref(X, v)
    assert_close_bound(G, ref, bound)
    assert np.linalg.eigvalsh(G)[0] < 0


def test_weighted_gram_noncontiguous_and_integer_input():
    base = make_X(2001, 10, np.float64, "C")
    X = base[:, ::2]                                     # non-contiguous view
    assert not (X.flags.c_contiguous or X.flags.f_contiguous)
    v = np.random.default_rng(0).uniform(size=2001)
    ref, bound = gram_ref(X, v)
    assert_close_bound(kernels.weighted_gram(X, v), ref, bound)
    Xs = base[::3]                                        # row-strided view
    ref, bound = gram_ref(Xs, v[::3])
    assert_close_bound(kernels.weighted_gram(Xs, v[::3]), ref, bound)
    # the fused pass accepts the same views (float64 and float32)
    rng = np.random.default_rng(1)
    y = (rng.random(2001) < 0.5).astype(np.float64)
    coef = rng.standard_normal(5) / 3
    for view in (X, X.astype(np.float32)[:, :], np.asarray(base, np.float32)[:, ::2]):
        loss_ref, grad_ref, exact_ref, _, gbound, lbound = logistic_ref(view, coef, 0.2, y)
        loss, grad, weights = kernels.logistic_pass(view, coef, 0.2, y, n_threads=2)
        assert abs(loss - loss_ref) <= 1e-12 * lbound
        assert_close_bound(grad, grad_ref, gbound)
        np.testing.assert_allclose(weights, exact_ref, rtol=1e-12)
    Xi = np.arange(12).reshape(4, 3)                      # integer input becomes float64
    vi = np.array([1, 2, 3, 4])
    np.testing.assert_array_equal(kernels.weighted_gram(Xi, vi), Xi.T @ (vi[:, None] * Xi))


# --- empirical_fisher ---------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", [(1001, 7), (5000, 3), (37, 50), (1, 4), (9000, 1)])
def test_empirical_fisher_matches_numpy(n, p, dtype, order):
    G = make_X(n, p, dtype, order, seed=11)
    F = kernels.empirical_fisher(G, n_threads=2)
    Gd = G.astype(np.float64)
    ref = Gd.T @ Gd / n
    bound = np.abs(Gd).T @ np.abs(Gd) / n
    assert F.shape == (p, p)
    assert_close_bound(F, ref, bound)
    assert np.linalg.eigvalsh(F)[0] >= -1e-12 * np.trace(F)


# --- logistic_pass ------------------------------------------------------------------------
def logistic_ref(X, coef, intercept, y, w=None, off=None):
    """Stable numpy reference: (loss sum, [X^T r, sum r], exact weights, empirical weights)."""
    Xd = np.asarray(X, dtype=np.float64)
    n = Xd.shape[0]
    w = np.ones(n) if w is None else w
    eta = Xd @ coef + intercept + (0.0 if off is None else off)
    nll = np.logaddexp(0.0, eta) - y * eta
    # p - y without cancellation: for y = 1 it is -expit(-eta)
    diff = np.where(y == 1.0, -expit(-eta), expit(eta) - y)
    r = w * diff
    grad = np.concatenate([Xd.T @ r, [r.sum()]])
    exact = w * expit(eta) * expit(-eta)
    empirical = w * diff ** 2
    gbound = np.concatenate([np.abs(Xd).T @ np.abs(r), [np.abs(r).sum()]])
    return np.sum(w * nll), grad, exact, empirical, gbound, np.sum(w * np.abs(nll) +
                                                                    w * np.abs(y * eta))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", [(1001, 7), (5000, 3), (37, 50), (1, 4), (1001, 300),
                                 (9000, 1)])
@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_pass_matches_numpy(n, p, dtype, order, weighted):
    rng = np.random.default_rng(n * 3 + p)
    X = make_X(n, p, dtype, order, seed=5)
    coef = rng.standard_normal(p) / np.sqrt(p)
    intercept = 0.3
    y = (rng.random(n) < 0.4).astype(np.float64)
    w = rng.uniform(0.0, 3.0, size=n) if weighted else None
    off = rng.normal(size=n) if weighted else None
    loss_ref, grad_ref, exact_ref, emp_ref, gbound, lbound = logistic_ref(
        X, coef, intercept, y, w, off)
    loss, grad, weights = kernels.logistic_pass(X, coef, intercept, y, w, off,
                                                fisher="exact", n_threads=2)
    assert abs(loss - loss_ref) <= 1e-12 * lbound
    assert grad.shape == (p + 1,)
    assert_close_bound(grad, grad_ref, gbound)
    np.testing.assert_allclose(weights, exact_ref, rtol=1e-12, atol=0)
    loss2, grad2, emp = kernels.logistic_pass(X, coef, intercept, y, w, off,
                                              fisher="empirical", n_threads=2)
    assert loss2 == loss and np.array_equal(grad2, grad)
    np.testing.assert_allclose(emp, emp_ref, rtol=1e-12, atol=0)
    loss3, grad3, none = kernels.logistic_pass(X, coef, intercept, y, w, off, fisher="none")
    assert none is None
    assert loss3 == loss and np.array_equal(grad3, grad)


def test_logistic_pass_fractional_y():
    rng = np.random.default_rng(2)
    X = make_X(700, 5, np.float64, "C")
    coef = rng.standard_normal(5)
    y = rng.random(700)
    loss_ref, grad_ref, exact_ref, emp_ref, gbound, lbound = logistic_ref(X, coef, -0.2, y)
    loss, grad, emp = kernels.logistic_pass(X, coef, -0.2, y, fisher="empirical")
    assert abs(loss - loss_ref) <= 1e-12 * lbound
    assert_close_bound(grad, grad_ref, gbound)
    np.testing.assert_allclose(emp, emp_ref, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fisher", ["exact", "empirical"])
def test_logistic_pass_extreme_eta(dtype, fisher):
    """|eta| up to 800: exp(eta) overflows, naive p(1 - p) and log(1 + exp) break down."""
    etas = np.array([-800.0, -745.0, -400.0, -40.0, -30.0, -20.0, -1e-3, 0.0, 1e-3, 20.0,
                     30.0, 36.0, 40.0, 400.0, 745.0, 800.0])
    n = 2 * etas.size
    X = np.ones((n, 1), dtype=dtype)
    offset = np.concatenate([etas, etas])
    y = np.concatenate([np.zeros(etas.size), np.ones(etas.size)])
    w = np.linspace(0.5, 2.0, n)
    loss, grad, weights = kernels.logistic_pass(X, np.zeros(1), 0.0, y, w, offset,
                                                fisher=fisher)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and np.all(np.isfinite(weights))
    nll = np.logaddexp(0.0, offset) - y * offset
    np.testing.assert_allclose(loss, np.sum(w * nll), rtol=1e-14)
    diff = np.where(y == 1.0, -expit(-offset), expit(offset))
    np.testing.assert_allclose(grad, [np.sum(w * diff)] * 2, rtol=1e-14)
    ref = w * expit(offset) * expit(-offset) if fisher == "exact" else w * diff ** 2
    np.testing.assert_allclose(weights, ref, rtol=1e-13, atol=1e-300)  # subnormals


def test_logistic_pass_confident_rows_relative_accuracy():
    """All rows confidently correct (near-separable optimum): the loss sum is ~1e-13 per row
    and must keep its relative accuracy (no cancellation in eta + log1p(e) - y eta)."""
    etas = np.linspace(20.0, 36.0, 50)
    offset = np.concatenate([etas, -etas])
    y = np.concatenate([np.ones(50), np.zeros(50)])
    X = np.zeros((100, 2))
    loss, grad, emp = kernels.logistic_pass(X, np.zeros(2), 0.0, y, None, offset,
                                            fisher="empirical")
    ref_nll = np.log1p(np.exp(-np.abs(offset)))
    np.testing.assert_allclose(loss, ref_nll.sum(), rtol=1e-13)
    e = np.exp(-np.abs(offset)) / (1 + np.exp(-np.abs(offset)))
    np.testing.assert_allclose(grad[2], np.sum(np.where(y == 1, -e, e)), rtol=1e-12,
                               atol=1e-12 * e.sum())
    np.testing.assert_allclose(emp, e ** 2, rtol=1e-13)


# --- determinism over thread counts ----------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", [(40000, 3), (3001, 40), (9000, 1)])
def test_kernels_independent_of_thread_count(n, p, dtype, order):
    X = make_X(n, p, dtype, order, seed=9)
    rng = np.random.default_rng(1)
    coef = rng.standard_normal(p) / np.sqrt(p)
    y = (rng.random(n) < 0.5).astype(np.float64)
    w = rng.uniform(0.5, 1.5, size=n)
    off = rng.normal(size=n)
    v_mixed = rng.standard_normal(n)
    out = {}
    for t in (1, 2, 4):
        out[t] = (kernels.logistic_pass(X, coef, 0.1, y, w, off, fisher="exact", n_threads=t),
                  kernels.logistic_pass(X, coef, 0.1, y, w, off, fisher="empirical",
                                        n_threads=t),
                  kernels.weighted_gram(X, w, intercept=True, n_threads=t),
                  kernels.weighted_gram(X, v_mixed, n_threads=t))
    loss_ref, grad_ref, _, _, gbound, lbound = logistic_ref(X, coef, 0.1, y, w, off)
    for t in (2, 4):
        for (a, b) in zip(out[1][:2], out[t][:2]):
            assert a[0] == b[0]                     # loss: bitwise identical
            assert np.array_equal(a[1], b[1])       # gradient
            assert np.array_equal(a[2], b[2])       # weights
        assert np.array_equal(out[1][2], out[t][2])
        assert np.array_equal(out[1][3], out[t][3])
        # ... and correct, not merely repeatable
        assert abs(out[t][0][0] - loss_ref) <= 1e-12 * lbound
        assert_close_bound(out[t][0][1], grad_ref, gbound)
    # repeated multi-threaded calls give the same bits (no data races)
    for _ in range(5):
        again = kernels.logistic_pass(X, coef, 0.1, y, w, off, fisher="exact", n_threads=2)
        assert again[0] == out[1][0][0] and np.array_equal(again[1], out[1][0][1])


def test_n_threads_argument_checks():
    X = make_X(10, 2, np.float64, "C")
    with pytest.raises(ValueError):
        kernels.weighted_gram(X, np.ones(10), n_threads=0)
    with pytest.raises(TypeError):
        kernels.weighted_gram(X, np.ones(10), n_threads=1.5)
    # negative counts back from the maximum, never below one thread
    G = kernels.weighted_gram(X, np.ones(10), n_threads=-1)
    np.testing.assert_allclose(G, X.T @ X, rtol=1e-14)


# --- input validation ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [3, 40, 300])          # tiles, tiles, dsyrk
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("weights", ["positive", "zero-at-bad-row", "signed"])
def test_weighted_gram_finds_every_non_finite_entry(dtype, p, bad, weights):
    """The finiteness check rides on the Gram's diagonal: every non-finite x_ij, whatever
    v_i (0 included) and the sign pattern of v, is reported at its row and column."""
    rng = np.random.default_rng(p)
    X = rng.standard_normal((70, p)).astype(dtype)
    i, j = 41, p - 2
    X[i, j] = bad
    v = {"positive": rng.uniform(0.5, 1.0, 70),
         "zero-at-bad-row": np.where(np.arange(70) == i, 0.0, 1.0),
         "signed": rng.uniform(-1.0, 1.0, 70)}[weights]
    with pytest.raises(ValueError, match=f"row {i}, column {j}"):
        kernels.weighted_gram(X, v)
    with pytest.raises(ValueError, match=f"row {i}, column {j}"):
        kernels.weighted_gram(X, v, intercept=True)


def test_weighted_gram_overflow_is_an_error():
    X = np.ones((4, 2))
    X[1, 0] = 1e200                       # finite, but its square is not
    with pytest.raises(ValueError, match="overflows"):
        kernels.weighted_gram(X, np.ones(4))
    G = kernels.weighted_gram(X, np.ones(4), check_finite=False)
    assert np.isinf(G[0, 0])              # unchecked: the caller asked for the raw result


def test_kernel_input_validation():
    X = make_X(20, 3, np.float64, "C")
    v = np.ones(20)
    with pytest.raises(ValueError, match="v"):
        kernels.weighted_gram(X, np.ones(19))
    with pytest.raises(ValueError):
        kernels.weighted_gram(X[0], v)                       # 1-D X
    with pytest.raises(ValueError):
        kernels.weighted_gram(np.empty((0, 3)), np.empty(0))
    Xn = X.copy()
    Xn[4, 1] = np.nan
    with pytest.raises(ValueError, match="X"):
        kernels.weighted_gram(Xn, v)
    with pytest.raises(ValueError):
        kernels.weighted_gram(X, np.where(np.arange(20) == 3, np.inf, 1.0))
    with pytest.raises(TypeError):
        kernels.weighted_gram(X.astype(str), v)
    with pytest.raises(TypeError):
        kernels.weighted_gram(X.astype(complex), v)
    y = np.zeros(20)
    with pytest.raises(ValueError, match="coef"):
        kernels.logistic_pass(X, np.zeros(4), 0.0, y)
    with pytest.raises(ValueError, match="y"):
        kernels.logistic_pass(X, np.zeros(3), 0.0, np.zeros(21))
    with pytest.raises(ValueError, match="sample_weight"):
        kernels.logistic_pass(X, np.zeros(3), 0.0, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="offset"):
        kernels.logistic_pass(X, np.zeros(3), 0.0, y, offset=np.ones(5))
    with pytest.raises(ValueError, match="fisher"):
        kernels.logistic_pass(X, np.zeros(3), 0.0, y, fisher="hessian-ish")
    assert issubclass(ngd.DataError, ValueError)


# --- damped_cholesky_solve ----------------------------------------------------------------
def test_damped_cholesky_solve_pd_matches_numpy():
    rng = np.random.default_rng(0)
    for p in (1, 2, 7, 40):
        A = rng.standard_normal((3 * p + 5, p))
        F = A.T @ A + 0.1 * np.eye(p)
        g = rng.standard_normal(p)
        d, used = kernels.damped_cholesky_solve(F, g, 0.0)
        assert used == 0.0
        ref = np.linalg.solve(F, g)
        np.testing.assert_allclose(d, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_damped_cholesky_solve_with_damping():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 6))
    F = A.T @ A
    g = rng.standard_normal(6)
    d, used = kernels.damped_cholesky_solve(F, g, 0.5)
    assert used == 0.5
    np.testing.assert_allclose(d, np.linalg.solve(F + 0.5 * np.eye(6), g), rtol=1e-12)


def _singular_cases():
    rng = np.random.default_rng(42)
    cases = []
    for seed in range(12):
        r = np.random.default_rng(seed)
        X = r.standard_normal((40, 5))
        X = np.column_stack([X, X[:, 2]])                  # duplicated column
        cases.append((X.T @ X, X.T @ r.standard_normal(40)))
    Z = rng.standard_normal((10, 25))                       # n < p: rank 10
    cases.append((Z.T @ Z, Z.T @ rng.standard_normal(10)))
    B = rng.standard_normal((50, 3))
    X = np.column_stack([B, B @ [1.0, -2.0, 0.5], 3 * B[:, 0]])   # linear dependencies
    w = rng.uniform(0.1, 1.0, 50)
    cases.append((kernels.weighted_gram(X, w), X.T @ (w * rng.standard_normal(50))))
    cases.append((np.ones((3, 3)), np.ones(3)))
    cases.append((np.zeros((2, 2)), np.zeros(2)))
    return cases


@pytest.mark.parametrize("case", range(16))
def test_damped_cholesky_solve_singular(case):
    F, g = _singular_cases()[case]
    assert np.linalg.matrix_rank(F) < F.shape[0]
    d, used = kernels.damped_cholesky_solve(F, g, 0.0)
    assert used > 0
    assert np.all(np.isfinite(d))
    res = np.linalg.norm((F + used * np.eye(F.shape[0])) @ d - g)
    assert res <= 1e-10 * np.linalg.norm(g) + 1e-300


def test_damped_cholesky_solve_singular_generic_rhs_backward_stable():
    # g with a null-space component: d is large (~ 1/lambda) but the solve is still backward
    # stable for the damped system.
    F, _ = _singular_cases()[0]
    g = np.random.default_rng(3).standard_normal(F.shape[0])
    d, used = kernels.damped_cholesky_solve(F, g)
    M = F + used * np.eye(F.shape[0])
    res = np.linalg.norm(M @ d - g)
    assert used > 0
    assert res <= 1e3 * np.finfo(float).eps * np.linalg.norm(M, 2) * np.linalg.norm(d)


def test_damped_cholesky_solve_indefinite():
    F = np.diag([2.0, 1.0, -0.5])
    g = np.array([1.0, 1.0, 1.0])
    d, used = kernels.damped_cholesky_solve(F, g)
    assert used > 0.5
    np.testing.assert_allclose((F + used * np.eye(3)) @ d, g, rtol=1e-12)


def test_damped_cholesky_solve_bad_inputs():
    F = np.eye(3)
    g = np.ones(3)
    with pytest.raises(ValueError):
        kernels.damped_cholesky_solve(np.ones((3, 2)), g)
    with pytest.raises(ValueError):
        kernels.damped_cholesky_solve(np.ones(3), g)
    with pytest.raises(ValueError):
        kernels.damped_cholesky_solve(np.empty((0, 0)), np.empty(0))
    Fn = F.copy()
    Fn[1, 1] = np.nan
    with pytest.raises(ValueError):
        kernels.damped_cholesky_solve(Fn, g)
    with pytest.raises(ValueError):
        kernels.damped_cholesky_solve(F, np.array([1.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="damping"):
        kernels.damped_cholesky_solve(F, g, -1e-3)
    with pytest.raises(ValueError, match="damping"):
        kernels.damped_cholesky_solve(F, g, np.nan)
    with pytest.raises(ValueError, match="g"):
        kernels.damped_cholesky_solve(F, np.ones(4))
    with pytest.raises((ValueError, TypeError)):
        kernels.damped_cholesky_solve(np.array([["a", "b"], ["c", "d"]]), np.ones(2))
    with pytest.raises(TypeError):
        kernels.damped_cholesky_solve(F, np.array(["a", "b", "c"]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1e200])
def test_the_data_scan_finds_each_bad_entry(dtype, order, bad):
    """ngd.fit's data check (one parallel pass, blocks of 65536 entries) finds a NaN, an
    infinity or a value above MAX_ABS wherever it is -- first and last entry, both sides of a
    block boundary -- in C and F order, and names its row and column."""
    from ngd import _validation
    from ngd._kernels import fused
    n, p = 3000, 50                                   # 150 000 entries: 3 blocks
    X = np.asarray(np.random.default_rng(0).standard_normal((n, p)), dtype=dtype, order=order)
    _validation.as_matrix(X, max_abs=_validation.MAX_ABS)
    if dtype == np.float32 and bad == -1e200:
        bad = -np.inf                                 # float32 cannot hold it
    for flat in (0, 65535, 65536, n * p - 1):
        i, j = np.unravel_index(flat, (n, p), order=order)
        Y = X.copy(order=order)
        Y[i, j] = bad
        assert not fused._all_within(Y.ravel(order=order), float(_validation.MAX_ABS), 2)
        with pytest.raises(ValueError, match=f"row {i}, column {j}"):
            _validation.as_matrix(Y, max_abs=_validation.MAX_ABS)
    assert fused._all_within(np.array([1e200, -1e200]), 1e200, 1)
    assert not fused._all_within(np.array([np.inf]), float(np.finfo(np.float64).max), 1)
