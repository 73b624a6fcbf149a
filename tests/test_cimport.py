"""Downstream build: a third-party extension cimports ngd's C API (``ngd/kernels.pxd``):
the version-1 kernels plus fisher_vector, cg_solve, multi_output_gram and axpy_step (version
2), the CSR kernels csr_multi_output_gram and csr_matmat (version 3), level_sums (4),
softmax_pass (5) and csr_cg_solve (6).

The extension is written into ``tmp_path``, cythonized with ``include_path=[ngd.get_include()]``
(required for editable installs, harmless otherwise), built in a subprocess, loaded from its
file with importlib, and compared with numpy. It links no BLAS of its own: the kernels are
reached through the ``__pyx_capi__`` capsules of ngd's compiled modules.
"""
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits


PYX = '''
# cython: language_level=3, boundscheck=False, wraparound=False
from libc.stdint cimport int32_t, int64_t
from ngd.kernels cimport (weighted_gram, damped_cholesky, cholesky_solve, logistic_pass,
                          FISHER_EXACT, NGD_CAPI_VERSION, fisher_vector, cg_solve,
                          CG_CONVERGED, multi_output_gram, WEIGHTS_SOFTMAX, axpy_step,
                          csr_multi_output_gram, csr_matmat, level_sums, softmax_pass,
                          csr_cg_solve, CSR_CG_DONE)

CAPI_VERSION = NGD_CAPI_VERSION


def gram(const double[:, ::1] X, const double[::1] v, double[:, ::1] out,
         double[::1] xv, int n_threads):
    """X^T diag(v) X (and X^T v) for a C-ordered float64 X."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef int status
    with nogil:
        status = weighted_gram(&X[0, 0], n, p, p, True, &v[0], &out[0, 0], &xv[0], n_threads)
    return status


def gram_f32_fortran(const float[::1, :] X, const double[::1] v, double[:, ::1] out,
                     int n_threads):
    """The float specialisation, on a column-major float32 X (ldx = n), no X^T v."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef int status
    with nogil:
        status = weighted_gram(&X[0, 0], n, p, n, False, &v[0], &out[0, 0], NULL, n_threads)
    return status


def solve(const double[:, ::1] F, double damping, double[::1] b):
    """b <- (F + lambda I)^{-1} b; returns (escalations, lambda used, LAPACK info)."""
    cdef Py_ssize_t p = F.shape[0]
    cdef double[:, ::1] factor = F.copy()
    cdef double used = damping
    cdef int escalations, info = -99
    with nogil:
        escalations = damped_cholesky(&F[0, 0], p, damping, &factor[0, 0], &used, 50)
        if escalations >= 0:
            info = cholesky_solve(&factor[0, 0], p, &b[0], 1)
    return escalations, used, info


def logistic(const double[:, ::1] X, const double[::1] coef, double intercept,
             const double[::1] y, double[::1] grad, double[::1] weights, int n_threads):
    """Loss sum, gradient [X^T r, sum r] and exact Fisher weights of the logistic NLL."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef double loss = 0.0
    cdef int status
    with nogil:
        status = logistic_pass(&X[0, 0], n, p, p, True, &coef[0], intercept, &y[0], NULL,
                               NULL, FISHER_EXACT, &loss, &grad[0], &weights[0], n_threads)
    return status, loss


def fvp(const double[:, ::1] X, const double[::1] v, const double[::1] u, double[::1] out,
        int n_threads):
    """X^T (v * (X u)) without forming the Fisher."""
    cdef int status
    with nogil:
        status = fisher_vector(&X[0, 0], X.shape[0], X.shape[1], X.shape[1], True, False,
                               &v[0], &u[0], &out[0], n_threads)
    return status


def cg(const float[::1, :] X, const double[::1] v, const double[::1] g, double damping,
       double[::1] x, int n_threads):
    """Jacobi-PCG on (X1^T diag(v) X1 + damping I) x = g for a column-major float32 X with an
    intercept column; returns (status, converged flag, n_iter, residual)."""
    cdef Py_ssize_t n_iter = 0
    cdef double residual = 0.0
    cdef int status
    with nogil:
        status = cg_solve(&X[0, 0], X.shape[0], X.shape[1], X.shape[0], False, True, &v[0],
                          &g[0], damping, 1e-12, 1000, True, False, &x[0], &n_iter,
                          &residual, n_threads)
    return status, status == CG_CONVERGED, n_iter, residual


def softmax_gram(const double[:, ::1] X, Py_ssize_t K, const double[:, ::1] P,
                 double[:, ::1] out, int n_threads):
    """Softmax exact Fisher sum_i (diag p_i - p_i p_i^T) (x) x_i x_i^T, class-major."""
    cdef int status
    with nogil:
        status = multi_output_gram(&X[0, 0], X.shape[0], X.shape[1], X.shape[1], True, False,
                                   K, WEIGHTS_SOFTMAX, &P[0, 0], K, NULL, &out[0, 0],
                                   n_threads)
    return status


def softmax(const double[:, ::1] X, const double[:, ::1] W, const double[::1] b,
            const Py_ssize_t[::1] codes, double[:, ::1] grad, double[:, ::1] P, int n_threads):
    """Softmax loss sum, gradient (K, p + 1) and probabilities in one pass."""
    cdef double loss = 0.0
    cdef int status
    with nogil:
        status = softmax_pass(&X[0, 0], X.shape[0], X.shape[1], X.shape[1], True, W.shape[0],
                              &W[0, 0], &b[0], &codes[0], NULL, &loss, &grad[0, 0], &P[0, 0],
                              n_threads)
    return status, loss


def step(double[::1] theta, const double[::1] d, double alpha):
    with nogil:
        axpy_step(&theta[0], &d[0], theta.shape[0], alpha, 1)


def csr_gram(const double[::1] data, const int32_t[::1] indices, const int32_t[::1] indptr,
             Py_ssize_t p, Py_ssize_t K, const double[:, ::1] V, double[:, ::1] out,
             int n_threads):
    """sum_i V_i (x) [x_i, 1] [x_i, 1]^T for a float64 / int32 CSR X, V packed (n, K(K+1)/2)."""
    cdef int status
    with nogil:
        status = csr_multi_output_gram(&data[0], &indices[0], &indptr[0], indptr.shape[0] - 1,
                                       p, True, K, &V[0, 0], &out[0, 0], n_threads)
    return status


def csr_cg(const double[::1] data, const int32_t[::1] indices, const int32_t[::1] indptr,
           Py_ssize_t p, const double[::1] v, const double[::1] shift,
           const double[::1] minv, const double[::1] g, double threshold, double[::1] x,
           int n_threads):
    """PCG on ([X, 1]^T diag(v) [X, 1] + diag(shift)) x = g for a float64 / int32 CSR X."""
    cdef Py_ssize_t n_iter = 0
    cdef double residual = 0.0
    cdef int status
    with nogil:
        status = csr_cg_solve(&data[0], &indices[0], &indptr[0], indptr.shape[0] - 1, p, True,
                              &v[0], &shift[0], &minv[0], &g[0], threshold, 1000, &x[0],
                              &n_iter, &residual, n_threads)
    return status == CSR_CG_DONE, n_iter, residual


def levels(const int32_t[::1] codes, const double[::1] v, double[::1] out, int n_threads):
    """Weighted level counts of categorical codes (-1 skipped)."""
    cdef int status
    with nogil:
        status = level_sums(&codes[0], codes.shape[0], &v[0], out.shape[0], &out[0],
                            n_threads)
    return status


def csr_product(const float[::1] data, const int64_t[::1] indices, const int64_t[::1] indptr,
                const double[:, ::1] B, const double[::1] shift, double[:, ::1] out,
                int n_threads):
    """X B + shift for a float32 / int64 CSR X."""
    cdef int status
    with nogil:
        status = csr_matmat(&data[0], &indices[0], &indptr[0], indptr.shape[0] - 1, B.shape[1],
                            &B[0, 0], &shift[0], &out[0, 0], n_threads)
    return status
'''

SETUP = '''
import sys

import ngd
from Cython.Build import cythonize
from setuptools import Extension, setup

# No BLAS, no OpenMP, no numpy headers: the kernels come through ngd's __pyx_capi__ capsules.
ext = Extension("ngd_downstream", ["ngd_downstream.pyx"],
                extra_compile_args=[] if sys.platform == "win32" else ["-O0"])
setup(name="ngd_downstream",
      ext_modules=cythonize([ext], include_path=[ngd.get_include()], quiet=True,
                            compiler_directives={"language_level": 3}))
'''


def _compiler():
    cc = (sysconfig.get_config_var("CC") or "").split()
    candidates = ([cc[0]] if cc else []) + ["cc", "gcc", "clang"]
    return next((shutil.which(c) for c in candidates if shutil.which(c)), None)


@pytest.fixture(scope="module")
def downstream(tmp_path_factory):
    pytest.importorskip("Cython", reason="Cython is needed to build a downstream extension")
    if _compiler() is None:
        pytest.skip("no C compiler found (cc, gcc or clang) to build a downstream extension")
    build = tmp_path_factory.mktemp("downstream")
    (build / "ngd_downstream.pyx").write_text(textwrap.dedent(PYX))
    (build / "setup.py").write_text(textwrap.dedent(SETUP))
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=build,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"downstream build failed:\n{proc.stdout}\n{proc.stderr}"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    so = build / f"ngd_downstream{suffix}"
    assert so.exists(), sorted(p.name for p in build.iterdir())
    spec = importlib.util.spec_from_file_location("ngd_downstream", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_downstream_links_no_blas(downstream):
    ldd = shutil.which("ldd")
    if ldd is None or not sys.platform.startswith("linux"):
        pytest.skip("ldd is only used on Linux")
    libs = subprocess.run([ldd, downstream.__file__], capture_output=True, text=True).stdout
    assert not any(word in libs.lower() for word in ("blas", "lapack", "gomp")), libs


def test_capi_version(downstream):
    assert downstream.CAPI_VERSION == 6


def test_softmax_pass_through_capi(downstream):
    rng = np.random.default_rng(4)
    n, p, K = 700, 5, 4
    X = rng.standard_normal((n, p))
    W, b = rng.standard_normal((K, p)), rng.standard_normal(K)
    codes = rng.integers(0, K, n).astype(np.intp)
    grad, P = np.full((K, p + 1), np.nan), np.full((n, K), np.nan)
    with threadpool_limits(limits=1, user_api="blas"):
        status, loss = downstream.softmax(X, W, b, codes, grad, P, 2)
    assert status == 0
    eta = X @ W.T + b
    top = eta.max(axis=1, keepdims=True)
    proba = np.exp(eta - top) / np.exp(eta - top).sum(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    R = proba - np.eye(K)[codes]
    np.testing.assert_allclose(loss, np.sum(lse - eta[np.arange(n), codes]), rtol=1e-13)
    np.testing.assert_allclose(P, proba, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad, np.column_stack([R.T @ X, R.sum(axis=0)]), rtol=1e-12,
                               atol=1e-11)


def test_level_sums_through_capi(downstream):
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 9, 500).astype(np.int32)
    v = rng.random(500)
    out = np.full(9, np.nan)
    assert downstream.levels(codes, v, out, 2) == 0
    keep = codes >= 0
    np.testing.assert_allclose(out, np.bincount(codes[keep], v[keep], minlength=9), rtol=1e-14)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_weighted_gram_matches_numpy(downstream, n_threads):
    rng = np.random.default_rng(0)
    n, p = 1000, 7
    X = rng.standard_normal((n, p))
    v = rng.uniform(0.1, 1.0, n)
    out = np.full((p, p), np.nan)
    xv = np.full(p, np.nan)
    # The caller owns the threading contract: BLAS single-threaded around an OpenMP kernel.
    with threadpool_limits(limits=1, user_api="blas"):
        assert downstream.gram(X, v, out, xv, n_threads) == 0
    np.testing.assert_allclose(out, X.T @ (v[:, None] * X), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(xv, X.T @ v, rtol=1e-12, atol=1e-10)


def test_weighted_gram_negative_weights(downstream):
    # Some v_i < 0 takes the dgemm branch instead of dsyrk.
    rng = np.random.default_rng(1)
    n, p = 500, 5
    X = rng.standard_normal((n, p))
    v = rng.standard_normal(n)
    out = np.empty((p, p))
    xv = np.empty(p)
    assert downstream.gram(X, v, out, xv, 1) == 0
    np.testing.assert_allclose(out, X.T @ (v[:, None] * X), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xv, X.T @ v, rtol=1e-10, atol=1e-10)


def test_weighted_gram_float32_fortran(downstream):
    rng = np.random.default_rng(2)
    n, p = 800, 6
    X = np.asfortranarray(rng.standard_normal((n, p)).astype(np.float32))
    v = rng.uniform(0.1, 1.0, n)
    out = np.empty((p, p))
    with threadpool_limits(limits=1, user_api="blas"):
        assert downstream.gram_f32_fortran(X, v, out, 2) == 0
    X64 = X.astype(np.float64)   # the kernel accumulates in float64
    np.testing.assert_allclose(out, X64.T @ (v[:, None] * X64), rtol=1e-10, atol=1e-8)


def test_damped_cholesky_solve_matches_numpy(downstream):
    rng = np.random.default_rng(3)
    p = 9
    A = rng.standard_normal((40, p))
    F = A.T @ A / 40
    g = rng.standard_normal(p)
    b = g.copy()
    escalations, used, info = downstream.solve(F, 0.1, b)
    assert (escalations, used, info) == (0, 0.1, 0)
    np.testing.assert_allclose(b, np.linalg.solve(F + 0.1 * np.eye(p), g), rtol=1e-10)


def test_damped_cholesky_escalates_on_singular(downstream):
    p = 4
    u = np.arange(1.0, p + 1)
    F = np.outer(u, u)                       # rank one: needs damping
    g = np.ones(p)
    b = g.copy()
    escalations, used, info = downstream.solve(F, 0.0, b)
    assert escalations > 0 and used > 0 and info == 0
    # lambda is tiny (about 1e-10 trace/p), so compare backward errors, not solutions.
    A = F + used * np.eye(p)
    backward = np.linalg.norm(A @ b - g) / (np.linalg.norm(A, 2) * np.linalg.norm(b))
    assert backward < 1e-12


def test_logistic_pass_matches_numpy(downstream):
    rng = np.random.default_rng(4)
    n, p = 600, 5
    X = rng.standard_normal((n, p))
    coef = 0.3 * rng.standard_normal(p)
    intercept = -0.2
    y = (rng.uniform(size=n) < 0.4).astype(np.float64)
    grad = np.empty(p + 1)
    weights = np.empty(n)
    with threadpool_limits(limits=1, user_api="blas"):
        status, loss = downstream.logistic(X, coef, intercept, y, grad, weights, 2)
    assert status == 0
    eta = X @ coef + intercept
    prob = 1.0 / (1.0 + np.exp(-eta))
    np.testing.assert_allclose(loss, np.sum(np.logaddexp(0.0, eta) - y * eta), rtol=1e-12)
    r = prob - y
    np.testing.assert_allclose(grad, np.append(X.T @ r, r.sum()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, prob * (1 - prob), rtol=1e-10)


def test_fisher_vector_matches_numpy(downstream):
    rng = np.random.default_rng(5)
    n, p = 900, 11
    X = rng.standard_normal((n, p))
    v = rng.uniform(0.1, 1.0, n)
    u = rng.standard_normal(p)
    out = np.full(p, np.nan)
    with threadpool_limits(limits=1, user_api="blas"):
        assert downstream.fvp(X, v, u, out, 2) == 0
    np.testing.assert_allclose(out, X.T @ (v * (X @ u)), rtol=1e-12, atol=1e-10)


def test_cg_solve_float32_intercept(downstream):
    rng = np.random.default_rng(6)
    n, p = 700, 6
    X = np.asfortranarray(rng.standard_normal((n, p)).astype(np.float32))
    v = rng.uniform(0.1, 1.0, n) / n
    g = rng.standard_normal(p + 1)
    x = np.full(p + 1, np.nan)
    with threadpool_limits(limits=1, user_api="blas"):
        status, converged, n_iter, residual = downstream.cg(X, v, g, 1e-3, x, 2)
    assert status == 0 and converged and 0 < n_iter <= 1000 and residual <= 1e-12
    X1 = np.column_stack([X.astype(np.float64), np.ones(n)])
    F = X1.T @ (v[:, None] * X1) + 1e-3 * np.eye(p + 1)
    np.testing.assert_allclose(x, np.linalg.solve(F, g), rtol=1e-9, atol=1e-9)


def test_softmax_gram_and_axpy(downstream):
    rng = np.random.default_rng(7)
    n, p, K = 400, 5, 3
    X = rng.standard_normal((n, p))
    P = rng.dirichlet(np.ones(K), size=n)
    out = np.empty((K * p, K * p))
    with threadpool_limits(limits=1, user_api="blas"):
        assert downstream.softmax_gram(X, K, P, out, 2) == 0
    ref = sum(np.kron(np.diag(P[i]) - np.outer(P[i], P[i]), np.outer(X[i], X[i]))
              for i in range(n))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    theta = np.ones(4)
    downstream.step(theta, np.arange(4.0), 0.5)
    np.testing.assert_array_equal(theta, 1 + 0.5 * np.arange(4.0))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_csr_softmax_gram_and_product(downstream, n_threads):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(8)
    n, p, K = 3000, 6, 3
    X = sp.random(n, p, density=0.4, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    P = rng.dirichlet(np.ones(K), size=n)
    k, l = np.triu_indices(K)
    V = np.ascontiguousarray(P[:, k] * ((k == l) - P[:, l]))
    out = np.full((K * (p + 1), K * (p + 1)), np.nan)
    assert downstream.csr_gram(X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32),
                               p, K, V, out, n_threads) == 0
    X1 = np.column_stack([X.toarray(), np.ones(n)])
    ref = sum(np.kron(np.diag(P[i]) - np.outer(P[i], P[i]), np.outer(X1[i], X1[i]))
              for i in range(n))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    B = rng.standard_normal((p, K))
    shift = rng.standard_normal(K)
    product = np.full((n, K), np.nan)
    data32 = X.data.astype(np.float32)
    assert downstream.csr_product(data32, X.indices.astype(np.int64), X.indptr.astype(np.int64),
                                  B, shift, product, n_threads) == 0
    X32 = sp.csr_matrix((data32, X.indices, X.indptr), shape=X.shape).toarray()
    np.testing.assert_allclose(product, X32.astype(np.float64) @ B + shift, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_csr_cg_solve_through_capi(downstream, n_threads):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(9)
    n, p = 400, 30
    X = sp.random(n, p, density=0.2, format="csr", random_state=rng)
    v = rng.uniform(0.1, 1.0, n)
    shift = np.append(np.full(p, 1e-2), 1e-8)
    X1 = np.column_stack([X.toarray(), np.ones(n)])
    A = X1.T @ (v[:, None] * X1) + np.diag(shift)
    g = rng.standard_normal(p + 1)
    x = np.full(p + 1, np.nan)
    done, n_iter, residual = downstream.csr_cg(
        X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32), p, v, shift,
        1.0 / np.diag(A), g, 1e-12 * np.linalg.norm(g), x, n_threads)
    assert done and 0 < n_iter < 1000
    np.testing.assert_allclose(x, np.linalg.solve(A, g), rtol=1e-8)
    assert residual == pytest.approx(np.linalg.norm(g - A @ x), rel=1e-3, abs=1e-13)
