"""``ngd fit`` / ``ngd predict`` on Parquet, Feather and Arrow IPC files and Parquet
directories: the CSV column options, the same fit as from CSV, the chunked backend by row
groups, predictions by column name, and one line with exit 2 for bad input."""
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

from ngd.cli import _fit_data as fit_data  # noqa: E402
from ngd.cli.main import cli  # noqa: E402

N = 800


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def fit_json(*args):
    result = invoke("fit", *args, "--json", "--no-compare", "--tol", "1e-12")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result, pattern):
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert __import__("re").search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_arrow")
    rng = np.random.default_rng(11)
    x = rng.normal(size=N)
    flag = rng.random(N) < 0.5
    region = rng.choice(["east", "north", "south"], size=N)
    w = rng.random(N) + 0.5
    off = rng.normal(0, 0.2, size=N)
    eta = 0.1 + 0.5 * x - 0.3 * flag + 0.4 * (region == "south") + off
    y = rng.poisson(np.exp(eta)).astype(float)
    table = pa.table({"x": x, "flag": flag, "region": region, "w": w, "off": off, "y": y})
    pq.write_table(table, root / "data.parquet", row_group_size=200)
    feather.write_feather(table, root / "data.feather", chunksize=300)
    with pa.ipc.new_file(root / "data.arrow", table.schema) as writer:
        writer.write_table(table, max_chunksize=250)
    (root / "folder").mkdir()
    pq.write_table(table.slice(0, 500), root / "folder" / "a.parquet", row_group_size=250)
    pq.write_table(table.slice(500), root / "folder" / "b.parquet")
    with open(root / "data.csv", "w") as handle:
        handle.write("x,flag,region,w,off,y\n")
        for i in range(N):
            handle.write(f"{float(x[i])!r},{int(flag[i])},{region[i]},{float(w[i])!r},"
                         f"{float(off[i])!r},{float(y[i])!r}\n")
    new = table.select(["y", "off", "region", "x"]).append_column(      # reordered + extra
        "unused", pa.array(np.arange(N))).append_column("flag", table.column("flag"))
    pq.write_table(new, root / "new.parquet")
    return root, table


ROLES = ("--model", "poisson", "--target", "y", "--weights", "w", "--offset", "off")


def _by_name(report):
    return {c["name"]: c for c in report["coefficients"]}


def _assert_same_fit(a, b, rtol=1e-10):
    a, b = _by_name(a), _by_name(b)
    assert set(a) == set(b)
    for name in a:
        assert a[name]["estimate"] == pytest.approx(b[name]["estimate"], rel=rtol, abs=1e-12)
        assert a[name]["stderr"] == pytest.approx(b[name]["stderr"], rel=rtol)


@pytest.mark.parametrize("name", ["data.parquet", "data.feather", "data.arrow", "folder"])
def test_fit_equals_the_csv_fit_with_the_csv_options(files, name):
    root, _ = files
    csv = fit_json(root / "data.csv", *ROLES, "--categorical", "region")
    report = fit_json(root / name, *ROLES, "--categorical", "region")
    _assert_same_fit(report, csv)
    assert report["data"]["n_samples"] == N
    assert report["data"]["categorical"] == {"region": ["east", "north", "south"]}
    assert (report["data"]["weights"], report["data"]["offset"]) == ("w", "off")
    assert report["statistics"]["deviance"] == pytest.approx(csv["statistics"]["deviance"],
                                                             rel=1e-10)


def test_features_option_and_string_columns_without_categorical(files):
    root, _ = files
    report = fit_json(root / "data.parquet", *ROLES, "--features", "x,region")
    assert [c["name"] for c in report["coefficients"]] == \
        ["(intercept)", "x", "region=north", "region=south"]


@pytest.mark.parametrize("name", ["data.parquet", "data.feather", "folder"])
def test_backend_chunked_reads_row_groups_and_equals_the_in_memory_fit(files, name):
    root, _ = files
    options = (*ROLES, "--features", "x,flag", "--subsample", "none")
    in_memory = fit_json(root / name, *options, "--backend", "numpy")
    chunked = fit_json(root / name, *options, "--backend", "chunked")
    assert chunked["backend"] == "chunked" and in_memory["backend"] == "numpy"
    assert chunked["n_passes"] > 0
    _assert_same_fit(chunked, in_memory)
    for key in ("deviance", "null_deviance", "aic"):
        assert chunked["statistics"][key] == pytest.approx(in_memory["statistics"][key],
                                                           rel=1e-10)


def test_backend_auto_chunks_large_arrow_input_and_falls_back_when_it_cannot(files,
                                                                          monkeypatch):
    root, _ = files
    options = (*ROLES, "--features", "x,flag")
    assert fit_json(root / "data.parquet", *options)["backend"] == "numpy"     # small
    monkeypatch.setattr(fit_data, "CHUNKED_AUTO_BYTES", 1)
    assert fit_json(root / "data.parquet", *options)["backend"] == "chunked"
    # a fit the chunked backend does not run (sgd): in memory
    result = invoke("fit", root / "data.parquet", *options, "--method", "sgd", "--no-compare",
                    "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backend"] == "numpy" and report["data"]["weights"] == "w"
    assert fit_json(root / "data.parquet", *ROLES)["backend"] == "chunked"    # categorical


def test_backend_chunked_with_categorical_features_equals_the_in_memory_fit(files):
    root, _ = files
    options = (*ROLES, "--categorical", "region", "--subsample", "none")
    in_memory = fit_json(root / "folder", *options, "--backend", "numpy")
    chunked = fit_json(root / "folder", *options, "--backend", "chunked")
    assert chunked["backend"] == "chunked"
    assert chunked["data"]["categorical"] == {"region": ["east", "north", "south"]}
    _assert_same_fit(chunked, in_memory)


def test_dropna_note_counts_rows_from_zero(files, tmp_path):
    _, table = files
    x = table.column("x").to_numpy().copy()
    x[[3, 10]] = np.nan
    path = tmp_path / "nulls.parquet"
    pq.write_table(table.set_column(0, "x", pa.array(x)), path)
    one_line_error(invoke("fit", path, *ROLES), r"nulls.parquet: row 3, column 'x': missing "
                                                r"value \(--dropna drops rows")
    for backend in ("numpy", "chunked"):
        result = invoke("fit", path, *ROLES, "--features", "x,flag", "--dropna", "--backend",
                        backend, "--no-compare")
        assert result.exit_code == 0, result.stderr
        assert "note: dropped 2 row(s) with missing cells (row(s) 3, 10, counted from 0); " \
               f"{N - 2} row(s) left" in result.stderr


def test_predict_matches_columns_by_name(files, tmp_path):
    root, _ = files
    model = tmp_path / "model.json"
    fit = invoke("fit", root / "data.parquet", *ROLES, "--categorical", "region", "--no-compare",
                 "-q", "--output", model)
    assert fit.exit_code == 0, fit.stderr
    csv_model = tmp_path / "csv_model.json"
    assert invoke("fit", root / "data.csv", *ROLES, "--categorical", "region", "--no-compare",
                  "-q", "--output", csv_model).exit_code == 0
    from_csv = invoke("predict", csv_model, root / "data.csv")
    assert from_csv.exit_code == 0, from_csv.stderr
    expected = np.array(from_csv.stdout.split()[1:], dtype=float)
    for model_file in (model, csv_model):
        for data in ("new.parquet", "data.feather", "folder"):
            result = invoke("predict", model_file, root / data)
            assert result.exit_code == 0, result.stderr
            assert result.stdout.splitlines()[0] == "prediction"
            np.testing.assert_allclose(np.array(result.stdout.split()[1:], dtype=float),
                                       expected, rtol=1e-9)


def test_predict_bad_input_is_one_line(files, tmp_path):
    root, table = files
    model = tmp_path / "model.json"
    assert invoke("fit", root / "data.parquet", *ROLES, "--no-compare", "-q", "--output",
                  model).exit_code == 0
    pq.write_table(table.drop_columns(["flag"]), tmp_path / "noflag.parquet")
    one_line_error(invoke("predict", model, tmp_path / "noflag.parquet"),
                   r"noflag.parquet: missing column\(s\) flag \(the data have: x, region")
    region = table.column("region").to_pylist()
    region[5] = "west"
    unseen = table.set_column(2, "region", pa.array(region))
    pq.write_table(unseen, tmp_path / "unseen.parquet")
    one_line_error(invoke("predict", model, tmp_path / "unseen.parquet"),
                   r"unseen.parquet: column 'region' has level\(s\) not seen when the model "
                   r"was fitted: 'west'")
    region[5] = None
    pq.write_table(table.set_column(2, "region", pa.array(region)), tmp_path / "null.parquet")
    one_line_error(invoke("predict", model, tmp_path / "null.parquet"),
                   r"null.parquet: row 5, column 'region': missing value$")
    numbers = table.set_column(2, "region", pa.array(np.arange(N) % 3 + 0.5))
    pq.write_table(numbers, tmp_path / "numbers.parquet")
    one_line_error(invoke("predict", model, tmp_path / "numbers.parquet"),
                   r"numbers.parquet: column 'region' has level\(s\) not seen when the "
                   r"model was fitted: '0.5', '1.5', '2.5'")
    one_line_error(invoke("predict", model, root / "data.parquet", "--delimiter", ";"),
                   r"--delimiter applies to CSV input only")


def test_fit_bad_input_is_one_line(files, tmp_path, monkeypatch):
    root, table = files
    one_line_error(invoke("fit", root / "data.parquet", *ROLES, "--delimiter", ";"),
                   r"--delimiter applies to CSV input only \(data.parquet is read directly\)")
    one_line_error(invoke("fit", root / "data.parquet", "--target", "nope"),
                   r"data.parquet: no column named 'nope' \(target\); columns are: x, flag")
    stamped = table.append_column("when", pa.array(np.arange(N).astype("datetime64[ms]")))
    pq.write_table(stamped, tmp_path / "stamped.parquet")
    one_line_error(invoke("fit", tmp_path / "stamped.parquet", *ROLES),
                   r"stamped.parquet: column 'when' \(feature\) has unsupported type "
                   r"timestamp\[ms\]")
    assert invoke("fit", tmp_path / "stamped.parquet", *ROLES, "--features", "x",
                  "--no-compare").exit_code == 0
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    one_line_error(invoke("fit", root / "data.parquet", *ROLES),
                   r"^Error: reading Parquet files needs pyarrow: pip install 'ngd\[arrow\]'$")
    one_line_error(invoke("fit", root / "data.feather", *ROLES),
                   r"reading Arrow IPC files needs pyarrow: pip install 'ngd\[arrow\]'")
