"""Damaged or edited CSV caches (ngd.io.cache) are never used: whatever byte of whichever
cached file is flipped, truncated, replaced by a directory or a symlink, the next read gives
exactly the CSV's arrays (the cache is rebuilt), never a silently different answer."""
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ngd
from ngd.io import read_csv
from ngd.io.cache import cache_folders, read_csv_cached

FILES = ("X.npy", "y.npy", "weights.npy", "manifest.json")


def write_csv(path, n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + X[:, 1]))).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    lines = ["a,b,c,w,y"] + [f"{r[0]:.17g},{r[1]:.17g},{r[2]:.17g},{wi:.17g},{t}"
                             for r, wi, t in zip(X, w, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-cache")
    os.environ.setdefault("XDG_CACHE_HOME", str(folder / "user-cache"))
    return write_csv(folder / "data.csv")


@pytest.fixture(scope="module")
def truth(csv):
    return read_csv(csv, weights="w")


def assert_same(dataset, truth):
    """Bit-identical arrays and names as the CSV read itself."""
    np.testing.assert_array_equal(np.asarray(dataset.X), truth.X, strict=True)
    np.testing.assert_array_equal(np.asarray(dataset.y), truth.y)
    np.testing.assert_array_equal(np.asarray(dataset.sample_weight), truth.sample_weight,
                                  strict=True)
    assert dataset.feature_names == truth.feature_names
    assert dataset.target_name == truth.target_name


def fresh_cache(csv):
    folder = cache_folders(csv)[0]
    read_csv_cached(csv, weights="w")            # builds (or reuses) a valid cache
    return folder


def test_byte_swapped_x_header_is_rebuilt_not_fitted(csv, truth):
    """The reported case: X.npy's header says big-endian (same size, same data hash)."""
    folder = fresh_cache(csv)
    raw = (folder / "X.npy").read_bytes()
    assert b"'<f8'" in raw[:128]
    (folder / "X.npy").write_bytes(raw.replace(b"'<f8'", b"'>f8'", 1))
    cached = read_csv_cached(csv, weights="w")
    assert_same(cached, truth)
    a = ngd.fit(truth.X, truth.y, sample_weight=truth.sample_weight, tol=1e-12)
    b = ngd.fit(cached.X, cached.y, sample_weight=cached.sample_weight, tol=1e-12)
    np.testing.assert_array_equal(b.coef, a.coef)
    assert b.intercept == a.intercept


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_rebuilt(csv, truth, name, where, bit):
    folder = fresh_cache(csv)
    raw = bytearray((folder / name).read_bytes())
    i = min(int(where * len(raw)), len(raw) - 1)
    raw[i] ^= 1 << bit
    (folder / name).write_bytes(bytes(raw))
    assert_same(read_csv_cached(csv, weights="w"), truth)
    assert_same(read_csv_cached(csv, weights="w"), truth)     # and the rebuilt cache


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), where=st.floats(0, 1))
def test_any_truncation_is_rebuilt(csv, truth, name, where):
    folder = fresh_cache(csv)
    raw = (folder / name).read_bytes()
    (folder / name).write_bytes(raw[:int(where * (len(raw) - 1))])
    assert_same(read_csv_cached(csv, weights="w"), truth)


FIELD_EDITS = [
    ("shape", [59, 3]), ("shape", [60, 2]), ("shape", "60x3"), ("dtype", "float32"),
    ("dtype", ">f8"), ("dtype", 8), ("y_text", True), ("y_text", "no"), ("files", []),
    ("files", {}), ("dataset", None), ("format", "ngd.csvcache/0"), ("csv", None),
    ("sha256", "0" * 64),
]


@pytest.mark.parametrize("key, value", FIELD_EDITS)
def test_edited_manifest_field_is_rebuilt(csv, truth, key, value):
    folder = fresh_cache(csv)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert_same(read_csv_cached(csv, weights="w"), truth)


@pytest.mark.parametrize("edit", ["names", "target", "dropped", "bytes", "hash", "header"])
def test_edited_nested_manifest_value_is_rebuilt(csv, truth, edit):
    folder = fresh_cache(csv)
    manifest = json.loads((folder / "manifest.json").read_text())
    dataset, x = manifest["dataset"], manifest["files"]["X.npy"]
    if edit == "names":
        dataset["feature_names"] = ["b", "a", "c"]
    elif edit == "target":
        dataset["target_name"] = "w"
    elif edit == "dropped":
        dataset["n_dropped"] = "many"
    elif edit == "bytes":
        x["bytes"] = str(x["bytes"])
    elif edit == "hash":
        x["sha256"] = None
    else:
        del x["header_sha256"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert_same(read_csv_cached(csv, weights="w"), truth)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("damage", ["missing", "directory", "symlink"])
def test_missing_directory_or_symlinked_file_is_rebuilt(csv, truth, tmp_path, name, damage):
    folder = fresh_cache(csv)
    file = folder / name
    content = file.read_bytes()
    file.unlink()
    if damage == "directory":
        file.mkdir()
    elif damage == "symlink":
        elsewhere = tmp_path / name          # identical bytes, but not the cache's own file
        elsewhere.write_bytes(content)
        file.symlink_to(elsewhere)
    try:
        assert_same(read_csv_cached(csv, weights="w"), truth)
    finally:
        if file.is_dir() and not file.is_symlink():
            file.rmdir()
            read_csv_cached(csv, weights="w")
    assert not file.is_symlink()
