"""Hypothesis fuzzing: the CSV reader raises only DataError, and ``ngd fit`` on random small
files exits 0 or 2 with no traceback (one line on stderr when it fails)."""
import os
import pathlib
import tempfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from click.testing import CliRunner  # noqa: E402

import ngd  # noqa: E402
from ngd.cli.main import cli  # noqa: E402
from ngd.io import read_csv  # noqa: E402

# NGD_FUZZ_EXAMPLES=5000 runs a longer, randomised search (the default is fixed and quick)
EXAMPLES = os.environ.get("NGD_FUZZ_EXAMPLES")
SETTINGS = settings(max_examples=int(EXAMPLES or 120), deadline=None, derandomize=not EXAMPLES,
                    database=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["a", "b", "c", "y", "w", "x y", "é", "", " a", "1"])
numbers = st.one_of(st.integers(-5, 5).map(str),
                    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
                    st.sampled_from(["1e308", "-1e400", "1_0", "0x1", ".5", "5.", "+3"]))
cells = st.one_of(numbers, numbers, numbers,
                  st.sampled_from(["", "NA", "nan", "?", "red", "blue", " 2 ", '"3"', '"a,b"',
                                   "'", '"', "\t", "yes", "no"]),
                  st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
                          max_size=4))


@st.composite
def csv_files(draw):
    width = draw(st.integers(1, 4))
    header = draw(st.lists(names, min_size=width, max_size=width))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(cells, min_size=max(1, width - 1), max_size=width + 1),
                         max_size=8))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), "")
    return ending.join(lines) + draw(st.sampled_from([ending, ""])), delimiter


@st.composite
def numeric_files(draw):
    """Mostly well-formed numeric tables: the fits should mostly run."""
    n = draw(st.integers(2, 12))
    p = draw(st.integers(1, 3))
    values = draw(st.lists(st.lists(st.floats(-50, 50, allow_nan=False).map(lambda v:
                                                                              f"{v:.3g}"),
                                    min_size=p, max_size=p), min_size=n, max_size=n))
    labels = draw(st.lists(st.sampled_from(["0", "1", "a", "b", "2"]), min_size=n, max_size=n))
    lines = [",".join([f"x{j}" for j in range(p)] + ["y"])]
    lines += [",".join(row + [label]) for row, label in zip(values, labels)]
    if draw(st.booleans()):
        row = draw(st.integers(1, n))
        lines[row] = lines[row].replace(",", draw(st.sampled_from([",,", ",NA,", ",x", ","])),
                                        1)
    return "\n".join(lines) + "\n"


def _write(folder, text):
    path = pathlib.Path(folder) / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


@SETTINGS
@given(csv_files(), st.booleans(), st.booleans())
def test_csv_reader_raises_only_data_errors(file, dropna, categorical):
    text, delimiter = file
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, text)
        header = text.replace("\r", "").split("\n", 1)[0].split(delimiter)
        options = {"dropna": dropna}
        if categorical and len(header) > 1:
            options["categorical"] = [header[0].strip()]
        try:
            data = read_csv(path, **options)
        except ngd.DataError as exc:
            assert "\n" not in str(exc)
            return
    assert data.X.ndim == 2 and data.X.shape[0] >= 1
    assert data.X.shape[1] == len(data.feature_names)
    assert np.isfinite(data.X).all() and np.abs(data.X).max() <= 1e150
    assert data.y.shape == (data.X.shape[0],)


@SETTINGS
@given(st.one_of(numeric_files(), csv_files().map(lambda f: f[0])), st.booleans())
def test_fit_never_shows_a_traceback(text, dropna):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, text)
        out = pathlib.Path(folder) / "m.json"
        args = ["fit", str(path), "--max-iter", "20", "--no-compare", "--output", str(out)]
        result = CliRunner().invoke(cli, args + (["--dropna"] if dropna else []))
        assert result.exit_code in (0, 2), (result.exit_code, result.stderr, result.exception)
        assert "Traceback" not in result.stderr
        if result.exit_code == 2:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert not out.exists()
        else:
            assert out.exists()
