"""ngd.frames: pandas / polars / pyarrow tables -> arrays or a Design, and back for new data."""
import io

import numpy as np
import pytest

import ngd
from ngd import frames
from ngd.design import Design

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "k": rng.integers(0, 4, n),
        "flag": rng.random(n) > 0.5,
        "region": pd.Categorical(rng.choice(["north", "south", "east"], n),
                                 categories=["south", "north", "east", "unused"]),
        "shop": rng.choice(["p", "q", "r", "s"], n),
    })


def _onehot(values, levels, drop_first=True):
    levels = list(levels)[int(drop_first):]
    return np.column_stack([(np.asarray(values).astype(str) == lv).astype(float)
                            for lv in levels])


def test_pandas_table_becomes_dense_part_and_categorical_blocks():
    df = _table()
    table = frames.design_from_frame(df)
    X = table.X
    assert isinstance(X, Design)
    assert X.dense_names == ["a", "k", "flag"]
    assert [b.name for b in X.categoricals] == ["region", "shop"]
    # declared category order (unused dropped); strings sorted
    assert X.categoricals[0].levels == ["south", "north", "east"]
    assert X.categoricals[1].levels == ["p", "q", "r", "s"]
    expected = np.column_stack([df[["a", "k", "flag"]].to_numpy(float),
                                _onehot(df.region, ["south", "north", "east"]),
                                _onehot(df.shop, ["p", "q", "r", "s"])])
    np.testing.assert_array_equal(X.toarray(), expected)
    assert table.feature_names == ["a", "k", "flag", "region=north", "region=east",
                                   "shop=q", "shop=r", "shop=s"]
    assert table.terms["region"] == [3, 4] and table.terms["shop"] == [5, 6, 7]
    assert table.terms["a"] == [0]


@pytest.mark.parametrize("convert", [lambda df: pl.from_pandas(df),
                                     lambda df: pa.Table.from_pandas(df, preserve_index=False)],
                         ids=["polars", "pyarrow"])
def test_polars_and_arrow_give_the_same_columns_as_pandas(convert):
    df = _table().drop(columns=["region"])         # polars has no declared category order
    df["shop_cat"] = pd.Categorical(df["shop"])
    expected = frames.design_from_frame(df, categorical=["k"])
    got = frames.design_from_frame(convert(df), categorical=["k"])
    assert got.feature_names == expected.feature_names
    np.testing.assert_array_equal(got.X.toarray(), expected.X.toarray())
    assert got.spec.to_dict() == expected.spec.to_dict()


def test_arrow_dictionary_keeps_its_order():
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0],
                      "g": pa.array(["b", "a", "b", "c"]).dictionary_encode()})
    levels = frames.design_from_frame(table).X.categoricals[0].levels
    assert levels == ["b", "a", "c"]


def test_numeric_table_is_a_plain_array_and_fits_like_the_array():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"u": rng.normal(size=300), "v": rng.normal(size=300)})
    y = (df.u - 0.5 * df.v + rng.normal(size=300) > 0).astype(int)
    table = frames.design_from_frame(df)
    assert isinstance(table.X, np.ndarray)
    from_frame = ngd.fit(df, pd.Series(y))
    from_array = ngd.fit(df.to_numpy(), y.to_numpy())
    np.testing.assert_allclose(from_frame.coef, from_array.coef, rtol=1e-13)
    assert from_frame.feature_names == ["u", "v"]
    assert from_array.feature_names == ["x0", "x1"]
    assert from_frame.input_spec["columns"] == ["u", "v"]


def test_series_for_y_weights_and_offset():
    rng = np.random.default_rng(2)
    n = 200
    df = pd.DataFrame({"u": rng.normal(size=n)})
    counts = pd.Series(rng.poisson(2.0, n))
    w = pl.Series("w", rng.uniform(0.5, 2.0, n))
    off = pa.array(rng.normal(scale=0.1, size=n))
    got = ngd.fit(df, counts, model="poisson", sample_weight=w, offset=off)
    ref = ngd.fit(df.to_numpy(), counts.to_numpy(), model="poisson",
                  sample_weight=w.to_numpy(), offset=off.to_numpy())
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-13)


def test_spec_rebuilds_the_same_columns_on_new_data():
    df = _table(80)
    table = frames.design_from_frame(df)
    spec = frames.TableSpec.from_dict(table.spec.to_dict())
    new = df.iloc[[5, 2, 7]][["shop", "region", "flag", "k", "a"]]    # reordered columns
    new = new.assign(extra=1.0)
    rebuilt = frames.design_from_frame(new, spec=spec)
    np.testing.assert_array_equal(rebuilt.X.toarray(), table.X.toarray()[[5, 2, 7]])


def test_without_intercept_the_first_categorical_keeps_every_level():
    df = _table()
    X = frames.design_from_frame(df, fit_intercept=False).X
    assert [b.drop_first for b in X.categoricals] == [False, True]
    assert X.categoricals[0].column_names == ["region=south", "region=north", "region=east"]
    full = X.toarray()
    assert np.linalg.matrix_rank(full) == full.shape[1]


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"a": [1.0, np.nan]}), "column 'a' has 1 missing value"),
    (pd.DataFrame({"g": ["x", None]}), "column 'g' has 1 missing value"),
    (pd.DataFrame({"a": [1.0, np.inf]}), "column 'a' has a non-finite value at row 1"),
    (pd.DataFrame({"t": pd.date_range("2020-01-01", periods=2)}), "unsupported type"),
    (pd.DataFrame({"z": np.array([1j, 2j])}), "unsupported type"),
    (pd.DataFrame({"o": [object(), object()]}), "unsupported type"),
    (pl.DataFrame({"l": [[1], [2]]}), "unsupported type"),
    (pa.table({"b": pa.array([b"x", b"y"])}), "unsupported type"),
])
def test_bad_columns_are_one_clear_error(frame, message):
    with pytest.raises((ValueError, TypeError), match=message):
        frames.design_from_frame(frame)


def test_unseen_level_missing_column_and_other_kind_at_predict_time():
    df = _table()
    spec = frames.design_from_frame(df).spec
    with pytest.raises(ValueError, match="column 'shop' has level.*'zz'"):
        frames.design_from_frame(df.assign(shop="zz"), spec=spec)
    with pytest.raises(ValueError, match="lack the model's column.*region"):
        frames.design_from_frame(df.drop(columns="region"), spec=spec)
    with pytest.raises(TypeError, match="column 'a' is categorical"):
        frames.design_from_frame(df.assign(a="text"), spec=spec)


def test_bad_arguments():
    with pytest.raises(ValueError, match="not in the data: nope"):
        frames.design_from_frame(_table(), categorical=["nope"])
    with pytest.raises(TypeError, match="DataFrame"):
        frames.design_from_frame(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="malformed"):
        frames.TableSpec.from_dict({"columns": ["a"], "kinds": {"a": "text"}})


def test_model_json_predicts_on_a_table_by_column_name():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": rng.normal(size=150), "v": rng.normal(size=150)})
    y = (df.u + rng.normal(size=150) > 0).astype(int)
    result = ngd.fit(df, y)
    buffer = io.StringIO()
    ngd.save_model(result, buffer)
    buffer.seek(0)
    loaded = ngd.load_model(buffer)
    assert loaded.feature_names == ["u", "v"]
    expected = ngd.predict("logistic", result.coef, result.intercept, df.to_numpy())
    np.testing.assert_allclose(loaded.predict(df[["v", "u"]].assign(w=0)), expected,
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(ngd.predict("logistic", result.coef, result.intercept, df,
                                           spec=result.input_spec), expected, rtol=0,
                               atol=1e-15)
    with pytest.raises(ValueError, match="input_spec"):
        ngd.predict("logistic", result.coef, result.intercept, df)


def test_estimators_take_tables():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"u": rng.normal(size=200), "v": rng.normal(size=200)})
    y = np.where(df.u + rng.normal(size=200) > 0, "yes", "no")
    clf = ngd.LogisticRegression().fit(df, y)
    assert list(clf.feature_names_in_) == ["u", "v"] and clf.n_features_in_ == 2
    assert clf.feature_names_out_ == ["u", "v"]
    ref = ngd.LogisticRegression().fit(df.to_numpy(), y)
    np.testing.assert_allclose(clf.predict_proba(df), ref.predict_proba(df.to_numpy()),
                               rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(pl.from_pandas(df)), ref.predict(df.to_numpy()))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[["v", "u"]])


def test_categorical_table_inference_matches_statsmodels_on_insurance():
    """MASS Insurance (bundled): Poisson claims with an exposure offset and three categorical
    columns, fitted from the Parquet copy (dictionary columns): coefficients, standard errors,
    the Wald test of Age's three levels and the likelihood-ratio test against the fit without
    Age, all as statsmodels computes them."""
    sm = pytest.importorskip("statsmodels.api")
    from pathlib import Path
    df = pd.read_parquet(Path(__file__).parent.parent / "examples" / "insurance.parquet")
    full = ngd.fit(df[["District", "Group", "Age"]], df.Claims, model="poisson",
                   offset=df.LogHolders, tol=1e-12)
    small = ngd.fit(df[["District", "Group"]], df.Claims, model="poisson",
                    offset=df.LogHolders, tol=1e-12)

    def dummies(columns):
        parts = [pd.get_dummies(df[c], prefix=c, prefix_sep="=", drop_first=True, dtype=float)
                 for c in columns]
        return sm.add_constant(pd.concat(parts, axis=1))
    reference = sm.GLM(df.Claims, dummies(["District", "Group", "Age"]),
                       family=sm.families.Poisson(), offset=df.LogHolders).fit(tol=1e-12)
    reference_small = sm.GLM(df.Claims, dummies(["District", "Group"]),
                             family=sm.families.Poisson(), offset=df.LogHolders).fit(tol=1e-12)
    assert full.feature_names == list(reference.params.index[1:])
    np.testing.assert_allclose(full.coef, reference.params.to_numpy()[1:], rtol=1e-8)
    np.testing.assert_allclose(full.stderr, reference.bse.to_numpy()[1:], rtol=1e-8)
    wald = ngd.wald_test(full, ["Age"])
    names = list(reference.params.index)
    R = np.zeros((3, len(names)))
    for row, name in enumerate(n for n in names if n.startswith("Age=")):
        R[row, names.index(name)] = 1.0
    expected = reference.wald_test(R, scalar=True)
    np.testing.assert_allclose(wald.statistic, expected.statistic, rtol=1e-8)
    np.testing.assert_allclose(wald.pvalue, expected.pvalue, rtol=1e-6)
    lr = ngd.lr_test(full, small)
    np.testing.assert_allclose(lr.statistic, 2 * (reference.llf - reference_small.llf),
                               rtol=1e-8)
    assert lr.df == 3


def test_estimator_on_a_table_with_categorical_columns():
    """GLMRegressor on a table with string and categorical columns equals the fit on the
    one-hot array; predictions take a table (rows in another order, a subset of levels) and
    refuse a bare array."""
    df = _table(300, seed=5)
    rng = np.random.default_rng(6)
    y = rng.poisson(np.exp(0.3 * df["a"] + (df["shop"] == "q") * 0.5))
    reg = ngd.GLMRegressor(model="poisson").fit(df, y)
    table = frames.design_from_frame(df)
    ref = ngd.GLMRegressor(model="poisson").fit(table.X.toarray(), y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert reg.feature_names_out_ == table.feature_names and reg.n_features_in_ == 5
    rows = [7, 3, 11]
    np.testing.assert_allclose(reg.predict(df.iloc[rows]),
                               ref.predict(table.X.toarray()[rows]), rtol=1e-12)
    with pytest.warns(UserWarning, match="valid feature names"), \
            pytest.raises(ValueError, match="fitted on a table with categorical columns"):
        reg.predict(table.X.toarray()[:, :5])


def test_a_huge_value_next_to_a_categorical_is_named():
    """A value whose square overflows the Fisher information is one error naming the table's
    column (and, for a Design built directly, its row and column), not a failed solve."""
    df = pd.DataFrame({"a": [1.0, 2.0, 1e200, 3.0], "g": list("xyxy")})
    with pytest.raises(ValueError, match="row 2, column 'a': value 1e\\+200 is too large"):
        ngd.fit(df, [0, 1, 0, 1])
    from ngd.design import Categorical
    design = Design(np.array([[1.0], [1e200]]), [Categorical("g", np.array([-1, 0]),
                                                             ["p", "q"])])
    with pytest.raises(ValueError, match="too large.*row 1, column 0"):
        ngd.fit(design, [0, 1])
