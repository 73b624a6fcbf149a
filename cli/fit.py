"""``ngd fit DATA``: fit, print the coefficient table and the convergence comparison; write
the model, the per-iteration history and a convergence plot on request."""
import pathlib

import click

import ngd
from ngd.cli import _fit_data, _fit_options, _fit_run, _penalty, _report
from ngd.cli._options import finite_float, json_option, model_data_options, scale_float
from ngd.cli._progress import Progress

EPILOG = """\b
Examples:
  ngd fit examples/breast_cancer.csv --model logistic --output model.json
  ngd fit examples/spector.csv --target GRADE --fisher empirical --no-compare
  ngd fit data.csv --categorical region --weights w --dropna --history h.csv --plot conv.png
  ngd fit data.npz --l2 1e-3 --json | python -m json.tool
"""


@click.command("fit", epilog=EPILOG)
@click.argument("data", type=click.Path(exists=True, path_type=pathlib.Path))
@model_data_options
@click.option("--formula", default=None, metavar='"Y ~ TERMS"',
              help="A formulaic formula such as 'y ~ x1 + np.log(x2) + C(region) + x1:x3' "
                   "(pip install 'ngd[formula]'): replaces --target, --features and "
                   "--categorical; its 0 / - 1 removes the intercept, offset(...) terms add "
                   "an offset.")
@click.option("--nb-alpha", default=None, callback=_fit_options.nb_alpha_value,
              metavar="estimate|A",
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
@click.option("--subsample", default="auto", callback=_fit_options.subsample,
              metavar="auto|none|N|F",
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
@click.option("--seed", type=click.IntRange(min=0), default=0,
              help="Seed of the stochastic methods' sampling.")
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
              callback=_fit_options.method_list,
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
def fit_command(data, **params):
    """Fit a model to DATA (CSV with a header row, NPZ, small svmlight files, or Parquet /
    Feather / Arrow IPC files; a directory is a Parquet dataset)."""
    args = _fit_options.parse(data, params)
    dataset, frame, reload = _fit_data.load(args)
    if args.grid:
        library = _fit_options.grid_options(args, dataset)
        return _penalty.run(data, dataset, args.penalty, library, args.outputs, args.as_json)
    progress = Progress(enabled=not (args.quiet or args.as_json))
    options = _fit_options.fit_options(args, dataset, progress)
    backend, dataset, options = _fit_data.choose_backend(args, dataset, options, reload)
    results, caught = _fit_run.run_fits(args, backend, dataset, options, frame, progress)
    _report.finish(args, dataset, results, caught, backend, options["methods"])
