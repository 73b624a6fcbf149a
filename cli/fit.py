"""``ngd fit DATA``: fit, print the coefficient table and the convergence comparison."""
import math
import pathlib
import warnings

import click

import ngd
from ngd.cli._output import emit_json, fmt, format_table
from ngd.io import read_data

MODEL_CHOICES = ["logistic"]

EPILOG = """\b
Examples:
  ngd fit examples/breast_cancer.csv --model logistic
  ngd fit examples/spector.csv --target GRADE --fisher empirical --no-compare
  ngd fit data.npz --l2 1e-3 --json | python -m json.tool
"""


def _normalise_model(ctx, param, value):
    key = value.strip().lower().replace("-", "_")
    if key not in MODEL_CHOICES:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(MODEL_CHOICES)}")
    return key


@click.command("fit", epilog=EPILOG)
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--model", default="logistic", callback=_normalise_model,
              help="Model to fit ('-' and '_' are equivalent).")
@click.option("--target", default=None, help="Target column of a CSV  [default: last column]")
@click.option("--method", type=click.Choice(ngd.METHODS, case_sensitive=False), default="ngd",
              help="Method whose coefficients are reported.")
@click.option("--fisher", type=click.Choice(["exact", "empirical"], case_sensitive=False),
              default="exact", help="Curvature of NGD: exact (Fisher scoring) or empirical (BHHH).")
@click.option("--l2", type=click.FloatRange(min=0), default=0.0,
              help="Ridge penalty: objective mean NLL + l2/2 ||coef||^2 (intercept unpenalised).")
@click.option("--max-iter", type=click.IntRange(min=1), default=None,
              help="Iteration limit (epochs for SGD)  [default: 100; SGD 30]")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-8,
              help="Stop when max |gradient| <= tol.")
@click.option("--step", type=click.Choice(["armijo", "kl"], case_sensitive=False),
              default="armijo", help="NGD step: Armijo backtracking from 1, or a KL budget.")
@click.option("--kl", "kl_budget", type=click.FloatRange(min=0, min_open=True), default=0.01,
              help="KL budget delta for --step kl: alpha = sqrt(2 delta / g'F^-1 g).")
@click.option("--damping", type=click.FloatRange(min=0), default=0.0,
              help="Damping lambda added to the curvature (raised automatically if needed).")
@click.option("--no-intercept", is_flag=True, help="Fit without an intercept.")
@click.option("--threads", type=click.IntRange(min=1), default=None, envvar="NGD_NUM_THREADS",
              show_envvar=True, help="Threads for the kernels  [default: all cores]")
@click.option("--seed", type=int, default=0, help="Seed of SGD's shuffling.")
@click.option("--no-compare", is_flag=True, help="Run only --method, not Newton and SGD too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def fit_command(data, model, target, method, fisher, l2, max_iter, tol, step, kl_budget,
                damping, no_intercept, threads, seed, no_compare, as_json):
    """Fit a model to DATA (CSV with a header row, or NPZ with X, y[, w])."""
    dataset = read_data(data, target=target)
    methods = [method] if no_compare else [method] + [m for m in ngd.METHODS if m != method]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            results = ngd.compare(dataset.X, dataset.y, methods=methods, model=model, l2=l2,
                                  sample_weight=dataset.sample_weight,
                                  fit_intercept=not no_intercept, n_threads=threads,
                                  fisher=fisher, tol=tol, max_iter=max_iter, step=step,
                                  kl=kl_budget, damping=damping, seed=seed)
        except ngd.DataError as exc:
            raise ngd.DataError(f"{data}: {exc}") from None
    primary = results[method]
    report = build_report(dataset, model, l2, primary, results)
    if as_json:
        emit_json(report)
    else:
        click.echo(render_report(report))
    for warning in caught:
        if primary.message in str(warning.message) or issubclass(warning.category,
                                                                 ngd.DampingWarning):
            click.echo(f"warning: {' '.join(str(warning.message).split())}", err=True)
    if not primary.converged:
        click.echo(f"warning: {method} did not converge: {primary.message}", err=True)


def build_report(dataset, model, l2, primary, results):
    """The content of ``ngd fit`` output as plain data (the JSON document, schema ngd.fit/1)."""
    best = min(r.loss for r in results.values() if math.isfinite(r.loss))
    coefficients = []
    names = list(dataset.feature_names)
    estimates = list(primary.coef)
    errors = list(primary.stderr) if primary.stderr is not None else [None] * len(names)
    if primary.fit_intercept:
        names.insert(0, "(intercept)")
        estimates.insert(0, primary.intercept)
        errors.insert(0, primary.intercept_stderr)
    for name, est, se in zip(names, estimates, errors):
        z = est / se if se not in (None, 0) and math.isfinite(se) else None
        coefficients.append({"name": name, "estimate": est, "stderr": se, "z": z})
    convergence = [{"method": r.method, "fisher": r.fisher, "step": r.step_rule,
                    "n_iter": r.n_iter, "time": r.time, "loss": r.loss,
                    "gap": r.loss - best if math.isfinite(r.loss) else None,
                    "grad_norm": r.grad_norm, "converged": bool(r.converged),
                    "status": r.status, "message": r.message} for r in results.values()]
    classes = [_label(c) for c in primary.classes]
    return {"schema": "ngd.fit/1",
            "data": {"source": dataset.source, "n_samples": dataset.n_samples,
                     "n_features": dataset.n_features, "target": dataset.target_name,
                     "classes": {str(c): i for i, c in enumerate(classes)}},
            "model": model, "l2": l2, "method": primary.method, "fisher": primary.fisher,
            "loss": primary.loss, "converged": bool(primary.converged),
            "message": primary.message, "coefficients": coefficients,
            "convergence": convergence, "best_loss": best}


def _label(value):
    """A class label for display: integral floats as integers (1.0 -> 1)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def render_report(report):
    """Human-readable tables of a report from :func:`build_report`."""
    data = report["data"]
    labels = ", ".join(f"{c} -> {i}" for c, i in data["classes"].items())
    head = [f"{report['model']} regression on {data['source']}: {data['n_samples']} rows, "
            f"{data['n_features']} features; target {data['target']!r} ({labels}); "
            f"l2 = {report['l2']:g}",
            f"coefficients from {report['method']}"
            + (f" ({report['fisher']} curvature)" if report["fisher"] else "")
            + "; standard errors from the inverse Fisher information", ""]
    coef_rows = [[c["name"], fmt(c["estimate"], ".6g"), fmt(c["stderr"], ".4g"),
                  fmt(c["z"], ".3f")] for c in report["coefficients"]]
    conv_rows = [[r["method"], r["fisher"] or "-", r["n_iter"], fmt(r["time"], ".4f"),
                  fmt(r["loss"], ".12g"), fmt(r["gap"], ".2e"), fmt(r["grad_norm"], ".2e"),
                  "yes" if r["converged"] else "no"] for r in report["convergence"]]
    return "\n".join(head + [
        format_table(["feature", "estimate", "std.err", "z"], coef_rows, "lrrr"), "",
        "convergence on the same objective (gap = loss - best loss of this run)",
        format_table(["method", "curvature", "iter", "time [s]", "final loss", "gap",
                      "grad norm", "converged"], conv_rows, "llrrrrrl")])
