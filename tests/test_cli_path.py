"""``ngd fit --alpha/--l1-ratio``, ``--path`` and ``--cv``: JSON documents that agree with the
library, tables, plots, the saved model, and one-line errors (exit 2) for bad combinations."""
import json
import pathlib

import numpy as np
import pytest
from click.testing import CliRunner

import ngd
from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
BREAST = ROOT / "examples" / "breast_cancer.csv"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def as_json(*args):
    result = invoke("fit", BREAST, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def data():
    table = np.genfromtxt(BREAST, delimiter=",", skip_header=1)
    return table[:, :-1], table[:, -1]


def test_alpha_and_l1_ratio_fit_matches_the_library(data):
    X, y = data
    report = as_json("--alpha", "0.01", "--l1-ratio", "1")
    res = ngd.fit(X, y, alpha=0.01, l1_ratio=1.0)
    assert report["penalty"]["alpha"] == 0.01 and report["penalty"]["l1_ratio"] == 1.0
    assert report["penalty"]["n_nonzero"] == res.n_nonzero < X.shape[1]
    assert report["penalty"]["kkt_violation"] <= 1e-8
    estimates = [c["estimate"] for c in report["coefficients"]]
    np.testing.assert_allclose(estimates, np.r_[res.intercept, res.coef], atol=1e-10)
    assert [row["method"] for row in report["convergence"]] == ["ngd"]
    ridge = as_json("--alpha", "0.01", "--no-compare")      # l1-ratio 0: the ridge l2 = 0.01
    assert ridge["l2"] == 0.01 and ridge["penalty"] is None


def test_path_json_lists_every_penalty(data, tmp_path):
    X, y = data
    plot = tmp_path / "path.png"
    report = as_json("--path", "--n-alphas", "6", "--plot", plot)
    assert report["schema"] == "ngd.path/1" and len(report["penalties"]) == 6
    first, second = report["penalties"][:2]
    assert first["n_nonzero"] == 0 and second["n_nonzero"] > 0
    assert all(v == 0 for k, v in first["coefficients"].items() if k != "(intercept)")
    path = ngd.fit_path(X, y, n_alphas=6)
    assert report["alpha_max"] == pytest.approx(path.alpha_max, rel=1e-12)
    np.testing.assert_allclose([p["deviance"] for p in report["penalties"]], path.deviance,
                               rtol=1e-9)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_path_and_cv_text_tables():
    result = invoke("fit", BREAST, "--path", "--n-alphas", "4")
    assert result.exit_code == 0, result.stderr
    for word in ("alpha", "non-zero", "deviance", "KKT", "mean_radius", "Fisher builds"):
        assert word in result.stdout
    result = invoke("fit", BREAST, "--cv", "3", "--n-alphas", "5", "--select", "1se")
    assert result.exit_code == 0, result.stderr
    assert "3-fold CV deviance" in result.stdout and "1se" in result.stdout


def test_cv_json_and_saved_model_predict_like_the_library(data, tmp_path):
    X, y = data
    model = tmp_path / "model.json"
    report = as_json("--cv", "3", "--n-alphas", "6", "--output", model)
    assert report["schema"] == "ngd.cv/1" and report["n_folds"] == 3
    assert report["alpha"] == report["alpha_best"] <= report["alpha_1se"]
    cv = ngd.cross_validate(X, y, n_alphas=6, cv=3)
    assert report["alpha_best"] == pytest.approx(cv.alpha_best, rel=1e-12)
    np.testing.assert_allclose([p["cv_mean"] for p in report["penalties"]], cv.cv_mean,
                               rtol=1e-9)
    loaded = ngd.load_model(model)
    np.testing.assert_allclose(loaded.coef, cv.fit.coef, atol=1e-10)


@pytest.mark.parametrize("args,text", [
    (["--l1-ratio", "1.5", "--alpha", "1"], "l1-ratio"),
    (["--l1-ratio", "0.5"], "needs --alpha"),
    (["--path", "--cv", "3"], "exclusive"),
    (["--path", "--alpha", "0.1"], "own grid"),
    (["--alpha", "0.1", "--l2", "0.1"], "either --l2"),
    (["--cv", "1"], "--cv"),
    (["--path", "--history", "h.csv"], "need one fit"),
    (["--alpha", "0.1", "--l1-ratio", "1", "--method", "sgd"], "proximal"),
])
def test_bad_combinations_are_one_line_errors(args, text, tmp_path):
    result = CliRunner().invoke(cli, ["fit", str(BREAST)] + [
        str(tmp_path / a) if a.endswith(".csv") else a for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr
