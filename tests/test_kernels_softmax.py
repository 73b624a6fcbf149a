"""ngd.kernels.softmax_pass: the fused softmax pass against numpy, in every storage layout."""
import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from ngd.kernels import softmax_pass


def reference(X, W, b, codes, w):
    """(loss sum, gradient (K, p + 1), P) in numpy."""
    X = X.astype(np.float64)
    eta = X @ W.T + b
    P = softmax(eta, axis=1)
    R = w[:, None] * (P - np.eye(W.shape[0])[codes])
    loss = float(w @ (logsumexp(eta, axis=1) - eta[np.arange(X.shape[0]), codes]))
    return loss, np.column_stack([R.T @ X, R.sum(axis=0)]), P


def problem(n, p, K, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, p)), rng.standard_normal((K, p)) * scale,
            rng.standard_normal(K), rng.integers(0, K, n), rng.uniform(0.5, 2.0, n))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(1, 3, 2), (7, 1, 3), (1000, 7, 4), (20_000, 30, 10)],
                         ids=lambda s: "x".join(map(str, s)))
def test_matches_numpy(dtype, order, shape):
    X, W, b, codes, w = problem(*shape)
    X = np.asarray(X, dtype=dtype, order=order)
    loss, grad, P = softmax_pass(X, W, b, codes, w, n_threads=2)
    ref_loss, ref_grad, ref_P = reference(X, W, b, codes, w)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(P, ref_P, rtol=1e-12, atol=1e-15)


def test_unit_weights_by_default_and_no_probabilities_on_request():
    X, W, b, codes, _ = problem(500, 4, 3, seed=1)
    loss, grad, P = softmax_pass(X, W, b, codes, proba=False)
    ref_loss, ref_grad, _ = reference(X, W, b, codes, np.ones(500))
    assert P is None
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-11)


def test_results_do_not_depend_on_the_thread_count():
    X, W, b, codes, w = problem(50_000, 12, 5, seed=2)
    one = softmax_pass(X, W, b, codes, w, n_threads=1)
    two = softmax_pass(X, W, b, codes, w, n_threads=2)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(one[2], two[2])


def test_huge_logits_neither_overflow_nor_give_nan():
    X, W, b, codes, w = problem(300, 5, 4, seed=3, scale=1e3)
    loss, grad, P = softmax_pass(X, W, b, codes, w)
    assert np.isfinite(loss) and np.isfinite(grad).all() and np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    ref_loss, ref_grad, _ = reference(X, W, b, codes, w)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (dict(codes=np.array([0, 1, 3])), "codes must lie in 0 .. 2"),
    (dict(codes=np.array([0, -1, 2])), "codes must lie in 0 .. 2"),
    (dict(codes=np.array([0, 1])), "codes must have shape"),
    (dict(W=np.ones((3, 4))), "coef must have shape"),
    (dict(W=np.ones(2)), "coef must have shape"),
    (dict(b=np.ones(2)), "intercept"),
    (dict(W=np.full((3, 2), np.inf)), "finite"),
])
def test_bad_arguments_are_one_line_errors(change, message):
    args = dict(X=np.ones((3, 2)), W=np.zeros((3, 2)), b=np.zeros(3), codes=np.array([0, 1, 2]))
    args.update(change)
    with pytest.raises(ValueError, match=message):
        softmax_pass(args["X"], args["W"], args["b"], args["codes"])
