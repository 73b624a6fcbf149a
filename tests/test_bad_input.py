"""A catalogue of bad inputs: every one gives exit code 2, one line on stderr, no traceback,
nothing on stdout and no file written (CLI); or a ValueError/TypeError with a one-line message
that names the problem (Python API)."""
import os
import pathlib

import numpy as np
import pytest
from click.testing import CliRunner

import ngd
from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPECTOR = ROOT / "examples" / "spector.csv"


def text_file(name, text):
    def make(folder):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path
    return make


def bytes_file(name, data):
    def make(folder):
        path = folder / name
        path.write_bytes(data)
        return path
    return make


def npz_file(**arrays):
    def make(folder):
        path = folder / "data.npz"
        np.savez(path, **arrays)
        return path
    return make


def spector(folder):
    path = folder / "spector.csv"
    path.write_text(SPECTOR.read_text())
    return path


GOOD_X = np.array([[0.0, 1], [1, 0], [2, 2], [3, 1]])
GOOD_Y = np.array([0, 1, 0, 1])

# (id, data maker, extra CLI arguments, text expected in the one-line error)
CLI_CASES = [
    ("empty", text_file("e.csv", ""), [], "file is empty"),
    ("header-only", text_file("h.csv", "a,b,y\n"), [], "no data rows"),
    ("blank-header", text_file("b.csv", "\n1,2,0\n"), [], "first line (header) is empty"),
    ("ragged-short", text_file("r.csv", "a,b,y\n1,2,0\n3,4\n"), [],
     "line 3: expected 3 fields, found 2"),
    ("ragged-long", text_file("r.csv", "a,b,y\n1,2,0\n3,4,1,9\n"), [],
     "line 3: expected 3 fields, found 4"),
    ("non-numeric", text_file("t.csv", "a,b,y\n1,2,0\n3,oops,1\n"), [],
     "line 3, column 'b': non-numeric value 'oops'"),
    ("missing-cell", text_file("m.csv", "a,b,y\n1,2,0\n3,,1\n"), [],
     "line 3, column 'b': missing value"),
    ("nan-cell", text_file("n.csv", "a,b,y\n1,2,0\n3,NaN,1\n"), [],
     "line 3, column 'b': missing value NaN"),
    ("inf-cell", text_file("i.csv", "a,b,y\n1,2,0\n3,inf,1\n"), [],
     "line 3, column 'b': non-finite value inf"),
    ("overflow-1e400", text_file("o.csv", "a,b,y\n1,2,0\n3,1e400,1\n"), [],
     "line 3, column 'b': non-finite value 1e400"),
    ("gigantic-1e308", text_file("g.csv", "a,b,y\n1,2,0\n3,1e308,1\n2,1,1\n"), [],
     "line 3, column 'b': value 1e308 is too large"),
    ("duplicate-names", text_file("d.csv", "a,a,y\n1,2,0\n3,4,1\n"), [],
     "duplicate column name(s) in the header: a"),
    ("empty-name", text_file("d.csv", "a,,y\n1,2,0\n3,4,1\n"), [], "column(s) 2 have no name"),
    ("unknown-target", spector, ["--target", "nope"], "no column named 'nope' (target)"),
    ("unknown-feature", spector, ["--features", "GPA,AGE"], "no column named 'AGE' (features)"),
    ("unknown-weights", spector, ["--weights", "W"], "no column named 'W' (weights)"),
    ("weights-is-target", spector, ["--weights", "GRADE"],
     "cannot be both the target and the weights"),
    ("feature-is-target", spector, ["--features", "GPA,GRADE"],
     "is the target; it cannot also be a feature"),
    ("negative-weight", text_file("w.csv", "a,w,y\n1,1,0\n2,-1,1\n3,1,1\n"),
     ["--weights", "w"], "line 3, column 'w': negative weight -1"),
    ("one-class", text_file("c.csv", "a,y\n1,1\n2,1\n3,1\n"), [], "only one class"),
    ("three-classes", text_file("c.csv", "a,y\n1,0\n2,1\n3,2\n"), [], "3 distinct values"),
    ("only-target", text_file("c.csv", "y\n0\n1\n"), [], "need at least one feature column"),
    ("string-feature", text_file("s.csv", "a,city,y\n1,Rome,0\n2,Oslo,1\n"), [],
     "column 'city': non-numeric value 'Rome' (--categorical city one-hot encodes it)"),
    ("categorical-target", spector, ["--categorical", "GRADE"],
     "'GRADE' is the target; it cannot also be categorical"),
    ("all-rows-missing", text_file("a.csv", "a,y\n,1\n2,\n"), ["--dropna"],
     "every data row has a missing cell"),
    ("not-utf8", bytes_file("u.csv", b"a,y\n\xff\xfe,1\n"), [], "not a UTF-8 text file"),
    ("nul-bytes", bytes_file("z.csv", b"a,y\x00\n1,0\n"), [], "binary file"),
    ("unsupported-suffix", text_file("d.xlsx", "x"), [], "unsupported file type '.xlsx'"),
    ("not-parquet", text_file("d.parquet", "x"), [], "d.parquet: cannot read Parquet data"),
    ("npz-not-zip", text_file("x.npz", "plain text"), [], "cannot read NPZ file"),
    ("npz-no-y", npz_file(X=GOOD_X), [], "must contain arrays 'X' and 'y'"),
    ("npz-1d-X", npz_file(X=np.ones(4), y=GOOD_Y), [], "array 'X' must be 2-D"),
    ("npz-short-y", npz_file(X=GOOD_X, y=GOOD_Y[:3]), [], "array 'y' must have shape (4,)"),
    ("npz-nan-X", npz_file(X=np.where(GOOD_X == 2, np.nan, GOOD_X), y=GOOD_Y), [],
     "array 'X' has a non-finite value"),
    ("npz-string-X", npz_file(X=GOOD_X.astype(str), y=GOOD_Y), [], "array 'X' must be numeric"),
    ("npz-object", npz_file(X=np.array([[1, "a"], [2, None]], dtype=object), y=GOOD_Y[:2]), [],
     "cannot load arrays"),
    ("npz-negative-w", npz_file(X=GOOD_X, y=GOOD_Y, w=np.array([1, -1, 1, 1])), [],
     "array 'w' (sample weights) must be >= 0"),
    ("npz-offset-shape", npz_file(X=GOOD_X, y=GOOD_Y, offset=np.ones(2)), [],
     "array 'offset' must be numeric with shape (4,)"),
    ("npz-names-shape", npz_file(X=GOOD_X, y=GOOD_Y, feature_names=np.array(["a"])), [],
     "array 'feature_names' must have shape (2,)"),
    ("npz-csv-option", npz_file(X=GOOD_X, y=GOOD_Y), ["--features", "a"],
     "--features apply to CSV input only"),
    ("l2-negative", spector, ["--l2", "-1"], "Invalid value for '--l2'"),
    ("max-iter-zero", spector, ["--max-iter", "0"], "Invalid value for '--max-iter'"),
    ("tol-negative", spector, ["--tol", "-1"], "Invalid value for '--tol'"),
    ("method-unknown", spector, ["--method", "bfgs"], "Invalid value for '--method'"),
    ("link-unknown", spector, ["--link", "sqrt"], "'sqrt' is not one of identity"),
    ("power-not-number", spector, ["--power", "abc"], "Invalid value for '--power'"),
    ("model-unknown", spector, ["--model", "nonsense"], "nonsense"),
    ("delimiter-long", spector, ["--delimiter", ",,"], "Invalid value for '--delimiter'"),
    ("features-empty-name", spector, ["--features", "GPA,,PSI"],
     "expected comma-separated column names"),
    ("unknown-option", spector, ["--bogus"], "No such option '--bogus'"),
]


def run_cli(tmp_path, args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def assert_one_line_exit_2(result, expected):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_input_to_fit(tmp_path, case):
    _, make, extra, expected = case
    inputs = tmp_path / "in"
    inputs.mkdir()
    data = make(inputs)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(tmp_path, ["fit", data, *extra, "--output", out / "m.json",
                                "--history", out / "h.csv"])
    assert_one_line_exit_2(result, expected)
    assert list(out.iterdir()) == []


def test_catalogue_is_large_enough():
    assert len(CLI_CASES) + len(PATH_CASES) + len(API_CASES) >= 30


def _directory(tmp_path):
    return ["fit", tmp_path]


def _missing(tmp_path):
    return ["fit", tmp_path / "absent.csv"]


def _output_dir_missing(tmp_path):
    return ["fit", SPECTOR, "--output", tmp_path / "no" / "m.json"]


def _output_is_directory(tmp_path):
    (tmp_path / "d").mkdir()
    return ["fit", SPECTOR, "--history", tmp_path / "d"]


def _output_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    return ["fit", SPECTOR, "--output", tmp_path / "f" / "m.json"]


def _model_not_json(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    return ["predict", tmp_path / "m.json", SPECTOR]


def _model_wrong_format(tmp_path):
    (tmp_path / "m.json").write_text('{"format": "other"}')
    return ["predict", tmp_path / "m.json", SPECTOR]


def _predict_columns(tmp_path):
    model = tmp_path / "m.json"
    CliRunner().invoke(cli, ["fit", str(SPECTOR), "-o", str(model), "--no-compare"])
    (tmp_path / "x.csv").write_text("GPA,TUCE\n1,2\n")
    return ["predict", model, tmp_path / "x.csv", "--output", tmp_path / "p.csv"]


def _unreadable(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a,y\n1,0\n2,1\n")
    path.chmod(0)
    return ["fit", path]


PATH_CASES = [
    ("directory-instead-of-file", _directory, "is a directory"),
    ("missing-file", _missing, "does not exist"),
    ("output-folder-missing", _output_dir_missing, "does not exist"),
    ("output-is-directory", _output_is_directory, "is a directory"),
    ("output-under-a-file", _output_under_a_file, "does not exist"),
    ("model-not-json", _model_not_json, "not valid JSON"),
    ("model-wrong-format", _model_wrong_format, "'format' is not 'ngd.model'"),
    ("predict-columns", _predict_columns, "missing column(s): PSI"),
    ("unreadable", _unreadable, "ermission denied"),
]


@pytest.mark.parametrize("case", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_bad_paths(tmp_path, case):
    _, make, expected = case
    if case[0] == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads every file")
    args = make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = run_cli(tmp_path, args)
    assert_one_line_exit_2(result, expected)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


API_CASES = [
    ("X-strings", lambda: ngd.fit(np.array([["a", "b"], ["c", "d"]]), [0, 1]), TypeError,
     "X must be numeric"),
    ("y-shape", lambda: ngd.fit(GOOD_X, [0, 1]), ValueError, "y must have shape (4,)"),
    ("negative-weights", lambda: ngd.fit(GOOD_X, GOOD_Y, sample_weight=[1, -1, 1, 1]),
     ValueError, "sample_weight"),
    ("l2-negative", lambda: ngd.fit(GOOD_X, GOOD_Y, l2=-1.0), ValueError, "l2"),
    ("one-class", lambda: ngd.fit(GOOD_X, np.ones(4)), ValueError, "one class"),
    ("X-inf", lambda: ngd.fit(np.where(GOOD_X == 3, np.inf, GOOD_X), GOOD_Y), ValueError,
     "non-finite"),
    ("unknown-model", lambda: ngd.fit(GOOD_X, GOOD_Y, model="nonsense"), ValueError,
     "nonsense"),
    ("estimator-continuous-y", lambda: ngd.LogisticRegression().fit(GOOD_X, [0.5, 1, 2, 3]),
     ValueError, "Unknown label type: continuous"),
    ("estimator-1d-X", lambda: ngd.LogisticRegression().fit(np.ones(4), GOOD_Y), ValueError,
     "Expected 2D array"),
    ("read-csv-missing-column", lambda: ngd.io.read_csv(SPECTOR, weights="W"), ValueError,
     "no column named 'W'"),
    ("predict-shape", lambda: ngd.predict("logistic", [1.0, 2.0], 0.0, np.ones((2, 3))),
     ValueError, "X has 3 columns but the model has 2 coefficients"),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_input_to_python_api(case):
    _, call, error, expected = case
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert expected in message and "\n" not in message
