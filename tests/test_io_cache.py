"""The CSV -> binary cache of ngd.io.cache: same data and fit as the CSV, reused while the
CSV is unchanged, rebuilt when it changes or when the cache is damaged."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import ngd
from ngd.cli.main import cli
from ngd.exceptions import DataError
from ngd.io import read_csv
from ngd.io import cache as cache_module
from ngd.io.cache import cache_folders, read_csv_cached


def write_csv(path, n=400, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + X[:, 1]))).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    target = [str(v) for v in y] if labels is None else [labels[v] for v in y]
    lines = ["a,b,c,w,y"] + [f"{r[0]:.17g},{r[1]:.17g},{r[2]:.17g},{wi:.17g},{t}"
                             for r, wi, t in zip(X, w, target)]
    path.write_text("\n".join(lines) + "\n")
    return path


def stamps(folder):
    return {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)}


@pytest.fixture
def csv(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return write_csv(tmp_path / "data.csv")


def test_cached_dataset_equals_csv_and_x_is_memory_mapped(csv):
    fresh = read_csv(csv, weights="w")
    cached = read_csv_cached(csv, weights="w")
    assert isinstance(cached.X, np.memmap) and not cached.X.flags.writeable
    np.testing.assert_array_equal(cached.X, fresh.X)
    np.testing.assert_array_equal(cached.y, fresh.y)
    np.testing.assert_array_equal(cached.sample_weight, fresh.sample_weight)
    assert (cached.feature_names, cached.target_name, cached.weights_name) == \
        (fresh.feature_names, fresh.target_name, "w")


def test_cached_fit_equals_in_memory_fit(csv):
    fresh, cached = read_csv(csv, weights="w"), read_csv_cached(csv, weights="w")
    a = ngd.fit(fresh.X, fresh.y, sample_weight=fresh.sample_weight, tol=1e-12)
    b = ngd.fit(cached.X, cached.y, sample_weight=cached.sample_weight, tol=1e-12)
    np.testing.assert_allclose(b.coef, a.coef, rtol=0, atol=1e-10)
    assert b.intercept == pytest.approx(a.intercept, abs=1e-10)


def test_cli_cache_always_equals_never(csv):
    def run(mode):
        result = CliRunner().invoke(cli, ["fit", str(csv), "--weights", "w", "--no-compare",
                                          "--json", "--cache", mode])
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    never = run("never")
    assert not cache_folders(csv)[0].exists()
    always = run("always")
    assert (csv.parent / "data.csv.ngdcache" / "manifest.json").exists()
    for x, y in zip(always["coefficients"], never["coefficients"]):
        assert x["estimate"] == pytest.approx(y["estimate"], abs=1e-10)
    assert always["data"]["weights"] == "w"


def test_cache_is_reused_while_csv_unchanged(csv):
    read_csv_cached(csv, weights="w")
    folder = cache_folders(csv)[0]
    before = stamps(folder)
    read_csv_cached(csv, weights="w")
    assert stamps(folder) == before


def test_cache_is_rebuilt_when_csv_changes(csv):
    read_csv_cached(csv, weights="w")
    folder = cache_folders(csv)[0]
    before = stamps(folder)
    write_csv(csv, n=300, seed=1)
    cached = read_csv_cached(csv, weights="w")
    assert cached.n_samples == 300
    np.testing.assert_array_equal(cached.X, read_csv(csv, weights="w").X)
    after = stamps(folder)
    assert after["X.npy"] != before["X.npy"] and after["manifest.json"] != before["manifest.json"]


def test_cache_is_rebuilt_when_csv_is_touched(csv):
    read_csv_cached(csv, weights="w")
    folder = cache_folders(csv)[0]
    before = stamps(folder)
    info = csv.stat()
    os.utime(csv, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    read_csv_cached(csv, weights="w")
    assert stamps(folder)["X.npy"] != before["X.npy"]


def test_cache_is_rebuilt_when_options_change(csv):
    read_csv_cached(csv, weights="w")
    cached = read_csv_cached(csv, weights="w", dtype="float32")
    assert cached.X.dtype == np.float32
    cached = read_csv_cached(csv)                      # w is now a feature
    assert cached.feature_names == ["a", "b", "c", "w"] and cached.sample_weight is None


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[:-8])


@pytest.mark.parametrize("damage", [
    pytest.param(lambda f: flip_last_byte(f / "X.npy"), id="X-corrupted"),
    pytest.param(lambda f: truncate(f / "X.npy"), id="X-truncated"),
    pytest.param(lambda f: flip_last_byte(f / "weights.npy"), id="weights-corrupted"),
    pytest.param(lambda f: (f / "y.npy").unlink(), id="y-missing"),
    pytest.param(lambda f: (f / "manifest.json").write_text("{not json"), id="manifest-broken"),
    pytest.param(lambda f: (f / "manifest.json").unlink(), id="manifest-missing"),
])
def test_damaged_cache_is_rebuilt_never_used(csv, damage):
    fresh = read_csv(csv, weights="w")
    read_csv_cached(csv, weights="w")
    folder = cache_folders(csv)[0]
    damage(folder)
    cached = read_csv_cached(csv, weights="w")
    np.testing.assert_array_equal(cached.X, fresh.X)
    np.testing.assert_array_equal(cached.y, fresh.y)
    np.testing.assert_array_equal(cached.sample_weight, fresh.sample_weight)
    assert cache_module._valid_manifest(folder, cache_module._stamp(csv, dict(
        target=None, delimiter=None, features=None, weights="w", offset=None, trials=None,
        dropna=False, dtype="float64"))) is not None


def test_interrupted_build_leaves_no_usable_cache(csv, monkeypatch):
    read_csv_cached(csv, weights="w")
    write_csv(csv, n=300, seed=2)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cache_module, "write_files_atomic", fail)
    with pytest.raises(DataError, match="cannot write the CSV cache"):
        read_csv_cached(csv, weights="w")
    folder = cache_folders(csv)[0]
    assert not (folder / "manifest.json").exists()
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(csv.parent / "user-cache"))
    assert read_csv_cached(csv, weights="w").n_samples == 300


def test_unwritable_folder_falls_back_to_user_cache(csv):
    cache_folders(csv)[0].write_text("a file where the cache folder would go")
    cached = read_csv_cached(csv, weights="w")
    fallback = cache_folders(csv)[1]
    assert fallback.parent == csv.parent / "user-cache" / "ngd"
    assert (fallback / "manifest.json").exists()
    np.testing.assert_array_equal(cached.X, read_csv(csv, weights="w").X)


def test_text_labels_after_numeric_chunks_and_dropped_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "CHUNK_ROWS", 4)
    path = tmp_path / "labels.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,NA,x\n1,1,yes\n2,2,no\n")
    fresh = read_csv(path, dropna=True)
    cached = read_csv_cached(path, dropna=True)
    assert list(cached.y) == list(fresh.y) == ["0", "1", "0", "1", "yes", "no"]
    np.testing.assert_array_equal(cached.X, fresh.X)
    assert (cached.n_dropped, cached.dropped_lines) == (1, [6])


def test_categorical_columns_are_refused(csv):
    with pytest.raises(DataError, match="categorical"):
        read_csv_cached(csv, categorical=["c"])


def test_bad_cell_reports_line_and_column(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    path = tmp_path / "bad.csv"
    path.write_text("a,y\n1,0\n2,1\nx,0\n")
    with pytest.raises(DataError, match=r"line 4, column 'a': non-numeric value 'x'"):
        read_csv_cached(path)
