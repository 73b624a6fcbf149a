"""Shared helpers of the benchmark suite: timing, thread limits, data, objective, machine info.

Threads: numpy and SciPy each load their own OpenBLAS, so BLAS is limited through
threadpoolctl with ``user_api="blas"`` (which governs both copies), never by library prefix.
"""
import contextlib
import functools
import os
import platform
import sys
import time
from importlib import metadata

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

#: Problem and thread settings shared by the suites.
SEED = 0
RHO = 0.7            # AR(1) correlation between neighbouring features of the solver problem


# ---------------------------------------------------------------------------------- timing --

def best_of(fn, repeat=5, warmup=1):
    """(best, all times) of ``fn()`` over ``repeat`` runs after ``warmup`` untimed runs;
    the minimum is the estimate, as in scikit-learn's calibration of its benchmarks."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times


# --------------------------------------------------------------------------------- threads --

def cpu_count():
    """Cores this process may run on (affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_counts(maximum=None):
    """1, 2, 4, ... up to and including ``maximum`` (default: all usable cores)."""
    maximum = maximum or cpu_count()
    counts, n = [], 1
    while n < maximum:
        counts.append(n)
        n *= 2
    counts.append(maximum)
    return counts


@functools.lru_cache(maxsize=1)
def controller():
    """One ThreadpoolController for the whole run (inspecting the libraries is not free)."""
    return ThreadpoolController()


def blas_limit(n_threads):
    """Context manager limiting every loaded BLAS (numpy's and SciPy's copies) to n_threads."""
    if n_threads is None:
        return contextlib.nullcontext()
    return controller().limit(limits=int(n_threads), user_api="blas")


# ------------------------------------------------------------------------------------ data --

def parse_shape(shape):
    """"200000x100" -> (200000, 100)."""
    n, p = str(shape).lower().split("x")
    return int(n), int(p)


@functools.lru_cache(maxsize=2)
def gaussian_matrix(n, p, seed=SEED, dtype="float64"):
    """Standard normal (n, p) matrix, C order (cached; treat as read-only)."""
    X = np.random.default_rng(seed).standard_normal((n, p)).astype(dtype, copy=False)
    X.setflags(write=False)
    return X


@functools.lru_cache(maxsize=2)
def positive_weights(n, seed=SEED):
    """Fisher-like weights p(1 - p) in (0, 1/4] (cached; read-only)."""
    prob = np.random.default_rng(seed + 1).uniform(0.02, 0.98, n)
    v = prob * (1.0 - prob)
    v.setflags(write=False)
    return v


@functools.lru_cache(maxsize=2)
def logistic_problem(n, d, seed=SEED, rho=RHO):
    """Synthetic logistic regression with AR(1)-correlated features (corr(x_j, x_k) =
    rho^|j-k|), a dense true coefficient vector and intercept 0.3. Returns (X, y) read-only."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    scale = np.sqrt(1.0 - rho * rho)
    for j in range(1, d):
        X[:, j] *= scale
        X[:, j] += rho * X[:, j - 1]
    beta = rng.standard_normal(d) * (2.0 / np.sqrt(d))
    eta = X @ beta + 0.3
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def logistic_objective(X, y, coef, intercept, l2):
    """DESIGN.md's objective, in plain numpy for every solver alike:
    (1/n) sum_i [log(1 + exp(eta_i)) - y_i eta_i] + (l2/2) ||coef||^2, eta = X coef + b."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    eta = X @ coef + float(intercept)
    nll = np.logaddexp(0.0, eta) - y * eta
    return float(nll.mean() + 0.5 * l2 * coef @ coef)


def rel_diff(a, b):
    """max |a - b| / max |b| (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.abs(b).max() if b.size else 0.0
    diff = np.abs(a - b).max() if b.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


# -------------------------------------------------------------------------------- machine --

def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(dgemm_gflops=None):
    """CPU, cores, loaded thread pools, versions, OpenMP, and the dgemm GFLOP/s of this run."""
    try:
        from ngd._kernels._openmp import omp_max_threads, openmp_enabled
        openmp = {"enabled": bool(openmp_enabled()), "max_threads": int(omp_max_threads())}
    except ImportError as exc:  # a broken build still gets a report
        openmp = {"enabled": None, "error": str(exc)}
    versions = {name: _version(dist) for name, dist in (
        ("ngd", "ngd"), ("numpy", "numpy"), ("scipy", "scipy"),
        ("threadpoolctl", "threadpoolctl"), ("Cython", "Cython"),
        ("scikit-learn", "scikit-learn"), ("statsmodels", "statsmodels"), ("tabmat", "tabmat"),
        ("glum", "glum"))}
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "usable_cores": cpu_count(),
        "openmp": openmp,
        "threadpool_info": threadpool_info(),
        "versions": versions,
        "dgemm_gflops": dgemm_gflops or {},
    }


# ---------------------------------------------------------------------------------- tables --

def format_time(seconds):
    if seconds is None or not np.isfinite(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def format_table(headers, rows, right=None):
    """Plain-text table; ``right`` names the columns to right-align (default: all but 0)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r]
                                           for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = set(range(1, len(headers))) if right is None else set(right)

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def format_markdown(headers, rows):
    """GitHub-flavoured markdown table (first column left-aligned, the others right);
    ``|`` inside a cell is escaped."""
    def line(cells):
        return "| " + " | ".join(("" if c is None else str(c)).replace("|", "\\|")
                                 for c in cells) + " |"

    rule = "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def _count(value):
    """An iteration or pass count for a table: '-' when unknown (None or negative)."""
    return "-" if value is None or value < 0 else int(value)


def solver_table(solvers, extra=(), converged=True):
    """The table of one problem from {solver: {time_fit, track_n_iter, track_objective,
    track_converged, ...} or {skipped}}: time, iterations, the ``extra`` (header, key) count
    columns, objective, gap to the best objective of the run and (``converged``) whether the
    solver said it converged; skipped solvers as notes below it."""
    finite = [s["track_objective"] for s in solvers.values()
              if np.isfinite(s.get("track_objective", np.nan))]
    best = min(finite) if finite else np.nan
    rows, notes = [], []
    for name, s in solvers.items():
        if "skipped" in s:
            notes.append(f"  {name}: skipped ({s['skipped']})")
            continue
        objective = s.get("track_objective", np.nan)
        rows.append([name, format_time(s.get("time_fit")), _count(s.get("track_n_iter")),
                     *(_count(s.get(key)) for _, key in extra),
                     f"{objective:.12f}", f"{objective - best:.2e}"]
                    + (["yes" if s.get("track_converged") else "no"] if converged else []))
    headers = ["solver", "time", "iter", *(header for header, _ in extra), "objective", "gap"]
    text = format_table(headers + (["converged"] if converged else []), rows)
    return text + ("\n" + "\n".join(notes) if notes else "")


def records_by_problem(records, benchmark, key=lambda params: params["problem"]):
    """{key(params): {solver: {method name: value} or {"skipped": reason}}} for the records
    of one benchmark class."""
    groups = {}
    for rec in (r for r in records if r["benchmark"] == benchmark):
        entry = groups.setdefault(key(rec["params"]), {}).setdefault(rec["params"]["solver"], {})
        if rec.get("skipped"):
            entry["skipped"] = rec["skipped"]
        else:
            entry[rec["name"]] = rec["value"]
    return groups
