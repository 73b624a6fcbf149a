"""``ngd fit`` outputs (--output, --history, --plot), ``ngd predict``, data options, progress,
``ngd bench``: files written atomically and only on success."""
import csv
import io
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import ngd
from ngd.cli._progress import Progress
from ngd.cli.main import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
BREAST = ROOT / "examples" / "breast_cancer.csv"
SPECTOR = ROOT / "examples" / "spector.csv"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return result


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


def test_output_model_then_predict_round_trip(tmp_path):
    model = tmp_path / "model.json"
    report = json.loads(ok("fit", SPECTOR, "--output", model, "--json", "--no-compare").stdout)
    assert report["outputs"] == {"model": str(model), "history": None, "plot": None}
    doc = json.loads(model.read_text())
    assert doc["format"] == "ngd.model" and doc["feature_names"] == ["GPA", "TUCE", "PSI"]
    assert doc["input"]["target"] == "GRADE"
    coefs = {c["name"]: c["estimate"] for c in report["coefficients"]}
    assert doc["coef"] == [coefs["GPA"], coefs["TUCE"], coefs["PSI"]]
    # predictions: the target column in the file is ignored
    out = rows_of(ok("predict", model, SPECTOR).stdout)
    assert out[0] == ["prediction"] and len(out) == 33
    proba = rows_of(ok("predict", model, SPECTOR, "--proba").stdout)
    assert proba[0] == ["p_0", "p_1"]
    p1 = np.array([float(r[1]) for r in proba[1:]])
    assert [r[0] for r in out[1:]] == [str(int(v > 0.5)) for v in p1]
    data = np.genfromtxt(SPECTOR, delimiter=",", skip_header=1)
    expected = ngd.load_model(model).predict(data[:, :3])
    np.testing.assert_allclose(p1, expected, rtol=1e-15)


def test_predict_json_and_output_file(tmp_path):
    model = tmp_path / "m.json"
    ok("fit", SPECTOR, "-o", model, "--no-compare")
    preds = tmp_path / "p.csv"
    doc = json.loads(ok("predict", model, SPECTOR, "--json", "--output", preds).stdout)
    assert doc["schema"] == "ngd.predict/1" and doc["kind"] == "class"
    assert doc["n_samples"] == 32 and len(doc["predictions"]) == 32
    assert doc["columns"] == ["prediction"] and doc["output"] == str(preds)
    assert rows_of(preds.read_text())[0] == ["prediction"]
    doc = json.loads(ok("predict", model, SPECTOR, "--json", "--proba").stdout)
    assert doc["kind"] == "proba" and len(doc["predictions"][0]) == 2
    result = ok("predict", model, SPECTOR, "--output", preds)
    assert result.stdout == ""


def test_predict_refuses_mismatched_columns(tmp_path):
    model = tmp_path / "m.json"
    ok("fit", SPECTOR, "-o", model, "--no-compare")
    bad = tmp_path / "bad.csv"
    bad.write_text("GPA,PSI,AGE\n3.1,1,20\n")
    result = invoke("predict", model, bad)
    assert result.exit_code == 2
    assert "missing column(s): TUCE" in result.stderr
    assert "unexpected column(s): AGE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    reordered = tmp_path / "reordered.csv"
    reordered.write_text("PSI,TUCE,GPA\n1,20,3.1\n0,25,2.5\n")   # order does not matter
    out = rows_of(ok("predict", model, reordered, "--proba").stdout)
    expected = ngd.load_model(model).predict(np.array([[3.1, 20, 1], [2.5, 25, 0]]))
    np.testing.assert_allclose([float(r[1]) for r in out[1:]], expected)


def test_categorical_weights_offset_fit_and_predict(tmp_path):
    rng = np.random.default_rng(4)
    n = 120
    x = rng.normal(size=n)
    region = rng.choice(["north", "south", "west"], size=n)
    w = rng.uniform(0.5, 2, size=n)
    off = rng.normal(scale=0.1, size=n)
    eta = x + (region == "south") - (region == "west") + off
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    lines = ["x,region,w,off,id,y"] + [f"{a},{r},{b},{o},row{i},{t}" for i, (a, r, b, o, t)
                                        in enumerate(zip(x, region, w, off, y))]
    lines[7] = lines[7].replace(",row6,", ",,")               # a missing cell in an unused col
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.json"
    args = ("fit", path, "--features", "x", "--categorical", "region", "--weights", "w",
            "--offset", "off", "--no-compare", "--json", "-o", model)
    report = json.loads(ok(*args).stdout)
    names = [c["name"] for c in report["coefficients"]]
    assert names == ["(intercept)", "x", "region=south", "region=west"]
    assert report["data"]["weights"] == "w" and report["data"]["offset"] == "off"
    assert report["data"]["categorical"] == {"region": ["north", "south", "west"]}
    X = np.column_stack([x, region == "south", region == "west"]).astype(float)
    direct = ngd.fit(X, y, sample_weight=w, offset=off)
    got = {c["name"]: c["estimate"] for c in report["coefficients"]}
    np.testing.assert_allclose([got["x"], got["region=south"], got["region=west"]],
                               direct.coef, rtol=1e-9)
    doc = json.loads(model.read_text())
    assert doc["input"]["columns"] == ["x", "region"] and doc["input"]["offset"] == "off"
    new = tmp_path / "new.csv"
    new.write_text("region,x,off\nwest,0.5,0\nnorth,0.5,0.2\n")
    out = rows_of(ok("predict", model, new, "--proba").stdout)
    expected = ngd.predict("logistic", direct.coef, direct.intercept,
                           [[0.5, 0, 1], [0.5, 0, 0]], offset=[0, 0.2])
    np.testing.assert_allclose([float(r[1]) for r in out[1:]], expected, rtol=1e-9)
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("region,x,off\neast,0.5,0\n")
    result = invoke("predict", model, unseen)
    assert result.exit_code == 2 and "level east was not seen" in result.stderr


def test_dropna_reports_the_count_on_stderr(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("a,b,y\n1,2,0\n2,NA,1\n3,1,1\n4,,0\n5,5,1\n0,1,0\n")
    result = ok("fit", path, "--dropna", "--no-compare", "--l2", "0.1")
    assert "dropped 2 row(s) with missing cells (line(s) 3, 5); 4 row(s) left" in result.stderr
    result = ok("fit", path, "--dropna", "--no-compare", "--l2", "0.1", "--quiet")
    assert "dropped" not in result.stderr


def test_history_csv_has_every_method(tmp_path):
    history = tmp_path / "h.csv"
    report = json.loads(ok("fit", SPECTOR, "--history", history, "--json").stdout)
    rows = rows_of(history.read_text())
    header = rows[0]
    assert header[:4] == ["method", "iter", "loss", "grad_norm"] and "time" in header
    methods = [r[0] for r in rows[1:]]
    for entry in report["convergence"]:
        assert methods.count(entry["method"]) == entry["n_iter"] + 1
    last_ngd = [r for r in rows[1:] if r[0] == "ngd"][-1]
    assert float(last_ngd[header.index("loss")]) == report["convergence"][0]["loss"]


def test_plot_png(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "conv.png"
    ok("fit", BREAST, "--plot", plot, "--quiet")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_plot_without_matplotlib_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "m.json"
    result = invoke("fit", SPECTOR, "--plot", tmp_path / "p.png", "--output", out)
    assert result.exit_code == 2
    assert "--plot needs matplotlib: pip install 'ngd[plot]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_no_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,y\n1,0\n2,0\n")                    # one class: the fit fails
    outputs = [tmp_path / "m.json", tmp_path / "h.csv"]
    result = invoke("fit", bad, "--output", outputs[0], "--history", outputs[1])
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    # one unwritable output: nothing is written, not even the writable one
    result = invoke("fit", SPECTOR, "--output", outputs[0], "--history",
                    tmp_path / "no" / "such" / "dir" / "h.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_same_output_twice_or_over_the_input_is_refused(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(SPECTOR.read_text())
    result = invoke("fit", data, "--output", tmp_path / "x", "--history", tmp_path / "x")
    assert result.exit_code == 2 and "name the same file" in result.stderr
    result = invoke("fit", data, "--history", data)
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert data.read_text() == SPECTOR.read_text()


def test_link_and_power_reach_the_library(monkeypatch):
    seen = {}
    real = ngd.compare

    def spy(X, y, **options):
        seen.update(options)
        return real(X, y, **{k: v for k, v in options.items() if k not in ("link", "power")})

    monkeypatch.setattr(ngd, "compare", spy)
    ok("fit", SPECTOR, "--link", "Inverse-Squared", "--power", "1.5", "--no-compare")
    assert seen["link"] == "inverse_squared" and seen["power"] == 1.5
    assert seen["model"] == "logistic" and seen["offset"] is None
    seen.clear()
    ok("fit", SPECTOR, "--no-compare")
    assert "link" not in seen and "power" not in seen and "trials" not in seen


def test_unknown_model_and_bad_link_are_one_line_errors():
    result = invoke("fit", SPECTOR, "--model", "no-such-model")
    assert result.exit_code == 2 and "no-such-model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = invoke("fit", SPECTOR, "--link", "sqrt")
    assert result.exit_code == 2 and "'sqrt' is not one of identity" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_svmlight_is_densified(tmp_path):
    lines = SPECTOR.read_text().splitlines()[1:]
    svm = tmp_path / "d.svm"
    svm.write_text("\n".join(
        f"{r.split(',')[3]} " + " ".join(f"{j + 1}:{v}" for j, v in enumerate(r.split(",")[:3])
                                         if float(v) != 0) for r in lines) + "\n")
    a = json.loads(ok("fit", svm, "--json", "--no-compare").stdout)
    b = json.loads(ok("fit", SPECTOR, "--json", "--no-compare").stdout)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
    assert [c["name"] for c in a["coefficients"]][1:] == ["f1", "f2", "f3"]


def test_help_mentions_every_option():
    for command, options in {
            "fit": ["--model", "--link", "--power", "--target", "--features", "--weights",
                    "--offset", "--trials", "--categorical", "--dropna", "--delimiter",
                    "--output", "--history", "--plot", "--quiet", "--json"],
            "predict": ["--proba", "--output", "--delimiter", "--json"],
            "bench": ["ARGS"]}.items():
        result = invoke(command, "--help")
        assert result.exit_code == 0
        for option in options:
            assert option in result.stdout, (command, option)
    listing = invoke("--help").stdout
    assert listing.index("fit") < listing.index("predict") < listing.index("bench") \
        < listing.index("info")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_only_after_a_second_on_a_tty():
    clock = iter([0.0, 0.5, 1.2, 1.25, 2.0]).__next__
    stream = FakeTTY()
    progress = Progress(stream=stream, clock=clock)
    snap = {"method": "ngd", "n_iter": 3, "loss": 0.5, "grad_norm": 1e-3}
    progress(snap)                       # 0.5 s: too early
    assert stream.getvalue() == ""
    progress(snap)                       # 1.2 s: shown
    progress(snap)                       # 1.25 s: throttled
    progress(dict(snap, n_iter=4))       # 2.0 s
    text = stream.getvalue()
    assert text.count("\r") == 2 and "iter     4" in text and "|g| 1.00e-03" in text
    progress.close()
    assert stream.getvalue().endswith("\r")
    quiet = FakeTTY()
    Progress(enabled=False, stream=quiet, clock=lambda: 5.0)(snap)
    assert quiet.getvalue() == ""
    pipe = io.StringIO()                 # not a terminal
    Progress(stream=pipe, clock=iter([0.0, 9.0]).__next__)(snap)
    assert pipe.getvalue() == ""


def test_fit_passes_a_callback_and_stdout_stays_clean(monkeypatch):
    calls = []
    real = ngd.compare

    def spy(X, y, **options):
        calls.append(options["callback"])
        return real(X, y, **options)

    monkeypatch.setattr(ngd, "compare", spy)
    result = ok("fit", SPECTOR, "--json")
    assert isinstance(calls[0], Progress)
    json.loads(result.stdout)


def test_bench_outside_a_checkout_says_so(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ngd", "bench", "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no ngd source checkout here" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not (ROOT / "bench" / "__main__.py").exists(), reason="no bench/ here")
def test_bench_passes_arguments_through():
    done = subprocess.run([sys.executable, "-m", "ngd", "bench", "--", "--help"],
                          cwd=ROOT / "examples", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout and "python -m bench" in done.stdout


def test_predict_on_npz_and_svmlight(tmp_path):
    model = tmp_path / "m.json"
    ok("fit", SPECTOR, "-o", model, "--no-compare")
    data = np.genfromtxt(SPECTOR, delimiter=",", skip_header=1)
    expected = ngd.load_model(model).predict_class(data[:, :3])
    plain = tmp_path / "plain.npz"
    np.savez(plain, X=data[:, :3])                       # no names: columns by position
    out = rows_of(ok("predict", model, plain).stdout)
    assert [float(r[0]) for r in out[1:]] == list(expected)
    named = tmp_path / "named.npz"
    np.savez(named, X=data[:, :3], feature_names=np.array(["GPA", "PSI", "TUCE"]))
    result = invoke("predict", model, named)
    assert result.exit_code == 2 and "same names in another order" in result.stderr
    svm = tmp_path / "d.svm"
    svm.write_text("".join(f"0 1:{r[0]} 2:{r[1]}\n" for r in data))   # PSI (f3) never set
    out = rows_of(ok("predict", model, svm, "--proba").stdout)
    X = np.column_stack([data[:, :2], np.zeros(len(data))])
    np.testing.assert_allclose([float(r[1]) for r in out[1:]],
                               ngd.load_model(model).predict(X))


def test_poisson_model_round_trip(tmp_path):
    model = tmp_path / "m.json"
    ok("fit", SPECTOR, "--model", "poisson", "-o", model, "--no-compare")
    doc = json.loads(model.read_text())
    assert doc["model"] == "poisson" and doc["link"] == "log" and doc["classes"] is None
    out = rows_of(ok("predict", model, SPECTOR).stdout)
    data = np.genfromtxt(SPECTOR, delimiter=",", skip_header=1)
    eta = data[:, :3] @ np.array(doc["coef"]) + doc["intercept"]
    np.testing.assert_allclose([float(r[0]) for r in out[1:]], np.exp(eta), rtol=1e-12)
    result = invoke("predict", model, SPECTOR, "--proba")
    assert result.exit_code == 2 and "--proba applies to classification" in result.stderr
