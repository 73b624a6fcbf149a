"""The chunked backend against the in-memory one on a memory-mapped .npy (out of core).

For each problem, a logistic and a Poisson-log (with an offset) data set is written once to
.npy files in a temporary folder (X, y and the offset memory-mapped), then each backend fits
it in its own child process: ``ngd.fit(X, y, backend=...)`` with default options (standard
errors, deviances and the null deviance included). Reported: the fit loop's time, the whole
call's time, iterations, passes over the data (chunked), the peak ANONYMOUS resident memory of
the child during the call above its level before it (the mapped file's pages are page cache,
not counted), and the largest coefficient difference from the in-memory fit.
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from bench.common import SEED, format_table

PROBLEMS = {"full": [(4_000_000, 50)], "quick": [(100_000, 10)]}
MODELS = ("logistic", "poisson")
BACKENDS = ("numpy", "chunked")

CHILD = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np
    import ngd

    def anonymous():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    folder, model, backend = sys.argv[1:4]
    X = np.load(f"{folder}/X.npy", mmap_mode="r")
    y = np.load(f"{folder}/{model}.y.npy", mmap_mode="r")
    offset = np.load(f"{folder}/offset.npy", mmap_mode="r") if model == "poisson" else None
    base = anonymous()
    peak = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous())
            time.sleep(0.005)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    result = ngd.fit(X, y, model=model, offset=offset, backend=backend)
    total = time.perf_counter() - start
    done.set()
    watcher.join()
    peak[0] = max(peak[0], anonymous())
    print(json.dumps({"fit": result.time, "total": total, "n_iter": int(result.n_iter),
                      "passes": result.get("n_passes"), "peak": peak[0] - base,
                      "converged": bool(result.converged), "x_bytes": int(X.nbytes),
                      "coef": result.coef.tolist(), "intercept": result.intercept,
                      "null_deviance": result.null_deviance}))
""")


def _write_problem(folder, n, p, block=250_000):
    """X ~ N(0, 1) in row blocks; logistic and Poisson responses; the offset log(exposure)."""
    rng = np.random.default_rng(SEED)
    beta = rng.standard_normal(p) / np.sqrt(p)
    X = np.lib.format.open_memmap(os.path.join(folder, "X.npy"), mode="w+", shape=(n, p))
    labels = np.empty(n)
    counts = np.empty(n)
    offset = np.empty(n)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        part = rng.standard_normal((rows.stop - rows.start, p))
        X[rows] = part
        eta = part @ beta
        labels[rows] = rng.random(len(eta)) < 1 / (1 + np.exp(-eta))
        offset[rows] = np.log(rng.uniform(0.5, 2.0, len(eta)))
        counts[rows] = rng.poisson(np.exp(0.3 * eta + offset[rows]))
    X.flush()
    del X
    np.save(os.path.join(folder, "logistic.y.npy"), labels)
    np.save(os.path.join(folder, "poisson.y.npy"), counts)
    np.save(os.path.join(folder, "offset.npy"), offset)


def _child(folder, model, backend):
    out = subprocess.run([sys.executable, "-c", CHILD, folder, model, backend],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip()
                           else f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_suite(quick, log):
    """Records of every (problem, model, backend); failures as messages."""
    records, failures = [], []
    for n, p in PROBLEMS["quick" if quick else "full"]:
        with tempfile.TemporaryDirectory(prefix="ngd-bench-chunked-") as folder:
            _write_problem(folder, n, p)
            for model in MODELS:
                for backend in BACKENDS:
                    label = f"{n}x{p} {model} {backend}"
                    try:
                        value = _child(folder, model, backend)
                    except Exception as exc:              # report, keep the others
                        failures.append(f"{label}: {exc}")
                        log(f"  FAILED {label}: {exc}")
                        continue
                    log(f"  ran  {label}: {value['total']:.2f} s")
                    records.append(dict(benchmark="ChunkedVsNumpy", name="fit", kind="track",
                                        params={"problem": f"{n}x{p}", "model": model,
                                                "backend": backend}, value=value))
    return records, failures


def summarize(records):
    """One table per problem and model: the two backends side by side."""
    groups = {}
    for rec in records:
        if rec.get("benchmark") == "ChunkedVsNumpy":
            params = rec["params"]
            groups.setdefault((params["problem"], params["model"]), {})[params["backend"]] = \
                rec["value"]
    tables = []
    for (problem, model), runs in groups.items():
        reference = runs.get("numpy")
        rows = []
        for backend, value in runs.items():
            diff = max(abs(a - b) for a, b in zip(value["coef"] + [value["intercept"]],
                                                   reference["coef"] + [reference["intercept"]])) \
                if reference else float("nan")
            rows.append([backend, f"{value['fit']:.2f}", f"{value['total']:.2f}",
                         value["n_iter"], value["passes"] if value["passes"] else "-",
                         f"{value['peak'] / 2**20:.0f}",
                         f"{value['peak'] / value['x_bytes']:.3f}", f"{diff:.1e}",
                         "yes" if value["converged"] else "no"])
        title = (f"Out of core: {model} on a memory-mapped {problem} float64 .npy "
                 f"({runs[next(iter(runs))]['x_bytes'] / 2**30:.2f} GiB); peak = anonymous "
                 "memory above the start of the call")
        tables.append((title, format_table(
            ["backend", "fit [s]", "call [s]", "iter", "passes", "peak [MiB]", "peak / X",
             "max |dcoef|", "converged"], rows)))
    return tables
