"""``ngd fit``'s options: the click callbacks, the checks of option combinations (all before
any work) and the ngd.fit / ngd.compare options they give."""
import importlib.util
import math
import os
import types

import click

import ngd
from ngd.cli import _penalty
from ngd.cli._data import data_options
from ngd.cli._errors import InputError
from ngd.cli._output import check_writable
from ngd.cli._plot import have_matplotlib
from ngd.elastic_net import MAX_ABS


def method_list(ctx, param, value):
    """'ngd,sqn' -> ['ngd', 'sqn'] (each one of ngd.METHODS, duplicates dropped)."""
    names = [name.strip().lower() for name in value.split(",")]
    if not all(name in ngd.METHODS for name in names):
        raise click.BadParameter(f"expected a comma-separated list of {', '.join(ngd.METHODS)},"
                                 f" got {value!r}")
    return list(dict.fromkeys(names))


def subsample(ctx, param, value):
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


def nb_alpha_value(ctx, param, value):
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


def parse(data, params):
    """The checked arguments of ``ngd fit`` as a namespace: the click values, ``penalty`` (the
    elastic-net options), ``outputs`` (path by kind), ``cluster_columns`` (None or a list),
    ``l2`` (the ridge strength), ``grid`` (--path or --cv) and ``dense_only`` (L1 softmax)."""
    penalty = {key: params.pop(key) for key in _penalty.NAMES}
    args = types.SimpleNamespace(data=data, penalty=penalty, **params)
    args.outputs = check_outputs(data, {"--output": args.output, "--history": args.history,
                                        "--plot": args.plot})
    args.cluster_columns = check_cluster(args.cluster_columns, args.cov_type, args.backend,
                                         penalty)
    _penalty.check(penalty, args.l2, args.outputs)
    args.l2 = _penalty.ridge_l2(penalty, args.l2)
    if args.plot is not None and not have_matplotlib():
        raise InputError("--plot needs matplotlib: pip install 'ngd[plot]' (or pip install "
                         "matplotlib)")
    args.grid = penalty["path_mode"] or penalty["cv_folds"] is not None
    l1 = args.grid or (penalty["alpha"] is not None and bool(penalty["l1_ratio"]))
    args.dense_only = l1 and args.model.strip().lower() == "softmax"   # dense X only
    check_grid(args)
    return args


def check_grid(args):
    """Refuse --backend dask without dask.distributed, and --path / --cv where they do not
    apply (negative binomial, the chunked and Dask backends)."""
    if args.backend == "dask" and importlib.util.find_spec("distributed") is None:
        raise InputError("--backend dask needs dask.distributed: pip install 'ngd[dask]'")
    if args.grid and is_negative_binomial(args.model):
        raise InputError("--path and --cv are not available for the negative_binomial model")
    if args.backend in ("dask", "chunked") and args.grid:
        raise InputError(f"--backend {args.backend} fits one model (no --path or --cv)")


def check_cluster(columns, cov_type, backend, penalty):
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


def check_outputs(data, paths):
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


def is_negative_binomial(model):
    """Whether --model names the negative binomial (False for an unknown name: the library
    reports it)."""
    try:
        return ngd.models.normalise_model_name(model) == "negative_binomial"
    except (ValueError, TypeError):
        return False


def nb_alpha_option(model, nb_alpha):
    """ngd.fit's nb_alpha= of --nb-alpha ({} to estimate it); --nb-alpha needs
    --model negative_binomial."""
    if nb_alpha is None:
        return {}
    if not is_negative_binomial(model):
        raise InputError(f"--nb-alpha applies to --model negative_binomial, not {model!r}")
    return {} if nb_alpha == "estimate" else {"nb_alpha": nb_alpha}


def fit_options(args, dataset, progress):
    """The ngd.compare options of a single fit (the reported --method first, then --compare
    unless --no-compare; an L1 penalty: that method only)."""
    others = [] if args.no_compare else [m for m in args.compare_methods if m != args.method]
    options = dict(data_options(dataset, args.model, args.l2, args.link, args.power,
                                args.no_intercept, args.threads),
                   methods=[args.method] + others, statistics="first", fisher=args.fisher,
                   tol=args.tol, max_iter=args.max_iter, step=args.step, kl=args.kl_budget,
                   damping=args.damping, seed=args.seed, callback=progress,
                   cov_type=args.cov_type, solver=args.solver, subsample=args.subsample)
    if args.cluster_columns:
        options["cluster"] = dataset.cluster
    options.update(nb_alpha_option(args.model, args.nb_alpha))
    return _penalty.single_fit_options(options, args.penalty)


def grid_options(args, dataset):
    """The ngd.fit_path / ngd.cross_validate options of --path and --cv."""
    return dict(model=args.model, link=args.link, power=args.power, trials=dataset.trials,
                sample_weight=dataset.sample_weight, offset=dataset.offset,
                fit_intercept=not args.no_intercept, fisher=args.fisher, tol=args.tol,
                max_iter=args.max_iter or 100, n_threads=args.threads)
