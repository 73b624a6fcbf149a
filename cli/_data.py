"""Load data files for the commands: CSV / NPZ / svmlight / Parquet / Arrow through ngd.io,
sparse densified when small, large CSVs through their binary cache, large Parquet / Arrow
files in row-group chunks, and the column check of ``ngd predict``."""
import os
import pathlib

from ngd.cli._errors import InputError

from ngd.io import read_data, read_header, read_svmlight
from ngd.io.arrow import is_arrow_path
from ngd.io.cache import read_csv_cached

DENSIFY_LIMIT = 20_000_000          # cells (160 MB of float64)
CACHE_MODES = ("auto", "always", "never")
CACHE_AUTO_BYTES = 256 << 20        # --cache auto converts CSVs of at least this size
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")


def densify(dataset):
    """Sparse X (svmlight) -> dense when it has at most DENSIFY_LIMIT cells; else an error."""
    X = dataset.X
    if hasattr(X, "toarray"):
        n, p = X.shape
        if n * p > DENSIFY_LIMIT:
            raise InputError(
                f"{dataset.source}: sparse input ({n} x {p}) is too large to densify "
                f"(limit {DENSIFY_LIMIT:,} cells); sparse X is fitted as is by logistic and "
                "the GLM families (with or without an L1 penalty), not by softmax")
        dataset.X = X.toarray()
    return dataset


def load_training(data, target, delimiter, features, weights, offset, trials, categorical,
                  dropna, cache="never", dtype=None, keep_sparse=False, cluster=None,
                  lazy_bytes=None):
    """The Dataset of ``ngd fit``; CSV-only options are refused for other file types.
    Sparse X (NPZ, svmlight) stays CSR with ``keep_sparse``, else it is densified.

    cache: "always" reads a CSV through its binary cache (``ngd.io.cache``; X memory-mapped,
    stored as ``dtype``, default float64), "auto" does so for CSVs of at least
    CACHE_AUTO_BYTES without categorical columns, "never" reads it into memory.
    cluster: CSV column names of cluster labels (Dataset.cluster); read without the cache.
    Parquet / Arrow input takes the column options too; with ``lazy_bytes`` (not None) it is
    read in chunks (X an ``ngd.io.arrow_chunks.ArrowChunks``) when its float64 X takes at
    least lazy_bytes (0: always).
    """
    path = pathlib.Path(data)
    if is_arrow_path(path):
        return _load_arrow(path, dict(target=target, features=features, weights=weights,
                                      offset=offset, trials=trials, categorical=categorical,
                                      dropna=dropna),
                           delimiter, cache, keep_sparse, cluster, lazy_bytes)
    if path.suffix.lower() not in CSV_SUFFIXES:
        given = [flag for flag, value in (("--delimiter", delimiter), ("--features", features),
                                          ("--weights", weights), ("--offset", offset),
                                          ("--trials", trials),
                                          ("--categorical", categorical), ("--dropna", dropna),
                                          ("--cluster", cluster),
                                          ("--cache always", cache == "always"))
                 if value]
        if given:
            raise InputError(f"{', '.join(given)} apply to CSV input only ({path.name} "
                                   "is not CSV; NPZ files carry arrays w, offset, trials)")
        dataset = read_data(path, target=target)
        return dataset if keep_sparse else densify(dataset)
    options = dict(target=target, delimiter=delimiter, features=features, weights=weights,
                   offset=offset, trials=trials, categorical=categorical, dropna=dropna)
    if cluster:
        if cache == "always":
            raise InputError("--cluster reads the CSV directly, not through --cache always")
        return read_data(path, cluster=cluster, **options)
    if cache == "always" or (cache == "auto" and not categorical
                             and os.path.getsize(path) >= CACHE_AUTO_BYTES):
        return read_csv_cached(path, dtype=dtype or "float64", **options)
    return read_data(path, **options)


def _load_arrow(path, options, delimiter, cache, keep_sparse, cluster, lazy_bytes):
    """The Dataset of a Parquet / Arrow input (see :func:`load_training`)."""
    if delimiter is not None or cache == "always":
        flag = "--delimiter" if delimiter is not None else "--cache always"
        raise InputError(f"{flag} applies to CSV input only ({path.name} is read directly)")
    if lazy_bytes is not None and not cluster:
        from ngd.io.arrow_chunks import read_arrow_chunks
        dataset = read_arrow_chunks(path, min_bytes=lazy_bytes, **options)
        if dataset is not None:
            return dataset
    dataset = read_data(path, cluster=cluster, **options)
    return dataset if keep_sparse else densify(dataset)


def load_for_model(model, data, delimiter):
    """(X, offset) of ``data`` laid out as the loaded ``model``'s features.

    A CSV must hold exactly the model's input columns (plus its offset column when it was
    fitted with one); its target, weights, trials and cluster columns are ignored when
    present.
    Parquet / Arrow input: X is a pyarrow Table of the model's input columns, matched by name
    (other columns are not read), for the model's ``predict``.
    """
    path = pathlib.Path(data)
    if is_arrow_path(path):
        return _arrow_for_model(model, path, delimiter)
    spec = model.input
    if path.suffix.lower() in CSV_SUFFIXES:
        names, delimiter = read_header(path, delimiter)
        expected = list(spec["columns"]) + ([spec["offset"]] if spec["offset"] else [])
        ignorable = {spec[key] for key in ("target", "weights", "trials") if spec[key]}
        ignorable |= set(spec["cluster"]) - set(spec["columns"])
        missing = [c for c in expected if c not in names]
        extra = [c for c in names if c not in expected and c not in ignorable]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s): {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected column(s): {', '.join(extra)}")
            raise InputError(f"{path}: columns do not match the model's features ("
                             f"{'; '.join(parts)})")
        dataset = read_data(path, has_target=False, delimiter=delimiter,
                            features=list(spec["columns"]), offset=spec["offset"],
                            categorical=spec["categories"] or None,
                            ignore=sorted(ignorable))
        if dataset.feature_names != model.feature_names:      # cannot happen; be sure
            raise InputError(f"{path}: the data's features differ from the model's")
    else:
        if delimiter is not None:
            raise InputError(f"--delimiter applies to CSV input only ({path.name})")
        if path.suffix.lower() in SVMLIGHT_SUFFIXES:
            dataset = densify(read_svmlight(path, n_features=model.n_features))
        else:
            dataset = densify(read_data(path, has_target=False))
        if dataset.X.shape[1] != model.n_features:
            raise InputError(f"{path}: X has {dataset.X.shape[1]} columns but the model has "
                             f"{model.n_features} features")
        default = [f"x{j}" for j in range(dataset.X.shape[1])]
        named = path.suffix.lower() == ".npz" and dataset.feature_names != default
        if named and dataset.feature_names != model.feature_names:
            missing = [c for c in model.feature_names if c not in dataset.feature_names]
            extra = [c for c in dataset.feature_names if c not in model.feature_names]
            raise InputError(f"{path}: feature_names do not match the model's features "
                             f"(missing: {', '.join(missing) or '-'}; unexpected: "
                             f"{', '.join(extra) or '-'}"
                             + ("; same names in another order" if not missing + extra
                                else "") + ")")
        if spec["offset"] and dataset.offset is None:
            raise InputError(f"{path}: the model was fitted with an offset; the file has no "
                             "'offset' array")
    return dataset.X, dataset.offset


def _arrow_for_model(model, path, delimiter):
    """(pyarrow Table of the model's input columns, offset or None) of a Parquet / Arrow
    input; a missing column or cell is one error line."""
    from ngd.frames import column_values
    from ngd.io.arrow import read_arrow_table, screen
    if delimiter is not None:
        raise InputError(f"--delimiter applies to CSV input only ({path.name} is read "
                         "directly)")
    columns = list(model.table_spec.columns)
    offset = model.input["offset"]
    table = read_arrow_table(path, columns + ([offset] if offset else []))
    screen(table, table.column_names, dropna=False, where=f"{path}: ", hint="")
    offsets = column_values(table, offset, what="offset") if offset else None
    return table.select(columns), offsets


def data_options(dataset, model, l2, link, power, no_intercept, threads):
    """The ngd.fit options every fitting command derives from its data and model options;
    link, power and trials only when given, so the library's defaults and checks apply."""
    options = dict(model=model, l2=l2, sample_weight=dataset.sample_weight,
                   offset=dataset.offset, fit_intercept=not no_intercept, n_threads=threads)
    options.update((key, value) for key, value in
                   (("link", link), ("power", power), ("trials", dataset.trials))
                   if value is not None)
    return options
