"""Parquet, Feather and Arrow IPC data -> :class:`Dataset`, read with pyarrow (optional:
``pip install 'ngd[arrow]'``).

Inputs: a Parquet file (``.parquet``, ``.pq``) or a directory of Parquet files (a dataset;
hive partitions ``key=value/`` become columns), or an Arrow IPC file or stream (``.arrow``,
``.ipc``, ``.feather``: Feather V2 is the IPC file format). Column roles are those of CSV
files (:func:`ngd.io.csv.read_csv`: target, default the last column; features, default every
other column not in ``ignore``; weights, offset, trials; categorical), with the same checks
and messages, and only the columns so used are read (projection).

Features (``ngd.frames``): numeric and boolean columns are dense columns of X; string and
dictionary columns, and numeric ones named in ``categorical=``, are categorical blocks (levels
sorted, or in a dictionary's order; the first level is the dropped reference, as in CSV
files), and X is then an :class:`ngd.design.Design`. The target holds numbers (float64) or
labels (strings); weights, offset and trials must be numeric. Other Arrow types (timestamps,
lists, structs, binary, ...) are a TypeError naming the column.

Missing cells (nulls, and NaN in float columns) are an error naming the row and the column
unless ``dropna`` drops those rows (``Dataset.n_dropped``; ``Dataset.dropped_lines`` holds
the first 10 dropped row indices, counted from 0). Infinite values and values larger in
magnitude than ``MAX_ABS`` are errors, as are negative weights.
"""
import os
from collections import Counter
from pathlib import Path

import numpy as np

from ngd._optional import require
from ngd.exceptions import DataError
from ngd.frames import check_magnitude
from ngd.messages import name_list
from ngd.io.csv import _Roles
from ngd.io.dataset import Dataset

PARQUET_SUFFIXES = (".parquet", ".pq")
IPC_SUFFIXES = (".feather", ".arrow", ".ipc")
SUFFIXES = PARQUET_SUFFIXES + IPC_SUFFIXES
NUMERIC, TEXT = "numeric", "text"
FEATHER_V1_MAGIC = b"FEA1"          # Feather V1 (not IPC); V2 files start with b"ARROW1"


def is_arrow_path(path):
    """True for a Parquet / Arrow IPC file name or a directory (a Parquet dataset)."""
    path = Path(path)
    return path.suffix.lower() in SUFFIXES or path.is_dir()


def _pyarrow(kind):
    """The pyarrow module, or ngd.MissingDependencyError (an ImportError) naming the extra
    that provides it."""
    for module in ("pyarrow.compute", "pyarrow.dataset", "pyarrow.ipc"):
        require(module, "arrow", f"reading {kind} files")
    return require("pyarrow", "arrow", f"reading {kind} files")


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class ArrowInput:
    """An opened Parquet file or dataset, or Arrow IPC file or stream: its checked column
    ``names``, ``schema``, row count, projected reads and, for the chunked backend, its
    row pieces (Parquet row groups, IPC record batches). ``parquet``: the format (default:
    Parquet for a directory or a .parquet / .pq name, else Arrow IPC)."""

    def __init__(self, path, parquet=None):
        self.path = str(path)
        self.parquet = parquet if parquet is not None else (
            os.path.isdir(self.path) or Path(self.path).suffix.lower() in PARQUET_SUFFIXES)
        self.kind = "Parquet" if self.parquet else "Arrow IPC"
        self.pa = pa = _pyarrow(self.kind)
        if not os.path.exists(self.path):
            raise DataError(f"{self.path}: no such file or directory")
        self.stream = False
        try:
            if self.parquet:
                self._dataset = pa.dataset.dataset(self.path, format="parquet",
                                                   partitioning="hive")
                if not self._dataset.files:
                    raise DataError(f"{self.path}: is a directory without Parquet files (a "
                                    "directory is read as a Parquet dataset)")
                self.schema = self._dataset.schema
            else:
                self._open_ipc()
        except (pa.ArrowException, OSError) as exc:
            if os.path.isdir(self.path):
                raise DataError(f"{self.path}: is a directory but not a Parquet dataset "
                                f"({_first_line(exc)})") from None
            raise DataError(f"{self.path}: cannot read {self.kind} data "
                            f"({_first_line(exc)})") from None
        self.names = _check_names(self.path, self.schema.names)

    def _errors(self):
        """The exceptions a pyarrow read raises for unreadable data."""
        return (self.pa.ArrowException, OSError)

    def _open_ipc(self):
        pa = self.pa
        with pa.memory_map(self.path) as source:
            if source.read(4) == FEATHER_V1_MAGIC:
                raise DataError(f"{self.path}: is a Feather V1 file, which is not read (pyarrow "
                                "deprecates it); rewrite it as Feather V2: pyarrow.feather."
                                "write_feather(pyarrow.feather.read_table(path), new_path)")
            source.seek(0)
            try:
                reader = pa.ipc.open_file(source)
            except pa.ArrowInvalid:
                source.seek(0)
                self.schema = pa.ipc.open_stream(source).schema
                self.stream, self.mapped = True, False
                return
            self.schema = reader.schema
            self.mapped = _maps_without_copy(source, reader)

    def _ipc_reader(self, source, columns):
        """A reader of the IPC data that gives ``columns``: of all fields when the file maps
        into memory without a copy (uncompressed; pyarrow would copy whole batch bodies to
        project them), else of those fields only (compressed: only they are decompressed)."""
        opener = self.pa.ipc.open_stream if self.stream else self.pa.ipc.open_file
        if self.mapped:
            return opener(source)
        return opener(source, options=self.pa.ipc.IpcReadOptions(
            included_fields=[self.schema.get_field_index(c) for c in columns]))

    def _ipc_source(self):
        """The file mapped when it maps without a copy, else opened for reading."""
        return self.pa.memory_map(self.path) if self.mapped else self.pa.OSFile(self.path)

    @property
    def num_rows(self):
        """Rows in the data (None for an IPC stream, which says so only when read)."""
        try:
            if self.parquet:
                return self._dataset.count_rows()
            if self.stream:
                return None
            return sum(self._batch_rows())
        except self._errors() as exc:
            raise DataError(f"{self.path}: cannot read {self.kind} data "
                            f"({_first_line(exc)})") from None

    def read(self, columns):
        """A pyarrow Table of ``columns`` only, all rows, in file order."""
        try:
            if self.parquet:
                return self._dataset.to_table(columns=list(columns))
            with self._ipc_source() as source:
                return self._ipc_reader(source, columns).read_all().select(list(columns))
        except self._errors() as exc:
            raise DataError(f"{self.path}: cannot read {self.kind} data "
                            f"({_first_line(exc)})") from None

    def pieces(self):
        """[(rows, read)] in file order, one per Parquet row group or IPC record batch;
        ``read(columns, batch_rows)`` yields Tables of those columns with at most batch_rows
        rows each."""
        if self.stream:
            raise DataError(f"{self.path}: an Arrow IPC stream cannot be read in chunks; "
                            "write the IPC file format (pyarrow.ipc.new_file or "
                            "pyarrow.feather.write_feather)")
        try:
            if self.parquet:
                return [(group.row_groups[0].num_rows, self._group_reader(group))
                        for fragment in self._dataset.get_fragments()
                        for group in fragment.split_by_row_group()]
            return [(count, self._batch_reader(i)) for i, count in enumerate(self._batch_rows())]
        except self._errors() as exc:
            raise DataError(f"{self.path}: cannot read {self.kind} data "
                            f"({_first_line(exc)})") from None

    def _batch_rows(self):
        """Rows of each record batch of an IPC file (reading at most one column of each)."""
        with self._ipc_source() as source:
            reader = self._ipc_reader(source, self.names[:1])
            return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]

    def _group_reader(self, group):
        schema = self._dataset.schema

        def read(columns, batch_rows):
            for batch in group.to_batches(schema=schema, columns=list(columns),
                                          batch_size=batch_rows, batch_readahead=0,
                                          fragment_readahead=0, use_threads=False):
                yield self.pa.Table.from_batches([batch])
        return read

    def _batch_reader(self, index):
        def read(columns, batch_rows):
            with self._ipc_source() as source:
                batch = self._ipc_reader(source, columns).get_batch(index)
            table = self.pa.Table.from_batches([batch]).select(list(columns))
            for start in range(0, table.num_rows, batch_rows):
                yield table.slice(start, batch_rows)
        return read


def _maps_without_copy(source, reader):
    """True when the first record batch of the memory-mapped IPC file ``source`` lies in the
    mapping (uncompressed data: reads cost no memory), False when it was decompressed."""
    if reader.num_record_batches == 0:
        return True
    batch = reader.get_batch(0)
    size = source.size()
    source.seek(0)
    base = source.read_buffer(size).address
    return all(buffer is None or base <= buffer.address < base + size
               for column in batch.columns for buffer in column.buffers())


def _check_names(path, names):
    names = [str(name) for name in names]
    empty = [str(j + 1) for j, name in enumerate(names) if not name.strip()]
    if empty:
        raise DataError(f"{path}: column(s) {name_list(empty)} have no name")
    duplicates = sorted(name for name, k in Counter(names).items() if k > 1)
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s): {name_list(duplicates)}")
    return names


def column_kind(kind):
    """NUMERIC (integer, float, decimal, boolean), TEXT (string, dictionary of strings or
    integers) or None (unsupported) for an Arrow type."""
    import pyarrow as pa
    types = pa.types
    if types.is_boolean(kind) or types.is_integer(kind) or types.is_floating(kind) or \
            types.is_decimal(kind):
        return NUMERIC
    if types.is_dictionary(kind):
        value = kind.value_type
        return TEXT if (types.is_string(value) or types.is_large_string(value)
                        or types.is_integer(value)) else None
    if types.is_string(kind) or types.is_large_string(kind) or \
            (hasattr(types, "is_string_view") and types.is_string_view(kind)):
        return TEXT
    return None


class Columns:
    """The columns a read uses, resolved by the CSV rules (:class:`ngd.io.csv._Roles`) and
    checked against the schema's types: ``features``, ``extra`` ({weights / offset /
    trials: column}), ``target`` (or None), ``cluster`` (cluster label columns),
    ``categorical`` (columns to read as categorical even when numeric), ``levels``
    ({column: fixed levels} or None)."""

    def __init__(self, source, target, features, weights, offset, trials, categorical,
                 has_target, ignore, cluster=None):
        roles = _Roles(source.path, source.names, target, features, weights, offset, trials,
                       categorical, has_target, ignore or (), cluster)
        names = roles.names
        self.features = [names[j] for j in roles.features]
        self.extra = {what: names[j] for what, j in roles.extra.items()}
        self.target = names[roles.target] if roles.target is not None else None
        self.categorical = [names[j] for j in roles.categorical]
        self.cluster = [names[j] for j in roles.cluster]
        self.levels = roles.levels if roles.fixed_levels else None
        self.kinds = {}
        for name, what in ([(c, "feature") for c in self.features]
                           + [(c, what) for what, c in self.extra.items()]
                           + [(c, "cluster") for c in self.cluster]
                           + ([(self.target, "target")] if self.target else [])):
            field = source.schema.field(name)
            kind = column_kind(field.type)
            if kind is None:
                raise TypeError(f"{source.path}: column {name!r} ({what}) has unsupported "
                                f"type {field.type}; use numeric, boolean, string or "
                                "dictionary columns")
            if what in ("weights", "offset", "trials") and kind != NUMERIC:
                raise TypeError(f"{source.path}: column {name!r} ({what}) must be numeric, "
                                f"got type {field.type}")
            self.kinds[name] = kind

    @property
    def used(self):
        """Every column read, each once: features, per-row columns, cluster columns,
        target."""
        return list(dict.fromkeys(self.features + list(self.extra.values()) + self.cluster
                                  + ([self.target] if self.target else [])))

DROPNA_HINT = " (--dropna drops rows with missing cells)"


def screen(table, names, dropna, first_row=0, where="", hint=DROPNA_HINT):
    """(table without the rows that have a missing cell among ``names``, their row indices
    counted from ``first_row``) with ``dropna``; without it the first missing cell is a
    DataError (``where`` + the message + ``hint``). Infinite values are always an error."""
    import pyarrow as pa
    import pyarrow.compute as pc
    missing = None
    for name in names:
        column = table.column(name)
        bad = np.asarray(pc.is_null(column, nan_is_null=True).to_numpy(zero_copy_only=False))
        if bad.any() and not dropna:
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}row {first_row + i}, column {name!r}: missing value"
                            f"{hint}")
        missing = bad if missing is None else missing | bad
        if pa.types.is_floating(column.type) and column.null_count < len(column):
            infinite = np.asarray(pc.fill_null(pc.is_inf(column), False).to_numpy(
                zero_copy_only=False))
            if infinite.any():
                i = int(np.flatnonzero(infinite)[0])
                raise DataError(f"{where}row {first_row + i}, column {name!r}: non-finite "
                                f"value {table.column(name)[i].as_py()}")
    if missing is None or not missing.any():
        return table, np.empty(0, dtype=np.int64)
    return table.filter(~missing), np.flatnonzero(missing) + first_row


class RowNumbers:
    """Where the rows of a screened table come from: row i of the table :func:`screen` left,
    which dropped the rows ``dropped`` of a piece starting at row ``first_row``, is row
    ``rows(i)`` of the data."""

    def __init__(self, first_row=0, dropped=()):
        self.first_row = int(first_row)
        self.dropped = np.asarray(dropped, dtype=np.int64)

    def __call__(self, i):
        row = self.first_row + i             # + the dropped rows up to it, to a fixed point
        while True:
            shifted = self.first_row + i + int(np.searchsorted(self.dropped, row, "right"))
            if shifted == row:
                return row
            row = shifted


def per_row_values(table, columns, rows=RowNumbers(), where=""):
    """{weights / offset / trials: float64 array} of ``columns.extra``, checked (magnitude,
    weights >= 0)."""
    from ngd import frames
    out = {}
    for what, name in columns.extra.items():
        values = frames.column_values(table, name, what=what)
        check_magnitude(name, values, rows, where)
        if what == "weights" and (values < 0).any():
            i = int(np.flatnonzero(values < 0)[0])
            raise DataError(f"{where}row {rows(i)}, column {name!r}: negative weight "
                            f"{values[i]:g}")
        out[what] = values
    return out


def cluster_labels(table, columns):
    """The cluster columns' labels as text (integral numbers without a decimal point), a
    tuple, or None without cluster columns."""
    from ngd import frames
    return tuple(frames.read_column(table, name, as_categorical=True).labels
                 for name in columns.cluster) or None


def target_values(table, columns):
    """The target column: float64 for numeric and boolean columns, else str labels."""
    from ngd import frames
    return None if columns.target is None else frames.column_labels(table, columns.target)


def _design(path, table, columns, rows):
    """ngd.frames' X of the feature columns (fixed levels with ``columns.levels``)."""
    from ngd import frames
    try:
        design = frames.design_from_frame(table, categorical=columns.categorical)
        if columns.levels:
            spec = design.spec
            for name, levels in columns.levels.items():
                spec.kinds[name] = frames.CATEGORICAL
                spec.levels[name] = list(levels)
                spec.drop_first[name] = True
            design = frames.design_from_frame(table, spec=spec)
    except (DataError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    dense = design.X.dense if hasattr(design.X, "dense") else design.X
    numeric = [c for c in design.spec.columns if design.spec.kinds[c] == frames.NUMERIC]
    for j, name in enumerate(numeric):          # the dense part: numeric columns in order
        check_magnitude(name, dense[:, j], rows, where=f"{path}: ")
    if design.X.shape[1] == 0:
        raise DataError(f"{path}: no feature columns left after encoding (each categorical "
                        "column has a single level)")
    return design


def _read(path, kind, target, has_target, features, weights, offset, trials, categorical,
          dropna, ignore, cluster):
    source = ArrowInput(path, parquet=kind == "Parquet")
    columns = Columns(source, target, features, weights, offset, trials, categorical,
                      has_target, ignore, cluster)
    table = source.read(columns.used)
    n_rows = table.num_rows
    table, dropped = screen(table, columns.used, dropna, where=f"{path}: ")
    if table.num_rows == 0:
        raise DataError(f"{path}: every row has a missing cell ({n_rows} rows dropped)"
                        if n_rows else f"{path}: no data rows")
    rows = RowNumbers(0, dropped)
    design = _design(path, table.select(columns.features), columns, rows)
    extra = per_row_values(table, columns, rows, where=f"{path}: ")
    return Dataset(X=design.X, y=target_values(table, columns),
                   feature_names=list(design.feature_names), target_name=columns.target,
                   sample_weight=extra.get("weights"), source=str(path),
                   offset=extra.get("offset"), trials=extra.get("trials"),
                   columns=list(design.spec.columns), categories=design.spec.categories,
                   weights_name=columns.extra.get("weights"),
                   offset_name=columns.extra.get("offset"),
                   trials_name=columns.extra.get("trials"),
                   cluster=cluster_labels(table, columns), cluster_names=columns.cluster,
                   n_dropped=int(dropped.size),
                   dropped_lines=dropped[:10].tolist())


def read_parquet(path, target=None, *, features=None, weights=None, offset=None, trials=None,
                 categorical=None, dropna=False, has_target=True, ignore=(), cluster=None):
    """Read a Parquet file, or a directory of Parquet files, into a :class:`Dataset` (the
    options are those of :func:`ngd.io.csv.read_csv`; see the module docstring)."""
    return _read(path, "Parquet", target, has_target, features, weights, offset, trials,
                 categorical, dropna, ignore, cluster)


def read_feather(path, target=None, *, features=None, weights=None, offset=None, trials=None,
                 categorical=None, dropna=False, has_target=True, ignore=(), cluster=None):
    """Read a Feather (V2) / Arrow IPC file or stream into a :class:`Dataset` (the options are
    those of :func:`ngd.io.csv.read_csv`; see the module docstring)."""
    return _read(path, "Arrow IPC", target, has_target, features, weights, offset, trials,
                 categorical, dropna, ignore, cluster)


def read_arrow_header(path):
    """The checked column names of a Parquet / Arrow IPC input (its schema; no rows read)."""
    return list(ArrowInput(path).names)


def read_arrow_table(path, columns):
    """A pyarrow Table of ``columns`` only (projection), e.g. a model's input columns for
    ``ngd predict``; a column the data lack is a DataError listing them."""
    source = ArrowInput(path)
    present = set(source.names)
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{path}: missing column(s) {name_list(missing)} (the data have: "
                        f"{name_list(source.names)})")
    return source.read(list(dict.fromkeys(columns)))
