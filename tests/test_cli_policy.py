"""``ngd policy``: value tables, the comparison, one JSON document, plots, one-line errors."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ngd import policy
from ngd.cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, ["policy", *map(str, args)])


def policy_json(*args):
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_text_output_has_the_value_table_and_the_comparison():
    result = invoke("--env", "chain")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "chain(8): 8 states, 2 actions, gamma = 0.9; V*(rho) = 4.782969" in out
    for header in ("iter", "npg", "pg", "method", "fisher", "gradient", "iterations",
                   "final value", "gap to V*", "reached tol"):
        assert header in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("npg ", "pg "))}
    assert rows["npg"][-1] == "yes" and rows["pg"][-1] == "no"
    assert int(rows["npg"][3]) <= 5 and int(rows["pg"][3]) == 100


def test_json_has_the_optimal_value_and_the_values_per_iteration():
    report = policy_json("--env", "chain", "--method", "all", "--tol", "1e-9")
    assert report["schema"] == "ngd.policy/1"
    assert report["optimal_value"] == pytest.approx(0.9 ** 7 / 0.1, rel=1e-12)
    assert set(report["methods"]) == {"npg", "pg"}
    npg, pg = report["methods"]["npg"], report["methods"]["pg"]
    assert len(npg["values"]) == npg["n_iter"] + 1 and len(pg["values"]) == 101
    assert npg["values"][0] == pg["values"][0] == pytest.approx(
        policy.evaluate_policy(policy.chain(), np.full((8, 2), 0.5)).value, rel=1e-12)
    assert report["optimal_value"] - npg["values"][-1] <= 1e-9 and npg["converged"]
    assert npg["gap"] == pytest.approx(report["optimal_value"] - npg["final_value"])
    assert pg["fisher"] is None and npg["fisher"] == "exact"
    assert np.all(np.diff(pg["values"]) > 0)


def test_options_reach_the_solver():
    report = policy_json("--env", "gridworld", "--method", "npg", "--kl", "0.001",
                         "--iterations", "7")
    npg = report["methods"]["npg"]
    assert report["env"] == {"name": "gridworld(5x5)", "n_states": 25, "n_actions": 4,
                             "gamma": 0.95}
    assert list(report["methods"]) == ["npg"] and npg["n_iter"] == 7
    assert max(npg["kl"]) <= 1.5e-3 and npg["kl"][0] == pytest.approx(1e-3, rel=0.05)
    pg = policy_json("--method", "pg", "--step", "30", "--tol", "1e-3", "--iterations",
                     "300")["methods"]["pg"]
    assert pg["converged"] and pg["steps"] == [30.0] * pg["n_iter"]


def test_sampled_runs_are_seeded():
    args = ("--env", "chain", "--fisher", "sampled", "--iterations", "5", "--threads", "1")
    a = policy_json(*args, "--seed", "3")
    assert a["methods"]["npg"]["gradient"] == "sampled" == a["methods"]["pg"]["gradient"]
    assert a == policy_json(*args, "--seed", "3")
    assert a["methods"]["npg"]["values"] != policy_json(*args, "--seed", "4")["methods"]["npg"][
        "values"]


def test_npz_environment(tmp_path):
    mdp = policy.gridworld(3, gamma=0.8)
    path = tmp_path / "grid.npz"
    np.savez(path, P=mdp.P, R=mdp.R, gamma=mdp.gamma, rho=mdp.rho)
    report = policy_json("--env", path, "--method", "npg", "--tol", "1e-3")
    assert report["env"]["name"] == str(path)
    assert report["optimal_value"] == pytest.approx(policy.optimal_value(mdp), rel=1e-12)
    assert report["methods"]["npg"]["converged"]


def test_every_sets_the_rows_of_the_value_table():
    out = invoke("--method", "pg", "--iterations", "30", "--every", "10").stdout
    iterations = [line.split()[0] for line in out.splitlines()
                  if line.strip() and line.split()[0].isdigit()]
    assert iterations[:4] == ["0", "10", "20", "30"]


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "gap.png"
    result = invoke("--iterations", "20", "--plot", path)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote plot to {path}" in result.stdout


def test_plot_without_matplotlib_is_one_line_error(tmp_path, monkeypatch):
    import ngd.cli.policy

    monkeypatch.setattr(ngd.cli.policy, "have_matplotlib", lambda: False)
    path = tmp_path / "gap.png"
    one_line_error(invoke("--plot", path), "--plot needs matplotlib")
    assert not path.exists()


def bad_npz(tmp_path, **changes):
    mdp = policy.chain(3)
    arrays = {"P": np.array(mdp.P), "R": np.array(mdp.R), "gamma": 0.9,
              "rho": np.array(mdp.rho)}
    arrays.update(changes)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def test_bad_inputs_are_one_line_errors(tmp_path):
    one_line_error(invoke("--env", "maze"), "'maze' is neither a built-in MDP")
    one_line_error(invoke("--env", tmp_path), "is a directory")
    P = np.array(policy.chain(3).P)
    P[2, 1] = [0.2, 0.2, 0.2]
    path = bad_npz(tmp_path, P=P)
    one_line_error(invoke("--env", path), f"{path}: P[2, 1, :] must sum to 1")
    one_line_error(invoke("--env", bad_npz(tmp_path, gamma=1.5)), "gamma must be in [0, 1)")
    one_line_error(invoke("--env", bad_npz(tmp_path, rho=None)), "missing array(s) 'rho'")
    one_line_error(invoke("--env", bad_npz(tmp_path, R=np.array(["x"] * 6).reshape(3, 2))),
                   "R must be a real numeric array")
    text = tmp_path / "mdp.npz"
    text.write_text("P,R\n")
    one_line_error(invoke("--env", text), "cannot read NPZ file")
    one_line_error(invoke("--method", "pg", "--kl", "0.01"), "--kl", "--method pg")
    one_line_error(invoke("--step", "0"), "--step")
    one_line_error(invoke("--method", "sarsa"), "--method")
    one_line_error(invoke("--fisher", "sampled", "--gradient", "exact", "--method", "npg"),
                   "a sampled Fisher needs the sampled gradient")
    one_line_error(invoke("--plot", tmp_path / "missing" / "a.png"), "does not exist")


def test_help_mentions_every_option():
    result = CliRunner().invoke(cli, ["policy", "--help"])
    assert result.exit_code == 0
    for option in ("--env", "--method", "--fisher", "--gradient", "--step", "--kl",
                   "--damping", "--iterations", "--tol", "--episodes", "--seed", "--every",
                   "--threads", "--plot", "--json"):
        assert option in result.stdout, option
    assert "policy" in CliRunner().invoke(cli, ["--help"]).stdout
