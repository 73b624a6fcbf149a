"""Hostile option values on the command line (issue 17, class 5): every float option of every
command refuses nan and infinities, the penalty and damping scales their maximum, each with
one line naming the option and exit code 2."""
import click
import numpy as np
import pytest
from click.testing import CliRunner

from ngd._validation import MAX_ABS
from ngd.cli.main import cli


def _csv(path, weights=None, offset=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = (x + rng.normal(size=40) > 0).astype(int)
    columns = {"x": x, "y": y}
    if weights is not None:
        columns["w"] = weights
    if offset is not None:
        columns["o"] = offset
    lines = [",".join(columns)] + [",".join(repr(float(c[i])) for c in columns.values())
                                   for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _float_options():
    """(command, flag, upper bound or None) for every float option of every ngd command."""
    return [(name, param.opts[0], getattr(param.type, "max", None))
            for name, command in cli.commands.items() for param in command.params
            if isinstance(param, click.Option)
            and isinstance(param.type, click.types.FloatParamType)]


def _invoke(tmp_path, command, *options):
    data = str(_csv(tmp_path / "d.csv"))
    args = {"predict": [data, data], "policy": []}.get(command, [data])
    return CliRunner().invoke(cli, [command, *args, *options])


def _assert_refused(result, flag):
    assert result.exit_code == 2, (flag, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and flag in lines[0], lines
    assert "Traceback" not in result.output


def test_the_float_options_are_found():
    flags = {(command, flag) for command, flag, _ in _float_options()}
    assert {("fit", "--tol"), ("fit", "--l2"), ("fit", "--damping"), ("fit", "--alpha"),
            ("check", "--l2"), ("policy", "--tol")} <= flags


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "+Infinity"])
@pytest.mark.parametrize("command, flag, maximum", _float_options())
def test_non_finite_values_are_refused_by_name(tmp_path, command, flag, maximum, value):
    _assert_refused(_invoke(tmp_path, command, flag, value), flag)


@pytest.mark.parametrize("flag", ["--l2", "--damping", "--alpha"])
def test_scales_are_capped(tmp_path, flag):
    _assert_refused(_invoke(tmp_path, "fit", flag, "1e308"), flag)
    assert _invoke(tmp_path, "fit", "-q", "--no-compare", flag, repr(MAX_ABS)).exit_code == 0


def test_every_scale_option_has_the_library_cap():
    capped = {(command, flag): maximum for command, flag, maximum in _float_options()
              if flag in ("--l2", "--damping", "--alpha") and command != "policy"}
    assert capped and set(capped.values()) == {MAX_ABS}


@pytest.mark.parametrize("flag, value", [("--nb-alpha", "1e308"), ("--nb-alpha", "nan"),
                                         ("--n-alphas", "1000000000000"),
                                         ("--subsample", "nan"), ("--subsample", "inf")])
def test_parsed_numbers_are_bounded(tmp_path, flag, value):
    _assert_refused(_invoke(tmp_path, "fit", flag, value), flag)


@pytest.mark.parametrize("column, values", [("--weights", np.full(40, 1e308)),
                                            ("--offset", np.r_[1e308, np.zeros(39)])])
def test_overflowing_columns_give_our_line_only(tmp_path, recwarn, column, values):
    kind = column.lstrip("-")
    data = _csv(tmp_path / "d.csv", **{kind: values})
    key = "w" if kind == "weights" else "o"
    result = CliRunner().invoke(cli, ["fit", str(data), "--target", "y", "--features", "x",
                                      column, key, "-q"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"column '{key}'" in lines[0], lines
    assert [w for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


@pytest.mark.parametrize("command, flag", [("check", "--draws"), ("policy", "--episodes")])
def test_sample_counts_are_bounded_before_allocation(tmp_path, command, flag):
    _assert_refused(_invoke(tmp_path, command, flag, "1000000000000"), flag)


def test_every_error_has_the_same_prefix(tmp_path):
    """Usage errors (Click's), bad values (the options' types) and the library's errors all
    print one line starting 'Error: '."""
    data = str(_csv(tmp_path / "d.csv"))
    runner = CliRunner()
    for args in (["fit"], ["fit", data, "--bogus"], ["nope"], ["fit", data, "--tol", "nan"],
                 ["fit", data, "--model", "nope"], ["fit", data, "--target", "missing"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, lines)


def test_a_float_without_bounds_shows_no_range_in_help():
    text = CliRunner().invoke(cli, ["fit", "--help"]).output
    assert "--power FLOAT" in text and "None]" not in text
