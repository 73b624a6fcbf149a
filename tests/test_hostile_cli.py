"""Hostile CLI use: one warning line per separation, capped name lists, Ctrl-C exits 130."""
import click
import numpy as np
import pytest
from click.testing import CliRunner

import ngd
from ngd.cli.main import cli
from ngd.messages import name_list


def _separated_csv(path, duplicate=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    z = rng.normal(size=60)
    columns = [x, x, z] if duplicate else [x, z]
    header = ["x", "x2", "z"] if duplicate else ["x", "z"]
    rows = [",".join(header + ["y"])] + [
        ",".join(repr(float(c[i])) for c in columns) + f",{int(x[i] > 0)}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_separation_reported_once_across_compared_methods(tmp_path):
    data = _separated_csv(tmp_path / "sep.csv")
    result = CliRunner().invoke(cli, ["fit", str(data), "-q"])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "(separation)" in line]
    assert len(lines) == 1, result.stderr
    assert "the separation involves the features: x, x2, z" in result.stderr


def test_name_list_caps_at_ten_and_counts():
    names = [f"c{j}" for j in range(200_000)]
    text = name_list(names)
    assert text == ", ".join(names[:10]) + " and 199990 more"
    assert name_list(["a", "b"]) == "a, b"
    assert name_list(names[:10]) == ", ".join(names[:10])


def test_ctrl_c_exits_130_and_leaves_no_file(tmp_path, monkeypatch):
    data = _separated_csv(tmp_path / "sep.csv", duplicate=False)
    output = tmp_path / "model.json"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ngd, "save_model", interrupted)
    result = CliRunner().invoke(cli, ["fit", str(data), "--no-compare", "-q",
                                      "--output", str(output)])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["Error: interrupted"]
    assert list(tmp_path.iterdir()) == [data]


def _numeric_options():
    """(command name, option flag) for every numeric option of every ngd command."""
    numeric = (click.types.IntParamType, click.types.FloatParamType)
    return [(name, param.opts[0]) for name, command in cli.commands.items()
            for param in command.params
            if isinstance(param, click.Option) and isinstance(param.type, numeric)]


@pytest.mark.parametrize("command, flag", _numeric_options())
def test_every_numeric_option_error_names_the_option(tmp_path, command, flag):
    data = _separated_csv(tmp_path / "sep.csv", duplicate=False)
    args = {"predict": [str(data), str(data)]}.get(command, [str(data)])
    for value in ("not-a-number", "1e999999x"):
        result = CliRunner().invoke(cli, [command, *args, flag, value])
        assert result.exit_code == 2, (flag, result.output)
        assert flag in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["fit", "check", "policy"])
def test_negative_seed_names_the_option(tmp_path, command):
    data = _separated_csv(tmp_path / "sep.csv", duplicate=False)
    args = [] if command == "policy" else [str(data)]
    result = CliRunner().invoke(cli, [command, *args, "--seed", "-1"])
    assert result.exit_code == 2
    assert "--seed" in result.stderr and len(result.stderr.strip().splitlines()) == 1
