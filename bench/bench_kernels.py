"""Kernels against numpy/SciPy (and tabmat when importable) in the same process (asv-compatible
classes). Every class takes ``n_threads`` (1, 2, 4, ... all usable cores): BLAS (numpy's and
SciPy's copies) and OpenMP pools are limited to it through threadpoolctl in ``setup`` and ngd
receives ``n_threads=n``, so each row of a table is an honest n-thread figure.

- ``Dgemm``: numpy's and SciPy's dgemm on square matrices, the BLAS peak reference of the run
  (ngd's kernels call SciPy's OpenBLAS through cython_blas).
- ``WeightedGram``: X^T diag(v) X at (n, d) = (1e6, 100) and (1e5, 500) against numpy's
  ``(X*sqrt(v)).T @ (X*sqrt(v))`` and two other numpy spellings, and tabmat's
  ``DenseMatrix.sandwich``; GFLOP/s counts n d^2 (the syrk work).
- ``SoftmaxFisher``: the exact softmax Fisher (K d x K d) at (1e5, 50, K = 10) in one pass
  (``multi_output_gram``) against the block-by-block construction (K(K+1)/2 calls of
  ``weighted_gram``) and numpy blocks; GFLOP/s counts n (K d)^2.
- ``LogisticPass``: the fused logistic pass against the numpy expression (the public wrapper
  also checks X for non-finite values, a second pass; the raw kernel row is what a fit pays).
- ``CGSolve``: (X^T diag(v) X + lambda I) d = g at d = 5000 to 1e-8 relative residual,
  matrix-free (``cg_solve``: Jacobi-PCG and plain CG) against SciPy's ``cg`` on a numpy
  LinearOperator and against forming F (``weighted_gram``) plus a Cholesky solve.
- ``WoodburySolve``: (G^T G / n + lambda I)^{-1} g at n = 500, p = 20000 via the n x n system
  (``woodbury_solve``) against forming the p x p matrix and its Cholesky factorisation.

Summary tables give the best time, GFLOP/s and % of the same-thread-count SciPy dgemm peak,
the thread speedup t(1)/t(n) of each implementation, and accuracy/determinism columns.
"""
import contextlib
import functools
import importlib.util

import numpy as np

import ngd.kernels
from bench.common import (blas_limit, controller, format_table, format_time, gaussian_matrix,
                          parse_shape, positive_weights, rel_diff, thread_counts)

THREADS = thread_counts()

try:  # raw kernel entries, to show the cost of the validation boundary (private; optional)
    from ngd._kernels import fisher as _fisher
    from ngd._kernels import fused as _fused
    from ngd._threads import fit_threads as _fit_threads
except ImportError:  # pragma: no cover - layout changed
    _fisher = _fused = None


@functools.lru_cache(maxsize=1)
def _tabmat():
    """The tabmat module, or None (an optional peer: ``pip install tabmat``). Its wheel
    brings its own libgomp, loaded on import: the run's thread controller is rebuilt so
    that the OpenMP limits reach that copy too."""
    if importlib.util.find_spec("tabmat") is None:
        return None
    try:
        import tabmat
    except Exception:          # a broken optional install must not stop the benchmarks
        return None
    controller.cache_clear()
    return tabmat


class _Threaded:
    """setup/teardown that hold BLAS and OpenMP thread limits for one parameter set."""

    def _enter_limit(self, n_threads):
        _tabmat()                 # load the peer's OpenMP runtime before limiting it
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(blas_limit(n_threads))
        # OpenMP pools of peers (tabmat); ngd's own regions get num_threads explicitly
        self._stack.enter_context(controller().limit(limits=int(n_threads), user_api="openmp"))

    def teardown(self, *params):
        stack = getattr(self, "_stack", None)
        if stack is not None:
            stack.close()
            self._stack = None


class Dgemm(_Threaded):
    """C = A B for square float64 A, B: 2 m^3 flops, the peak the kernels are measured against."""
    params = [[2000], THREADS]
    param_names = ["size", "n_threads"]
    quick_params = [[200], THREADS]
    repeat = 5

    def setup(self, size, n_threads):
        rng = np.random.default_rng(0)
        self.A = np.asfortranarray(rng.standard_normal((size, size)))
        self.B = np.asfortranarray(rng.standard_normal((size, size)))
        self.C = np.empty((size, size))
        from scipy.linalg import blas
        self._dgemm = blas.dgemm
        self._enter_limit(n_threads)

    def time_numpy_matmul(self, size, n_threads):
        np.matmul(self.A, self.B, out=self.C)

    def time_scipy_dgemm(self, size, n_threads):
        self._dgemm(1.0, self.A, self.B)

    @staticmethod
    def flops(size, n_threads):
        return 2.0 * size ** 3


class WeightedGram(_Threaded):
    """X^T diag(v) X for float64 X (C order), v > 0 (the exact-Fisher case: dsyrk path)."""
    params = [["1000000x100", "100000x500"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["3000x20", "400x60"], THREADS]
    repeat = 5
    baseline = "time_ngd"

    def setup(self, shape, n_threads):
        n, p = parse_shape(shape)
        self.X = gaussian_matrix(n, p)
        self.v = positive_weights(n)
        self.sqrt_v = np.sqrt(self.v)
        self._enter_limit(n_threads)

    def time_ngd(self, shape, n_threads):
        ngd.kernels.weighted_gram(self.X, self.v, n_threads=n_threads)

    def time_ngd_kernel_only(self, shape, n_threads):
        """The Cython entry without validation (isfinite pass, dtype checks)."""
        if _fisher is None:
            raise NotImplementedError("ngd._kernels.fisher._weighted_gram is not available")
        p = self.X.shape[1]
        out = np.empty((p, p))
        with _fit_threads(n_threads):
            _fisher._weighted_gram(self.X, self.v, out, None, n_threads)

    def time_ngd_dsyrk_path(self, shape, n_threads):
        """The raw kernel forced onto its dsyrk path (the kernel before the register tiles,
        still used without AVX2 and above 256 columns)."""
        if _fisher is None:
            raise NotImplementedError("ngd._kernels.fisher._weighted_gram is not available")
        p = self.X.shape[1]
        out = np.empty((p, p))
        with _fit_threads(n_threads):
            _fisher._weighted_gram(self.X, self.v, out, None, n_threads, False)

    def time_numpy_sqrt_rows(self, shape, n_threads):
        """(X * sqrt(v)).T @ (X * sqrt(v)): the usual numpy spelling of the Fisher."""
        Xs = self.X * self.sqrt_v[:, None]
        Xs.T @ Xs

    def time_numpy_scaled_rows(self, shape, n_threads):
        (self.X * self.v[:, None]).T @ self.X

    def time_numpy_xt_vx(self, shape, n_threads):
        self.X.T @ (self.v[:, None] * self.X)

    def time_tabmat_sandwich(self, shape, n_threads):
        """tabmat.DenseMatrix(X).sandwich(v) (glum's Hessian kernel), when installed."""
        tabmat = _tabmat()
        if tabmat is None:
            raise NotImplementedError("tabmat is not installed")
        if getattr(self, "_tm", None) is None:     # tabmat wants writeable arrays
            self._tm = tabmat.DenseMatrix(np.array(self.X))
            self._tm_v = np.array(self.v)
        self._tm.sandwich(self._tm_v)

    def track_rel_diff_numpy(self, shape, n_threads):
        """max |ngd - numpy| / max |numpy| (float64 rounding level expected)."""
        got = ngd.kernels.weighted_gram(self.X, self.v, n_threads=n_threads)
        return rel_diff(got, self.X.T @ (self.v[:, None] * self.X))

    def track_rel_diff_1thread(self, shape, n_threads):
        """max |G(n threads) - G(1 thread)| / max |G|: 0 under the determinism rule."""
        got = ngd.kernels.weighted_gram(self.X, self.v, n_threads=n_threads)
        ref = ngd.kernels.weighted_gram(self.X, self.v, n_threads=1)
        return rel_diff(got, ref)

    @staticmethod
    def flops(shape, n_threads):
        n, p = parse_shape(shape)
        return float(n) * p * p


class SoftmaxFisher(_Threaded):
    """Exact softmax Fisher sum_i (diag p_i - p_i p_i^T) (x) x_i x_i^T, (K d) x (K d)."""
    params = [["100000x50x10"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["2000x8x3"], THREADS]
    repeat = 3
    baseline = "time_ngd"

    def setup(self, shape, n_threads):
        n, p, K = (int(s) for s in shape.split("x"))
        self.X = gaussian_matrix(n, p)
        rng = np.random.default_rng(5)
        eta = self.X @ (rng.standard_normal((p, K)) / np.sqrt(p))
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        self.P = P / P.sum(axis=1, keepdims=True)
        self.w = np.full(n, 1.0 / n)
        self.K, self.p = K, p
        self._enter_limit(n_threads)

    def _block_weights(self, k, l):
        return self.w * self.P[:, k] * ((1.0 if k == l else 0.0) - self.P[:, l])

    def time_ngd(self, shape, n_threads):
        """One pass over X: multi_output_gram (one dsyrk + one dgemm per class per block)."""
        ngd.kernels.softmax_fisher(self.X, self.P, self.w, n_threads=n_threads)

    def _blockwise(self, gram):
        K, p = self.K, self.p
        F = np.empty((K * p, K * p))
        for k in range(K):
            for l in range(k, K):
                B = gram(self._block_weights(k, l))
                F[k * p:(k + 1) * p, l * p:(l + 1) * p] = B
                if l != k:
                    F[l * p:(l + 1) * p, k * p:(k + 1) * p] = B.T
        return F

    def time_ngd_blockwise(self, shape, n_threads):
        """K(K+1)/2 calls of weighted_gram (X read K(K+1)/2 times)."""
        self._blockwise(lambda v: ngd.kernels.weighted_gram(self.X, v, n_threads=n_threads))

    def time_numpy_blockwise(self, shape, n_threads):
        """K(K+1)/2 numpy products X.T @ (v_kl * X)."""
        self._blockwise(lambda v: self.X.T @ (v[:, None] * self.X))

    def track_rel_diff_blockwise(self, shape, n_threads):
        got = ngd.kernels.softmax_fisher(self.X, self.P, self.w, n_threads=n_threads)
        return rel_diff(got, self._blockwise(lambda v: self.X.T @ (v[:, None] * self.X)))

    def track_rel_diff_1thread(self, shape, n_threads):
        got = ngd.kernels.softmax_fisher(self.X, self.P, self.w, n_threads=n_threads)
        return rel_diff(got, ngd.kernels.softmax_fisher(self.X, self.P, self.w, n_threads=1))

    @staticmethod
    def flops(shape, n_threads):
        n, p, K = (int(s) for s in shape.split("x"))
        return float(n) * (K * p) ** 2


class LogisticPass(_Threaded):
    """One pass for the logistic loss: loss sum, gradient and exact Fisher weights."""
    params = [["200000x100", "20000x500"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["3000x20"], THREADS]
    repeat = 5
    baseline = "time_ngd"

    def setup(self, shape, n_threads):
        n, p = parse_shape(shape)
        self.X = gaussian_matrix(n, p)
        rng = np.random.default_rng(3)
        self.coef = rng.standard_normal(p) / np.sqrt(p)
        self.intercept = 0.1
        self.y = (rng.uniform(size=n) < 0.5).astype(np.float64)
        self._enter_limit(n_threads)

    def time_ngd(self, shape, n_threads):
        ngd.kernels.logistic_pass(self.X, self.coef, self.intercept, self.y, fisher="exact",
                                  n_threads=n_threads)

    def time_ngd_kernel_only(self, shape, n_threads):
        """The Cython entry the model layer calls (no per-call isfinite pass over X)."""
        if _fused is None:
            raise NotImplementedError("ngd._kernels.fused._logistic_pass is not available")
        n, p = self.X.shape
        grad, weights = np.empty(p + 1), np.empty(n)
        with _fit_threads(n_threads):
            _fused._logistic_pass(self.X, self.coef, self.intercept, self.y, None, None,
                                  _fused.FISHER_KINDS["exact"], grad, weights, n_threads)

    def _numpy(self):
        eta = self.X @ self.coef + self.intercept
        prob = 1.0 / (1.0 + np.exp(-eta))
        loss = np.sum(np.logaddexp(0.0, eta) - self.y * eta)
        r = prob - self.y
        return loss, np.append(self.X.T @ r, r.sum()), prob * (1.0 - prob)

    def time_numpy(self, shape, n_threads):
        self._numpy()

    def track_rel_diff_numpy(self, shape, n_threads):
        """Largest relative difference over loss, gradient and weights."""
        got = ngd.kernels.logistic_pass(self.X, self.coef, self.intercept, self.y,
                                        fisher="exact", n_threads=n_threads)
        ref = self._numpy()
        return max(rel_diff(a, b) for a, b in zip(got, ref))

    @staticmethod
    def flops(shape, n_threads):
        n, p = parse_shape(shape)
        return 4.0 * n * p          # two matrix-vector products


class CGSolve(_Threaded):
    """(X^T diag(v) X + lambda I) d = g to 1e-8 relative residual, without forming the Fisher.

    X has AR(1)-correlated columns (rho = 0.5) with scales spread over one decade, v = p(1-p)/n
    logistic weights, lambda = 1e-6. One timed run after no warm-up (each run is seconds)."""
    params = [["10000x5000"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["2000x200"], THREADS]
    repeat = 1
    warmup = 0
    baseline = "time_ngd_cg"
    TOL = 1e-8
    DAMPING = 1e-6

    def setup(self, shape, n_threads):
        n, p = parse_shape(shape)
        rng = np.random.default_rng(11)
        X = rng.standard_normal((n, p))
        for j in range(1, p):
            X[:, j] = 0.5 * X[:, j - 1] + np.sqrt(0.75) * X[:, j]
        X *= 10.0 ** rng.uniform(-0.5, 0.5, p)
        self.X = X
        prob = rng.uniform(0.05, 0.95, n)
        self.v = prob * (1 - prob) / n
        self.g = rng.standard_normal(p)
        self._info = {}
        self._enter_limit(n_threads)

    def _cg(self, n_threads, preconditioner="jacobi"):
        d, info = ngd.kernels.cg_solve(self.X, self.v, self.g, self.DAMPING, tol=self.TOL,
                                       preconditioner=preconditioner, n_threads=n_threads)
        self._info[preconditioner] = (d, info)
        return d, info

    def time_ngd_cg(self, shape, n_threads):
        """Jacobi-preconditioned CG, the operator applied in C (one pass over X each)."""
        self._cg(n_threads)

    def time_ngd_cg_plain(self, shape, n_threads):
        self._cg(n_threads, None)

    def time_scipy_cg(self, shape, n_threads):
        """scipy.sparse.linalg.cg on a numpy LinearOperator X^T (v * (X u)) + lambda u, with the
        same Jacobi preconditioner (two passes over X per product)."""
        from scipy.sparse.linalg import LinearOperator, cg
        X, v, lam = self.X, self.v, self.DAMPING
        p = X.shape[1]
        A = LinearOperator((p, p), matvec=lambda u: X.T @ (v * (X @ u)) + lam * u,
                           dtype=np.float64)
        minv = 1.0 / ((X * X).T @ v + lam)
        M = LinearOperator((p, p), matvec=lambda r: minv * r, dtype=np.float64)
        self._scipy = cg(A, self.g, rtol=self.TOL, maxiter=10 * p, M=M)

    def time_dense_cholesky(self, shape, n_threads):
        """Form F with weighted_gram, then a damped Cholesky solve."""
        F = ngd.kernels.weighted_gram(self.X, self.v, n_threads=n_threads)
        self._dense = ngd.kernels.damped_cholesky_solve(F, self.g, self.DAMPING)[0]

    def track_n_iter(self, shape, n_threads):
        return self._info.get("jacobi", self._cg(n_threads))[1]["n_iter"]

    def track_n_iter_plain(self, shape, n_threads):
        return self._info.get(None, self._cg(n_threads, None))[1]["n_iter"]

    def track_true_residual(self, shape, n_threads):
        """||g - (F + lambda I) d|| / ||g|| recomputed with one Fisher-vector product."""
        d = self._info.get("jacobi", self._cg(n_threads))[0]
        Ad = ngd.kernels.fisher_vector(self.X, self.v, d, n_threads=n_threads) + self.DAMPING * d
        return float(np.linalg.norm(self.g - Ad) / np.linalg.norm(self.g))

    def track_rel_diff_dense(self, shape, n_threads):
        """||d_cg - d_cholesky|| / ||d_cholesky||."""
        d = self._info.get("jacobi", self._cg(n_threads))[0]
        if getattr(self, "_dense", None) is None:
            self.time_dense_cholesky(shape, n_threads)
        return float(np.linalg.norm(d - self._dense) / np.linalg.norm(self._dense))

    @staticmethod
    def flops(shape, n_threads):
        n, p = parse_shape(shape)
        return 4.0 * n * p          # per Fisher-vector product (not per solve)


class WoodburySolve(_Threaded):
    """(G^T G / n + lambda I)^{-1} g for a mini-batch of n per-sample gradients, n << p."""
    params = [["500x20000"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["50x400"], THREADS]
    repeat = 1
    warmup = 0
    baseline = "time_ngd_woodbury"
    DAMPING = 1e-3

    def setup(self, shape, n_threads):
        n, p = parse_shape(shape)
        self.G = gaussian_matrix(n, p, seed=21)
        self.g = self.G.T @ np.full(n, 1.0 / n)           # the mean gradient
        self._enter_limit(n_threads)

    def time_ngd_woodbury(self, shape, n_threads):
        """dsyrk of the n x n Gram, dpotrf/dpotrs, two dgemv: O(n^2 p)."""
        self._wood = ngd.kernels.woodbury_solve(self.G, self.g, self.DAMPING,
                                                n_threads=n_threads)

    def time_dense_cholesky(self, shape, n_threads):
        """Form the p x p matrix G^T G / n (weighted_gram) and factor it: O(n p^2 + p^3 / 3)."""
        F = ngd.kernels.empirical_fisher(self.G, n_threads=n_threads)
        self._dense = ngd.kernels.damped_cholesky_solve(F, self.g, self.DAMPING)[0]

    def track_rel_diff_dense(self, shape, n_threads):
        if getattr(self, "_wood", None) is None:
            self.time_ngd_woodbury(shape, n_threads)
        if getattr(self, "_dense", None) is None:
            self.time_dense_cholesky(shape, n_threads)
        return float(np.linalg.norm(self._wood - self._dense) / np.linalg.norm(self._dense))

    @staticmethod
    def flops(shape, n_threads):
        n, p = parse_shape(shape)
        return float(n) * n * p     # the syrk of the n x n system


# ------------------------------------------------------------------------------- summary --

LABELS = {
    "time_ngd": "ngd.kernels",
    "time_ngd_kernel_only": "ngd (raw kernel)",
    "time_ngd_dsyrk_path": "ngd raw kernel, dsyrk path",
    "time_numpy_sqrt_rows": "numpy (X*sqrt v).T@(X*sqrt v)",
    "time_numpy_scaled_rows": "numpy (X*v).T@X",
    "time_numpy_xt_vx": "numpy X.T@(v*X)",
    "time_tabmat_sandwich": "tabmat sandwich",
    "time_numpy": "numpy",
    "time_numpy_matmul": "numpy matmul",
    "time_scipy_dgemm": "scipy dgemm",
    "time_ngd_blockwise": "ngd weighted_gram x K(K+1)/2",
    "time_numpy_blockwise": "numpy X.T@(v*X) x K(K+1)/2",
    "time_ngd_cg": "ngd cg_solve (Jacobi)",
    "time_ngd_cg_plain": "ngd cg_solve (plain)",
    "time_scipy_cg": "scipy cg + numpy operator",
    "time_dense_cholesky": "form F + Cholesky",
    "time_ngd_woodbury": "ngd woodbury_solve",
}

FLOP_TEXT = {
    "WeightedGram": "GFLOP/s counts n d^2",
    "SoftmaxFisher": "GFLOP/s counts n (K d)^2",
    "LogisticPass": "GFLOP/s counts 4 n d",
    "CGSolve": "GFLOP/s counts 4 n d per Fisher-vector product times the ngd iterations "
               "(only for ngd cg_solve rows)",
    "WoodburySolve": "GFLOP/s counts n^2 p, the n x n syrk (only for the ngd row)",
}

TRACK_COLUMNS = {
    "WeightedGram": [("track_rel_diff_numpy", "diff numpy"),
                     ("track_rel_diff_1thread", "diff 1-thr")],
    "SoftmaxFisher": [("track_rel_diff_blockwise", "diff blockwise"),
                      ("track_rel_diff_1thread", "diff 1-thr")],
    "LogisticPass": [("track_rel_diff_numpy", "diff numpy")],
    "CGSolve": [("track_n_iter", "iters"), ("track_n_iter_plain", "iters plain"),
                ("track_true_residual", "residual"), ("track_rel_diff_dense", "diff dense")],
    "WoodburySolve": [("track_rel_diff_dense", "diff dense")],
}


def dgemm_peak(records):
    """{n_threads: {"numpy": GFLOP/s, "scipy": GFLOP/s}} from this run's Dgemm records."""
    peak = {}
    for rec in records:
        if rec["benchmark"] != "Dgemm" or rec["kind"] != "time" or rec.get("skipped"):
            continue
        gf = Dgemm.flops(**rec["params"]) / rec["value"] / 1e9
        key = "numpy" if rec["name"] == "time_numpy_matmul" else "scipy"
        peak.setdefault(rec["params"]["n_threads"], {})[key] = gf
    return peak


def _fmt_track(name, value):
    if value is None:
        return "-"
    if "n_iter" in name:
        return str(int(value))
    return f"{value:.1e}"


def _class_table(cls, mine, peak):
    groups = {}
    for rec in mine:
        groups.setdefault(tuple(rec["params"].values()), []).append(rec)
    one_thread = {}                    # (shape, implementation) -> time at 1 thread
    parsed = []
    for key, recs in groups.items():
        params = dict(zip(cls.param_names, key))
        times = {r["name"]: r["value"] for r in recs if r["kind"] == "time"
                 and not r.get("skipped")}
        tracks = {r["name"]: r["value"] for r in recs if r["kind"] == "track"
                  and not r.get("skipped")}
        skipped = sorted({r["name"] for r in recs if r.get("skipped")})
        parsed.append((params, times, tracks, skipped))
        if params["n_threads"] == 1:
            for name, t in times.items():
                one_thread[(params["shape"], name)] = t
    rows, notes = [], set()
    tracks_cols = TRACK_COLUMNS.get(cls.__name__, [])
    for params, times, tracks, skipped in parsed:
        base = times.get(cls.baseline)
        flops = cls.flops(**params)
        if cls is CGSolve:
            flops *= tracks.get("track_n_iter") or 0
        ref_peak = peak.get(params["n_threads"], {}).get("scipy")
        for name in skipped:
            if name.startswith("time_"):
                notes.add(f"{LABELS.get(name, name)}: skipped")
        for name, t in times.items():
            # solver flop counts describe ngd's algorithm only
            show_flops = flops > 0 and (cls not in (CGSolve, WoodburySolve)
                                        or name == cls.baseline)
            gf = flops / t / 1e9 if show_flops else None
            t1 = one_thread.get((params["shape"], name))
            row = [params["shape"], params["n_threads"], LABELS.get(name, name), format_time(t),
                   f"{gf:.2f}" if gf else "-",
                   f"{100 * gf / ref_peak:.0f}%" if gf and ref_peak else "-",
                   f"{t1 / t:.2f}" if t1 else "-",
                   f"{t / base:.2f}" if base else "-"]
            row += [_fmt_track(col, tracks.get(col)) if name == cls.baseline else ""
                    for col, _ in tracks_cols]
            rows.append(row)
    title = (f"{cls.__name__}: best time; {FLOP_TEXT[cls.__name__]}; %peak is of scipy dgemm "
             f"at the same thread count; speedup = t(1 thread) / t; t/t_ngd > 1 means ngd is "
             f"faster")
    if notes:
        title += " (" + "; ".join(sorted(notes)) + ")"
    headers = ["shape", "threads", "implementation", "time", "GFLOP/s", "%peak", "speedup",
               "t/t_ngd"] + [label for _, label in tracks_cols]
    return title, format_table(headers, rows, right=set(range(1, len(headers))) - {2})


def summarize(records):
    """Tables (title, text) for the kernel records of one run."""
    peak = dgemm_peak(records)
    tables = []
    rows = [[t, f"{v.get('numpy', float('nan')):.1f}", f"{v.get('scipy', float('nan')):.1f}"]
            for t, v in sorted(peak.items())]
    if rows:
        size = next(r["params"]["size"] for r in records if r["benchmark"] == "Dgemm")
        tables.append((f"BLAS peak reference: dgemm {size}x{size}, GFLOP/s (2 m^3 flops)",
                       format_table(["threads", "numpy", "scipy"], rows)))
    for cls in (WeightedGram, SoftmaxFisher, LogisticPass, CGSolve, WoodburySolve):
        mine = [r for r in records if r["benchmark"] == cls.__name__]
        if mine:
            tables.append(_class_table(cls, mine, peak))
    return tables
