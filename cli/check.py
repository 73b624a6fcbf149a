"""``ngd check DATA``: fit by NGD, then verify the Fisher-information propositions on that fit
(``FitResult.check``) and print one row per quantity: measured, expected, tolerance, pass."""
import pathlib
import warnings

import click

import ngd
from ngd.cli._data import data_options, load_training
from ngd.cli._options import json_option, model_data_options, scale_float
from ngd.cli._output import emit_json
from ngd.report import fmt, format_table

EPILOG = """\b
Examples:
  ngd check examples/breast_cancer.csv --model logistic
  ngd check counts.csv --model poisson --target visits --draws 500 --json
"""


@click.command("check", epilog=EPILOG)
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@model_data_options
@click.option("--l2", type=scale_float(), default=0.0,
              help="Ridge penalty: objective mean NLL + l2/2 ||coef||^2 (intercept unpenalised).")
@click.option("--no-intercept", is_flag=True, help="Fit without an intercept.")
@click.option("--threads", type=click.IntRange(min=1), default=None, envvar="NGD_NUM_THREADS",
              show_envvar=True, help="Threads for the kernels  [default: all cores]")
@click.option("--draws", type=click.IntRange(2, 100_000), default=200,
              help="Responses drawn from the fitted model for the Monte-Carlo rows.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the draws.")
@json_option
def check_command(data, model, link, power, target, features, weights, offset, trials,
                  categorical, dropna, delimiter, l2, no_intercept, threads, draws, seed,
                  as_json):
    """Fit DATA by NGD, then verify the score, Fisher and KL propositions on the fit."""
    dataset = load_training(data, target, delimiter, features, weights, offset, trials,
                            categorical, dropna)
    options = data_options(dataset, model, l2, link, power, no_intercept, threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ngd.fit(dataset.X, dataset.y, **options)
        except ngd.DataError as exc:
            raise ngd.DataError(f"{data}: {exc}") from None
        rows = result.check(n_draws=draws, seed=seed)
    failed = [row.quantity for row in rows if not row.passed]
    if as_json:
        emit_json({"schema": "ngd.check/1", "source": dataset.source,
                   "n_samples": dataset.n_samples, "n_features": dataset.n_features,
                   "model": result.get("model"), "link": result.get("link"), "l2": l2,
                   "converged": bool(result.converged), "loss": result.loss,
                   "draws": draws, "seed": seed, "passed": not failed,
                   "rows": [row.as_dict() for row in rows]})
    else:
        click.echo(render(dataset, result, rows))
    for warning in caught:
        click.echo(f"warning: {' '.join(str(warning.message).split())}", err=True)
    if failed:
        click.echo(f"warning: {len(failed)} of {len(rows)} checks failed: "
                   f"{'; '.join(failed)}", err=True)


def render(dataset, result, rows):
    """The check table with a one-line header naming the data and the fit."""
    head = (f"{result.get('model')} model (link {result.get('link')}) on {dataset.source}: "
            f"{dataset.n_samples} rows, {dataset.n_features} features; fit by ngd: "
            f"loss {result.loss:.12g}, {'converged' if result.converged else 'NOT converged'}")
    table = [[row.quantity, fmt(row.value, ".6g"), fmt(row.target, "g"),
              fmt(row.tolerance, ".3g"), "pass" if row.passed else "FAIL", row.note]
             for row in rows]
    return "\n".join([head, "", format_table(
        ["quantity", "measured", "expected", "tolerance", "result", "note"], table,
        "lrrrll")])
