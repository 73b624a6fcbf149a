"""weighted_gram's two accumulation paths (AVX-512 register tiles, dsyrk/dgemm) against
numpy X^T (v X) to 1e-12 relative: float64/float32 X, C and F order, widths around the
8-column tile padding, n below one row block, p = 1, v with zeros or negative entries, the
intercept column; and bit-identical results for 1 and 2 threads."""
import numpy as np
import pytest

from ngd._kernels import fisher as _fisher

SHAPES = [(1, 1), (5, 1), (17, 3), (40, 8), (300, 9), (1000, 23), (2500, 64), (700, 100),
          (400, 130)]


def gram(X, v, intercept, n_threads, tiles):
    p = X.shape[1]
    out = np.empty((p, p))
    xv = np.empty(p) if intercept else None
    _fisher._weighted_gram(X, v, out, xv, n_threads, tiles)
    return out, xv


def weights(n, kind, rng):
    v = rng.uniform(0.0, 0.25, n)
    if kind == "zeros":
        v[::3] = 0.0
    elif kind == "signed":
        v -= 0.1
    return v


@pytest.mark.parametrize("tiles", [True, False])
@pytest.mark.parametrize("n,p", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("kind", ["positive", "zeros", "signed"])
def test_matches_numpy(tiles, n, p, dtype, order, kind):
    rng = np.random.default_rng(n * 31 + p)
    X = np.asarray(rng.standard_normal((n, p)) + 0.5, dtype=dtype, order=order)
    v = weights(n, kind, rng)
    Xd = X.astype(np.float64)
    ref = Xd.T @ (v[:, None] * Xd)
    bound = (np.abs(Xd).T @ (np.abs(v)[:, None] * np.abs(Xd))).max()
    G, xv = gram(X, v, True, 2, tiles)
    assert np.abs(G - ref).max() <= 1e-12 * bound
    np.testing.assert_array_equal(G, G.T)
    assert np.abs(xv - Xd.T @ v).max() <= 1e-12 * (np.abs(Xd).T @ np.abs(v)).max()
    assert np.abs(gram(X, v, False, 2, tiles)[0] - ref).max() <= 1e-12 * bound


@pytest.mark.parametrize("tiles", [True, False])
@pytest.mark.parametrize("n,p", [(50000, 20), (20000, 100), (3000, 200)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_same_bits_for_every_thread_count(tiles, n, p, order):
    rng = np.random.default_rng(p)
    X = np.asarray(rng.standard_normal((n, p)), order=order)
    v = rng.uniform(0.0, 1.0, n)
    one, xv1 = gram(X, v, True, 1, tiles)
    two, xv2 = gram(X, v, True, 2, tiles)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(xv1, xv2)
