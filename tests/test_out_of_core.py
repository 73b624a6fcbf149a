"""Out of core: no X-sized temporaries in the fit path, checked with tracemalloc and with an
address-space limit on a subprocess that fits a memory-mapped .npy."""
import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from ngd._validation import as_matrix
from ngd.exceptions import DataError

resource = pytest.importorskip("resource", reason="the resource module is POSIX only")


def test_finite_check_finds_nan_in_last_block_without_x_sized_temporary():
    X = np.ones((1_200_000, 8))            # 77 MB: five 16 MB row blocks
    X[-1, 5] = np.nan
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"non-finite value \(nan\) at row 1199999, "
                                            r"column 5"):
            as_matrix(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # an np.isfinite(X) over all of X would take X.nbytes / 8 (9.6 MB); a block takes 2 MB
    assert peak < X.nbytes / 16


def test_memory_mapped_x_is_not_copied(tmp_path):
    np.save(tmp_path / "X.npy", np.arange(12.0).reshape(4, 3))
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert np.shares_memory(as_matrix(X), X)


CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from ngd.cli.main import main

    def address_space():
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmSize:"))
        return int(line.split()[1]) * 1024

    path, what, headroom, backend, threads = sys.argv[1:3] + [int(sys.argv[3])] + sys.argv[4:6]
    mapped = np.load(path, mmap_mode="r").nbytes        # the mapping counts in RLIMIT_AS
    limit = address_space() + mapped + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if what == "copy":
        np.array(np.load(path, mmap_mode="r"))
    else:
        sys.argv = ["ngd", "fit", path, "--model", "logistic", "--no-compare", "--json",
                    "--backend", backend, "--threads", threads]
        main()
""")


def _child(path, what, headroom, backend="auto", threads=2):
    return subprocess.run([sys.executable, "-c", CHILD, str(path), what, str(headroom),
                           backend, str(threads)], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS") or not sys.platform.startswith("linux"),
                    reason="needs RLIMIT_AS and /proc/self/status (Linux)")
def test_fit_of_memory_mapped_npy_under_an_address_space_limit(tmp_path):
    """The limit is the child's address space after its imports, plus the mapping of X, plus
    320 MB: ngd fit succeeds under it, and a copy of X (600 MB) under the same limit fails."""
    n, p = 300_000, 250
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", shape=(n, p))
    beta = rng.normal(size=p) * 0.05
    y = np.empty(n)
    for start in range(0, n, 25_000):
        block = rng.standard_normal((25_000, p))
        X[start:start + 25_000] = block
        y[start:start + 25_000] = rng.random(25_000) < 1 / (1 + np.exp(-block @ beta))
    X.flush()
    del X
    np.save(tmp_path / "big.y.npy", y)
    headroom = 320 << 20
    copy = _child(tmp_path / "big.npy", "copy", headroom)
    assert copy.returncode != 0 and "MemoryError" in copy.stderr   # the limit has teeth
    fit = _child(tmp_path / "big.npy", "fit", headroom)
    assert fit.returncode == 0, fit.stderr
    report = json.loads(fit.stdout)
    assert report["converged"] and report["data"]["n_samples"] == n


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS") or not sys.platform.startswith("linux"),
                    reason="needs RLIMIT_AS and /proc/self/status (Linux)")
def test_chunked_fit_needs_neither_x_nor_length_n_vectors_in_memory(tmp_path):
    """A tall, narrow memory-mapped X (8e6 x 4: 256 MB, y 64 MB) under a limit of the mapping
    plus 200 MB: the in-memory backend needs several length-n float64 vectors (labels, curvature
    weights, linear predictor: 64 MB each) and fails; the chunked backend, whose memory is one
    chunk's temporaries plus p x p sums, fits. One thread: RLIMIT_AS counts address space, and
    each extra thread reserves a stack and BLAS buffers it never touches."""
    n, p = 8_000_000, 4
    rng = np.random.default_rng(1)
    X = np.lib.format.open_memmap(tmp_path / "tall.npy", mode="w+", shape=(n, p))
    y = np.lib.format.open_memmap(tmp_path / "tall.y.npy", mode="w+", shape=(n,))
    beta = np.array([0.5, -0.25, 0.1, 0.0])
    for start in range(0, n, 1_000_000):
        block = rng.standard_normal((1_000_000, p))
        X[start:start + 1_000_000] = block
        y[start:start + 1_000_000] = rng.random(1_000_000) < 1 / (1 + np.exp(-block @ beta))
    X.flush()
    y.flush()
    del X, y
    headroom = (200 << 20) + (64 << 20)             # + the memory-mapped y
    in_memory = _child(tmp_path / "tall.npy", "fit", headroom, backend="numpy", threads=1)
    assert in_memory.returncode != 0 and "MemoryError" in in_memory.stderr   # it has teeth
    fit = _child(tmp_path / "tall.npy", "fit", headroom, backend="chunked", threads=1)
    assert fit.returncode == 0, fit.stderr
    report = json.loads(fit.stdout)
    assert report["backend"] == "chunked" and report["converged"]
    assert report["data"]["n_samples"] == n
    estimates = [row["estimate"] for row in report["coefficients"][1:]]
    np.testing.assert_allclose(estimates, beta, atol=5e-3)
