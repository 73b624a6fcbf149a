"""Review of the data layer on inputs the first tests did not try: wide integer labels,
values that print alike, nulls inside an Arrow dictionary, and the CLI on them."""
import numpy as np
import pytest

import ngd
from ngd import frames

pd = pytest.importorskip("pandas")

BIG = 2 ** 62                     # BIG and BIG + 1 are one float64


def _poisson_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, rng.poisson(np.exp(0.3 * x))


@pytest.mark.parametrize("library", ["pandas", "polars", "pyarrow"])
def test_wide_integer_categorical_keeps_its_levels(library):
    ids = np.array([BIG, BIG + 1, BIG, BIG + 1], dtype=np.int64)
    frame = {"pandas": lambda: pd.DataFrame({"g": ids}),
             "polars": lambda: pytest.importorskip("polars").DataFrame({"g": ids}),
             "pyarrow": lambda: pytest.importorskip("pyarrow").table({"g": ids})}[library]()
    table = frames.design_from_frame(frame, categorical=["g"])
    assert table.spec.levels["g"] == [str(BIG), str(BIG + 1)]
    assert table.feature_names == [f"g={BIG + 1}"]


def test_wide_integer_cluster_series_equals_numpy_cluster():
    x, y = _poisson_data()
    groups = BIG + np.arange(y.size) % 7
    by_numpy = ngd.fit(x[:, None], y, model="poisson", cov_type="cluster", cluster=groups)
    by_series = ngd.fit(x[:, None], y, model="poisson", cov_type="cluster",
                        cluster=pd.Series(groups))
    np.testing.assert_allclose(by_series.stderr, by_numpy.stderr, rtol=1e-12)


def test_integer_target_series_gives_the_numpy_classes():
    x, y = _poisson_data()
    labels = (y > 1).astype(np.int64)
    by_series = ngd.fit(x[:, None], pd.Series(labels, dtype="Int64"))
    by_numpy = ngd.fit(x[:, None], labels)
    assert by_series.classes.dtype == by_numpy.classes.dtype
    np.testing.assert_array_equal(by_series.classes, by_numpy.classes)
    np.testing.assert_allclose(by_series.coef, by_numpy.coef, rtol=1e-12)


def test_categories_that_print_alike_are_an_error_not_merged():
    frame = pd.DataFrame({"g": pd.Categorical([1, "1", 2], categories=[1, "1", 2])})
    with pytest.raises(ValueError, match="column 'g' has different values written alike"):
        frames.design_from_frame(frame)


def test_null_inside_an_arrow_dictionary_is_missing():
    pa = pytest.importorskip("pyarrow")
    column = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], type=pa.int8()),
                                            pa.array(["a", None]))
    with pytest.raises(ValueError, match="column 'g' has 1 missing value"):
        frames.design_from_frame(pa.table({"g": column}))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_feather_v1_file_is_one_clear_error(tmp_path):
    feather = pytest.importorskip("pyarrow.feather")
    from ngd.io import read_feather
    path = tmp_path / "old.feather"
    feather.write_feather(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}), path,
                          version=1)
    with pytest.raises(ValueError, match="is a Feather V1 file, which is not read"):
        read_feather(path, "y")


def _formula_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b", "c"], n),
                          "h": rng.choice(["u", "v"], n)})
    frame["y"] = rng.poisson(np.exp(0.3 * frame.x + 0.3 * (frame.g == "b")))
    return frame


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]"])
def test_formula_on_extension_string_columns_equals_object_columns(dtype, tmp_path):
    pytest.importorskip("formulaic")
    if dtype.endswith("[pyarrow]"):
        pytest.importorskip("pyarrow")
    frame = _formula_frame()
    typed = frame.assign(g=frame.g.astype(dtype), h=frame.h.astype(dtype))
    formula = "y ~ x + g + g:h"
    expected = ngd.fit(formula, data=frame, model="poisson")
    result = ngd.fit(formula, data=typed, model="poisson")
    assert result.feature_names == expected.feature_names
    np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-12, atol=1e-14)
    ngd.save_model(expected, tmp_path / "m.json")
    np.testing.assert_allclose(ngd.load_model(tmp_path / "m.json").predict(typed),
                               ngd.load_model(tmp_path / "m.json").predict(frame), rtol=1e-14)
    typed.loc[4, "g"] = pd.NA
    with pytest.raises(ValueError, match=r"row 4, column\(s\) g"):
        ngd.fit("y ~ x + g", data=typed, model="poisson")
    dropped = ngd.fit("y ~ x + g", data=typed, model="poisson", dropna=True)
    kept = ngd.fit("y ~ x + g", data=frame.drop(index=4), model="poisson")
    np.testing.assert_allclose(dropped.coef, kept.coef, rtol=1e-12, atol=1e-14)


def test_formula_on_a_subset_drops_the_unused_categories():
    pytest.importorskip("formulaic")
    frame = _formula_frame()
    frame = frame.assign(g=pd.Categorical(frame.g, categories=["a", "b", "c", "d"]),
                         h=pd.Categorical(frame.h, categories=["u", "v", "w"]))
    as_text = frame.assign(g=frame.g.astype(str), h=frame.h.astype(str))
    for formula in ("y ~ x + C(g)", "y ~ x + g + g:h"):
        expected = ngd.fit(formula, data=as_text, model="poisson")
        result = ngd.fit(formula, data=frame, model="poisson")
        assert result.feature_names == expected.feature_names
        assert result.stderr is not None
        np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(result.stderr, expected.stderr, rtol=1e-10)


@pytest.mark.parametrize("formula, message", [
    ("y ~ .", r"'\.' \(every other column\) is not supported"),
    ("y ~ x + C(g, levels=['c', 'b'])", r"value\(s\) outside a factor's levels=: \{'a'\}"),
])
def test_formula_errors_at_fit_time_say_what_is_wrong(formula, message):
    pytest.importorskip("formulaic")
    with pytest.raises(ValueError, match=message):
        ngd.fit(formula, data=_formula_frame(), model="poisson")


def test_formula_refuses_a_column_it_would_read_as_the_intercept():
    pytest.importorskip("formulaic")
    frame = pd.DataFrame({"0": [1.0, 0.0, 1.0, 2.0], "1": [2.0, 3.0, 1.0, 1.0],
                          "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="a column named '1' cannot be used"):
        ngd.fit("y ~ `0` + `1`", data=frame, model="poisson")


def test_formula_on_a_table_without_rows_is_one_line():
    pytest.importorskip("formulaic")
    empty = pd.DataFrame({"a": pd.Series([], dtype=object), "y": pd.Series([], dtype=float)})
    with pytest.raises(ValueError, match="^the data have no rows$"):
        ngd.fit("y ~ a", data=empty, model="poisson")


@pytest.mark.parametrize("as_frame", [False, True])
def test_huge_feature_value_is_named_not_a_non_finite_fisher(as_frame):
    X = np.array([[1.0], [1e200], [2.0], [3.0]])
    data = pd.DataFrame({"g": X[:, 0]}) if as_frame else X
    where = r"row 1, column 'g': value 1e\+200 is too large in magnitude" if as_frame else \
        r"X has a value too large in magnitude .* at row 1, column 0"
    with pytest.raises(ValueError, match=where):
        ngd.fit(data, np.array([0, 1, 0, 1]))


def test_huge_value_after_dropped_rows_keeps_the_file_row(tmp_path):
    """The readers number rows of the file, also after --dropna removed some: the table
    layer's own magnitude check (for DataFrames given to ngd.fit) must not pre-empt them."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from ngd.io import read_data
    path = tmp_path / "h.parquet"
    pq.write_table(pa.table({"x": [1.0, None, 2.0, 1e200], "g": ["a", "b", "a", "b"],
                             "y": [0, 1, 0, 1]}), path)
    with pytest.raises(ValueError, match="row 3, column 'x': value 1e\\+200 is too large"):
        read_data(path, target="y", dropna=True)
