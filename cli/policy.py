"""``ngd policy``: natural vs vanilla policy gradient on a finite MDP, against V* from value
iteration; the value per iteration, a comparison table, a plot and one JSON document."""
import io
import math
import os
import pathlib

import click
import numpy as np

from ngd import policy
from ngd.cli._errors import InputError
from ngd.cli._options import finite_float, json_option
from ngd.cli._output import check_writable, emit_json
from ngd.report import fmt, format_table
from ngd.cli._plot import have_matplotlib
from ngd.io import write_files_atomic

EPILOG = """\b
Examples:
  ngd policy --env chain
  ngd policy --env gridworld --method npg --kl 0.01 --plot npg.png
  ngd policy --env gridworld --fisher sampled --episodes 32 --seed 1
  ngd policy --env mdp.npz --json | python -m json.tool
"""
TABLE_ROWS = 20


@click.command("policy", epilog=EPILOG)
@click.option("--env", "env", default="chain", metavar="chain|gridworld|FILE.npz",
              help="Built-in MDP, or an NPZ file with arrays P (S x A x S), R (S x A), gamma "
                   "and rho (S).")
@click.option("--method", type=click.Choice(["npg", "pg", "all"], case_sensitive=False),
              default="all", help="Natural policy gradient, vanilla policy gradient, or both.")
@click.option("--fisher", type=click.Choice(["exact", "sampled"], case_sensitive=False),
              default="exact",
              help="NPG's Fisher: exact under the discounted state visitation, or estimated "
                   "from sampled episodes.")
@click.option("--gradient", type=click.Choice(["exact", "sampled"], case_sensitive=False),
              default=None, help="Policy gradient: exact, or REINFORCE with a baseline  "
                                 "[default: as --fisher]")
@click.option("--step", type=finite_float(min=0, min_open=True), default=None,
              help="Step size eta  [default: npg 1 (sampled Fisher: --kl 0.01); pg "
                   "(1 - gamma)^3 / 8]")
@click.option("--kl", "kl_budget", type=finite_float(min=0, min_open=True), default=None,
              help="KL budget delta of NPG's trust-region step alpha = sqrt(2 delta / "
                   "g'F^-1 g).")
@click.option("--damping", type=finite_float(min=0), default=None,
              help="Damping lambda of NPG's solve (F + lambda I) w = g  [default: 0 exact, "
                   "1e-3 sampled]")
@click.option("--iterations", type=click.IntRange(min=1), default=100,
              help="Maximum number of updates per method.")
@click.option("--tol", type=finite_float(min=0), default=1e-6,
              help="Stop a method once V* - V <= tol.")
@click.option("--episodes", type=click.IntRange(1, 100_000), default=16,
              help="Episodes per iteration for sampled gradients and Fishers.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the sampled episodes.")
@click.option("--every", type=click.IntRange(min=1), default=None,
              help="Print the value every K iterations  [default: about 20 rows]")
@click.option("--threads", type=click.IntRange(min=1), default=None, envvar="NGD_NUM_THREADS",
              show_envvar=True, help="Threads for the Fisher kernels  [default: all cores]")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=pathlib.Path), default=None,
              help="Write a PNG of V* - V per iteration, log scale (needs matplotlib).")
@json_option
def policy_command(env, method, fisher, gradient, step, kl_budget, damping, iterations, tol,
                   episodes, seed, every, threads, plot, as_json):
    """Maximise the value of a finite MDP by natural and vanilla policy gradient."""
    if plot is not None:
        check_writable(plot, "--plot")
        if not have_matplotlib():
            raise InputError("--plot needs matplotlib: pip install 'ngd[plot]' (or pip install "
                             "matplotlib)")
    methods = ["npg", "pg"] if method == "all" else [method]
    if kl_budget is not None and "npg" not in methods:
        raise InputError("--kl sets NPG's trust region; it does not apply to --method pg")
    mdp = load_env(env)
    results = {name: policy.optimize(
        mdp, name, fisher=fisher, gradient=gradient, step=step,
        kl=kl_budget if name == "npg" else None, damping=damping, n_iter=iterations, tol=tol,
        episodes=episodes, seed=seed, n_threads=threads) for name in methods}
    report = build_report(mdp, tol, results)
    if plot is not None:
        write_files_atomic([(plot, gap_png(mdp, results))])
        report["plot"] = str(plot)
    if as_json:
        emit_json(report)
    else:
        click.echo(render_report(report, every))


def load_env(env):
    """A built-in MDP by name, or the MDP of an NPZ file (errors name the file)."""
    if env.lower() in policy.ENVIRONMENTS:
        return policy.ENVIRONMENTS[env.lower()]()
    if not os.path.exists(env):
        raise InputError(f"--env {env!r} is neither a built-in MDP "
                         f"({', '.join(policy.ENVIRONMENTS)}) nor an existing file")
    if os.path.isdir(env):
        raise InputError(f"--env {env} is a directory, not an NPZ file")
    try:
        return policy.load_mdp(env)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{env}: {exc}") from None


def build_report(mdp, tol, results):
    """The output as plain data (the JSON document, schema ngd.policy/1)."""
    return {"schema": "ngd.policy/1",
            "env": {"name": mdp.name, "n_states": mdp.n_states, "n_actions": mdp.n_actions,
                    "gamma": mdp.gamma},
            "optimal_value": next(iter(results.values())).optimal_value, "tol": tol,
            "methods": {name: {"values": r.values, "fisher": r.fisher, "gradient": r.gradient,
                               "n_iter": r.n_iter, "final_value": r.value, "gap": r.gap,
                               "converged": r.converged, "steps": r.steps, "kl": r.kl,
                               "message": r.message} for name, r in results.items()}}


def render_report(report, every):
    """The value table (every k-th iteration) and the comparison table."""
    env, methods = report["env"], report["methods"]
    longest = max(len(m["values"]) for m in methods.values())
    every = every or max(1, math.ceil((longest - 1) / TABLE_ROWS))
    rows = [[t] + [fmt(m["values"][t], ".8g") if t < len(m["values"]) else "-"
                   for m in methods.values()]
            for t in sorted(set(range(0, longest, every))
                            | {len(m["values"]) - 1 for m in methods.values()})]
    comparison = [[name, m["fisher"] or "-", m["gradient"], m["n_iter"],
                   fmt(m["final_value"], ".10g"), fmt(m["gap"], ".2e"),
                   "yes" if m["converged"] else "no"] for name, m in methods.items()]
    return "\n".join([
        f"{env['name']}: {env['n_states']} states, {env['n_actions']} actions, gamma = "
        f"{env['gamma']:g}; V*(rho) = {report['optimal_value']:.10g} (value iteration)", "",
        f"value V(rho) per iteration (every {every}; '-' after a method stopped)",
        format_table(["iter"] + list(methods), rows, "r" * (len(methods) + 1)), "",
        f"comparison (a method stops once V* - V <= {report['tol']:g})",
        format_table(["method", "fisher", "gradient", "iterations", "final value",
                      "gap to V*", "reached tol"], comparison, "lllrrrl")]
        + (["", f"wrote plot to {report['plot']}"] if "plot" in report else []))


def gap_png(mdp, results):
    """PNG bytes: V* - V^{(t)}(rho) per iteration (log scale) for each method, with the bound
    log|A| / (eta t) + 1 / ((1 - gamma)^2 t) of Agarwal et al. (2021) for exact-Fisher NPG with
    a fixed step from the uniform policy (rewards in [0, 1])."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    floor = 1e-16 * max(1.0, abs(next(iter(results.values())).optimal_value))
    for name, r in results.items():
        what = f"{r.fisher} Fisher" if r.fisher else f"{r.gradient} gradient"
        label = f"{name} ({what}): {r.n_iter} iterations, gap {r.gap:.1e}"
        ax.plot(np.arange(len(r.values)), np.maximum(r.optimal_value - r.values, floor),
                marker="o", markersize=3, label=label)
        fixed = r.steps.size and np.all(r.steps == r.steps[0])
        if (name == "npg" and r.fisher == "exact" and fixed and mdp.R.min() >= 0
                and mdp.R.max() <= 1):
            t = np.arange(1, len(r.values))
            bound = math.log(mdp.n_actions) / (r.steps[0] * t) + 1 / ((1 - mdp.gamma) ** 2 * t)
            ax.plot(t, bound, linestyle="--", color="gray",
                    label="Agarwal et al. bound for npg")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("V*(rho) - V_t(rho)  (log scale)")
    ax.grid(True, alpha=0.35)
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle(f"{mdp.name}, gamma = {mdp.gamma:g}", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
