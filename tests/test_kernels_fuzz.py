"""Hypothesis fuzzing of the public kernel wrappers: random shapes (including empty, 1-D and 3-D),
dtypes (float32/64, integers, bool, complex, strings, objects), memory orders and strides,
NaN/inf entries and odd scalars. A wrapper may return a result or raise ValueError/TypeError
(ngd.DataError and numpy's LinAlgError are ValueErrors); anything else (or a crash of the
interpreter) is a bug: bad input must never reach a kernel."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ngd import kernels  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
ALLOWED = (ValueError, TypeError)

DTYPES = [np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex128, np.str_, object]


@st.composite
def arrays(draw, shape=None, max_dim=6, float_bias=True, clean=False):
    """A numpy array of a drawn (or given) shape, dtype and layout, maybe with NaN/inf;
    ``clean``: float32/float64 and finite (a well-formed argument, in any layout)."""
    if shape is None:
        ndim = draw(st.sampled_from([1, 2, 2, 2, 0, 3]))
        shape = tuple(draw(st.integers(0, max_dim)) for _ in range(ndim))
    dtypes = ([np.float64] * 4 + [np.float32] * 2 + DTYPES) if float_bias else DTYPES
    dtype = draw(st.sampled_from([np.float64, np.float32] if clean else dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    a = np.asarray(rng.standard_normal(shape) * 3)
    special = None if clean else draw(st.sampled_from([None, None, None, np.nan, np.inf,
                                                       -np.inf]))
    if special is not None and a.size:
        a.flat[draw(st.integers(0, a.size - 1))] = special
    if dtype is np.str_:
        a = a.astype(str)
    elif dtype is object:
        a = a.astype(object)
    elif np.issubdtype(dtype, np.integer) or dtype is np.bool_:
        a = np.nan_to_num(a, nan=0, posinf=5, neginf=-5).astype(dtype)
    else:
        a = a.astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided", "list"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "list" and a.ndim <= 2 and dtype in (np.float64, np.int64):
        return a.tolist()
    return a


def maybe(draw, shape, good=0.85):
    """Mostly a well-formed float array of ``shape``, otherwise anything (so that most calls
    get past the checks and reach the kernels, and the checks themselves are fuzzed too)."""
    if draw(st.integers(0, 99)) < 100 * good:
        return draw(arrays(shape=shape, clean=True))
    return draw(st.one_of(arrays(shape=shape), arrays()))


def matched(draw, n, p):
    return maybe(draw, (n, p))


bad_scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                        st.integers(-3, 10**20), st.none(), st.text(max_size=3), st.booleans(),
                        st.sampled_from([np.float32(0.5), np.int64(2), 1e-3, 0.0, -1.0]))
scalars = st.one_of(st.sampled_from([1e-3, 0.5, 0.1, 1.0]), st.sampled_from([1e-3, 0.5]),
                    bad_scalars)
threads = st.one_of(st.none(), st.sampled_from([1, 2, 4, None, 1, 2, 4, -1, 0, 10**6, 2.5,
                                                "2", True]))


def call(fn, *args, **kwargs):
    try:
        out = fn(*args, **kwargs)
    except ALLOWED:
        return None
    return out


@st.composite
def problem(draw):
    n = draw(st.integers(1, 6))
    p = draw(st.integers(1, 5))
    return n, p, matched(draw, n, p)


@SETTINGS
@given(problem(), st.data())
def test_fuzz_fisher_kernels(prob, data):
    n, p, X = prob
    intercept = data.draw(st.sampled_from([False, True, False, True, 1, None]))
    v = maybe(data.draw, (n,))
    u = maybe(data.draw, (p + (intercept is True),))
    n_threads = data.draw(threads)
    out = call(kernels.fisher_vector, X, v, u, intercept=intercept, n_threads=n_threads)
    if out is not None:
        assert out.dtype == np.float64 and out.ndim == 1
    call(kernels.fisher_diagonal, X, v, intercept=intercept, n_threads=n_threads)
    call(kernels.weighted_gram, X, v, intercept=intercept, n_threads=n_threads)


@SETTINGS
@given(problem(), st.integers(0, 4), st.data())
def test_fuzz_multi_output_kernels(prob, K, data):
    n, p, X = prob
    which = data.draw(st.sampled_from(["V", "proba", "resid", "proba", "resid", "none", "two"]))
    if which == "V":
        A = maybe(data.draw, (n, K, K))
        if isinstance(A, np.ndarray) and A.shape == (n, K, K) and data.draw(st.booleans()):
            A = A + A.transpose(0, 2, 1)                    # symmetric: a valid V
    else:
        A = maybe(data.draw, (n, K))
    kwargs = {"V": dict(V=A), "proba": dict(proba=A), "resid": dict(resid=A), "none": {},
              "two": dict(proba=A, resid=A)}[which]
    if data.draw(st.booleans()):
        kwargs["v"] = maybe(data.draw, (n,))
    intercept = data.draw(st.sampled_from([False, True]))
    n_threads = data.draw(threads)
    out = call(kernels.multi_output_gram, X, intercept=intercept, n_threads=n_threads,
               **kwargs)
    if out is not None:
        assert out.shape[0] == out.shape[1] and np.array_equal(out, out.T)
    U = maybe(data.draw, (K, p + intercept))
    call(kernels.multi_output_fisher_vector, X, U=U, intercept=intercept, n_threads=n_threads,
         **kwargs)
    call(kernels.multi_output_fisher_diagonal, X, intercept=intercept, **kwargs)
    call(kernels.multi_output_cg_solve, X, g=U, damping=data.draw(scalars),
         intercept=intercept, maxiter=data.draw(st.sampled_from([None, 0, 3, -1, 2.0])),
         **kwargs)


@SETTINGS
@given(problem(), st.data())
def test_fuzz_cg_solve(prob, data):
    n, p, X = prob
    v = maybe(data.draw, (n,))
    g = maybe(data.draw, (p,))
    damping = data.draw(scalars)
    tol = data.draw(st.one_of(st.just(1e-10), scalars))
    maxiter = data.draw(st.one_of(st.none(), st.none(), st.integers(-2, 50),
                                  st.just(10**30), st.just(2.5)))
    x0 = data.draw(st.one_of(st.none(), st.none(), arrays(shape=(p,), clean=True), arrays()))
    pre = data.draw(st.sampled_from(["jacobi", None, "none", "jacobi", "ilu", 3]))
    res = call(kernels.cg_solve, X, v, g, damping, tol, maxiter, x0=x0, preconditioner=pre,
               n_threads=data.draw(threads))
    if res is not None:
        d, info = res
        assert set(info) == {"n_iter", "residual", "converged", "status"}
        assert info["status"] == "breakdown" or np.all(np.isfinite(d))


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 8), st.data())
def test_fuzz_woodbury_and_cholesky(n, p, data):
    G = matched(data.draw, n, p)
    g = maybe(data.draw, (p,))
    call(kernels.woodbury_solve, G, g, data.draw(scalars), n_threads=data.draw(threads))
    F = maybe(data.draw, (p, p))
    res = call(kernels.damped_cholesky, F, data.draw(st.sampled_from([0.0, 1e-3, 1.0])))
    if res is not None:
        b = data.draw(st.one_of(arrays(shape=(p,)), arrays(shape=(p, 3)), arrays(shape=(p, 1)),
                                arrays()))
        call(kernels.cholesky_solve, res[0], b)


@st.composite
def like_theta(draw, theta, shape):
    """An operand for an update of theta: often exactly theta's dtype and layout."""
    a = maybe(draw, shape)
    if (isinstance(a, np.ndarray) and isinstance(theta, np.ndarray) and theta.dtype.kind == "f"
            and a.dtype.kind in "biuf" and draw(st.booleans())):
        a = np.ascontiguousarray(a, dtype=theta.dtype)
    return a


@SETTINGS
@given(st.integers(0, 6), st.data())
def test_fuzz_updates(size, data):
    theta = maybe(data.draw, (size,))
    if isinstance(theta, np.ndarray) and data.draw(st.booleans()):
        theta = np.ascontiguousarray(theta)                 # a valid in-place target
    shape = theta.shape if isinstance(theta, np.ndarray) else (size,)
    like = like_theta(theta, shape)
    d = data.draw(like)
    n_threads = data.draw(threads)
    check = data.draw(st.sampled_from([True, False]))
    call(kernels.axpy_step, theta, d, data.draw(scalars), check_finite=check,
         n_threads=n_threads)
    call(kernels.momentum_step, theta, data.draw(like), d, data.draw(scalars),
         data.draw(scalars), nesterov=data.draw(st.sampled_from([False, True, 0])),
         check_finite=check, n_threads=n_threads)
    call(kernels.adam_step, theta, data.draw(like), data.draw(like), d,
         t=data.draw(st.one_of(st.integers(0, 5), st.integers(-1, 10**20), st.just(1.5))),
         alpha=data.draw(scalars),
         beta1=data.draw(st.sampled_from([0.9, 0.9, 0.0, 1.0, -0.1])),
         second=data.draw(st.one_of(st.none(), like)), power=data.draw(scalars),
         check_finite=check, n_threads=n_threads)
