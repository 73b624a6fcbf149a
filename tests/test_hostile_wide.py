"""Wide inputs: name checks are O(p) (200 000 names read), messages listing names stay
short, and an absurd svmlight width is refused at its line before any large allocation."""
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from ngd.exceptions import DataError
from ngd.io import read_csv
from ngd.io.arrow import _check_names as check_arrow_names
from ngd.messages import name_list
from ngd.io.csv import read_header
from ngd.io.svmlight import MAX_FEATURES, read_svmlight

WIDE = 200_000


def wide_csv(path, names, rows=3):
    lines = [",".join(names)]
    lines += [",".join(["0.5"] * (len(names) - 1) + [str(i % 2)]) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wide_header_is_read(tmp_path):
    names = [f"x{j}" for j in range(WIDE)] + ["y"]
    data = read_csv(wide_csv(tmp_path / "wide.csv", names))
    assert data.X.shape == (3, WIDE)
    assert data.feature_names == names[:-1]


def test_wide_features_list_is_resolved(tmp_path):
    names = [f"x{j}" for j in range(WIDE)] + ["y"]
    path = wide_csv(tmp_path / "wide.csv", names)
    data = read_csv(path, features=names[-2::-1])          # every feature, reversed
    assert data.feature_names == names[-2::-1]
    np.testing.assert_array_equal(data.X, 0.5)


def test_wide_duplicates_are_one_short_line(tmp_path):
    names = [f"x{j}" for j in range(WIDE)] + ["y"]
    for k in range(25):
        names[WIDE - 1 - k] = f"x{k}"
    path = wide_csv(tmp_path / "dup.csv", names, rows=1)
    with pytest.raises(DataError) as caught:
        read_header(path)
    message = str(caught.value)
    assert "\n" not in message and message.endswith("and 15 more")
    assert "x0, x1, x10, x11" in message


def test_arrow_names_check_is_o_p_and_capped():
    names = [f"c{j}" for j in range(WIDE)]
    assert check_arrow_names("t.arrow", names) == names
    with pytest.raises(DataError, match=r"duplicate column name\(s\): c1, c2$"):
        check_arrow_names("t.arrow", names + ["c2", "c1"])
    with pytest.raises(DataError, match="and 11 more"):
        check_arrow_names("t.arrow", names + names[:21])


def test_name_list_caps_at_ten():
    assert name_list(["a", "b"]) == "a, b"
    assert name_list([str(j) for j in range(12)]) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more"


@pytest.mark.parametrize("index", [3_000_000_000, MAX_FEATURES, 2**63])
def test_svmlight_absurd_index_refused_before_allocation(tmp_path, index):
    path = tmp_path / "wide.svm"
    path.write_text("1 1:0.5 2:1\n0 2:1\n1 %d:1\n" % index)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"line 3: feature index {index} is beyond"):
            read_svmlight(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_svmlight_wide_legitimate_problem_is_read(tmp_path):
    path = tmp_path / "hashed.svm"
    path.write_text("1 1:0.5 1000000:1\n0 2:1\n")
    data = read_svmlight(path)
    assert data.X.shape == (2, 1_000_000) and data.X.nnz == 3
    assert data.feature_names[-1] == "f1000000"


def test_svmlight_n_features_beyond_limit_is_an_error(tmp_path):
    path = tmp_path / "a.svm"
    path.write_text("1 1:0.5\n")
    with pytest.raises(ValueError, match="n_features must be between 1 and"):
        read_svmlight(path, n_features=MAX_FEATURES + 1)


def test_cli_absurd_svmlight_index_exits_2(tmp_path):
    path = tmp_path / "wide.svm"
    path.write_text("1 1:0.5\n0 3000000000:1\n")
    result = subprocess.run([sys.executable, "-m", "ngd", "fit", str(path), "--no-compare"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "feature index 3000000000" in result.stderr
