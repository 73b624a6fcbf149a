"""Formulas (ngd.formula): ngd.fit("y ~ ...", data=df) against formulaic's own dense matrix and
statsmodels' formula GLMs, native categorical blocks, the spec's round trip through
model.json, one-line errors, and ``ngd fit --formula`` / ``ngd predict`` end to end."""
import io
import json
import pathlib
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
formulaic = pytest.importorskip("formulaic")

import ngd  # noqa: E402
from ngd import _formula_state, formula as formulas  # noqa: E402
from ngd.design import Design  # noqa: E402
from ngd.exceptions import MissingDependencyError  # noqa: E402

EXAMPLE = "y ~ x1 + np.log(x2) + C(region) + x1:x3"
ROOT = pathlib.Path(__file__).resolve().parents[1]
INSURANCE = ROOT / "examples" / "insurance.csv"


def make_frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    region = rng.choice(list("abcde"), n)
    x1, x3 = rng.normal(size=n), rng.normal(size=n)
    x2 = rng.uniform(0.5, 3.0, n)
    exposure = rng.uniform(0.5, 2.0, n)
    effect = dict(zip("abcde", (0.0, 0.3, -0.2, 0.5, 0.1)))
    eta = 0.2 + 0.3 * x1 - 0.4 * np.log(x2) + np.array([effect[r] for r in region]) \
        + 0.2 * x1 * x3 + np.log(exposure)
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)).astype(float), "x1": x1, "x2": x2,
                         "x3": x3, "region": region, "s": rng.choice(["u", "v"], n),
                         "exposure": exposure, "w": rng.uniform(0.5, 2.0, n)})


@pytest.fixture(scope="module")
def df():
    return make_frame()


def formulaic_dense(formula, data):
    """formulaic's own materialisation: (y, X without the intercept column, names)."""
    matrices = formulaic.model_matrix(formula, data)
    X = matrices.rhs
    names = [c for c in X.columns if c != "Intercept"]
    return matrices.lhs.to_numpy()[:, 0], X[names].to_numpy(dtype=float), names


def by_name(result):
    return dict(zip(result.feature_names, result.coef))


def fit(formula, data, **options):
    options.setdefault("tol", 1e-12)
    return ngd.fit(formula, data=data, model=options.pop("model", "poisson"), **options)


# ------------------------------------------------------------------ agreement with peers --
def test_example_equals_ngd_on_formulaics_dense_matrix(df):
    result = fit(EXAMPLE, df)
    y, X, names = formulaic_dense(EXAMPLE, df)
    dense = ngd.fit(X, y, model="poisson", tol=1e-12)
    assert sorted(result.feature_names) == sorted(names)
    expected = dict(zip(names, dense.coef))
    for name, value in by_name(result).items():
        assert value == pytest.approx(expected[name], abs=1e-10)
    assert result.intercept == pytest.approx(dense.intercept, abs=1e-10)
    assert result.fit_intercept is True
    assert result.terms["C(region)"] == [result.feature_names.index(f"C(region)[T.{lv}]")
                                         for lv in "bcde"]
    assert result.terms["x1:x3"] == [result.feature_names.index("x1:x3")]


def test_example_equals_statsmodels_formula_glm(df):
    sm = pytest.importorskip("statsmodels.api")
    smf = pytest.importorskip("statsmodels.formula.api")
    reference = smf.glm(EXAMPLE, df, family=sm.families.Poisson()).fit(tol=1e-14)
    result = fit(EXAMPLE, df)
    params, bse = reference.params, reference.bse
    assert result.intercept == pytest.approx(params["Intercept"], rel=1e-8)
    for name, value, stderr in zip(result.feature_names, result.coef, result.stderr):
        assert value == pytest.approx(params[name], rel=1e-8)
        assert stderr == pytest.approx(bse[name], rel=1e-6)


def test_offset_term_and_weights_column_equal_statsmodels(df):
    sm = pytest.importorskip("statsmodels.api")
    smf = pytest.importorskip("statsmodels.formula.api")
    reference = smf.glm("y ~ x1 + C(region)", df, family=sm.families.Poisson(),
                        offset=np.log(df["exposure"]), var_weights=df["w"]).fit(tol=1e-14)
    result = fit("y ~ x1 + C(region) + offset(np.log(exposure))", df, sample_weight="w")
    assert "offset(np.log(exposure))" not in result.feature_names
    assert result.intercept == pytest.approx(reference.params["Intercept"], rel=1e-8)
    for name, value in by_name(result).items():
        assert value == pytest.approx(reference.params[name], rel=1e-8)
    arrays = fit("y ~ x1 + C(region)", df, offset=np.log(df["exposure"].to_numpy()),
                 sample_weight=df["w"].to_numpy())
    np.testing.assert_allclose(arrays.coef, result.coef, rtol=0, atol=1e-10)


# -------------------------------------------------------------------- native categoricals --
def test_main_effect_categorical_is_a_native_block_equal_to_the_dense_one_hot(df):
    frame = formulas.model_frame(EXAMPLE, df)
    assert isinstance(frame.X, Design)
    block, = frame.X.categoricals
    assert block.name == "C(region)" and block.levels == list("abcde") and block.drop_first
    assert block.column_names == [f"C(region)[T.{lv}]" for lv in "bcde"]
    assert frame.X.dense_names == ["x1", "np.log(x2)", "x1:x3"]
    on_design = ngd.fit(frame.X, frame.y, model="poisson", tol=1e-12)
    on_dense = ngd.fit(frame.X.toarray(), frame.y, model="poisson", tol=1e-12)
    np.testing.assert_allclose(on_design.coef, on_dense.coef, rtol=0, atol=1e-10)
    _, X, names = formulaic_dense(EXAMPLE, df)
    order = [names.index(name) for name in frame.feature_names]
    np.testing.assert_array_equal(frame.X.toarray(), X[:, order])


@pytest.mark.parametrize("formula", [
    "y ~ 0 + C(region) + s + x1",          # no intercept: the first categorical full rank
    "y ~ 0 + x1 + s + C(region)",          # ... whichever comes first
    "y ~ region + x1 - 1",                 # a string column as a main effect
    "y ~ region * x1 + s",                 # region in an interaction: formulaic's columns
    "y ~ C(s) + poly(x2, 2) + center(x3) + C(region, levels=['e', 'a', 'b', 'c', 'd'])",
])
def test_columns_and_fit_equal_formulaics_full_rank_coding(df, formula):
    frame = formulas.model_frame(formula, df)
    y, X, names = formulaic_dense(formula, df)
    assert sorted(frame.feature_names) == sorted(names)
    order = [names.index(name) for name in frame.feature_names]
    full = frame.X.toarray() if isinstance(frame.X, Design) else frame.X
    np.testing.assert_array_equal(full, X[:, order])
    has_intercept = "Intercept" in formulaic.model_matrix(formula, df).rhs.columns
    assert frame.fit_intercept is has_intercept
    result = fit(formula, df)
    dense = ngd.fit(X, y, model="poisson", fit_intercept=has_intercept, tol=1e-12)
    expected = dict(zip(names, dense.coef))
    for name, value in by_name(result).items():
        assert value == pytest.approx(expected[name], abs=1e-9)


def test_native_blocks_only_for_single_categorical_terms(df):
    frame = formulas.model_frame("y ~ region * x1 + s + C(region)", df)
    assert [b.name for b in frame.X.categoricals] == ["s", "C(region)"]
    assert frame.terms["region:x1"] and frame.terms["s"] == [frame.feature_names.index(
        "s[T.v]")]


def test_pandas_categorical_dtype_keeps_its_level_order_and_drops_unused_levels(df):
    data = df.assign(region=pd.Categorical(df["region"], categories=list("edcbaz")))
    frame = formulas.model_frame("y ~ x1 + region", data)
    block, = frame.X.categoricals
    assert block.levels == list("edcba")            # 'z' would be a zero column (singular)
    used = data.assign(region=data["region"].cat.remove_unused_categories())
    _, X, names = formulaic_dense("y ~ x1 + region", used)
    assert frame.feature_names == names


# ----------------------------------------------------------------------- round trip ------
def test_transforms_and_levels_round_trip_through_model_json(df, tmp_path):
    formula = ("y ~ scale(x3) + poly(x2, 2) + C(region) + s:x1 "
               "+ offset(np.log(exposure))")
    train = df.iloc[:400]
    result = fit(formula, train)
    path = tmp_path / "model.json"
    ngd.save_model(result, path)
    document = json.loads(path.read_text())
    assert document["format_version"] == 1 and document["formula"]["formula"] == formula
    assert document["input"]["target"] == "y"
    assert sorted(document["input"]["columns"]) == ["exposure", "region", "s", "x1", "x2",
                                                    "x3"]
    model = ngd.load_model(path)
    new = df.iloc[400:][df["region"].iloc[400:].isin(["b", "d"])]
    new = new[["exposure", "x3", "s", "region", "x2", "x1"]]        # reordered, no y
    got = model.predict(new)
    # the same columns from formulaic's own in-memory spec (its fitted transform state)
    spec = formulaic.model_matrix(formula.split("~")[1].replace(
        "+ offset(np.log(exposure))", ""), train).model_spec
    X_new = spec.get_model_matrix(new)
    coef = dict(zip(result.feature_names, result.coef))
    eta = result.intercept + np.log(new["exposure"].to_numpy()) + sum(
        X_new[name].to_numpy() * value for name, value in coef.items())
    np.testing.assert_allclose(got, np.exp(eta), rtol=1e-12)
    np.testing.assert_allclose(model.predict(train), ngd.predict(
        "poisson", result.coef, result.intercept,
        formulas.model_frame(formula, train).X, np.log(train["exposure"].to_numpy())),
        rtol=1e-13)


def test_classification_labels_from_a_string_response(df):
    data = df.assign(label=np.where(df["y"] > 1, "many", "few"))
    result = ngd.fit("label ~ x1 + C(region)", data=data, model="logistic", tol=1e-12)
    assert list(result.classes) == ["few", "many"]
    model = ngd.load_model(io.StringIO(ngd.serialize.dumps(result)))
    assert set(model.predict_class(data.iloc[:20])) <= {"few", "many"}
    sm = pytest.importorskip("statsmodels.api")
    y = (data["label"] == "many").to_numpy(float)
    _, X, names = formulaic_dense("y ~ x1 + C(region)", data)
    reference = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    expected = dict(zip(names, reference.params[1:]))
    for name, value in by_name(result).items():
        assert value == pytest.approx(expected[name], rel=1e-8)


def test_polars_and_arrow_tables_give_the_pandas_fit(df):
    reference = fit(EXAMPLE, df)
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    for data in (pl.from_pandas(df), pa.Table.from_pandas(df)):
        result = fit(EXAMPLE, data)
        assert result.feature_names == reference.feature_names
        np.testing.assert_allclose(result.coef, reference.coef, rtol=0, atol=1e-12)


def test_state_codec_round_trips_json_exactly():
    state = {"poly": {"alpha": {0: np.float64(2.5), 1: 1 / 3}, "norms2": {2: 4.0}},
             "scale": {"ddof": 1, "center": np.float64(-0.1), "scale": None},
             "arr": np.arange(6.0).reshape(2, 3), "odd": (1, "a"), "__x": float("nan"),
             "inf": [float("inf"), -float("inf")], "flag": np.bool_(True)}
    decoded = _formula_state.decode(json.loads(json.dumps(_formula_state.encode(state, "s"),
                                                          allow_nan=False)))
    assert decoded["poly"] == {"alpha": {0: 2.5, 1: 1 / 3}, "norms2": {2: 4.0}}
    assert decoded["scale"] == {"ddof": 1, "center": -0.1, "scale": None}
    np.testing.assert_array_equal(decoded["arr"], state["arr"])
    assert decoded["odd"] == (1, "a") and np.isnan(decoded["__x"])
    assert decoded["inf"] == [float("inf"), -float("inf")] and decoded["flag"] is True
    with pytest.raises(ngd.DataError, match="cannot store s in model.json"):
        _formula_state.encode({"when": object()}, "s")


# --------------------------------------------------------------- missing values, errors --
@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_missing_values_are_an_error_unless_dropna(df):
    data = df.copy()
    data.loc[[3, 7], "x2"] = np.nan
    data.loc[11, "region"] = None
    with pytest.raises(ngd.DataError, match=r"3 row\(s\) have a missing value \(first: row "
                                            r"3, column\(s\) x2\); pass dropna=True"):
        fit(EXAMPLE, data)
    result = fit(EXAMPLE, data, dropna=True)
    assert result.n_dropped == 3
    clean = fit(EXAMPLE, data.dropna())
    np.testing.assert_allclose(result.coef, clean.coef, rtol=0, atol=1e-12)
    negative = df.assign(x2=df["x2"].where(df.index != 5, -1.0))
    with pytest.raises(ngd.DataError, match="first: row 5, made by a transform"):
        fit(EXAMPLE, negative)


def test_dropna_evaluates_transforms_on_the_rows_kept(df):
    data = df.copy()
    data.loc[:49, "x1"] = np.nan
    frame = formulas.model_frame("y ~ center(x3)", data, dropna=True)
    every = data["x3"].to_numpy()
    np.testing.assert_allclose(frame.X[:, 0], every - every.mean(), atol=1e-14)
    assert frame.n_dropped == 0           # x1 is not used: nothing dropped
    kept = every[50:]
    frame = formulas.model_frame("y ~ x1 + center(x3)", data, dropna=True)
    assert frame.n_dropped == 50 and frame.dropped_rows == list(range(10))
    np.testing.assert_allclose(frame.X[:, 1], kept - kept.mean(), atol=1e-14)


@pytest.mark.parametrize("formula, options, error, message", [
    ("y ~ x1 +", {}, ngd.DataError, "Operator `+` has insuffient arguments"),
    ("y ~ (x1", {}, ngd.DataError, "Could not find matching context marker"),
    ("y ~ x9 + x1", {}, ngd.DataError, "formula term 'x9': x9 is not a column of the data"),
    ("y ~ np.log(x9)", {}, ngd.DataError, "x9 is not a column of the data"),
    ("y ~ np.lgo(x2)", {}, ngd.DataError, "Unable to evaluate factor `np.lgo"),
    ("nothere ~ x1", {}, ngd.DataError, "the response 'nothere' is not a column"),
    ("x1 + x2", {}, ngd.DataError, "has no response"),
    ("y1 + y ~ x1", {}, ngd.DataError, "the left-hand side must be one response"),
    ("y ~ x1 | x2", {}, ngd.DataError, "only 'response ~ terms' formulas"),
    ("y ~ offset(x1):x2", {}, ngd.DataError, "offset() must be a term of its own"),
    ("y ~ x1", {"y": np.ones(3)}, TypeError, "y must be omitted when X is a formula"),
    ("y ~ 1", {}, ngd.DataError, "has no terms besides the intercept"),
    ("y ~ x1", {"data": None}, TypeError, "a formula needs data="),
    ("y ~ x1", {"fit_intercept": False}, ValueError, "conflicts with the formula's intercept"),
    ("y ~ x1 + offset(x3)", {"offset": "x2"}, ValueError, "the offset is given twice"),
    ("y ~ x1", {"sample_weight": "nope"}, ngd.DataError, "sample_weight='nope' is not a"),
    ("y ~ x1", {"sample_weight": np.ones(5)}, ngd.DataError, "sample_weight has 5 rows"),
])
def test_bad_formula_input_is_one_clear_line(df, formula, options, error, message):
    options = dict({"data": df}, **options)
    with pytest.raises(error) as caught:
        ngd.fit(formula, model="poisson", **options)
    text = str(caught.value)
    assert message in text and "\n" not in text and "\x1b" not in text


def test_arrays_reject_data_and_need_y(df):
    with pytest.raises(TypeError, match="y must be omitted .*; pass the table as data=$"):
        ngd.fit(EXAMPLE, df, model="poisson")
    with pytest.raises(TypeError, match="data= and dropna= go with a formula"):
        ngd.fit(np.ones((3, 1)), np.ones(3), data=df)
    with pytest.raises(TypeError, match="y is required"):
        ngd.fit(np.ones((3, 1)))


def test_prediction_errors_name_the_factor_level_or_column(df):
    model = ngd.load_model(io.StringIO(ngd.serialize.dumps(
        fit("y ~ x1 + C(region) + s:x1", df))))
    new = df.iloc[:10].copy()
    new.loc[2, "region"] = "zz"
    with pytest.raises(ngd.DataError, match=r"^factor C\(region\) has level\(s\) not seen "
                                            r"when the model was fitted: 'zz'$"):
        model.predict(new)
    new = df.iloc[:10].copy()
    new.loc[4, "s"] = "w"                     # s is formulaic-coded (in an interaction)
    with pytest.raises(ngd.DataError, match=r"^factor s has level\(s\) not seen .*: 'w'$"):
        model.predict(new)
    with pytest.raises(ngd.DataError, match=r"^the data lack column\(s\) used by the formula: "
                                            r"x1$"):
        model.predict(df.drop(columns="x1"))
    with pytest.raises(ngd.DataError, match=r"1 row\(s\) have a missing value .*first: row 0"):
        model.predict(df.iloc[:5].assign(x1=[np.nan, 1, 2, 3, 4]))
    model.formula_spec = dict(model.formula_spec, native=[{"position": 0}])
    with pytest.raises(ngd.DataError, match="^malformed formula description in the model"):
        model.predict(df.iloc[:5])


def test_missing_formulaic_is_one_line_naming_the_extra(df, monkeypatch):
    monkeypatch.setitem(sys.modules, "formulaic", None)
    with pytest.raises(MissingDependencyError,
                       match=r"^a formula needs formulaic: pip install 'ngd\[formula\]'$"):
        ngd.fit(EXAMPLE, data=df, model="poisson")


# ------------------------------------------------------------------------------ CLI ------
def invoke(*args):
    from click.testing import CliRunner
    from ngd.cli.main import cli
    return CliRunner().invoke(cli, [str(a) for a in args])


INSURANCE_FORMULA = "Claims ~ C(District) + Group + Age + offset(np.log(Holders))"


def test_cli_fit_and_predict_a_formula_model_end_to_end(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    smf = pytest.importorskip("statsmodels.formula.api")
    data = pd.read_csv(INSURANCE)
    reference = smf.glm(INSURANCE_FORMULA.replace(" + offset(np.log(Holders))", ""), data,
                        family=sm.families.Poisson(),
                        offset=np.log(data["Holders"])).fit(tol=1e-14)
    model_path = tmp_path / "model.json"
    result = invoke("fit", INSURANCE, "--formula", INSURANCE_FORMULA, "--model", "poisson",
                    "--tol", "1e-12", "--no-compare", "--json", "--output", model_path)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    coefs = {c["name"]: c for c in report["coefficients"]}
    assert coefs["(intercept)"]["estimate"] == pytest.approx(reference.params["Intercept"],
                                                             rel=1e-8)
    for name in reference.params.index.drop("Intercept"):
        assert coefs[name]["estimate"] == pytest.approx(reference.params[name], rel=1e-8)
        assert coefs[name]["stderr"] == pytest.approx(reference.bse[name], rel=1e-6)
    new = data[data["Group"].isin([">2l", "1-1.5l"])].drop(columns=["Claims"])
    new = new[new.columns[::-1]]
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    result = invoke("predict", model_path, new_path, "--json")
    assert result.exit_code == 0, result.stderr
    got = np.array(json.loads(result.stdout)["predictions"])
    np.testing.assert_allclose(got, reference.predict(new, offset=np.log(new["Holders"])),
                               rtol=1e-8)
    parquet = INSURANCE.with_suffix(".parquet")
    if parquet.exists() and pytest.importorskip("pyarrow"):
        result = invoke("fit", parquet, "--formula", INSURANCE_FORMULA, "--model",
                        "poisson", "--tol", "1e-12", "--no-compare", "--json")
        assert result.exit_code == 0, result.stderr
        # dictionary columns keep their order (<1l first): the same fit, another reference
        fitted = {c["name"]: c["estimate"] for c in json.loads(result.stdout)["coefficients"]}
        assert "Group[T.>2l]" in fitted and "Group[T.<1l]" not in fitted
        assert fitted["C(District)[T.4]"] == pytest.approx(
            reference.params["C(District)[T.4]"], rel=1e-8)


def test_cli_formula_dropna_note_and_errors_exit_2(tmp_path):
    data = make_frame(200)
    data.loc[[4, 9], "x2"] = np.nan
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    result = invoke("fit", path, "--formula", EXAMPLE, "--model", "poisson", "--no-compare",
                    "--dropna")
    assert result.exit_code == 0, result.stderr
    assert "dropped 2 row(s) with missing cells (line(s) 6, 11); 198 row(s) left" in \
        result.stderr
    model_path = tmp_path / "m.json"
    assert invoke("fit", path, "--formula", EXAMPLE, "--model", "poisson", "--no-compare",
                  "--dropna", "--output", model_path).exit_code == 0
    bad_level = tmp_path / "bad.csv"
    data.dropna().assign(region="q").to_csv(bad_level, index=False)
    cases = [
        (("fit", path, "--formula", EXAMPLE, "--model", "poisson"), "pass dropna=True"),
        (("fit", path, "--formula", "y ~ x1", "--target", "y"), "--formula replaces --target"),
        (("fit", path, "--formula", "y ~ x1", "--categorical", "s"), "replaces --categorical"),
        (("fit", path, "--formula", "y ~ x1 ~", "--model", "poisson"), "incorrectly used"),
        (("fit", path, "--formula", "y ~ x1", "--backend", "chunked"), "fits in memory"),
        (("fit", path, "--formula", "y ~ x1", "--no-intercept"), "conflicts with the formula"),
        (("predict", model_path, bad_level), "factor C(region) has level(s) not seen"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)


def test_cli_missing_formulaic_is_one_line_exit_2(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    make_frame(50).to_csv(path, index=False)
    monkeypatch.setitem(sys.modules, "formulaic", None)
    result = invoke("fit", path, "--formula", EXAMPLE, "--model", "poisson")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: a formula needs formulaic: pip install 'ngd[formula]'"]


def test_levels_match_by_text_across_file_types():
    """Fitted on the CSV (District read as the integers 1..4), predicted on the Parquet copy
    (District a dictionary of the strings '1'..'4'): the levels match by their text."""
    pytest.importorskip("pyarrow")
    csv = pd.read_csv(INSURANCE)
    parquet = pd.read_parquet(INSURANCE.with_suffix(".parquet"))
    fit = ngd.fit("Claims ~ C(District) + C(Age) + offset(LogHolders)", data=csv,
                  model="poisson")
    buffer = io.StringIO()
    ngd.save_model(fit, buffer)
    buffer.seek(0)
    model = ngd.load_model(buffer)
    np.testing.assert_allclose(model.predict(parquet), model.predict(csv), rtol=1e-13)
    with pytest.raises(ValueError, match=r"C\(District\) has level.*not seen.*: 5"):
        model.predict(csv.assign(District=5))
