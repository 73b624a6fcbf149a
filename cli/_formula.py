"""``ngd fit DATA --formula "y ~ ..."`` and ``ngd predict`` of a formula model: the table
(a CSV read with pandas, after ngd's delimiter sniffing; Parquet / Feather / Arrow through
ngd.io.arrow), of the columns the formula reads only, and its model frame as a Dataset."""
import pathlib

import ngd
from ngd import formula as formulas
from ngd.cli._errors import InputError
from ngd.io import Dataset, read_header

EXCLUSIVE = ("--target", "--features", "--categorical")


def check_options(given, backend, cache, dtype):
    """Options that --formula replaces or that do not apply to it: one line each."""
    clash = [flag for flag, value in given.items() if value]
    if clash:
        raise InputError(f"--formula replaces {', '.join(clash)}: name the response and the "
                         "terms in the formula")
    if backend in ("chunked", "dask"):
        raise InputError(f"--formula fits in memory (--backend numpy or auto), not {backend}")
    if cache == "always":
        raise InputError("--cache always does not apply to --formula (the table is read "
                         "directly)")
    if dtype is not None:
        raise InputError("--dtype does not apply to --formula (its columns are float64)")
    formulas.require()         # a missing extra: one line (MissingDependencyError)


def _is_arrow(path):
    from ngd.io.arrow import is_arrow_path
    return is_arrow_path(path)


def _header(path, delimiter):
    if _is_arrow(path):
        from ngd.io.arrow import read_arrow_header
        if delimiter is not None:
            raise InputError(f"--delimiter applies to CSV input only ({path.name})")
        return read_arrow_header(path), None
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise InputError(f"formulas read CSV, Parquet, Feather or Arrow files, not "
                         f"{path.name}")
    return read_header(path, delimiter)


def read_table(path, delimiter, columns):
    """A pandas DataFrame of ``columns`` of the table at ``path``."""
    path = pathlib.Path(path)
    names, delimiter = _header(path, delimiter)
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    columns = list(dict.fromkeys(columns))
    if _is_arrow(path):
        from ngd.io.arrow import read_arrow_table
        return formulas.as_pandas(read_arrow_table(path, columns))
    _, pandas = formulas.require()
    try:
        return pandas.read_csv(path, sep=delimiter, usecols=columns)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot read the CSV file ({exc})") from None


def load(data, formula, weights, offset, trials, cluster, dropna, delimiter):
    """(Dataset, ModelFrame) of ``ngd fit DATA --formula``; the Dataset's X is the frame's."""
    path = pathlib.Path(data)
    names, _ = _header(path, delimiter)
    roles = {"sample_weight": weights, "offset": offset, "trials": trials}
    used = formulas.formula_columns(formula, names) + [c for c in roles.values() if c] + \
        list(cluster or ())
    table = read_table(path, delimiter, used)
    try:
        frame = formulas.model_frame(formula, table, dropna=dropna,
                                     cluster=tuple(cluster) if cluster else None, **roles)
    except ngd.DataError as exc:
        raise InputError(f"{data}: {exc}") from None
    if frame.offset is not None and offset:
        raise InputError("the offset is given twice: the formula's offset() term and --offset")
    first_line = 0 if _is_arrow(path) else 2     # CSV: line 1 is the header
    dataset = Dataset(
        X=frame.X, y=frame.y, feature_names=frame.feature_names,
        target_name=frame.spec["response"], source=str(data),
        sample_weight=frame.per_row.get("sample_weight"),
        offset=frame.offset if frame.offset is not None else frame.per_row.get("offset"),
        trials=frame.per_row.get("trials"), columns=frame.spec["variables"],
        weights_name=weights, offset_name=offset, trials_name=trials,
        n_dropped=frame.n_dropped, dropped_lines=[r + first_line for r in frame.dropped_rows],
        cluster=frame.per_row.get("cluster"), cluster_names=list(cluster or ()))
    return dataset, frame


def no_intercept_flag(frame, no_intercept):
    """--no-intercept as the formula says (the formula's ``0 +`` / ``- 1``); an error when
    the two disagree."""
    if no_intercept and frame.fit_intercept:
        raise InputError("--no-intercept conflicts with the formula's intercept: write "
                         "'y ~ 0 + ...' (or '... - 1') instead")
    return not frame.fit_intercept


def model_table(model, data, delimiter):
    """The table ``ngd predict`` passes to a formula model: the columns its formula reads
    (and its offset column, when it was fitted with --offset)."""
    columns = list(model.formula_spec.get("variables") or [])
    if model.input.get("offset"):
        columns.append(model.input["offset"])
    return read_table(data, delimiter, columns)
