"""Kernels against numpy in the same process (asv-compatible classes).

- ``Dgemm``: numpy's and SciPy's dgemm on square matrices, the BLAS peak reference of the run
  (numpy and SciPy load separate OpenBLAS copies; ngd's kernels call SciPy's).
- ``WeightedGram``: ``ngd.kernels.weighted_gram(X, v)`` against ``(X * v[:, None]).T @ X``
  and ``X.T @ (v[:, None] * X)``; GFLOP/s counts n p^2 (the syrk-equivalent work).
- ``LogisticPass``: ``ngd.kernels.logistic_pass`` against the numpy expression of the same
  loss, gradient and Fisher weights.

Every class takes ``n_threads``: numpy's BLAS is limited to it through threadpoolctl
(``user_api="blas"``) in ``setup`` and ngd receives ``n_threads=n``.
"""
import contextlib

import numpy as np

import ngd.kernels
from bench.common import (blas_limit, format_table, format_time, gaussian_matrix, parse_shape,
                          positive_weights, rel_diff, thread_counts)

THREADS = thread_counts()

try:  # raw kernel entry, to show the cost of the validation boundary (private; optional)
    from ngd._kernels import fisher as _fisher
    from ngd._threads import fit_threads as _fit_threads
except ImportError:  # pragma: no cover - layout changed
    _fisher = None


class _Threaded:
    """setup/teardown that hold a BLAS thread limit for the duration of one parameter set."""

    def _enter_limit(self, n_threads):
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(blas_limit(n_threads))

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
    params = [["200000x100", "20000x500"], THREADS]
    param_names = ["shape", "n_threads"]
    quick_params = [["3000x20", "400x60"], THREADS]
    repeat = 5
    baseline = "time_ngd"

    def setup(self, shape, n_threads):
        n, p = parse_shape(shape)
        self.X = gaussian_matrix(n, p)
        self.v = positive_weights(n)
        self._one_thread = None
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

    def time_numpy_scaled_rows(self, shape, n_threads):
        (self.X * self.v[:, None]).T @ self.X

    def time_numpy_xt_vx(self, shape, n_threads):
        self.X.T @ (self.v[:, None] * self.X)

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


# ------------------------------------------------------------------------------- summary --

LABELS = {
    "time_ngd": "ngd.kernels",
    "time_ngd_kernel_only": "ngd (raw kernel)",
    "time_numpy_scaled_rows": "numpy (X*v).T@X",
    "time_numpy_xt_vx": "numpy X.T@(v*X)",
    "time_numpy": "numpy",
    "time_numpy_matmul": "numpy matmul",
    "time_scipy_dgemm": "scipy dgemm",
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
    for cls in (WeightedGram, LogisticPass):
        mine = [r for r in records if r["benchmark"] == cls.__name__]
        if not mine:
            continue
        groups = {}
        for rec in mine:
            groups.setdefault(tuple(rec["params"].values()), []).append(rec)
        rows = []
        for key, recs in groups.items():
            params = dict(zip(cls.param_names, key))
            times = {r["name"]: r["value"] for r in recs if r["kind"] == "time"
                     and not r.get("skipped")}
            tracks = {r["name"]: r["value"] for r in recs if r["kind"] == "track"
                      and not r.get("skipped")}
            base = times.get(cls.baseline)
            flops = cls.flops(**params)
            ref_peak = peak.get(params["n_threads"], {}).get("scipy")
            for name, t in times.items():
                gf = flops / t / 1e9
                rows.append([
                    params["shape"], params["n_threads"], LABELS.get(name, name),
                    format_time(t), f"{gf:.2f}",
                    f"{100 * gf / ref_peak:.0f}%" if ref_peak else "-",
                    f"{t / base:.2f}" if base else "-",
                    f"{tracks['track_rel_diff_numpy']:.1e}"
                    if name == "time_ngd" and "track_rel_diff_numpy" in tracks else "",
                    f"{tracks['track_rel_diff_1thread']:.1e}"
                    if name == "time_ngd" and "track_rel_diff_1thread" in tracks else "",
                ])
        flop_txt = "n p^2" if cls is WeightedGram else "4 n p"
        title = (f"{cls.__name__}: best time; GFLOP/s counts {flop_txt}; %peak is of scipy "
                 f"dgemm at the same thread count; t/t_ngd > 1 means ngd is faster")
        tables.append((title, format_table(
            ["shape", "threads", "implementation", "time", "GFLOP/s", "%peak", "t/t_ngd",
             "diff numpy", "diff 1-thr"], rows, right={1, 3, 4, 5, 6, 7, 8})))
    return tables
