"""Keep the benchmark suite alive: ``python -m bench --quick`` runs every benchmark class once
at its smallest size. No timing assertions: wall-clock numbers live only in bench/ output."""
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not (ROOT / "bench" / "__main__.py").exists(),
                                reason="bench/ is not part of this checkout")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    # A guard against a hung run, not a speed limit: the quick run's 20 peers problems, each
    # in its own process, took 4 min on 2 cores shared with other jobs.
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    return proc, out


def test_quick_run_exits_zero(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "FAILED" not in proc.stdout


def test_quick_run_prints_tables(quick_run):
    proc, _ = quick_run
    for heading in ("BLAS peak reference", "WeightedGram", "LogisticPass", "Logistic solvers"):
        assert heading in proc.stdout, proc.stdout
    for column in ("GFLOP/s", "t/t_ngd", "objective", "gap", "converged"):
        assert column in proc.stdout, proc.stdout
    for solver in ("ngd", "ngd-newton", "ngd-sgd"):
        assert f"\n{solver} " in proc.stdout, proc.stdout


def test_quick_run_writes_json(quick_run, monkeypatch):
    proc, path = quick_run
    data = json.loads(path.read_text())
    machine = data["machine"]
    assert machine["cpu_count"] >= 1
    assert isinstance(machine["threadpool_info"], list)
    assert machine["versions"]["numpy"] and machine["versions"]["ngd"]
    assert machine["dgemm_gflops"]          # measured in the same run
    assert data["quick"] is True and data["failed"] == []

    monkeypatch.syspath_prepend(str(ROOT))
    import bench.__main__ as runner
    from bench import bench_kernels, bench_solvers
    ran = {r["benchmark"] for r in data["records"]}
    for module in (bench_kernels, bench_solvers):
        for cls in runner.discover(module):
            assert cls.__name__ in ran
    timed = [r for r in data["records"] if r["kind"] == "time" and not r.get("skipped")]
    assert timed and all(r["value"] > 0 for r in timed)


def test_ngd_solvers_reach_the_same_objective(quick_run):
    # Not a timing check: NGD (exact Fisher) and Newton are the same iteration for logistic
    # regression, so on the quick problem both must land on the best objective of the run.
    _, path = quick_run
    data = json.loads(path.read_text())
    objective = {(r["params"]["solver"], r["params"]["l2"]): r["value"]
                 for r in data["records"]
                 if r["benchmark"] == "LogisticSolvers" and r["name"] == "track_objective"
                 and not r.get("skipped")}
    for l2 in {key[1] for key in objective}:
        best = min(v for (s, l), v in objective.items() if l == l2)
        for solver in ("ngd", "ngd-newton"):
            assert objective[(solver, l2)] - best < 1e-9


def test_quick_run_compares_peers(quick_run, monkeypatch):
    # bench_peers: every problem has a row (or a skip line) per solver, and every solver that
    # ran has a finite gap; peak RSS (float64 and float32) and thread scaling are reported.
    proc, path = quick_run
    for heading in ("Peers: logistic-dense", "Peers: gamma-log", "Peak RSS of one fit",
                    "Thread scaling of the whole ngd fit", "t/t_ngd", "rel gap"):
        assert heading in proc.stdout, proc.stdout
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.bench_peers import SOLVERS, SPECS
    records = json.loads(path.read_text())["records"]
    rows = [r for r in records if r["benchmark"] == "peers"]
    assert {r["problem"] for r in rows} == set(SPECS)
    for problem in SPECS:
        mine = [r for r in rows if r["problem"] == problem]
        assert sorted(r["solver"] for r in mine) == sorted(SOLVERS)
        ran = [r for r in mine if "skipped" not in r]
        assert "ngd" in {r["solver"] for r in ran}
        for rec in ran:
            # a peer may run past its budget (glum irls-cd on the quick wide sparse Poisson):
            # reported as such; every other run has a finite gap
            if rec["solver"] != "ngd" and (rec["error"] or "").startswith("Timeout"):
                continue
            assert rec["error"] is None and rec["time"] > 0, rec
            assert math.isfinite(rec["gap"]) and rec["gap"] >= 0, rec
            assert f"\n{rec['solver']} " in proc.stdout
    ngd_rows = [r for r in rows if r["solver"] == "ngd"]
    assert all(r["target_met"] for r in ngd_rows)
    memory = [r for r in records if r["benchmark"] == "peers-memory"]
    assert {r["dtype"] for r in memory} == {"float64", "float32"}
    assert all(r["rss_peak"] >= r["rss_before"] > 0 for r in memory)
    threads = [r for r in records if r["benchmark"] == "peers-threads"]
    assert [r["n_threads"] for r in threads][0] == 1 and threads[0]["speedup"] == 1.0


def test_quick_run_includes_categorical_suite(quick_run):
    proc, _ = quick_run
    for model in ("poisson", "gamma"):
        assert f"Categorical: {model} (log link)" in proc.stdout, proc.stdout
    assert "\nngd-onehot " in proc.stdout and "\nngd-dense-onehot " in proc.stdout


def test_kernel_thread_limits_reach_tabmat_openmp():
    """tabmat's wheel loads its own libgomp on import: a kernel benchmark's 1-thread limit must
    reach that copy too, or its "1 thread" row times tabmat on every core."""
    pytest.importorskip("tabmat")
    code = ("from threadpoolctl import threadpool_info\n"
            "from bench import bench_kernels as K\n"
            "K.controller()\n"                      # a controller built before tabmat loads
            "inst = K.WeightedGram()\n"
            "inst.setup('3000x20', 1)\n"
            "pools = [(i['filepath'], i['num_threads']) for i in threadpool_info()\n"
            "         if i['user_api'] == 'openmp']\n"
            "inst.teardown('3000x20', 1)\n"
            "assert any('tabmat' in path for path, _ in pools), pools\n"
            "assert all(n == 1 for _, n in pools), pools\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert proc.returncode == 0, proc.stderr
