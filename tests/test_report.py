"""ngd.report: the one text renderer of fit documents (FitResult.to_dict(), schema ngd.fit/1),
used by FitResult.summary and ``ngd fit``; the CLI's --json document is to_dict() plus the data
block and the convergence comparison."""
import json
import math
import pathlib

import numpy as np
from click.testing import CliRunner

import ngd
from ngd import report
from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPECTOR = ROOT / "examples" / "spector.csv"


def spector_arrays():
    table = np.genfromtxt(SPECTOR, delimiter=",", names=True)
    names = [n for n in table.dtype.names if n != "GRADE"]
    return np.column_stack([table[n] for n in names]), table["GRADE"], names


def test_to_dict_is_the_fit_schema_and_json_ready():
    X, y, names = spector_arrays()
    result = ngd.fit(X, y)
    document = json.loads(json.dumps(result.to_dict(names), allow_nan=False))
    assert document["schema"] == "ngd.fit/1"
    assert [c["name"] for c in document["coefficients"]] == ["(intercept)"] + names
    np.testing.assert_array_equal([c["pvalue"] for c in document["coefficients"]],
                                  result.pvalues)
    assert document["statistics"]["aic"] == result.aic
    assert document["inference"] == {"statistic": "z", "distribution": "normal", "df": None,
                                     "conf_level": 0.95, "cluster": None, "n_groups": None}
    assert result.to_dict(alpha=0.1)["inference"]["conf_level"] == 0.9


def test_coefficient_table_rows_and_interval_headers():
    X, y, names = spector_arrays()
    result = ngd.fit(X, y)
    document = result.to_dict(names, alpha=0.1)
    lines = report.coefficient_table(document).splitlines()
    assert lines[0].split() == ["feature", "estimate", "std.err", "z", "P>|z|", "[0.05",
                                "0.95]"]
    row = lines[2 + names.index("GPA") + 1].split()
    ci = result.conf_int(0.1)[1 + names.index("GPA")]
    assert row == ["GPA", f"{result.params[1]:.6g}", f"{result.bse[1]:.4g}",
                   f"{result.tvalues[1]:.3f}", f"{result.pvalues[1]:.3g}", f"{ci[0]:.6g}",
                   f"{ci[1]:.6g}"]


def test_convergence_rows_gap_to_the_best_finite_loss():
    base = {"fisher": "exact", "step_rule": "armijo", "n_iter": 3, "time": 0.5,
            "grad_norm": 1e-9, "decrement": None, "solver": "cholesky", "converged": True,
            "status": 0, "message": "ok"}
    documents = [dict(base, method="ngd", loss=2.5), dict(base, method="sgd", loss=None),
                 dict(base, method="newton", loss=2.0)]
    rows, best = report.convergence_rows(documents)
    assert best == 2.0 and [r["gap"] for r in rows] == [0.5, None, 0.0]
    table = report.convergence_table(rows).splitlines()
    assert table[3].split()[:2] == ["sgd", "exact"] and table[3].split()[4:6] == ["-", "-"]
    assert math.isnan(report.convergence_rows([documents[1]])[1])


def test_summary_is_the_rendered_document():
    X, y, names = spector_arrays()
    result = ngd.fit(X, y)
    document = result.to_dict(names)
    document["convergence"] = report.convergence_rows([document])[0]
    assert result.summary(names) == report.render(document, width=ngd.result.SUMMARY_WIDTH)
    text = result.summary(names)
    assert text.splitlines()[:3] == [
        "logistic regression; l2 = 0", "coefficients from ngd (exact curvature)",
        "standard errors from the inverse Fisher information; normal distribution"]
    assert report.CONVERGENCE_TITLE in text


def test_width_wraps_headers_and_cuts_long_names():
    X, y, _ = spector_arrays()
    long_names = ["a" * 40, "b", "c"]
    result = ngd.fit(X, y, cov_type="robust")
    text = result.summary(long_names)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "a" * report.NAME_WIDTH in text and "a" * (report.NAME_WIDTH + 1) not in text
    full = report.render(result.to_dict(long_names))
    assert "a" * 40 in full and "robust (sandwich) standard errors" in full


def test_negative_binomial_summary_within_the_width():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 2))
    y = rng.poisson(np.exp(1 + X @ [0.3, -0.2]) * rng.gamma(2.0, 0.5, 300)).astype(float)
    result = ngd.fit(X, y, model="negative_binomial")
    text = result.summary()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert f"NB2 alpha {result.nb_alpha:.6g}" in text
    last = report.render(result.to_dict()).splitlines()[-1]      # no width: one line
    assert last.startswith("NB2 alpha") and last.endswith("coefficients and alpha)")


def test_cluster_phrase_with_and_without_column_names():
    document = {"cov_type": "cluster", "inference": {
        "distribution": "t", "df": 10, "cluster": None, "n_groups": [11, 20]}}
    assert report.inference_phrase(document) == \
        "cluster-robust (CR1) standard errors, clusters: 11 x 20; t distribution, 10 df"
    document["inference"]["cluster"] = ["firm", "year"]
    assert report.inference_phrase(document).startswith(
        "cluster-robust (CR1) standard errors, clusters: 11 firm x 20 year;")


def test_cli_json_is_to_dict_with_the_data_block_and_convergence():
    run = CliRunner().invoke(cli, ["fit", str(SPECTOR), "--target", "GRADE", "--json",
                                   "--compare", "newton"])
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    X, y, names = spector_arrays()
    expected = json.loads(json.dumps(ngd.fit(X, y).to_dict(names)))
    assert set(expected) <= set(document)
    for key in ("schema", "coefficients", "statistics", "inference", "model", "link"):
        np.testing.assert_equal(document[key], expected[key])
    assert [r["method"] for r in document["convergence"]] == ["ngd", "newton"]
    assert document["best_loss"] == min(r["loss"] for r in document["convergence"])
    assert document["data"]["target"] == "GRADE" and document["data"]["n_samples"] == 32


def test_to_dict_penalty_block_of_an_l1_fit():
    X, y, _ = spector_arrays()
    assert ngd.fit(X, y, l2=1e-3).to_dict()["penalty"] is None
    lasso = ngd.fit(X, y, alpha=0.05, l1_ratio=0.5)
    assert lasso.to_dict()["penalty"] == {"alpha": 0.05, "l1_ratio": 0.5,
                                          "kkt_violation": lasso.kkt_violation,
                                          "n_nonzero": lasso.n_nonzero}
