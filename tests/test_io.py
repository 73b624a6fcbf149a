"""ngd.io readers: CSV column roles, categorical encoding, missing cells, NPZ, svmlight."""
import numpy as np
import pytest
import scipy.sparse

import ngd
from ngd.io import MISSING, read_csv, read_data, read_header, read_npz, read_svmlight
from ngd.io import csv as csv_module


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_roles_last_column_target_all_others_features(tmp_path):
    d = read_csv(write(tmp_path, "a.csv", "a,b,y\n1,2,0\n3,4,1\n"))
    assert d.feature_names == ["a", "b"] and d.target_name == "y"
    np.testing.assert_array_equal(d.X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(d.y, [0, 1])
    assert d.X.flags.c_contiguous and d.X.dtype == np.float64
    assert d.sample_weight is None and d.offset is None and d.trials is None


def test_features_weights_offset_trials_are_taken_by_name(tmp_path):
    path = write(tmp_path, "r.csv", "id,w,a,off,b,n,y\n"
                                    "x1,1,1,0.5,2,3,1\nx2,2,3,0,4,5,2\nx3,0,5,1,6,2,0\n")
    # 'id' holds strings: with default features it is a feature, so name it out explicitly
    with pytest.raises(ngd.DataError, match="column 'id': non-numeric value 'x1'.*"
                                            "--categorical id"):
        read_csv(path, target="y", weights="w", offset="off", trials="n", features=None)
    d = read_csv(path, target="y", weights="w", offset="off", trials="n", features=["b", "a"])
    assert d.feature_names == ["b", "a"] and d.columns == ["b", "a"]
    np.testing.assert_array_equal(d.X, [[2, 1], [4, 3], [6, 5]])
    np.testing.assert_array_equal(d.sample_weight, [1, 2, 0])
    np.testing.assert_array_equal(d.offset, [0.5, 0, 1])
    np.testing.assert_array_equal(d.trials, [3, 5, 2])
    assert (d.weights_name, d.offset_name, d.trials_name) == ("w", "off", "n")


def test_role_conflicts_and_unknown_columns(tmp_path):
    path = write(tmp_path, "c.csv", "a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(ngd.DataError, match="no column named 'zz' \\(weights\\)"):
        read_csv(path, weights="zz")
    with pytest.raises(ngd.DataError, match="both the target and the weights"):
        read_csv(path, weights="y")
    with pytest.raises(ngd.DataError, match="is the weights; it cannot also be a feature"):
        read_csv(path, weights="a", features=["a", "b"])
    with pytest.raises(ngd.DataError, match="listed twice"):
        read_csv(path, features=["a", "a"])


def test_delimiters_sniffed_or_given(tmp_path):
    for delimiter in ";\t|":
        text = delimiter.join(["a", "b", "y"]) + "\n" + delimiter.join(["1.5", "2", "0"]) + "\n"
        d = read_csv(write(tmp_path, "d.csv", text))
        assert d.feature_names == ["a", "b"] and d.X[0, 0] == 1.5
    d = read_csv(write(tmp_path, "s.csv", "a b y\n1 2 0\n3 4 1\n"), delimiter=" ")
    assert d.feature_names == ["a", "b"]
    with pytest.raises(ngd.DataError, match="delimiter must be one character"):
        read_csv(write(tmp_path, "e.csv", "a,y\n1,0\n"), delimiter=",,")


def test_categorical_one_hot_drops_first_level(tmp_path):
    path = write(tmp_path, "cat.csv", "x,color,size,y\n"
                                      "1,red,10,0\n2,blue,2,1\n3,green,10,0\n4,red,2,1\n")
    d = read_csv(path, categorical=["color", "size"])
    # levels sorted: strings alphabetically, numbers numerically (2 before 10)
    assert d.categories == {"color": ["blue", "green", "red"], "size": ["2", "10"]}
    assert d.feature_names == ["x", "color=green", "color=red", "size=10"]
    assert d.columns == ["x", "color", "size"]
    # held as integer codes (a Design), never as the one-hot matrix
    assert [block.name for block in d.X.categoricals] == ["color", "size"]
    np.testing.assert_array_equal(d.X.categoricals[0].codes, [1, -1, 0, 1])
    np.testing.assert_array_equal(d.X.toarray(),
                                  [[1, 0, 1, 1], [2, 0, 0, 0], [3, 1, 0, 1], [4, 0, 1, 0]])


def test_categorical_with_fixed_levels_rejects_unseen_level(tmp_path):
    path = write(tmp_path, "cat.csv", "x,color,y\n1,red,0\n2,pink,1\n")
    with pytest.raises(ngd.DataError, match="line 3, column 'color': level pink was not seen"):
        read_csv(path, categorical={"color": ["blue", "red"]})
    path = write(tmp_path, "ok.csv", "x,color\n1,red\n2,blue\n")
    d = read_csv(path, categorical={"color": ["blue", "green", "red"]}, has_target=False)
    assert d.y is None and d.feature_names == ["x", "color=green", "color=red"]
    np.testing.assert_array_equal(d.X.toarray(), [[1, 0, 1], [2, 0, 0]])


def test_string_column_without_categorical_is_named(tmp_path):
    path = write(tmp_path, "s.csv", "a,city,y\n1,Paris,0\n2,Rome,1\n")
    with pytest.raises(ngd.DataError, match="line 2, column 'city': non-numeric value 'Paris'"):
        read_csv(path)


@pytest.mark.parametrize("token", ["", "NA", "n/a", "NaN", "null", "None", "?", "#N/A", " "])
def test_missing_tokens_are_errors_or_dropped(tmp_path, token):
    path = write(tmp_path, "m.csv", f"a,b,y\n1,2,0\n3,{token},1\n\n5,6,1\n7,8,0\n")
    with pytest.raises(ngd.DataError, match="line 3, column 'b': missing value"):
        read_csv(path)
    d = read_csv(path, dropna=True)
    assert d.n_dropped == 1 and d.dropped_lines == [3]
    np.testing.assert_array_equal(d.X, [[1, 2], [5, 6], [7, 8]])
    assert token.strip().lower() in MISSING


def test_dropna_ignores_unused_columns_and_counts_target_rows(tmp_path):
    path = write(tmp_path, "m.csv", "a,note,y\n1,,0\n2,x,\n3,,1\n4,y,0\n")
    d = read_csv(path, features=["a"], dropna=True)
    assert d.n_dropped == 1 and d.dropped_lines == [3]
    np.testing.assert_array_equal(d.X[:, 0], [1, 3, 4])
    with pytest.raises(ngd.DataError, match="every data row has a missing cell"):
        read_csv(write(tmp_path, "all.csv", "a,y\n,1\n2,\n"), dropna=True)


def test_infinite_and_huge_values_are_rejected_with_line_numbers(tmp_path):
    path = write(tmp_path, "inf.csv", "a,b,y\n1,2,0\n\n3,-inf,1\n")
    with pytest.raises(ngd.DataError, match="line 4, column 'b': non-finite value -inf"):
        read_csv(path, dropna=True)
    path = write(tmp_path, "big.csv", "a,b,y\n1,2,0\n3,1e308,1\n")
    with pytest.raises(ngd.DataError, match="line 3, column 'b': value 1e308 is too large"):
        read_csv(path)
    path = write(tmp_path, "negw.csv", "a,w,y\n1,1,0\n3,-2,1\n")
    with pytest.raises(ngd.DataError, match="line 3, column 'w': negative weight -2"):
        read_csv(path, weights="w")


def test_fast_and_careful_paths_agree_across_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(257, 3))
    y = rng.integers(0, 2, size=257)
    lines = ["a,b,c,y"] + [",".join(repr(float(v)) for v in r) + f",{t}" for r, t in zip(X, y)]
    fast = read_csv(write(tmp_path, "f.csv", "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(fast.X, X)
    monkeypatch.setattr(csv_module, "CHUNK_ROWS", 16)
    # a blank line and a quoted number force the careful pass; values stay bit-identical
    lines.insert(100, "")
    lines[5] = lines[5].replace(repr(float(X[4, 0])), f'"{float(X[4, 0])!r}"')
    lines[200] = lines[200] + " "
    slow = read_csv(write(tmp_path, "s.csv", "\n".join(lines) + "\n"))
    np.testing.assert_array_equal(slow.X, X)
    np.testing.assert_array_equal(slow.y, y)
    bad = lines.copy()
    bad[150] = bad[150].replace(",", ",zz", 1)
    with pytest.raises(ngd.DataError, match="line 151, column 'b': non-numeric value 'zz"):
        read_csv(write(tmp_path, "b.csv", "\n".join(bad) + "\n"))


def test_string_labels_bom_crlf_and_header_only(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,label\r\n1,yes\r\n2,no\r\n".encode("utf-8"))
    d = read_csv(path)
    assert d.feature_names == ["a"] and list(d.y) == ["yes", "no"]
    with pytest.raises(ngd.DataError, match="no data rows"):
        read_csv(write(tmp_path, "h.csv", "a,y\n"))
    with pytest.raises(ngd.DataError, match="column\\(s\\) 2 have no name"):
        read_csv(write(tmp_path, "n.csv", "a,,y\n1,2,3\n"))


def test_read_header_and_read_data_dispatch(tmp_path):
    names, delimiter = read_header(write(tmp_path, "h.csv", "a;b;c\n1;2;3\n"))
    assert names == ["a", "b", "c"] and delimiter == ";"
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.ones((2, 2)), y=np.array([0, 1]))
    with pytest.raises(ngd.DataError, match="features apply to CSV files only"):
        read_data(npz, features=["a"])
    with pytest.raises(ngd.DataError, match="unsupported file type"):
        read_data(tmp_path / "x.xlsx")


def test_npz_offset_trials_and_feature_names(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0]),
             w=np.array([1, 2, 3]), offset=np.array([0.1, 0.2, 0.3]),
             trials=np.array([1, 1, 2]), feature_names=np.array(["u", "v"]))
    d = read_npz(path)
    assert d.feature_names == ["u", "v"]
    np.testing.assert_array_equal(d.offset, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(d.trials, [1, 1, 2])
    assert d.offset_name == "offset" and d.weights_name == "w"
    no_y = tmp_path / "noy.npz"
    np.savez(no_y, X=np.ones((2, 2)))
    assert read_npz(no_y, has_target=False).y is None
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.ones((3, 2)), y=np.array([0, 1, 0]), offset=np.ones(2))
    with pytest.raises(ngd.DataError, match="array 'offset' must be numeric with shape \\(3,\\)"):
        read_npz(bad)


def test_svmlight_reader(tmp_path):
    path = write(tmp_path, "d.svm", "# comment\n1 1:0.5 3:2 # tail\n0 qid:3 2:1.5\n\n1 1:1\n")
    d = read_svmlight(path)
    assert scipy.sparse.issparse(d.X) and d.X.shape == (3, 3)
    np.testing.assert_array_equal(d.X.toarray(), [[0.5, 0, 2], [0, 1.5, 0], [1, 0, 0]])
    np.testing.assert_array_equal(d.y, [1, 0, 1])
    assert d.feature_names == ["f1", "f2", "f3"]
    zero = read_svmlight(write(tmp_path, "z.svm", "1 0:1 2:3\n0 1:2\n"))
    np.testing.assert_array_equal(zero.X.toarray(), [[1, 0, 3], [0, 2, 0]])
    assert read_svmlight(path, n_features=5).X.shape == (3, 5)
    for text, message in [("1 1:a\n", "non-numeric value 'a'"), ("1 x:1\n", "not an integer"),
                          ("1 1:1 1:2\n", "appears twice"), ("1 1\n", "expected index:value"),
                          ("1 1:inf\n", "non-finite"), ("", "no data lines"),
                          ("1 -1:2\n", "negative feature index")]:
        with pytest.raises(ngd.DataError, match=message):
            read_svmlight(write(tmp_path, "bad.svm", text))
    with pytest.raises(ngd.DataError, match="beyond n_features=2"):
        read_svmlight(path, n_features=2)


def test_labels_that_turn_out_to_be_strings_keep_their_text(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_module, "CHUNK_ROWS", 16)
    rows = [f"{i},{'1' if i < 20 else 'yes'}" for i in range(40)]
    d = read_csv(write(tmp_path, "l.csv", "a,y\n" + "\n".join(rows) + "\n"))
    assert d.y.dtype == object and list(d.y[:2]) == ["1", "1"] and d.y[-1] == "yes"
    np.testing.assert_array_equal(d.X[:, 0], np.arange(40))
