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
