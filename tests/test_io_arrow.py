"""Parquet / Feather / Arrow IPC input (ngd.io.arrow, ngd.io.arrow_chunks): the Dataset equals
the CSV reader's on the same data, only the used columns are read, bad input is one clear
error, and the row-group chunks give the in-memory fit with memory bounded by a chunk."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

import ngd  # noqa: E402
from ngd import frames  # noqa: E402
from ngd.io import read_data  # noqa: E402
from ngd.io.arrow import ArrowInput, read_arrow_header, read_arrow_table  # noqa: E402
from ngd.io.arrow_chunks import ArrowChunks, read_arrow_chunks  # noqa: E402

N = 600


def _columns(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    k = rng.integers(-3, 4, size=n)
    flag = rng.random(n) < 0.4
    region = rng.choice(["north", "south", "east"], size=n)
    w = rng.random(n) + 0.5
    off = rng.normal(0, 0.1, size=n)
    eta = 0.2 + 0.4 * x - 0.1 * k + 0.3 * flag + (region == "east") * 0.2 + off
    y = rng.poisson(np.exp(eta)).astype(float)
    return {"x": x, "k": k, "flag": flag, "region": region, "w": w, "off": off, "y": y}


def _table(cols):
    return pa.table({"x": cols["x"], "k": pa.array(cols["k"], pa.int32()),
                     "flag": cols["flag"], "region": pa.array(cols["region"]),
                     "w": cols["w"], "off": cols["off"], "y": cols["y"]})


def _write_csv(path, cols):
    names = ["x", "k", "flag", "region", "w", "off", "y"]
    with open(path, "w") as handle:
        handle.write(",".join(names) + "\n")
        for i in range(len(cols["x"])):
            handle.write(f"{float(cols['x'][i])!r},{int(cols['k'][i])},{int(cols['flag'][i])},"
                         f"{cols['region'][i]},{float(cols['w'][i])!r},"
                         f"{float(cols['off'][i])!r},{float(cols['y'][i])!r}\n")


def _write(table, path):
    """Write ``table`` in the format the suffix names, in several row groups / batches."""
    name = str(path)
    if name.endswith(".parquet"):
        pq.write_table(table, name, row_group_size=128)
    elif name.endswith(".feather"):
        feather.write_feather(table, name, chunksize=128)          # lz4 compressed
    elif name.endswith(".arrows"):
        with pa.ipc.new_stream(name, table.schema) as writer:
            writer.write_table(table, max_chunksize=128)
    else:                                                           # .arrow, uncompressed
        with pa.ipc.new_file(name, table.schema) as writer:
            writer.write_table(table, max_chunksize=128)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("arrow")
    cols = _columns()
    table = _table(cols)
    paths = {kind: _write(table, root / f"data.{kind}") for kind in ("parquet", "feather",
                                                                       "arrow")}
    folder = root / "folder"
    folder.mkdir()
    pq.write_table(table.slice(0, 250), folder / "part-0.parquet", row_group_size=100)
    pq.write_table(table.slice(250), folder / "part-1.parquet", row_group_size=100)
    paths["folder"] = folder
    _write_csv(root / "data.csv", cols)
    paths["csv"] = root / "data.csv"
    return cols, table, paths


OPTIONS = dict(target="y", weights="w", offset="off")


def _same_as_csv(arrow, csv):
    """The Arrow Dataset's X equals the CSV one's column for column (matched by name), and
    so do the per-row columns and the names."""
    order = [csv.feature_names.index(name) for name in arrow.feature_names]
    dense = [X.toarray() if hasattr(X, "toarray") else X for X in (arrow.X, csv.X)]
    np.testing.assert_array_equal(dense[0], dense[1][:, order])
    np.testing.assert_array_equal(arrow.y, csv.y)
    np.testing.assert_array_equal(arrow.sample_weight, csv.sample_weight)
    np.testing.assert_array_equal(arrow.offset, csv.offset)
    assert sorted(arrow.feature_names) == sorted(csv.feature_names)
    assert arrow.categories == csv.categories and arrow.columns == csv.columns
    assert (arrow.target_name, arrow.weights_name, arrow.offset_name) == \
        (csv.target_name, csv.weights_name, csv.offset_name)


@pytest.mark.parametrize("kind", ["parquet", "feather", "arrow", "folder"])
def test_dataset_equals_the_csv_readers(data, kind):
    _, _, paths = data
    csv = read_data(paths["csv"], categorical=["region"], **OPTIONS)
    arrow = read_data(paths[kind], **OPTIONS)      # a string column is categorical anyway
    assert isinstance(arrow.X, ngd.design.Design)
    assert arrow.X.dense.dtype == np.float64 and arrow.n_samples == N
    _same_as_csv(arrow, csv)


def test_numeric_code_column_as_categorical_and_features_subset(data):
    _, _, paths = data
    csv = read_data(paths["csv"], features=["x", "k"], categorical=["k"], **OPTIONS)
    arrow = read_data(paths["parquet"], features=["x", "k"], categorical=["k"], **OPTIONS)
    _same_as_csv(arrow, csv)
    assert arrow.categories["k"] == ["-3", "-2", "-1", "0", "1", "2", "3"]   # numeric order


def test_all_numeric_features_give_a_float_array_equal_to_csv(data):
    _, _, paths = data
    csv = read_data(paths["csv"], features=["x", "k", "flag"], **OPTIONS)
    arrow = read_data(paths["feather"], features=["x", "k", "flag"], **OPTIONS)
    assert isinstance(arrow.X, np.ndarray)
    _same_as_csv(arrow, csv)


def test_dictionary_string_and_boolean_columns_follow_ngd_frames(data, tmp_path):
    cols, table, _ = data
    table = table.append_column("zone", pa.array(cols["region"]).dictionary_encode())
    path = _write(table, tmp_path / "dict.parquet")
    dataset = read_data(path, features=["x", "flag", "zone"], target="y")
    expected = frames.design_from_frame(table.select(["x", "flag", "zone"]))
    assert dataset.feature_names == expected.feature_names
    assert dataset.categories == expected.spec.categories        # the dictionary's order
    np.testing.assert_array_equal(dataset.X.toarray(), expected.X.toarray())


def test_hive_partition_column_of_a_directory_dataset(data, tmp_path):
    cols, table, _ = data
    for part, rows in (("a", slice(0, 300)), ("b", slice(300, N))):
        (tmp_path / f"part={part}").mkdir()
        pq.write_table(table.slice(rows.start, rows.stop - rows.start),
                       tmp_path / f"part={part}" / "0.parquet")
    dataset = read_data(tmp_path, target="y", features=["x", "part"])
    assert dataset.categories == {"part": ["a", "b"]}
    np.testing.assert_array_equal(dataset.X.toarray()[:, 1], np.arange(N) >= 300)


def test_string_labels_of_a_classification_target(data, tmp_path):
    cols, table, _ = data
    table = table.append_column("label", pa.array(np.where(cols["y"] > 1, "high", "low")))
    dataset = read_data(_write(table, tmp_path / "labels.arrow"), target="label",
                        features=["x", "k"])
    assert dataset.y.dtype.kind == "U" and set(dataset.y) == {"high", "low"}
    result = ngd.fit(dataset.X, dataset.y, model="logistic")
    assert list(result.classes) == ["high", "low"]


def test_only_the_used_columns_are_read(data, monkeypatch):
    _, _, paths = data
    calls = []
    original = ArrowInput.read

    def spy(self, columns):
        calls.append(list(columns))
        return original(self, columns)
    monkeypatch.setattr(ArrowInput, "read", spy)
    read_data(paths["parquet"], target="y", features=["x"], weights="w")
    assert calls == [["x", "w", "y"]]


PROJECTION_CHILD = textwrap.dedent("""
    import json, sys
    import pyarrow as pa
    from ngd.io import read_data
    dataset = read_data(sys.argv[1], target="y", features=["x"])
    print(json.dumps({"peak": pa.default_memory_pool().max_memory(), "n": dataset.n_samples}))
""")


@pytest.mark.parametrize("suffix", ["parquet", "feather", "arrow"])
def test_a_large_unused_column_does_not_raise_the_memory_peak(tmp_path, suffix):
    """A 32 MB string column next to two 0.8 MB float columns: reading x and y peaks far
    below the unused column's size (pyarrow's memory pool, in a fresh process). A
    compressed IPC file (Feather's lz4) has its first batch of 10 decoded whole once, to
    learn that it is compressed; an uncompressed one is memory-mapped, read without a copy."""
    n = 100_000
    rng = np.random.default_rng(2)
    junk = pa.array([bytes(row).hex() for row in rng.integers(0, 256, (n, 160), np.uint8)])
    table = pa.table({"x": rng.normal(size=n), "junk": junk, "y": rng.normal(size=n)})
    path = tmp_path / f"wide.{suffix}"
    if suffix == "parquet":
        pq.write_table(table, path, row_group_size=25_000, compression="none")
    else:
        feather.write_feather(table, path, chunksize=10_000,
                              compression="lz4" if suffix == "feather" else "uncompressed")
    out = subprocess.run([sys.executable, "-c", PROJECTION_CHILD, str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == n
    assert junk.nbytes > 30e6 and report["peak"] < junk.nbytes / 4


# ------------------------------------------------------------------------- bad input ------
def test_missing_column_names_the_role_and_lists_the_columns(data):
    _, _, paths = data
    with pytest.raises(ngd.DataError, match=r"data.parquet: no column named 'wt' \(weights\); "
                                            r"columns are: x, k, flag, region, w, off, y"):
        read_data(paths["parquet"], target="y", weights="wt")
    with pytest.raises(ngd.DataError, match=r"missing column\(s\) zz \(the data have: x, k"):
        read_arrow_table(paths["parquet"], ["x", "zz"])


@pytest.mark.parametrize("column", [
    pa.array(np.arange(N).astype("datetime64[s]")),
    pa.array([[1.0, 2.0]] * N),
    pa.array([b"\x00\x01"] * N, pa.binary()),
    pa.array([{"a": 1}] * N)])
def test_unsupported_column_type_is_one_type_error_naming_it(data, tmp_path, column):
    _, table, _ = data
    path = _write(table.append_column("bad", column), tmp_path / "bad.parquet")
    with pytest.raises(TypeError, match=r"bad.parquet: column 'bad' \(feature\) has "
                                        r"unsupported type .*; use numeric, boolean, string"):
        read_data(path, target="y")
    read_data(path, target="y", features=["x"])          # not read when not used


def test_non_numeric_weights_are_a_type_error(data):
    _, _, paths = data
    with pytest.raises(TypeError, match=r"column 'region' \(weights\) must be numeric"):
        read_data(paths["parquet"], target="y", weights="region")


def _with_nulls(table):
    x = table.column("x").to_numpy().copy()
    x[7] = np.nan                                          # NaN counts as missing, as in CSV
    region = table.column("region").to_pylist()
    region[20] = None
    table = table.set_column(0, "x", pa.array(x))
    return table.set_column(table.schema.get_field_index("region"), "region",
                            pa.array(region))


def test_missing_cells_need_dropna_then_rows_are_dropped_as_in_csv(data, tmp_path):
    cols, table, _ = data
    path = _write(_with_nulls(table), tmp_path / "nulls.parquet")
    with pytest.raises(ngd.DataError, match=r"nulls.parquet: row 7, column 'x': missing "
                                            r"value \(--dropna drops rows"):
        read_data(path, **OPTIONS)
    dataset = read_data(path, dropna=True, **OPTIONS)
    assert dataset.n_dropped == 2 and dataset.dropped_lines == [7, 20]
    keep = np.setdiff1d(np.arange(N), [7, 20])
    np.testing.assert_array_equal(dataset.y, cols["y"][keep])
    np.testing.assert_array_equal(dataset.X.dense[:, 0], cols["x"][keep])


def test_infinite_value_large_value_and_negative_weight(data, tmp_path):
    _, table, _ = data
    for column, value, message in (
            ("x", np.inf, r"row 3, column 'x': non-finite value inf"),
            ("x", 1e200, r"row 3, column 'x': value 1e\+200 is too large in magnitude"),
            ("w", -1.0, r"row 3, column 'w': negative weight -1")):
        values = table.column(column).to_numpy().copy()
        values[3] = value
        bad = table.set_column(table.schema.get_field_index(column), column, pa.array(values))
        with pytest.raises(ngd.DataError, match=message):
            read_data(_write(bad, tmp_path / "bad.parquet"), **OPTIONS)


def test_rows_are_named_as_in_the_file_after_dropped_rows(data, tmp_path):
    _, table, _ = data
    x, w = table.column("x").to_numpy().copy(), table.column("w").to_numpy().copy()
    x[[2, 130]] = np.nan
    w[[5, 140]] = -1.0                         # the second in the second row group
    bad = table.set_column(0, "x", pa.array(x)).set_column(
        table.schema.get_field_index("w"), "w", pa.array(w))
    path = _write(bad.drop_columns(["region"]), tmp_path / "bad.parquet")
    with pytest.raises(ngd.DataError, match=r"row 5, column 'w': negative weight -1"):
        read_data(path, dropna=True, **OPTIONS)
    w[5] = 1.0
    path = _write(bad.set_column(table.schema.get_field_index("w"), "w", pa.array(w))
                  .drop_columns(["region"]), tmp_path / "bad.parquet")
    chunked = read_arrow_chunks(path, dropna=True, piece_rows=50, **OPTIONS)
    with pytest.raises(ngd.DataError, match=r"^row 140, column 'w': negative weight -1"):
        ngd.fit(chunked.X, None, model="poisson", backend="chunked")


def test_unreadable_empty_and_odd_inputs(data, tmp_path):
    _, table, paths = data
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ngd.DataError, match=r"junk.parquet: cannot read Parquet data"):
        read_data(tmp_path / "junk.parquet")
    (tmp_path / "junk.feather").write_bytes(b"not arrow either")
    with pytest.raises(ngd.DataError, match=r"junk.feather: cannot read Arrow IPC data"):
        read_data(tmp_path / "junk.feather")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ngd.DataError, match=r"empty: is a directory without Parquet files"):
        read_data(tmp_path / "empty")
    with pytest.raises(ngd.DataError, match=r"no data rows"):
        read_data(_write(table.slice(0, 0), tmp_path / "none.parquet"), target="y")
    with pytest.raises(ngd.DataError, match=r"the delimiter applies to CSV files only"):
        read_data(paths["parquet"], target="y", delimiter=";")
    duplicated = pa.Table.from_arrays([table.column("x"), table.column("y"),
                                       table.column("x")], names=["x", "y", "x"])
    with pytest.raises(ngd.DataError, match=r"duplicate column name\(s\): x"):
        read_data(_write(duplicated, tmp_path / "dup.arrow"))


def test_missing_pyarrow_is_one_line_naming_the_extra(data, monkeypatch):
    _, _, paths = data
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"^reading Parquet files needs pyarrow: "
                                          r"pip install 'ngd\[arrow\]'$"):
        read_data(paths["parquet"], target="y")
    with pytest.raises(ImportError, match=r"^reading Arrow IPC files needs pyarrow"):
        read_arrow_header(paths["feather"])


def test_stream_files_read_in_memory_but_not_in_chunks(data, tmp_path):
    _, table, paths = data
    path = _write(table, tmp_path / "data.arrows")
    path = path.rename(tmp_path / "stream.arrow")
    dataset = read_data(path, **OPTIONS)
    _same_as_csv(dataset, read_data(paths["csv"], categorical=["region"], **OPTIONS))
    with pytest.raises(ngd.DataError, match=r"an Arrow IPC stream cannot be read in chunks"):
        read_arrow_chunks(path, features=["x"], **OPTIONS)
    assert read_arrow_chunks(path, features=["x"], min_bytes=1, **OPTIONS) is None


# ------------------------------------------------------------------ chunks by row groups --
def _concatenated(chunks, use_X=True):
    parts = [piece for k in range(len(chunks.chunk_rows))
             for piece in chunks.read_chunk(k, use_X)]
    starts = [piece[0] for piece in parts]
    stack = [np.concatenate([piece[j] for piece in parts]) if parts[0][j] is not None
             else None for j in range(1, 6)]
    return starts, stack


@pytest.mark.parametrize("kind", ["parquet", "feather", "folder"])
def test_chunks_are_the_row_groups_and_add_up_to_the_dataset(data, kind):
    _, _, paths = data
    features = ["x", "k", "flag"]
    dataset = read_data(paths[kind], features=features, **OPTIONS)
    chunked = read_arrow_chunks(paths[kind], features=features, piece_rows=50, **OPTIONS)
    source = chunked.X
    assert isinstance(source, ArrowChunks) and source.shape == (N, 3)
    assert source.present == {"w", "offset"} and chunked.y is None
    expected_rows = {"parquet": [128] * 4 + [88], "feather": [128] * 4 + [88],
                     "folder": [100, 100, 50, 100, 100, 100, 50]}[kind]
    assert source.chunk_rows == expected_rows
    starts, (X, y, w, offset, trials) = _concatenated(source)
    assert starts == sorted(starts) and np.diff(starts).max() <= 50     # pieces of 50 rows
    np.testing.assert_array_equal(X, dataset.X)
    np.testing.assert_array_equal(y, dataset.y)
    np.testing.assert_array_equal(w, dataset.sample_weight)
    np.testing.assert_array_equal(offset, dataset.offset)
    assert trials is None
    _, (X, y2, *_) = _concatenated(source, use_X=False)
    assert X is None and np.array_equal(y2, dataset.y)
    assert chunked.feature_names == dataset.feature_names


def test_chunk_reads_project_the_columns(data, monkeypatch):
    _, _, paths = data
    chunked = read_arrow_chunks(paths["parquet"], features=["x"], **OPTIONS).X
    calls = []
    original = chunked._readers[0]
    chunked._readers[0] = lambda columns, rows: (calls.append(list(columns)),
                                                 original(columns, rows))[1]
    list(chunked.read_chunk(0, use_X=True))
    list(chunked.read_chunk(0, use_X=False))
    assert calls == [["x", "w", "off", "y"], ["w", "off", "y"]]


def test_chunks_with_dropna_drop_the_rows_the_in_memory_read_drops(data, tmp_path):
    _, table, _ = data
    path = _write(_with_nulls(table).drop_columns(["region"]), tmp_path / "nulls.parquet")
    features = ["x", "k"]
    dataset = read_data(path, features=features, dropna=True, **OPTIONS)
    chunked = read_arrow_chunks(path, features=features, dropna=True, **OPTIONS)
    assert chunked.n_dropped == dataset.n_dropped == 1 and chunked.dropped_lines == [7]
    assert chunked.X.chunk_rows[0] == 127 and chunked.X.n_samples == N - 1
    _, (X, y, w, offset, _) = _concatenated(chunked.X)
    np.testing.assert_array_equal(X, dataset.X)
    np.testing.assert_array_equal(y, dataset.y)
    undropped = read_arrow_chunks(path, features=features, **OPTIONS)
    with pytest.raises(ngd.DataError, match=r"^row 7, column 'x': missing value"):
        ngd.fit(undropped.X, None, model="poisson", backend="chunked")


@pytest.mark.parametrize("kind", ["parquet", "feather", "folder"])
def test_categorical_chunks_equal_the_in_memory_design(data, tmp_path, kind):
    """String, dictionary and numeric-as-categorical columns: the survey pass finds the
    levels the in-memory read finds (sorted, the dictionary's order, numeric order), and
    each piece's X is the in-memory Design's rows, one-hot columns dense."""
    cols, table, paths = data
    rng = np.random.default_rng(8)
    zone = pa.array(rng.choice(["q", "b", "m", "a"], size=N)).dictionary_encode()
    table = table.append_column("zone", zone)
    if kind == "folder":
        path = tmp_path / "folder"
        path.mkdir()
        pq.write_table(table.slice(0, 300), path / "0.parquet", row_group_size=120)
        pq.write_table(table.slice(300), path / "1.parquet", row_group_size=120)
    else:
        path = _write(table, tmp_path / f"cat.{kind}")
    options = dict(features=["x", "region", "k", "zone", "flag"], categorical=["k"],
                   **OPTIONS)
    dataset = read_data(path, **options)
    chunked = read_arrow_chunks(path, piece_rows=50, **options)
    assert chunked.feature_names == dataset.feature_names
    assert chunked.categories == dataset.categories and chunked.columns == dataset.columns
    assert chunked.categories["k"] == [str(v) for v in range(-3, 4)]
    _, (X, y, w, offset, _) = _concatenated(chunked.X)
    np.testing.assert_array_equal(X, dataset.X.toarray())
    np.testing.assert_array_equal(y, dataset.y)
    expected = ngd.fit(dataset.X, dataset.y, model="poisson", sample_weight=dataset.sample_weight,
                       offset=dataset.offset, tol=1e-12)
    result = ngd.fit(chunked.X, None, model="poisson", backend="chunked", tol=1e-12)
    np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.stderr, expected.stderr, rtol=1e-10)


def test_categorical_chunks_with_fixed_levels_and_unseen_levels(data):
    _, _, paths = data
    options = dict(features=["x", "region"], **OPTIONS)
    fixed = read_arrow_chunks(paths["parquet"], categorical={"region": ["south", "north",
                                                                        "east"]}, **options)
    assert fixed.feature_names == ["x", "region=north", "region=east"]
    short = read_arrow_chunks(paths["parquet"], categorical={"region": ["south", "north"]},
                              **options)
    with pytest.raises(ngd.DataError, match=r"column 'region' has level\(s\) not seen when "
                                            r"the model was fitted: 'east'"):
        ngd.fit(short.X, None, model="poisson", backend="chunked")


@pytest.mark.parametrize("kind", ["parquet", "feather", "folder"])
def test_chunked_fit_equals_the_in_memory_fit(data, kind):
    _, _, paths = data
    features = ["x", "k", "flag"]
    dataset = read_data(paths[kind], features=features, **OPTIONS)
    expected = ngd.fit(dataset.X, dataset.y, model="poisson", sample_weight=dataset.sample_weight,
                       offset=dataset.offset, tol=1e-12)
    source = read_arrow_chunks(paths[kind], features=features, piece_rows=50, **OPTIONS).X
    for threads in (1, 2):
        result = ngd.fit(source, None, model="poisson", backend="chunked", tol=1e-12,
                         n_threads=threads)
        assert result.backend == "chunked" and result.n_chunks == len(source.chunk_rows)
        np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(result.intercept, expected.intercept, rtol=1e-10)
        np.testing.assert_allclose(result.stderr, expected.stderr, rtol=1e-10)
        for key in ("deviance", "null_deviance", "aic"):
            assert result[key] == pytest.approx(expected[key], rel=1e-10)


def test_chunked_logistic_on_string_labels_and_binomial_trials(data, tmp_path):
    cols, table, _ = data
    rng = np.random.default_rng(5)
    trials = rng.integers(1, 6, size=N).astype(float)
    successes = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-cols["x"])))
    table = table.append_column("label", pa.array(np.where(cols["y"] > 1, "high", "low")))
    table = table.append_column("n", pa.array(trials)).append_column(
        "s", pa.array(successes.astype(float)))
    path = _write(table, tmp_path / "labels.parquet")
    for options, model in ((dict(target="label"), "logistic"),
                           (dict(target="s", trials="n"), "binomial")):
        dataset = read_data(path, features=["x", "flag"], **options)
        expected = ngd.fit(dataset.X, dataset.y, model=model, trials=dataset.trials,
                           tol=1e-12)
        source = read_arrow_chunks(path, features=["x", "flag"], **options).X
        result = ngd.fit(source, None, model=model, backend="chunked", tol=1e-12)
        np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-10)
        np.testing.assert_allclose(result.stderr, expected.stderr, rtol=1e-10)
        if model == "logistic":
            assert list(result.classes) == list(expected.classes) == ["high", "low"]


def test_chunk_source_takes_no_separate_per_row_arrays(data):
    _, _, paths = data
    source = read_arrow_chunks(paths["parquet"], features=["x"], **OPTIONS).X
    with pytest.raises(ValueError, match=r"X is a chunk source, which reads y and the "
                                         r"per-row columns with its own chunks: pass y, "
                                         r"sample_weight as None"):
        ngd.fit(source, np.zeros(N), model="poisson", backend="chunked",
                sample_weight=np.ones(N))
    assert source.astype("float32").dtype == np.float32 and source.dtype == np.float64
    X32 = next(source.astype("float32").read_chunk(0))[1]
    assert X32.dtype == np.float32


MEMORY_CHILD = textwrap.dedent("""
    import contextlib, io, json, sys, tracemalloc
    import pyarrow as pa
    from ngd.cli.main import cli

    big, small, backend = sys.argv[1:4]
    args = ["--model", "poisson", "--offset", "off", "--no-compare", "--json", "-q",
            "--backend", backend, "--threads", "1"]
    with contextlib.redirect_stdout(io.StringIO()):            # imports, caches
        cli.main(["fit", small] + args, standalone_mode=False)
    tracemalloc.start()
    cli.main(["fit", big] + args, standalone_mode=False)
    print(json.dumps({"numpy": tracemalloc.get_traced_memory()[1],
                      "arrow": pa.default_memory_pool().max_memory()}), file=sys.stderr)
""")


def test_chunked_fit_memory_is_bounded_by_a_row_group(tmp_path):
    """1e6 x 4 features + offset + y in 20 row groups of 50 000 rows (X: 32 MB, one
    length-n vector: 8 MB). The chunked fit's numpy allocations (tracemalloc) stay below one
    length-n vector and pyarrow's below X; the in-memory fit of the same file needs X
    (numpy) and the whole table (pyarrow): the measure has teeth."""
    n, p, group = 1_000_000, 4, 50_000
    rng = np.random.default_rng(3)
    beta = np.array([0.3, -0.2, 0.1, 0.0])
    schema = pa.schema([(f"x{j}", pa.float64()) for j in range(p)]
                       + [("off", pa.float64()), ("y", pa.float64())])
    with pq.ParquetWriter(tmp_path / "big.parquet", schema) as writer:
        for _ in range(n // group):
            X = rng.standard_normal((group, p))
            off = rng.normal(0, 0.1, group)
            y = rng.poisson(np.exp(X @ beta + off)).astype(float)
            writer.write_table(pa.table({**{f"x{j}": X[:, j] for j in range(p)},
                                         "off": off, "y": y}, schema=schema))
    pq.write_table(pq.read_table(tmp_path / "big.parquet").slice(0, 2000),
                   tmp_path / "small.parquet")

    def peaks(backend):
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "big.parquet"),
                              str(tmp_path / "small.parquet"), backend],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout), json.loads(out.stderr.strip().splitlines()[-1])

    report, chunked = peaks("chunked")
    assert report["backend"] == "chunked" and report["converged"]
    assert report["data"]["n_samples"] == n
    x_bytes, vector_bytes = n * p * 8, n * 8
    assert chunked["numpy"] < vector_bytes and chunked["arrow"] < x_bytes / 2
    in_memory_report, in_memory = peaks("numpy")
    assert in_memory["numpy"] > x_bytes and in_memory["arrow"] > x_bytes
    for a, b in zip(report["coefficients"], in_memory_report["coefficients"]):
        assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-7)     # at --tol 1e-8
