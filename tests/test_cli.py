"""The ``ngd`` command line: tables, JSON, options, and one line per bad input (exit 2)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
BREAST = ROOT / "examples" / "breast_cancer.csv"
SPECTOR = ROOT / "examples" / "spector.csv"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def fit_json(*args):
    result = invoke("fit", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_fit_prints_both_tables_on_bundled_example():
    result = invoke("fit", BREAST, "--model", "logistic")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for header in ("feature", "estimate", "std.err", "z", "method", "iter", "time [s]",
                   "final loss", "gap", "grad norm", "converged"):
        assert header in out
    for method in ("ngd", "newton", "sgd"):
        assert any(line.startswith(method) for line in out.splitlines())
    assert "mean_texture" in out and "(intercept)" in out


def test_fit_json_matches_statsmodels_reference_on_spector():
    # Spector & Mazzeo logit, statsmodels Logit(...).fit(): params and bse (published values).
    report = fit_json(SPECTOR, "--target", "GRADE")
    assert report["schema"] == "ngd.fit/1"
    coefs = {c["name"]: c for c in report["coefficients"]}
    expected = {"(intercept)": (-13.021347, 4.931324), "GPA": (2.826113, 1.262941),
                "TUCE": (0.095158, 0.141554), "PSI": (2.378688, 1.064564)}
    for name, (estimate, stderr) in expected.items():
        assert coefs[name]["estimate"] == pytest.approx(estimate, rel=1e-5)
        assert coefs[name]["stderr"] == pytest.approx(stderr, rel=1e-5)
        assert coefs[name]["z"] == pytest.approx(estimate / stderr, rel=1e-5)
    rows = {row["method"]: row for row in report["convergence"]}
    assert set(rows) == {"ngd", "newton", "sgd"}
    assert rows["ngd"]["converged"] and rows["newton"]["converged"]
    assert min(row["gap"] for row in rows.values()) == 0.0
    assert rows["ngd"]["gap"] < 1e-12 and rows["newton"]["gap"] < 1e-12


def test_no_compare_runs_one_method_and_options_reach_the_fit():
    report = fit_json(SPECTOR, "--no-compare", "--method", "ngd", "--fisher", "empirical",
                      "--l2", "0.01", "--max-iter", "500", "--threads", "1")
    assert [row["method"] for row in report["convergence"]] == ["ngd"]
    assert report["convergence"][0]["fisher"] == "empirical"
    assert report["l2"] == 0.01
    plain = fit_json(SPECTOR, "--no-compare")
    assert report["loss"] > plain["loss"]          # the ridge term raises the optimum


def test_method_newton_and_kl_step_and_no_intercept():
    report = fit_json(BREAST, "--method", "newton", "--no-compare")
    assert report["convergence"][0]["fisher"] == "observed"
    report = fit_json(SPECTOR, "--step", "kl", "--kl", "0.05", "--no-compare")
    assert report["convergence"][0]["step"] == "kl" and report["converged"]
    report = fit_json(SPECTOR, "--no-intercept", "--no-compare")
    assert all(c["name"] != "(intercept)" for c in report["coefficients"])


def test_string_labels_and_npz_input(tmp_path):
    text = SPECTOR.read_text().splitlines()
    rows = [text[0]] + [",".join(line.split(",")[:-1] + [["fail", "pass"][int(line[-1])]])
                        for line in text[1:]]
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("\n".join(rows) + "\n")
    report = fit_json(labelled, "--no-compare")
    assert report["data"]["classes"] == {"fail": 0, "pass": 1}
    numeric = fit_json(SPECTOR, "--no-compare")
    assert report["loss"] == pytest.approx(numeric["loss"], rel=1e-12)
    data = np.genfromtxt(SPECTOR, delimiter=",", skip_header=1)
    npz = tmp_path / "spector.npz"
    np.savez(npz, X=data[:, :-1], y=data[:, -1], w=np.ones(len(data)))
    from_npz = fit_json(npz, "--no-compare")
    assert from_npz["loss"] == pytest.approx(numeric["loss"], rel=1e-12)
    assert [c["name"] for c in from_npz["coefficients"]] == ["(intercept)", "x0", "x1", "x2"]


def test_help_of_every_command_mentions_every_option():
    for command, options in {"fit": ["--model", "--target", "--method", "--fisher", "--l2",
                                     "--max-iter", "--tol", "--threads", "--json", "--seed",
                                     "--no-compare", "--step", "--kl", "--damping"],
                             "info": ["--json"]}.items():
        result = invoke(command, "--help")
        assert result.exit_code == 0
        for option in options:
            assert option in result.stdout
    assert invoke("--help").exit_code == 0


def test_info_json():
    result = invoke("info", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["schema"] == "ngd.info/1"
    assert isinstance(info["openmp"], bool)
    assert any(pool["user_api"] == "blas" for pool in info["threadpools"])
    assert set(info["optional"]) == {"dask", "distributed", "matplotlib", "scikit-learn",
                                     "pyarrow", "polars", "pandas", "formulaic"}
    text = invoke("info").stdout
    assert "optional: dask" in text and "(--backend dask)" in text


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_CSV = {
    "empty.csv": ("", "empty"),
    "header_only.csv": ("a,b,y\n", "no data rows"),
    "text_cell.csv": ("a,b,y\n1,2,0\n3,oops,1\n", "line 3, column 'b': non-numeric value 'oops'"),
    "missing_cell.csv": ("a,b,y\n1,2,0\n3,,1\n", "line 3, column 'b': missing value"),
    "nan_cell.csv": ("a,b,y\n1,2,0\n3,nan,1\n2,2,1\n", "line 3, column 'b': missing value"),
    "inf_cell.csv": ("a,b,y\n1,2,0\n3,inf,1\n2,2,1\n", "column 'b': non-finite"),
    "ragged.csv": ("a,b,y\n1,2,0\n3,4\n", "line 3: expected 3 fields, found 2"),
    "one_class.csv": ("a,b,y\n1,2,1\n3,4,1\n5,6,1\n", "only one class"),
    "three_classes.csv": ("a,b,y\n1,2,0\n3,4,1\n5,6,2\n", "3 distinct values"),
    "only_target.csv": ("y\n0\n1\n", "at least one feature"),
    "duplicate.csv": ("a,a,y\n1,2,0\n3,4,1\n", "duplicate column"),
}


@pytest.mark.parametrize("name", sorted(BAD_CSV))
def test_bad_csv_gives_one_line_and_exit_2(tmp_path, name):
    text, expected = BAD_CSV[name]
    result = invoke("fit", write(tmp_path, name, text))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert name in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_target_column_is_named(tmp_path):
    result = invoke("fit", SPECTOR, "--target", "nope")
    assert result.exit_code == 2
    assert "no column named 'nope'" in result.stderr and "GRADE" in result.stderr


def test_unreadable_and_unknown_files(tmp_path):
    result = invoke("fit", tmp_path / "absent.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    result = invoke("fit", binary)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    other = write(tmp_path, "data.xlsx", "x")
    result = invoke("fit", other)
    assert result.exit_code == 2 and "unsupported file type" in result.stderr


@pytest.mark.parametrize("arrays, expected", [
    ({"A": np.ones((3, 2)), "y": np.array([0, 1, 0])}, "must contain arrays 'X' and 'y'"),
    ({"X": np.ones(3), "y": np.array([0, 1, 0])}, "must be 2-D"),
    ({"X": np.ones((3, 2)), "y": np.array([0, 1])}, "must have shape (3,)"),
    ({"X": np.array([[1.0, np.nan], [0, 1], [2, 2]]), "y": np.array([0, 1, 0])}, "non-finite"),
    ({"X": np.ones((3, 2)), "y": np.array([1, 1, 1])}, "only one class"),
    ({"X": np.ones((3, 2)), "y": np.array([0, 1, 0]), "w": np.array([1, -1, 1])}, ">= 0"),
])
def test_bad_npz_gives_one_line_and_exit_2(tmp_path, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    result = invoke("fit", path)
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_not_an_npz_file(tmp_path):
    path = write(tmp_path, "fake.npz", "this is text")
    result = invoke("fit", path)
    assert result.exit_code == 2 and "cannot read NPZ" in result.stderr


def test_bad_options_exit_2():
    assert invoke("fit", SPECTOR, "--model", "no-such-model").exit_code == 2
    assert invoke("fit", SPECTOR, "--l2", "-1").exit_code == 2
    assert invoke("fit", SPECTOR, "--method", "bfgs").exit_code == 2
    assert invoke("fit", SPECTOR, "--max-iter", "0").exit_code == 2


def test_model_name_accepts_dash_and_case():
    result = invoke("fit", SPECTOR, "--model", "Logistic", "--no-compare")
    assert result.exit_code == 0, result.stderr


def test_installed_console_script_runs(tmp_path):
    script = shutil.which("ngd", path=os.path.dirname(sys.executable)) or shutil.which("ngd")
    command = [script] if script else [sys.executable, "-m", "ngd"]
    done = subprocess.run(command + ["fit", str(SPECTOR), "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["converged"]
    bad = write(tmp_path, "bad.csv", "a,y\n1,0\nx,1\n")
    done = subprocess.run(command + ["fit", str(bad)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "non-numeric" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_does_not_import_private_modules():
    for source in (ROOT / "cli").glob("*.py"):
        text = source.read_text()
        assert "ngd._" not in text, f"{source.name} imports a private ngd module"
