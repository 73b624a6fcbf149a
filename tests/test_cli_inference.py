"""``ngd fit``'s inference output: p-values and confidence intervals in the coefficient table
and --json (vs statsmodels, 1e-8 relative), --cov-type cluster --cluster COL (one- and
two-way, cluster columns not features), and one line with exit 2 for bad cluster options."""
import json
import pathlib
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from ngd.cli.main import cli

sm = pytest.importorskip("statsmodels.api")

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPECTOR = ROOT / "examples" / "spector.csv"
RTOL = 1e-8


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def fit_json(*args):
    result = invoke("fit", *args, "--json", "--no-compare", "--tol", "1e-13")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def columns(report, *keys):
    return np.array([[c[key] for key in keys] for c in report["coefficients"]], dtype=float)


@pytest.fixture(scope="module")
def grunfeld(tmp_path_factory):
    """The Grunfeld panel (11 firms x 20 years) as CSV, and the arrays for statsmodels."""
    data = sm.datasets.grunfeld.load_pandas().data
    path = tmp_path_factory.mktemp("cli_inference") / "grunfeld.csv"
    data[["value", "capital", "firm", "year", "invest"]].to_csv(path, index=False)
    firm = np.unique(data["firm"].to_numpy(str), return_inverse=True)[1]
    return path, data, firm, data["year"].to_numpy(int)


def sm_cluster(y, X, groups):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, X, family=sm.families.Gaussian()).fit(
            cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


def test_logistic_json_pvalues_and_intervals():
    report = fit_json(SPECTOR, "--target", "GRADE")
    d = sm.datasets.spector.load_pandas()
    ref = sm.Logit(d.endog, sm.add_constant(d.exog)).fit(method="newton", tol=1e-14, disp=0)
    assert report["inference"] == {"statistic": "z", "distribution": "normal", "df": None,
                                   "conf_level": 0.95, "cluster": None, "n_groups": None}
    np.testing.assert_allclose(columns(report, "z")[:, 0], ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "pvalue")[:, 0], ref.pvalues, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "ci_low", "ci_high"), ref.conf_int(),
                               rtol=RTOL)
    text = invoke("fit", SPECTOR, "--target", "GRADE", "--no-compare").stdout
    header = next(line for line in text.splitlines() if line.startswith("feature"))
    assert header.split() == ["feature", "estimate", "std.err", "z", "P>|z|", "[0.025",
                              "0.975]"]
    gpa = next(line for line in text.splitlines() if line.startswith("GPA"))
    assert gpa.split()[4] == format(ref.pvalues["GPA"], ".3g")


def test_cluster_one_way_json(grunfeld):
    path, data, firm, _ = grunfeld
    report = fit_json(path, "--model", "gaussian", "--target", "invest", "--features",
                      "value,capital", "--cov-type", "cluster", "--cluster", "firm")
    ref = sm_cluster(data["invest"], sm.add_constant(data[["value", "capital"]]), firm)
    assert report["cov_type"] == "cluster"
    assert report["inference"] == {"statistic": "t", "distribution": "t", "df": 10,
                                   "conf_level": 0.95, "cluster": ["firm"], "n_groups": [11]}
    np.testing.assert_allclose(columns(report, "stderr")[:, 0], ref.bse, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "t")[:, 0], ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "pvalue")[:, 0], ref.pvalues, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "ci_low", "ci_high"), ref.conf_int(),
                               rtol=RTOL)


def test_cluster_two_way_columns_are_not_features(grunfeld):
    path, data, firm, year = grunfeld
    report = fit_json(path, "--model", "gaussian", "--target", "invest", "--cov-type",
                      "cluster", "--cluster", "firm", "--cluster", "year")
    assert report["data"]["n_features"] == 2
    assert [c["name"] for c in report["coefficients"]] == ["(intercept)", "value", "capital"]
    ref = sm_cluster(data["invest"], sm.add_constant(data[["value", "capital"]]),
                     np.column_stack([firm, year]))
    assert report["inference"]["n_groups"] == [11, 20]
    assert report["inference"]["df"] == 10
    np.testing.assert_allclose(columns(report, "stderr")[:, 0], ref.bse, rtol=RTOL)
    np.testing.assert_allclose(columns(report, "pvalue")[:, 0], ref.pvalues, rtol=RTOL)
    result = invoke("fit", path, "--model", "gaussian", "--target", "invest", "--cov-type",
                    "cluster", "--cluster", "firm", "--cluster", "year", "--no-compare")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "cluster-robust (CR1) standard errors, clusters: 11 firm x 20 year; t " \
           "distribution, 10 df" in lines
    assert next(line for line in lines if line.startswith("feature")).split() == \
        ["feature", "estimate", "std.err", "t", "P>|t|", "[0.025", "0.975]"]


def test_cluster_column_also_categorical_fixed_effects(grunfeld):
    """Firm fixed effects (--categorical firm) with standard errors clustered by firm."""
    path, data, firm, _ = grunfeld
    report = fit_json(path, "--model", "gaussian", "--target", "invest", "--features",
                      "value,capital", "--categorical", "firm", "--cov-type", "cluster",
                      "--cluster", "firm")
    dummies = (firm[:, None] == np.arange(1, 11)[None, :]).astype(float)
    X = np.column_stack([np.ones(len(firm)), data[["value", "capital"]], dummies])
    ref = sm_cluster(data["invest"].to_numpy(), X, firm)
    np.testing.assert_allclose(columns(report, "stderr")[:, 0], ref.bse, rtol=RTOL)


def test_cluster_with_dropna(tmp_path):
    rng = np.random.default_rng(2)
    n = 60
    x, g = rng.normal(size=n), rng.integers(0, 6, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    lines = ["x,g,y"] + [f"{a},{'' if i == 7 else f'c{b}'},{c}"
                         for i, (a, b, c) in enumerate(zip(x, g, y))]
    path = tmp_path / "missing.csv"
    path.write_text("\n".join(lines) + "\n")
    result = invoke("fit", path, "--cov-type", "cluster", "--cluster", "g", "--no-compare")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: line 9, column 'g': missing value (--dropna drops rows with "
        "missing cells)"]
    report = fit_json(path, "--cov-type", "cluster", "--cluster", "g", "--dropna")
    keep = np.arange(n) != 7
    ref = sm.Logit(y[keep], sm.add_constant(x[keep])).fit(
        method="newton", tol=1e-14, disp=0, cov_type="cluster", cov_kwds={"groups": g[keep]})
    assert report["data"]["n_dropped"] == 1
    np.testing.assert_allclose(columns(report, "pvalue")[:, 0], ref.pvalues, rtol=RTOL)


BAD = [
    (["--cov-type", "cluster", "--cluster", "nope"], "no column named 'nope' (cluster)"),
    (["--cluster", "firm"], "--cluster applies to --cov-type cluster"),
    (["--cov-type", "cluster"], "--cov-type cluster needs --cluster COL"),
    (["--cov-type", "cluster", "--cluster", "firm", "--cluster", "year", "--cluster",
      "value"], "--cluster is given 3 times"),
    (["--cov-type", "cluster", "--cluster", "firm", "--cluster", "firm"], "given twice"),
    (["--cov-type", "cluster", "--cluster", "invest"],
     "column 'invest' is the target; it cannot also be a cluster column"),
    (["--cov-type", "cluster", "--cluster", "firm", "--backend", "chunked"],
     "--cov-type cluster needs --backend numpy"),
    (["--cov-type", "cluster", "--cluster", "firm", "--path"],
     "applies to single fits"),
    (["--cov-type", "cluster", "--cluster", "firm", "--cache", "always"],
     "--cluster reads the CSV directly"),
    (["--cov-type", "cluster", "--cluster", "firm", "--alpha", "0.1", "--l1-ratio", "0.5"],
     "not the elastic net"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_cluster_options_one_line_exit_2(grunfeld, args, message):
    path = grunfeld[0]
    result = invoke("fit", path, "--model", "gaussian", "--target", "invest", *args)
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cluster_on_npz_input_is_refused(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.eye(4), y=np.array([0.0, 1.0, 1.0, 0.0]))
    result = invoke("fit", path, "--cov-type", "cluster", "--cluster", "g")
    assert result.exit_code == 2
    assert "--cluster apply to CSV input only" in result.stderr
