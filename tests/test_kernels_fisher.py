"""Multi-output Gram (softmax exact / empirical Fisher, general per-row K x K weights),
Fisher-vector products and Fisher diagonals against numpy, for float32/float64 X in C and F
order, with and without the intercept column, on shapes whose row blocks do not divide n;
and independence of the thread count (1, 2, 4) to 1e-12.

Row blocks (``_kernels/_rows.pxd``/``fisher.pyx``): the Fisher-vector product and the diagonal
use chunk_rows(n, p) = clamp(32768 // p, 16, 4096) rows, the multi-output Gram
clamp(32768 // (K pw), 128, 2048) rows; most shapes below give several blocks plus a remainder.
"""
import numpy as np
import pytest

from ngd import kernels

DTYPES = [np.float64, np.float32]
ORDERS = ["C", "F"]
THREADS = [1, 2, 4]


def make_X(n, p, dtype=np.float64, order="C", seed=0):
    rng = np.random.default_rng(seed + 7919 * n + p)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, size=p) + rng.normal(size=p)
    return np.asarray(X, dtype=dtype, order=order)


def with_ones(X, intercept):
    Xd = np.asarray(X, dtype=np.float64)
    return np.column_stack([Xd, np.ones(Xd.shape[0])]) if intercept else Xd


def softmax_V(P, w):
    K = P.shape[1]
    return w[:, None, None] * (np.eye(K)[None] * P[:, :, None] - P[:, :, None] * P[:, None, :])


def multi_ref(X1, V):
    """sum_i V_i (x) x_i x_i^T, class-major, and the elementwise bound for tolerances."""
    n, pw = X1.shape
    K = V.shape[1]
    ref = np.einsum("ikl,ia,ib->kalb", V, X1, X1).reshape(K * pw, K * pw)
    bound = np.einsum("ikl,ia,ib->kalb", np.abs(V), np.abs(X1), np.abs(X1)).reshape(
        K * pw, K * pw)
    return ref, bound


def assert_bound(got, ref, bound, rtol=1e-12):
    excess = np.abs(got - ref) - rtol * bound
    assert excess.max() <= 1e-300, f"max excess {excess.max():.3g}"


def weights(kind, n, K, seed=0):
    """(kwargs for the kernels, V (n, K, K)) for a weight format."""
    rng = np.random.default_rng(seed + n + K)
    w = rng.uniform(0.2, 2.0, n)
    if kind == "proba":
        P = rng.dirichlet(np.ones(K), size=n)
        return dict(proba=P, v=w), softmax_V(P, w)
    if kind == "resid":
        R = rng.standard_normal((n, K))
        return dict(resid=R, v=w), w[:, None, None] * R[:, :, None] * R[:, None, :]
    A = rng.standard_normal((n, K, K))
    V = A + A.transpose(0, 2, 1)                       # symmetric, indefinite
    return dict(V=V), V


# (n, p, K) and their row blocks (Gram: 32768 // (K pw) clamped to [128, 2048]; products and
# diagonals: 32768 // p clamped to [16, 4096]; both clamped to n):
#   (5001, 7, 3)  Gram 3 x 1560 + 321 (3 x 1365 + 906 with the intercept), FVP 4096 + 905
#   (2000, 40, 3) Gram 7 x 273 + 89 (7 x 266 + 138), FVP 2 x 819 + 362
#   (700, 30, 4)  Gram 2 x 273 + 154 (2 x 264 + 172), FVP one block
#   (3000, 3, 2)  Gram 2048 + 952, FVP one block
#   (37, 50, 2), (1, 4, 3): a single (partial) block, one row
MULTI_SHAPES = [(5001, 7, 3), (2000, 40, 3), (700, 30, 4), (3000, 3, 2), (37, 50, 2),
                (1, 4, 3)]


# --- multi_output_gram -------------------------------------------------------------------
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p,K", MULTI_SHAPES)
@pytest.mark.parametrize("kind", ["proba", "resid", "V"])
def test_multi_output_gram_matches_numpy(kind, n, p, K, dtype, order, intercept):
    X = make_X(n, p, dtype, order)
    kw, V = weights(kind, n, K)
    F = kernels.multi_output_gram(X, intercept=intercept, n_threads=2, **kw)
    ref, bound = multi_ref(with_ones(X, intercept), V)
    D = K * (p + intercept)
    assert F.shape == (D, D) and F.dtype == np.float64
    assert np.array_equal(F, F.T)
    assert_bound(F, ref, bound)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_fisher_blocks_are_weighted_grams(dtype, order):
    n, p, K = 1500, 9, 4
    X = make_X(n, p, dtype, order, seed=1)
    kw, V = weights("proba", n, K, seed=1)
    F = kernels.softmax_fisher(X, kw["proba"], kw["v"])
    for k in range(K):
        for l in range(K):
            G = kernels.weighted_gram(X, V[:, k, l])
            np.testing.assert_allclose(F[k * p:(k + 1) * p, l * p:(l + 1) * p], G,
                                       rtol=1e-12, atol=1e-12 * np.abs(G).max())


def test_softmax_fisher_null_space_and_psd():
    n, p, K = 800, 6, 5
    X = make_X(n, p, seed=2)
    P = np.random.default_rng(3).dirichlet(np.ones(K), size=n)
    F = kernels.softmax_fisher(X, P, np.full(n, 1.0 / n), intercept=True)
    u = np.random.default_rng(4).standard_normal(p + 1)
    # the same u on every class leaves every probability unchanged: F (1 (x) u) = 0
    assert np.abs(F @ np.tile(u, K)).max() <= 1e-14 * np.abs(F).max() * np.abs(u).sum()
    assert np.linalg.eigvalsh(F)[0] >= -1e-13 * np.trace(F)


def test_multi_output_empirical_fisher_is_gram_of_scores():
    n, p, K = 600, 5, 3
    X = make_X(n, p, seed=5)
    R = np.random.default_rng(6).standard_normal((n, K))
    S = (R[:, :, None] * X[:, None, :]).reshape(n, K * p)      # scores r_i (x) x_i
    F = kernels.multi_output_empirical_fisher(X, R, np.full(n, 1.0 / n))
    np.testing.assert_allclose(F, S.T @ S / n, rtol=1e-12, atol=1e-13)


def test_multi_output_gram_negative_diagonal_weights_take_gemm_path():
    n, p, K = 400, 4, 3
    X = make_X(n, p, seed=7)
    kw, V = weights("V", n, K, seed=7)
    V[:, 1, 1] = -np.abs(V[:, 1, 1]) - 0.1                 # V_kk < 0 on every block
    F = kernels.multi_output_gram(X, V)
    ref, bound = multi_ref(X, V)
    assert_bound(F, ref, bound)


def test_multi_output_gram_single_accumulator_uses_blas_threads():
    # K pw = 2100: one (K pw)^2 accumulator fills the slot budget, so the wrapper runs a single
    # accumulation with BLAS threads; the answer must not change with the thread count.
    n, p, K = 60, 700, 3
    X = make_X(n, p, seed=8)
    kw, V = weights("proba", n, K, seed=8)
    out = {t: kernels.multi_output_gram(X, n_threads=t, **kw) for t in (1, 2)}
    ref, bound = multi_ref(X, V)
    assert_bound(out[1], ref, bound)
    np.testing.assert_allclose(out[2], out[1], rtol=1e-12, atol=1e-12 * np.abs(out[1]).max())


def test_weighted_gram_large_p_uses_blas_threads():
    n, p = 300, 3000                         # p x p accumulator: one slot
    X = make_X(n, p, seed=9)
    v = np.random.default_rng(9).uniform(0.1, 1.0, n)
    G1 = kernels.weighted_gram(X, v, n_threads=1)
    G2 = kernels.weighted_gram(X, v, n_threads=2)
    np.testing.assert_allclose(G2, G1, rtol=1e-12, atol=1e-12 * np.abs(G1).max())
    ref = X.T @ (v[:, None] * X)
    np.testing.assert_allclose(G1, ref, rtol=1e-10, atol=1e-11 * np.abs(ref).max())


# --- Fisher-vector products -------------------------------------------------------------
# (n, p): (1001, 50) -> 655 + 346; (5000, 3) -> 4096 + 904; (100, 2500) -> 6 x 16 + 4;
# (1, 4); (9000, 1) -> 2 x 4096 + 808.
FV_SHAPES = [(1001, 50), (5000, 3), (100, 2500), (1, 4), (9000, 1)]


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p", FV_SHAPES)
def test_fisher_vector_and_diagonal_match_numpy(n, p, dtype, order, intercept):
    X = make_X(n, p, dtype, order, seed=10)
    rng = np.random.default_rng(n + p)
    v = rng.standard_normal(n)                      # signed weights are allowed
    X1 = with_ones(X, intercept)
    u = rng.standard_normal(X1.shape[1])
    got = kernels.fisher_vector(X, v, u, intercept=intercept, n_threads=2)
    t = v * (X1 @ u)
    assert got.shape == (X1.shape[1],)
    assert_bound(got, X1.T @ t, np.abs(X1).T @ (np.abs(v) * (np.abs(X1) @ np.abs(u))))
    diag = kernels.fisher_diagonal(X, v, intercept=intercept, n_threads=2)
    assert_bound(diag, (X1 ** 2).T @ v, (X1 ** 2).T @ np.abs(v))


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p,K", MULTI_SHAPES)
@pytest.mark.parametrize("kind", ["proba", "resid", "V"])
def test_multi_output_fisher_vector_and_diagonal(kind, n, p, K, dtype, order, intercept):
    X = make_X(n, p, dtype, order, seed=11)
    kw, V = weights(kind, n, K, seed=11)
    ref, bound = multi_ref(with_ones(X, intercept), V)
    pw = p + intercept
    U = np.random.default_rng(12).standard_normal((K, pw))
    got = kernels.multi_output_fisher_vector(X, U=U, intercept=intercept, n_threads=2, **kw)
    assert got.shape == (K, pw)
    assert_bound(got.ravel(), ref @ U.ravel(), bound @ np.abs(U.ravel()))
    flat = kernels.multi_output_fisher_vector(X, U=U.ravel(), intercept=intercept, **kw)
    assert flat.shape == (K * pw,)
    np.testing.assert_allclose(flat, got.ravel(), rtol=1e-13, atol=1e-13 * np.abs(got).max())
    diag = kernels.multi_output_fisher_diagonal(X, intercept=intercept, n_threads=2, **kw)
    assert diag.shape == (K, pw)
    assert_bound(diag.ravel(), np.diag(ref), np.diag(bound))


def test_fisher_vector_equals_dense_fisher_product():
    n, p = 3000, 40
    X = make_X(n, p, seed=13)
    v = np.random.default_rng(13).uniform(0.0, 0.25, n) / n
    F = kernels.weighted_gram(X, v)
    for seed in range(3):
        u = np.random.default_rng(seed).standard_normal(p)
        np.testing.assert_allclose(kernels.fisher_vector(X, v, u), F @ u, rtol=1e-12,
                                   atol=1e-12 * np.abs(F).max() * np.abs(u).sum())


def test_softmax_fisher_vector_formula():
    # natural-gradient.md 2.3: Z = X V, U_i = p_i * z_i - p_i (p_i . z_i), F V = X^T U
    n, p, K = 500, 6, 4
    X = make_X(n, p, seed=14)
    P = np.random.default_rng(14).dirichlet(np.ones(K), size=n)
    W = np.random.default_rng(15).standard_normal((K, p))
    Z = X @ W.T
    Uf = P * Z - P * np.sum(P * Z, axis=1, keepdims=True)
    got = kernels.multi_output_fisher_vector(X, U=W, proba=P)
    np.testing.assert_allclose(got, (X.T @ Uf).T, rtol=1e-12, atol=1e-13)


# --- thread-count independence ------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fisher_kernels_independent_of_thread_count(dtype, order):
    n, p, K = 20000, 12, 3
    X = make_X(n, p, dtype, order, seed=16)
    rng = np.random.default_rng(16)
    v = rng.uniform(0.0, 1.0, n)
    P = rng.dirichlet(np.ones(K), size=n)
    R = rng.standard_normal((n, K))
    u = rng.standard_normal(p + 1)
    U = rng.standard_normal((K, p + 1))
    _, V = weights("V", n, K, seed=16)
    results = {}
    for t in THREADS:
        results[t] = [
            kernels.softmax_fisher(X, P, v, intercept=True, n_threads=t),
            kernels.multi_output_empirical_fisher(X, R, v, n_threads=t),
            kernels.multi_output_gram(X, V, n_threads=t),
            kernels.multi_output_fisher_vector(X, V, U[:, :p], n_threads=t),
            kernels.fisher_vector(X, v, u, intercept=True, n_threads=t),
            kernels.multi_output_fisher_vector(X, U=U, proba=P, v=v, intercept=True,
                                               n_threads=t),
            kernels.fisher_diagonal(X, v, intercept=True, n_threads=t),
            kernels.multi_output_fisher_diagonal(X, proba=P, intercept=True, n_threads=t),
        ]
    for t in THREADS[1:]:
        for a, b in zip(results[t], results[1]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


def test_set_num_threads_is_used_by_kernels(monkeypatch):
    import ngd
    from ngd._threads import effective_n_threads

    monkeypatch.delenv("NGD_NUM_THREADS", raising=False)
    previous = ngd.set_num_threads(1)
    try:
        assert effective_n_threads(None) == 1
        X = make_X(5000, 4, seed=17)
        v = np.ones(5000)
        ref = kernels.fisher_vector(X, v, np.ones(4), n_threads=3)
        np.testing.assert_allclose(kernels.fisher_vector(X, v, np.ones(4)), ref, rtol=1e-12)
        monkeypatch.setenv("NGD_NUM_THREADS", "2")      # the environment wins
        assert effective_n_threads(None) == 2
        monkeypatch.delenv("NGD_NUM_THREADS")
        assert effective_n_threads(5) == 5               # an explicit count wins
        ngd.set_num_threads(-1)
        assert effective_n_threads(None) == effective_n_threads(-1)
        with pytest.raises(ValueError, match="n_threads"):
            ngd.set_num_threads(0)
        with pytest.raises(TypeError, match="n_threads"):
            ngd.set_num_threads(1.5)
        with pytest.raises(TypeError, match="n_threads"):
            ngd.set_num_threads("2")
    finally:
        ngd.set_num_threads(previous)
    assert "set_num_threads" in ngd.__all__


# --- argument checks -----------------------------------------------------------------------
def test_multi_output_argument_errors():
    X = make_X(20, 3)
    P = np.full((20, 2), 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        kernels.multi_output_gram(X)
    with pytest.raises(ValueError, match="exactly one"):
        kernels.multi_output_gram(X, proba=P, resid=P)
    with pytest.raises(ValueError, match="proba"):
        kernels.multi_output_gram(X, proba=P[:5])
    with pytest.raises(ValueError, match="proba"):
        kernels.multi_output_gram(X, proba=np.where(P > 0, np.nan, 0))
    with pytest.raises(ValueError, match="v"):
        kernels.softmax_fisher(X, P, np.ones(3))
    V = np.random.default_rng(0).standard_normal((20, 2, 2))
    with pytest.raises(ValueError, match="symmetric"):
        kernels.multi_output_gram(X, V)
    with pytest.raises(ValueError, match="V"):
        kernels.multi_output_gram(X, np.ones((20, 2, 3)))
    with pytest.raises(ValueError, match="fold"):
        kernels.multi_output_gram(X, np.ones((20, 2, 2)), v=np.ones(20))
    with pytest.raises(TypeError, match="intercept"):
        kernels.softmax_fisher(X, P, intercept="yes")
    with pytest.raises(ValueError, match="U"):
        kernels.multi_output_fisher_vector(X, U=np.ones((2, 4)), proba=P)
    with pytest.raises(TypeError, match="U"):
        kernels.multi_output_fisher_vector(X, proba=P)
    with pytest.raises(ValueError, match="u"):
        kernels.fisher_vector(X, np.ones(20), np.ones(3), intercept=True)
    with pytest.raises(ValueError, match="v"):
        kernels.fisher_diagonal(X, np.ones(19))
    with pytest.raises(TypeError, match="X"):
        kernels.fisher_diagonal(X.astype(complex), np.ones(20))
    with pytest.raises(ValueError, match="X"):
        kernels.fisher_vector(np.where(X > 0, np.inf, X), np.ones(20), np.ones(3))
