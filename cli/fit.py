"""``ngd fit DATA``: fit, print the coefficient table and the convergence comparison; write
the model, the per-iteration history and a convergence plot on request."""
import functools
import importlib.util
import math
import os
import pathlib
import warnings

import click
import numpy as np

import ngd
from ngd.chunked.fit import model_spec
from ngd import formula as formulas
from ngd.cli import _formula, _penalty
from ngd.cli._data import data_options, load_training
from ngd.cli._errors import InputError
from ngd.cli._options import finite_float, json_option, model_data_options, scale_float
from ngd.cli._output import check_writable, emit_json, model_json
from ngd.cli._report import fit_document, history_csv
from ngd.cli._plot import convergence_png, have_matplotlib
from ngd.cli._progress import Progress
from ngd.elastic_net import MAX_ABS
from ngd.io import write_files_atomic
from ngd.io.chunks import ChunkSource
from ngd.messages import name_list
from ngd.report import render

EPILOG = """\b
Examples:
  ngd fit examples/breast_cancer.csv --model logistic --output model.json
  ngd fit examples/spector.csv --target GRADE --fisher empirical --no-compare
  ngd fit data.csv --categorical region --weights w --dropna --history h.csv --plot conv.png
  ngd fit data.npz --l2 1e-3 --json | python -m json.tool
"""


def _method_list(ctx, param, value):
    """'ngd,sqn' -> ['ngd', 'sqn'] (each one of ngd.METHODS, duplicates dropped)."""
    names = [name.strip().lower() for name in value.split(",")]
    if not all(name in ngd.METHODS for name in names):
        raise click.BadParameter(f"expected a comma-separated list of {', '.join(ngd.METHODS)},"
                                 f" got {value!r}")
    return list(dict.fromkeys(names))


def _subsample(ctx, param, value):
    """'auto' | 'none' | a row count (int) | a fraction in (0, 1] -> ngd.fit's subsample=."""
    text = value.strip().lower()
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None or not number > 0 or (number > 1 and not number.is_integer()):
        raise click.BadParameter(f"expected auto, none, a row count or a fraction in (0, 1], "
                                 f"got {value!r}")
    return int(number) if number > 1 or "." not in text else number


def _nb_alpha_value(ctx, param, value):
    """--nb-alpha: None (not given), "estimate", or a number > 0."""
    if value is None or value.strip().lower() == "estimate":
        return None if value is None else "estimate"
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and 0 < number <= MAX_ABS):
        raise click.BadParameter(f"expected 'estimate' or a number in (0, {MAX_ABS:g}], "
                                 f"got {value!r}")
    return number


def _is_negative_binomial(model):
    try:
        return ngd.models.normalise_model_name(model) == "negative_binomial"
    except (ValueError, TypeError):
        return False        # the library reports an unknown model


def _nb_alpha_option(model, nb_alpha):
    """ngd.fit's nb_alpha= of --nb-alpha ({} to estimate it); --nb-alpha needs
    --model negative_binomial."""
    if nb_alpha is None:
        return {}
    if not _is_negative_binomial(model):
        raise InputError(f"--nb-alpha applies to --model negative_binomial, not {model!r}")
    return {} if nb_alpha == "estimate" else {"nb_alpha": nb_alpha}


CHUNKED_AUTO_BYTES = 1 << 30        # --backend auto: chunked for a memory-mapped X this large


def _resolve_backend(backend, dataset, options):
    """The backend of --backend auto: "chunked" for a memory-mapped X of at least
    CHUNKED_AUTO_BYTES, or the chunks of a Parquet / Arrow file (``load_training`` reads
    those in chunks from that size on), when the chunked backend runs this fit, else
    "numpy"."""
    if backend != "auto":
        return backend
    X = dataset.X
    if not isinstance(X, ChunkSource) and (not isinstance(X, np.memmap)
                                           or X.nbytes < CHUNKED_AUTO_BYTES):
        return "numpy"
    try:
        model_spec("chunked", options["model"], options["methods"][0], options["fisher"],
                   options.get("l2", 0.0), options.get("link"), options.get("power"),
                   options.get("trials"), options["fit_intercept"], options["solver"],
                   options.get("alpha"), options.get("l1_ratio", 0.0), None)
    except (ValueError, TypeError):
        return "numpy"
    return "chunked"


@click.command("fit", epilog=EPILOG)
@click.argument("data", type=click.Path(exists=True, path_type=pathlib.Path))
@model_data_options
@click.option("--formula", default=None, metavar='"Y ~ TERMS"',
              help="A formulaic formula such as 'y ~ x1 + np.log(x2) + C(region) + x1:x3' "
                   "(pip install 'ngd[formula]'): replaces --target, --features and "
                   "--categorical; its 0 / - 1 removes the intercept, offset(...) terms add "
                   "an offset.")
@click.option("--nb-alpha", default=None, callback=_nb_alpha_value, metavar="estimate|A",
              help="Negative binomial (--model negative_binomial): its alpha (Var = mu + "
                   "alpha mu^2), a number > 0, or 'estimate' (maximum likelihood, methods ngd "
                   "and newton)  [default: estimate]")
@click.option("--method", type=click.Choice(ngd.METHODS, case_sensitive=False), default="ngd",
              help="Method whose coefficients are reported.")
@click.option("--fisher", type=click.Choice(["exact", "empirical", "observed", "kfac",
                                            "diagonal", "bohning"], case_sensitive=False),
              default="exact",
              help="Curvature of NGD: exact Fisher (Fisher scoring), empirical (BHHH), observed "
                   "Hessian, kfac (softmax), the exact Fisher's diagonal, or Boehning's fixed "
                   "bound X'X/4 (logistic).")
@click.option("--cov-type", type=click.Choice(["model", "robust", "cluster"],
                                              case_sensitive=False),
              default="model", help="Standard errors: inverse Fisher, the sandwich, or "
                                    "cluster-robust (CR1; needs --cluster).")
@click.option("--cluster", "cluster_columns", multiple=True, metavar="COL",
              help="CSV column of cluster labels for --cov-type cluster (not a feature); "
                   "give it twice for two-way clustering.")
@click.option("--l2", type=scale_float(), default=0.0,
              help="Ridge penalty: objective mean NLL + l2/2 ||coef||^2 (intercept unpenalised).")
@click.option("--max-iter", type=click.IntRange(min=1), default=None,
              help="Iteration limit (epochs for sgd, sqn, adam, rmsprop)  [default: 100; "
                   "those 30]")
@click.option("--tol", type=finite_float(min=0), default=1e-8,
              help="Stop when max |gradient| <= tol.")
@click.option("--step", type=click.Choice(["armijo", "kl", "lm"], case_sensitive=False),
              default="armijo", help="NGD step: Armijo backtracking from 1, a KL budget, or "
                                     "Levenberg-Marquardt damping adapted by the reduction ratio.")
@click.option("--solver", type=click.Choice(["auto", "cholesky", "cg", "woodbury"],
                                            case_sensitive=False), default="auto",
              help="Solve of the curvature system: by shape, dense Cholesky, matrix-free "
                   "CG, or Woodbury (fewer rows than parameters).")
@click.option("--subsample", default="auto", callback=_subsample, metavar="auto|none|N|F",
              help="Rows the NGD curvature is computed on (the gradient uses all): auto (a "
                   "subsample on large data), none, a row count, or a fraction.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="Keep X in this precision (accumulation is always float64)  "
                   "[default: as loaded]")
@click.option("--cache", type=click.Choice(["auto", "always", "never"], case_sensitive=False),
              default="auto",
              help="Convert a CSV once to binary files in DATA.ngdcache/ (reused while the CSV "
                   "is unchanged) and memory-map them: always, never, or auto (CSVs >= 256 MiB).")
@click.option("--kl", "kl_budget", type=finite_float(min=0, min_open=True), default=0.01,
              help="KL budget delta for --step kl: alpha = sqrt(2 delta / g'F^-1 g).")
@click.option("--damping", type=scale_float(), default=0.0,
              help="Damping lambda added to the curvature (raised automatically if needed).")
@click.option("--no-intercept", is_flag=True, help="Fit without an intercept.")
@click.option("--threads", type=click.IntRange(min=1), default=None, envvar="NGD_NUM_THREADS",
              show_envvar=True, help="Threads for the kernels  [default: all cores]")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the stochastic methods' sampling.")
@click.option("--backend", type=click.Choice(["auto", "numpy", "chunked", "dask"],
                                            case_sensitive=False),
              default="auto", show_default=True,
              help="chunked: one pass over row chunks of the (memory-mapped) data per "
                   "evaluation, memory bounded by a chunk; dask: the same on Dask workers "
                   "(pip install 'ngd[dask]'); both fit logistic, softmax and GLM models by ngd "
                   "and newton, L2 or elastic net (no --path, --cv). auto: chunked for a "
                   "memory-mapped X (.npy, CSV cache) or Parquet / Arrow features (read by "
                   "row groups) of at "
                   "least 1 GiB when the fit allows it, else numpy (in memory).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Dask scheduler of --backend dask  [default: a LocalCluster on loopback]")
@click.option("--compare", "compare_methods", default="ngd,newton,sgd", metavar="M1,M2,...",
              callback=_method_list,
              help=f"Methods run next to --method on the same objective, any of "
                   f"{', '.join(ngd.METHODS)}.")
@click.option("--no-compare", is_flag=True, help="Run only --method (ignore --compare).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=pathlib.Path),
              default=None, help="Write the fitted model as portable JSON (for ngd predict).")
@click.option("--history", type=click.Path(dir_okay=False, path_type=pathlib.Path),
              default=None, help="Write every method's per-iteration history as CSV.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=pathlib.Path), default=None,
              help="Write a PNG of the loss gap vs iteration and vs time (needs matplotlib).")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress line and no notes on stderr (warnings and errors still).")
@json_option
@_penalty.penalty_options
def fit_command(data, model, link, power, target, features, weights, offset, trials,
                categorical, dropna, delimiter, method, fisher, l2, max_iter, tol, step,
                kl_budget, damping, no_intercept, threads, seed, no_compare, output, history,
                plot, quiet, as_json, cov_type, compare_methods, solver, subsample, dtype, cache,
                backend, scheduler, cluster_columns, formula, nb_alpha, **penalty):
    """Fit a model to DATA (CSV with a header row, NPZ, small svmlight files, or Parquet /
    Feather / Arrow IPC files; a directory is a Parquet dataset)."""
    outputs = _check_outputs(data, {"--output": output, "--history": history, "--plot": plot})
    cluster_columns = _check_cluster(cluster_columns, cov_type, backend, penalty)
    _penalty.check(penalty, l2, outputs)
    l2 = _penalty.ridge_l2(penalty, l2)
    if plot is not None and not have_matplotlib():
        raise InputError("--plot needs matplotlib: pip install 'ngd[plot]' (or pip install "
                         "matplotlib)")
    l1 = penalty["path_mode"] or penalty["cv_folds"] is not None or \
        (penalty["alpha"] is not None and bool(penalty["l1_ratio"]))
    dense_only = l1 and model.strip().lower() == "softmax"   # L1 softmax: dense X only
    if backend == "dask" and importlib.util.find_spec("distributed") is None:
        raise InputError("--backend dask needs dask.distributed: pip install 'ngd[dask]'")
    grid = penalty["path_mode"] or penalty["cv_folds"] is not None
    if grid and _is_negative_binomial(model):
        raise InputError("--path and --cv are not available for the negative_binomial model")
    if backend in ("dask", "chunked") and grid:
        raise InputError(f"--backend {backend} fits one model (no --path or --cv)")
    dataset = frame = None
    if formula is not None:     # CSV read by pandas, Parquet / Arrow by ngd.io.arrow
        _formula.check_options({"--target": target, "--features": features,
                                "--categorical": categorical}, backend, cache, dtype)
        if grid:
            raise InputError("--formula fits a single model (no --path or --cv)")
        dataset, frame = _formula.load(data, formula, weights, offset, trials, cluster_columns,
                                       dropna, delimiter)
        no_intercept = _formula.no_intercept_flag(frame, no_intercept)
    if backend == "dask":       # .npy / CSV: the workers read their chunks of the file
        from ngd.dask_backend import file_dataset
        dataset = file_dataset(data, target, delimiter, features, weights, offset, trials,
                               categorical, dropna)
    if dataset is None:
        load = functools.partial(load_training, data, target, delimiter, features, weights,
                                 offset, trials, categorical, dropna, cache=cache, dtype=dtype,
                                 keep_sparse=not dense_only, cluster=cluster_columns)
        # Parquet / Arrow input: in chunks with --backend chunked, or auto from 1 GiB of X
        dataset = load(lazy_bytes={"chunked": 0, "auto": CHUNKED_AUTO_BYTES}.get(backend))
    if dtype is not None and dataset.X.dtype != dtype:
        dataset.X = dataset.X.astype(dtype)
    if grid:
        return _penalty.run(data, dataset, penalty, dict(
            model=model, link=link, power=power, trials=dataset.trials,
            sample_weight=dataset.sample_weight, offset=dataset.offset,
            fit_intercept=not no_intercept, fisher=fisher, tol=tol, max_iter=max_iter or 100,
            n_threads=threads), outputs, as_json)
    methods = [method] if no_compare else [method] + [m for m in compare_methods if m != method]
    progress = Progress(enabled=not (quiet or as_json))
    options = dict(data_options(dataset, model, l2, link, power, no_intercept, threads),
                   methods=methods, statistics="first", fisher=fisher, tol=tol,
                   max_iter=max_iter, step=step, kl=kl_budget, damping=damping, seed=seed,
                   callback=progress, cov_type=cov_type, solver=solver, subsample=subsample)
    if cluster_columns:
        options["cluster"] = dataset.cluster
    options.update(_nb_alpha_option(model, nb_alpha))
    options = _penalty.single_fit_options(options, penalty)
    backend = _resolve_backend(backend, dataset, options)
    if backend != "chunked" and isinstance(dataset.X, ChunkSource):    # auto: not chunkable
        dataset = load()
        if dtype is not None and dataset.X.dtype != dtype:
            dataset.X = dataset.X.astype(dtype)
        options.update((key, value) for key, value in (
            ("sample_weight", dataset.sample_weight), ("offset", dataset.offset),
            ("trials", dataset.trials)) if value is not None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if backend == "dask":
                from ngd.dask_backend import as_dask_dataset, cluster_client, fit_methods
                with cluster_client(scheduler) as client:
                    results = fit_methods(as_dask_dataset(dataset), options, client)
            elif backend == "chunked":
                from ngd.chunked import fit as chunked_fit
                from ngd.chunked.fit import fit_methods
                results = fit_methods(chunked_fit, dataset, options)
            else:
                results = _penalty.compare(dataset, options)
        except ngd.DataError as exc:
            raise ngd.DataError(f"{data}: {exc}") from None
        finally:
            progress.close()
    primary = results[method]
    for result in results.values() if frame is not None else ():
        formulas.attach(result, frame)      # names, terms and the spec for --output
    report = fit_document(dataset, model, l2, primary, results)
    report.update(_penalty.report_keys(primary))
    files = []
    if output is not None:
        files.append((output, model_json(primary, dataset)))
    if history is not None:
        files.append((history, history_csv(results)))
    if plot is not None:
        title = (f"{report['model']} on {os.path.basename(str(data))}: "
                 f"{dataset.n_samples} rows, {dataset.n_features} features, l2 = {l2:g}")
        files.append((plot, convergence_png(results, title)))
    write_files_atomic(files)
    # after the fit: a failed run prints its one error line only
    skipped = [m for m in options["methods"] if m not in results]
    if skipped and not quiet:
        click.echo(f"note: --backend {backend} runs methods ngd and newton only; not run: "
                   f"{', '.join(skipped)}", err=True)
    if dataset.n_dropped and not quiet:
        lines = ", ".join(str(n) for n in dataset.dropped_lines)
        more = ", ..." if dataset.n_dropped > len(dataset.dropped_lines) else ""
        csv = pathlib.Path(data).suffix.lower() in (".csv", ".tsv", ".txt")
        where = f"line(s) {lines}{more}" if csv else f"row(s) {lines}{more}, counted from 0"
        click.echo(f"note: dropped {dataset.n_dropped} row(s) with missing cells ({where}); "
                   f"{dataset.n_samples} row(s) left", err=True)
    report["outputs"] = {key: str(path) if path is not None else None
                         for key, path in outputs.items()}
    if as_json:
        emit_json(report)
    else:
        click.echo(render(report))
    for line in _warning_lines(caught, primary, method):
        click.echo(line, err=True)
    if primary.get("separation") is not None:
        names = name_list(dataset.feature_names[j] for j in primary.separation["columns"])
        click.echo(f"warning: the separation involves the features: {names}", err=True)


def _warning_lines(caught, primary, method):
    """The warning lines of a fit, each text once: the did-not-converge line of the reported
    method replaces the compared methods' warnings that give the same reason (e.g. the same
    separation, found by ngd and newton)."""
    lines = [f"warning: {' '.join(str(w.message).split())}" for w in caught
             if primary.message in str(w.message) or issubclass(w.category, ngd.DampingWarning)]
    if not primary.converged:
        lines.append(f"warning: {method} did not converge: {primary.message}")
        reason = primary.message.split(". ")[0]         # e.g. the separation, per method
        lines = [line for line in lines[:-1] if reason not in line] + lines[-1:]
    return list(dict.fromkeys(lines))


def _check_cluster(columns, cov_type, backend, penalty):
    """The --cluster column names (None when not given), checked against --cov-type,
    --backend, --path and --cv before any work."""
    if not columns:
        if cov_type == "cluster":
            raise InputError("--cov-type cluster needs --cluster COL (once, or twice for "
                             "two-way clustering)")
        return None
    if cov_type != "cluster":
        raise InputError("--cluster applies to --cov-type cluster")
    if len(columns) > 2:
        raise InputError(f"--cluster is given {len(columns)} times; clustering is one- or "
                         "two-way")
    if len(set(columns)) < len(columns):
        raise InputError(f"--cluster {columns[0]} is given twice")
    if backend in ("dask", "chunked"):
        raise InputError(f"--cov-type cluster needs --backend numpy (or auto), not {backend}")
    if penalty["path_mode"] or penalty["cv_folds"] is not None:
        raise InputError("--cov-type cluster applies to single fits (not --path or --cv)")
    return list(columns)


def _check_outputs(data, paths):
    """Validate output paths before any work: writable, distinct, not the input."""
    given = {option: path for option, path in paths.items() if path is not None}
    seen = {}
    source = os.path.realpath(data)
    for option, path in given.items():
        check_writable(path, option)
        real = os.path.realpath(path)
        if real == source:
            raise InputError(f"{option} {path} would overwrite the input data")
        if real in seen:
            raise InputError(f"{seen[real]} and {option} name the same file {path}")
        seen[real] = option
    return {"model": paths["--output"], "history": paths["--history"], "plot": paths["--plot"]}
