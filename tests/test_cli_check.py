"""``ngd check DATA``: the table and the JSON rows, a visible FAIL (misspecified counts), the
options reaching the checks, and one-line errors."""
import json
import pathlib

import numpy as np
from click.testing import CliRunner

from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
BREAST = ROOT / "examples" / "breast_cancer.csv"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def counts_csv(tmp_path, overdispersed):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    mu = np.exp(0.5 + X @ [0.4, -0.3])
    y = rng.negative_binomial(1.0, 1.0 / (1.0 + mu)) if overdispersed else rng.poisson(mu)
    path = tmp_path / "counts.csv"
    path.write_text("a,b,visits\n" + "".join(f"{a},{b},{v}\n" for (a, b), v in zip(X, y)))
    return path


def test_table_has_every_row_and_passes_on_the_bundled_example():
    result = invoke("check", BREAST, "--threads", "1")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("logistic model (link logit) on") and "converged" in lines[0]
    header = next(line for line in lines if line.startswith("quantity"))
    for column in ("measured", "expected", "tolerance", "result", "note"):
        assert column in header
    rows = [line for line in lines if " pass " in line or " FAIL " in line]
    assert len(rows) == 8 and all(" pass " in line for line in rows)
    assert result.stderr == ""


def test_json_rows_and_options():
    result = invoke("check", BREAST, "--json", "--draws", "50", "--seed", "7", "--l2", "0.01",
                    "--threads", "1")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "ngd.check/1" and report["passed"] is True
    assert report["draws"] == 50 and report["seed"] == 7 and report["l2"] == 0.01
    assert len(report["rows"]) == 8
    for row in report["rows"]:
        assert set(row) == {"quantity", "value", "target", "tolerance", "passed", "note"}
        assert row["passed"] is True
    assert "50 model draws" in report["rows"][0]["note"]
    other = json.loads(invoke("check", BREAST, "--json", "--draws", "50", "--seed", "8",
                              "--l2", "0.01", "--threads", "1").stdout)
    assert other["rows"][0]["value"] != report["rows"][0]["value"]


def test_a_violated_proposition_is_a_visible_fail(tmp_path):
    path = counts_csv(tmp_path, overdispersed=True)
    result = invoke("check", path, "--model", "poisson", "--threads", "1")
    assert result.exit_code == 0
    failed = [line for line in result.stdout.splitlines() if " FAIL " in line]
    assert len(failed) == 1 and failed[0].startswith("empirical vs exact Fisher")
    assert "1 of 8 checks failed: empirical vs exact Fisher" in result.stderr
    report = json.loads(invoke("check", path, "--model", "poisson", "--json").stdout)
    assert report["passed"] is False
    assert [r["passed"] for r in report["rows"]].count(False) == 1
    good = json.loads(invoke("check", counts_csv(tmp_path, overdispersed=False), "--model",
                             "poisson", "--json").stdout)
    assert good["passed"] is True


def test_bad_input_is_one_line_with_exit_code_2(tmp_path):
    for args in (["--draws", "1"], ["--model", "nonsense"], ["--target", "missing"]):
        result = invoke("check", BREAST, *args)
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error:"), args
    assert "check" in invoke("--help").stdout
    help_text = invoke("check", "--help").stdout
    for option in ("--model", "--draws", "--seed", "--json", "--l2", "--target"):
        assert option in help_text
