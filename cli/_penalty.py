"""Elastic-net options of ``ngd fit``: --alpha/--l1-ratio (one penalised fit), --path (a
regularization path) and --cv K (cross-validation, then the fit at the chosen alpha)."""
import io

import click
import numpy as np

import ngd
from ngd.cli._errors import InputError
from ngd.cli._options import finite_float, scale_float
from ngd.path import MAX_ALPHAS
from ngd.cli._output import emit_json, model_json
from ngd.report import fmt, format_table
from ngd.io import write_files_atomic

_OPTIONS = [
    click.option("--alpha", type=scale_float(), default=None,
                 help="Elastic-net strength: adds alpha [(1 - r)/2 ||coef||^2 + r ||coef||_1] "
                      "(glum's convention; with --l1-ratio 0 it is --l2 alpha)."),
    click.option("--l1-ratio", type=finite_float(0, 1), default=None,
                 help="Share r of the L1 part  [default: 0 with --alpha, 1 with --path/--cv]"),
    click.option("--path", "path_mode", is_flag=True,
                 help="Fit a regularization path: coefficients, deviance and non-zeros per "
                      "alpha (--plot draws it)."),
    click.option("--cv", "cv_folds", type=click.IntRange(min=2), default=None, metavar="K",
                 help="K-fold cross-validation of the path (stratified for classes), then the "
                      "fit at the chosen alpha (--plot draws the CV curve)."),
    click.option("--n-alphas", type=click.IntRange(1, MAX_ALPHAS), default=100,
                 help="Penalties on the path's log grid (--path, --cv)."),
    click.option("--alpha-min-ratio", type=finite_float(0, 1, min_open=True, max_open=True),
                 default=1e-3, help="Smallest alpha of the grid / alpha_max (--path, --cv)."),
    click.option("--select", type=click.Choice(["best", "1se"], case_sensitive=False),
                 default="best", help="--cv: alpha of the final fit, the best CV deviance or "
                                      "the largest within one standard error of it."),
]

NAMES = ("alpha", "l1_ratio", "path_mode", "cv_folds", "n_alphas", "alpha_min_ratio", "select")


def penalty_options(command):
    """Decorator adding the elastic-net options (their values reach the command as kwargs)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def check(penalty, l2, outputs):
    """Refuse option combinations that cannot work, before any work (exit 2)."""
    alpha, ratio = penalty["alpha"], penalty["l1_ratio"]
    path, folds = penalty["path_mode"], penalty["cv_folds"]
    if path and folds is not None:
        raise InputError("--path and --cv are exclusive (--cv computes the path per fold)")
    if (path or folds is not None) and alpha is not None:
        raise InputError("--alpha names one penalty; --path and --cv choose their own grid")
    if alpha is None and ratio is not None and not (path or folds is not None):
        raise InputError("--l1-ratio needs --alpha, --path or --cv")
    if alpha is not None and l2:
        raise InputError("give either --l2 or --alpha (with --l1-ratio), not both")
    if (path or folds is not None) and l2:
        raise InputError("--l2 does not apply to --path or --cv (use --l1-ratio)")
    if path and (outputs.get("model") or outputs.get("history")):
        raise InputError("--output and --history need one fit: use --cv or --alpha, not --path")
    if folds is not None and outputs.get("history"):
        raise InputError("--history does not apply to --cv")


def ridge_l2(penalty, l2):
    """The ridge strength of a plain fit: --alpha with an l1 ratio of 0, else --l2."""
    if penalty["alpha"] is not None and not penalty["l1_ratio"]:
        return penalty["alpha"]
    return l2


def single_fit_options(options, penalty):
    """The fit options with an L1 penalty: the first method only (Newton and SGD do not apply
    to the L1 term), alpha and l1_ratio instead of l2 and cov_type; options unchanged
    without one."""
    alpha, ratio = penalty["alpha"], penalty["l1_ratio"]
    if alpha is None or not ratio:
        return options
    options = {key: value for key, value in options.items() if key not in ("l2", "cov_type")}
    return dict(options, methods=options["methods"][:1], alpha=alpha, l1_ratio=ratio)


def compare(dataset, options):
    """ngd.compare's results, or {method: ngd.fit(...)} for one L1-penalised fit (options
    from :func:`single_fit_options`)."""
    if "alpha" not in options:
        return ngd.compare(dataset.X, dataset.y, **options)
    options = dict(options)
    options.pop("statistics", None)
    method = options.pop("methods")[0]
    return {method: ngd.fit(dataset.X, dataset.y, method=method, **options)}


def run(data, dataset, penalty, library, outputs, as_json):
    """--path or --cv: fit, print the report, write --plot / --output."""
    ratio = 1.0 if penalty["l1_ratio"] is None else penalty["l1_ratio"]
    grid = dict(l1_ratio=ratio, n_alphas=penalty["n_alphas"],
                alpha_min_ratio=penalty["alpha_min_ratio"])
    try:
        if penalty["path_mode"]:
            result = ngd.fit_path(dataset.X, dataset.y, **grid, **library)
        else:
            result = ngd.cross_validate(dataset.X, dataset.y, cv=penalty["cv_folds"],
                                        select=penalty["select"].lower(), **grid, **library)
    except ngd.DataError as exc:
        raise ngd.DataError(f"{data}: {exc}") from None
    report = (path_report if penalty["path_mode"] else cv_report)(dataset, result)
    files = []
    if outputs.get("plot") is not None:
        buffer = io.BytesIO()
        names = dataset.feature_names
        figure = result.plot(feature_names=names) if penalty["path_mode"] else result.plot()
        figure.savefig(buffer, format="png")
        files.append((outputs["plot"], buffer.getvalue()))
    if outputs.get("model") is not None:
        files.append((outputs["model"], model_json(result.fit, dataset)))
    write_files_atomic(files)
    report["outputs"] = {key: str(value) if value is not None else None
                         for key, value in outputs.items()}
    if as_json:
        emit_json(report)
    else:
        click.echo(render(report))
    unconverged = int(np.sum(~np.asarray(_path_of(result).converged)))
    if unconverged:
        click.echo(f"warning: {unconverged} penalt{'y' if unconverged == 1 else 'ies'} of the "
                   "path did not converge (see kkt_violation)", err=True)


def _path_of(result):
    return result.path if "path" in result else result


def _data_block(dataset):
    return {"source": dataset.source, "n_samples": dataset.n_samples,
            "n_features": dataset.n_features, "target": dataset.target_name}


def _coefficients(path, i, names):
    """{name: estimate} of penalty i (the names of FitResult.coefficient_rows)."""
    rows = ngd.FitResult(coef=path.coef[i], intercept=path.intercept[i],
                         classes=path.get("classes"),
                         fit_intercept=path.fit_intercept).coefficient_rows(names)
    return {row["name"]: row["estimate"] for row in rows}


def path_report(dataset, path):
    """The ``ngd fit --path`` document (schema ngd.path/1)."""
    names = dataset.feature_names
    return {"schema": "ngd.path/1", "data": _data_block(dataset), "model": path.model,
            "l1_ratio": path.l1_ratio, "alpha_max": path.alpha_max,
            "null_deviance": path.null_deviance, "n_gram": path.n_gram,
            "n_gram_reused": path.n_gram_reused, "time": path.time,
            "penalties": [{"alpha": path.alphas[i], "n_nonzero": int(path.n_nonzero[i]),
                           "deviance": path.deviance[i],
                           "deviance_ratio": path.deviance_ratio[i],
                           "n_iter": int(path.n_iter[i]),
                           "kkt_violation": path.kkt_violation[i],
                           "converged": bool(path.converged[i]),
                           "coefficients": _coefficients(path, i, names)}
                          for i in range(len(path.alphas))]}


def cv_report(dataset, cv):
    """The ``ngd fit --cv`` document (schema ngd.cv/1)."""
    fit = cv.fit
    rows = fit.coefficient_rows(dataset.feature_names)
    return {"schema": "ngd.cv/1", "data": _data_block(dataset), "model": fit.model,
            "l1_ratio": cv.l1_ratio, "metric": cv.metric, "n_folds": cv.n_folds,
            "alpha_best": cv.alpha_best, "alpha_1se": cv.alpha_1se, "select": cv.select,
            "alpha": cv.alpha, "time": cv.time,
            "penalties": [{"alpha": cv.alphas[i], "n_nonzero": int(cv.n_nonzero[i]),
                           "cv_mean": cv.cv_mean[i], "cv_se": cv.cv_se[i]}
                          for i in range(len(cv.alphas))],
            "coefficients": {row["name"]: row["estimate"] for row in rows},
            "fit": {"deviance": fit.deviance, "n_nonzero": fit.n_nonzero,
                    "kkt_violation": fit.kkt_violation, "converged": bool(fit.converged),
                    "message": fit.message}}


def render(report):
    """Text tables of a path or CV report."""
    data = report["data"]
    head = (f"{report['model']} elastic net on {data['source']}: {data['n_samples']} rows, "
            f"{data['n_features']} features; l1_ratio = {report['l1_ratio']:g}")
    penalties = report["penalties"]
    if report["schema"] == "ngd.path/1":
        names = list(penalties[0]["coefficients"])
        rows = [[i, fmt(p["alpha"], ".4g"), p["n_nonzero"], fmt(p["deviance"], ".6g"),
                 fmt(p["deviance_ratio"], ".4f"), p["n_iter"], fmt(p["kkt_violation"], ".1e")]
                + [fmt(p["coefficients"][name], ".4g") for name in names]
                for i, p in enumerate(penalties)]
        table = format_table(["#", "alpha", "non-zero", "deviance", "dev.ratio", "iter", "KKT"]
                             + names, rows, "r" * (7 + len(names)))
        return "\n".join([head + f"; alpha_max = {report['alpha_max']:.6g}", "", table, "",
                          f"{report['n_gram']} Fisher builds ({report['n_gram_reused']} "
                          f"reused); {report['time']:.3g} s"])
    marks = {report["alpha_best"]: "best", report["alpha_1se"]: "1se"}
    rows = [[i, fmt(p["alpha"], ".4g"), p["n_nonzero"], fmt(p["cv_mean"], ".6g"),
             fmt(p["cv_se"], ".3g"), marks.get(p["alpha"], "")]
            for i, p in enumerate(penalties)]
    if report["alpha_best"] == report["alpha_1se"]:
        rows[[p["alpha"] for p in penalties].index(report["alpha_best"])][-1] = "best, 1se"
    fit = report["fit"]
    coef_rows = [[name, fmt(value, ".6g")] for name, value in report["coefficients"].items()]
    metric = report["metric"] if isinstance(report["metric"], str) else "metric"
    return "\n".join([
        head + f"; {report['n_folds']}-fold CV {metric}", "",
        format_table(["#", "alpha", "non-zero", f"CV {metric}", "std.err", ""], rows, "rrrrrl"),
        "", f"fit on all rows at alpha = {report['alpha']:.6g} ({report['select']}): "
            f"{fit['n_nonzero']} non-zero, deviance {fit['deviance']:.6g}, KKT violation "
            f"{fit['kkt_violation']:.1e}", "",
        format_table(["feature", "estimate"], coef_rows, "lr"), "",
        f"{report['time']:.3g} s"])

