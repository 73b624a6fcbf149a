"""``ngd fit``'s data: read DATA (a formula frame, Dask file chunks, or arrays; Parquet / Arrow
in chunks where the chunked backend may run) and choose the backend of --backend auto."""
import functools

import numpy as np

import ngd
from ngd.cli import _formula
from ngd.cli._data import load_training
from ngd.cli._errors import InputError
from ngd.io.chunks import ChunkSource

CHUNKED_AUTO_BYTES = 1 << 30        # --backend auto: chunked for a memory-mapped X this large


def load(args):
    """(dataset, frame, reload): the training data of ``args``, the formula's frame (None
    without --formula) and the in-memory loader (None for formula and Dask data). Sets
    ``args.no_intercept`` from the formula."""
    dataset = frame = reload = None
    if args.formula is not None:     # CSV read by pandas, Parquet / Arrow by ngd.io.arrow
        dataset, frame = _formula_data(args)
    if args.backend == "dask":       # .npy / CSV: the workers read their chunks of the file
        from ngd.dask_backend import file_dataset
        dataset = file_dataset(args.data, args.target, args.delimiter, args.features,
                               args.weights, args.offset, args.trials, args.categorical,
                               args.dropna)
    if dataset is None:
        reload = functools.partial(
            load_training, args.data, args.target, args.delimiter, args.features, args.weights,
            args.offset, args.trials, args.categorical, args.dropna, cache=args.cache,
            dtype=args.dtype, keep_sparse=not args.dense_only, cluster=args.cluster_columns)
        # Parquet / Arrow input: in chunks with --backend chunked, or auto from 1 GiB of X
        dataset = reload(lazy_bytes={"chunked": 0, "auto": CHUNKED_AUTO_BYTES}.get(args.backend))
    return _as_dtype(dataset, args.dtype), frame, reload


def _formula_data(args):
    """(dataset, frame) of --formula (a single fit: no --target, --features, --categorical,
    --path or --cv)."""
    _formula.check_options({"--target": args.target, "--features": args.features,
                            "--categorical": args.categorical}, args.backend, args.cache,
                           args.dtype)
    if args.grid:
        raise InputError("--formula fits a single model (no --path or --cv)")
    dataset, frame = _formula.load(args.data, args.formula, args.weights, args.offset,
                                   args.trials, args.cluster_columns, args.dropna,
                                   args.delimiter)
    args.no_intercept = _formula.no_intercept_flag(frame, args.no_intercept)
    return dataset, frame


def _as_dtype(dataset, dtype):
    """``dataset`` with X in --dtype (unchanged without one)."""
    if dtype is not None and dataset.X.dtype != dtype:
        dataset.X = dataset.X.astype(dtype)
    return dataset


def choose_backend(args, dataset, options, reload):
    """(backend, dataset, options): --backend auto resolved (:func:`resolve_backend`); data
    read in chunks for a fit the chunked backend does not run is read again in memory, its
    weights, offset and trials passed on."""
    backend = resolve_backend(args.backend, dataset, options)
    if backend == "chunked" or not isinstance(dataset.X, ChunkSource):
        return backend, dataset, options
    dataset = _as_dtype(reload(), args.dtype)
    columns = (("sample_weight", dataset.sample_weight), ("offset", dataset.offset),
               ("trials", dataset.trials))
    return backend, dataset, dict(options, **{k: v for k, v in columns if v is not None})


def resolve_backend(backend, dataset, options):
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
    keys = ("model", "fisher", "l2", "link", "power", "trials", "fit_intercept", "solver",
            "alpha", "l1_ratio")
    try:
        runs = ngd.backend_supports("chunked", method=options["methods"][0],
                                    **{key: options[key] for key in keys if key in options})
    except (ValueError, TypeError):
        return "numpy"
    return "chunked" if runs else "numpy"
