"""Fused in-place parameter updates (axpy, momentum, Adam / RMSprop / diagonal Fisher) against
numpy, in float32 and float64, short (serial) and long (OpenMP) vectors, and their checks."""
import numpy as np
import pytest

from ngd import kernels

DTYPES = [np.float64, np.float32]
SIZES = [1, 7, 200003]          # 200003 >= 65536: the OpenMP path, an odd split over threads


def vecs(size, dtype, k, seed=0):
    rng = np.random.default_rng(seed + size)
    return [rng.standard_normal(size).astype(dtype) for _ in range(k)]


def tol(dtype):
    return dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_axpy_step(size, dtype):
    theta, d = vecs(size, dtype, 2)
    ref = theta.astype(np.float64) + 0.3 * d.astype(np.float64)
    out = kernels.axpy_step(theta, d, 0.3, n_threads=2)
    assert out is theta and theta.dtype == dtype
    np.testing.assert_allclose(theta, ref.astype(dtype), **tol(dtype))
    # d of another dtype / layout is converted once; theta keeps its dtype
    kernels.axpy_step(theta, d.astype(np.float64 if dtype == np.float32 else np.float32), -0.3)
    np.testing.assert_allclose(theta, ref - 0.3 * d, **tol(np.float32))


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_momentum_step(size, dtype, nesterov):
    theta, vel, d = vecs(size, dtype, 3, seed=1)
    t64, v64, d64 = (a.astype(np.float64) for a in (theta, vel, d))
    for _ in range(3):
        kernels.momentum_step(theta, vel, d, 0.1, 0.9, nesterov=nesterov, n_threads=2)
        v64 = 0.9 * v64 + d64
        t64 = t64 + 0.1 * ((d64 + 0.9 * v64) if nesterov else v64)
    np.testing.assert_allclose(vel, v64, **tol(dtype))
    np.testing.assert_allclose(theta, t64, **tol(dtype))


@pytest.mark.parametrize("second", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_adam_step(size, dtype, second):
    theta, grad, q = vecs(size, dtype, 3, seed=2)
    q = np.abs(q)
    m = np.zeros(size, dtype)
    s = np.zeros(size, dtype)
    t64, m64, s64 = (a.astype(np.float64) for a in (theta, m, s))
    b1, b2, lr, eps = 0.9, 0.99, 0.01, 1e-8
    for t in range(1, 4):
        g = grad * t
        kernels.adam_step(theta, m, s, g, t=t, alpha=lr, beta1=b1, beta2=b2, eps=eps,
                          second=q if second else None, n_threads=2)
        g64 = g.astype(np.float64)
        m64 = b1 * m64 + (1 - b1) * g64
        s64 = b2 * s64 + (1 - b2) * (q.astype(np.float64) if second else g64 ** 2)
        t64 = t64 - lr * (m64 / (1 - b1 ** t)) / (np.sqrt(s64 / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(m, m64, **tol(dtype))
    np.testing.assert_allclose(s, s64, **tol(dtype))
    np.testing.assert_allclose(theta, t64, rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-5 if dtype == np.float32 else 1e-14)


def test_rmsprop_exponent_one_is_diagonal_empirical_fisher_ngd():
    # natural-gradient.md feature 18: per-sample squared gradients, exponent 1, decay 0, eps 0
    # give the diagonal EF natural-gradient step theta -= alpha g / diag(F_EF).
    rng = np.random.default_rng(3)
    G = rng.standard_normal((50, 8))                   # per-sample gradients
    gbar = G.mean(axis=0)
    diag_ef = (G ** 2).mean(axis=0)
    theta = rng.standard_normal(8)
    expected = theta - 0.5 * gbar / diag_ef
    m, s = np.zeros(8), np.zeros(8)
    kernels.adam_step(theta, m, s, gbar, t=0, alpha=0.5, beta1=0.0, beta2=0.0, eps=0.0,
                      power=1.0, second=diag_ef)
    np.testing.assert_allclose(theta, expected, rtol=1e-14)


def test_adam_power_general_and_multidimensional_theta():
    rng = np.random.default_rng(4)
    theta = rng.standard_normal((3, 4))               # e.g. softmax coef (K, p)
    grad = rng.standard_normal((3, 4))
    m, s = np.zeros((3, 4)), np.zeros((3, 4))
    ref = theta - 0.1 * grad / ((grad ** 2) ** 0.25 + 1e-8)
    kernels.adam_step(theta, m, s, grad, t=1, alpha=0.1, power=0.25)
    np.testing.assert_allclose(theta, ref, rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_independent_of_thread_count(dtype):
    size = 300001
    base = vecs(size, dtype, 4, seed=5)
    results = {}
    for t in (1, 2, 4):
        theta, vel, d, g = (a.copy() for a in base)
        m, s = np.zeros_like(theta), np.zeros_like(theta)
        kernels.axpy_step(theta, d, 0.7, n_threads=t)
        kernels.momentum_step(theta, vel, d, 0.1, 0.5, n_threads=t)
        kernels.adam_step(theta, m, s, g, t=2, n_threads=t)
        results[t] = (theta, vel, m, s)
    for t in (2, 4):
        for a, b in zip(results[t], results[1]):
            np.testing.assert_array_equal(a, b)        # elementwise: bit-identical


def test_update_argument_errors():
    theta = np.zeros(5)
    with pytest.raises(TypeError, match="theta"):
        kernels.axpy_step([0.0] * 5, np.ones(5), 1.0)
    with pytest.raises(TypeError, match="theta"):
        kernels.axpy_step(np.zeros(5, dtype=np.int64), np.ones(5), 1.0)
    with pytest.raises(ValueError, match="theta"):
        kernels.axpy_step(np.zeros(10)[::2], np.ones(5), 1.0)
    ro = np.zeros(5)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="theta"):
        kernels.axpy_step(ro, np.ones(5), 1.0)
    with pytest.raises(ValueError, match="d"):
        kernels.axpy_step(theta, np.ones(4), 1.0)
    with pytest.raises(TypeError, match="d"):
        kernels.axpy_step(theta, np.array(["a"] * 5), 1.0)
    with pytest.raises(TypeError, match="alpha"):
        kernels.axpy_step(theta, np.ones(5), "1")
    with pytest.raises(ValueError, match="alpha"):
        kernels.axpy_step(theta, np.ones(5), np.inf)
    bad = np.ones(5)
    bad[2] = np.nan
    with pytest.raises(ValueError, match="d"):
        kernels.axpy_step(theta, bad, 1.0)
    assert np.all(theta == 0)                          # nothing written on a rejected step
    kernels.axpy_step(theta, bad, 1.0, check_finite=False)
    assert np.isnan(theta[2])
    theta = np.zeros(5)
    with pytest.raises(ValueError, match="velocity"):
        kernels.momentum_step(theta, np.zeros(4), np.ones(5), 0.1)
    with pytest.raises(TypeError, match="velocity"):
        kernels.momentum_step(theta, np.zeros(5, np.float32), np.ones(5), 0.1)
    with pytest.raises(TypeError, match="nesterov"):
        kernels.momentum_step(theta, np.zeros(5), np.ones(5), 0.1, nesterov=1)
    m, s = np.zeros(5), np.zeros(5)
    with pytest.raises(TypeError, match="t"):
        kernels.adam_step(theta, m, s, np.ones(5))
    with pytest.raises(ValueError, match="t"):
        kernels.adam_step(theta, m, s, np.ones(5), t=-1)
    with pytest.raises(ValueError, match="beta1"):
        kernels.adam_step(theta, m, s, np.ones(5), t=1, beta1=1.0)
    with pytest.raises(ValueError, match="eps"):
        kernels.adam_step(theta, m, s, np.ones(5), t=1, eps=-1.0)
    with pytest.raises(ValueError, match="second"):
        kernels.adam_step(theta, m, s, np.ones(5), t=1, second=np.ones(3))
    with pytest.raises(ValueError, match="s"):
        kernels.adam_step(theta, m, np.zeros(6), np.ones(5), t=1)
    empty = np.zeros(0)
    assert kernels.axpy_step(empty, np.zeros(0), 1.0) is empty
