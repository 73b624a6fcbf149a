"""DataFrames in: pandas and polars DataFrames and pyarrow Tables become the arrays ngd fits.

A table's columns are read one by one (no library-wide conversion, none of the three is
required): numeric and boolean columns become dense float columns, string, categorical
(pandas ``category``, polars ``Categorical``/``Enum``, Arrow ``dictionary``) columns and the
columns named in ``categorical=`` become categorical blocks held as integer codes
(:class:`ngd.design.Categorical`, never a dense one-hot matrix). Levels: a categorical dtype's
categories in their order (unused ones dropped), else the sorted distinct values. Coding:
treatment coding, the first level the reference, except for the first categorical of a fit
without an intercept, which keeps every level (the design stays full rank either way).
Column names: the table's; a categorical's columns are ``name=level``.

:func:`design_from_frame` returns the design and a :class:`TableSpec`; the spec converts new
data exactly as at fit time (columns by name, levels by value: an unseen level is an error).
"""
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ngd._validation import MAX_ABS
from ngd.design import Categorical, Design
from ngd.exceptions import DataError

NUMERIC, CATEGORICAL = "numeric", "categorical"
_FRAME_MODULES = ("pandas", "polars", "pyarrow")


def _library(obj):
    """'pandas', 'polars' or 'pyarrow' for a table of that library, else None."""
    module = (type(obj).__module__ or "").split(".")[0]
    if module not in _FRAME_MODULES:
        return None
    name = type(obj).__name__
    if module == "pyarrow":
        return module if name in ("Table", "RecordBatch") else None
    return module if name == "DataFrame" else None


def is_frame(obj):
    """True for a pandas or polars DataFrame or a pyarrow Table / RecordBatch."""
    return _library(obj) is not None


def _is_series(obj):
    """True for a pandas or polars Series or a pyarrow (chunked) array."""
    module = (type(obj).__module__ or "").split(".")[0]
    name = type(obj).__name__
    if module == "pyarrow":
        return name.endswith("Array")
    return module in ("pandas", "polars") and name == "Series"


def frame_names(frame):
    """Column names of a table, as strings."""
    library = _library(frame)
    if library == "pyarrow":
        return [str(name) for name in frame.column_names]
    return [str(name) for name in frame.columns]


def _column(frame, name):
    """The column ``name`` (a string) of a table."""
    library = _library(frame)
    if library == "pandas":
        return _pandas_column(frame, name)
    if library == "pyarrow" and frame.schema.get_field_index(name) >= 0:   # O(1): unique
        return frame.column(name)
    if library == "polars":
        return _polars_column(frame, name)
    names = frame_names(frame)
    if name not in names:
        raise DataError(f"column {name!r} is not in the data")
    return frame.column(name)


def _polars_column(frame, name):
    """A polars column by name (a hash lookup; ``frame.schema`` would build the whole schema)."""
    from polars.exceptions import ColumnNotFoundError
    try:
        return frame.get_column(name)
    except ColumnNotFoundError:
        raise DataError(f"column {name!r} is not in the data") from None


def _pandas_column(frame, name):
    """A pandas column by its string name: the index's hash lookup (O(1)), else (labels that
    are not strings, e.g. integers) a scan comparing str(label)."""
    try:
        location = frame.columns.get_loc(name)
    except (KeyError, TypeError):
        location = None
    if isinstance(location, int):
        return frame.iloc[:, location]
    matches = [i for i, c in enumerate(frame.columns) if str(c) == name]
    if len(matches) != 1:
        raise DataError(f"column {name!r} " + ("is not in the data" if not matches
                                               else "appears more than once"))
    return frame.iloc[:, matches[0]]


# ------------------------------------------------------------------ one column -> values --
@dataclass
class RawColumn:
    """A column read from a table: ``values`` (numeric: float64, or the integers themselves
    for an integer column, so labels above 2**53 stay exact), or a categorical as integer
    ``codes`` into its distinct labels ``uniques`` (text), with the declared order of its
    categories in ``categories`` (None: sorted)."""

    name: str
    kind: str
    values: np.ndarray = None
    codes: np.ndarray = None
    uniques: list = None
    categories: list = None

    @property
    def labels(self):
        """The labels row by row (str array)."""
        return np.asarray(self.uniques, dtype=object)[self.codes].astype(str)

    def __len__(self):
        return len(self.values if self.kind == NUMERIC else self.codes)


def _unsupported(name, dtype):
    return TypeError(f"column {name!r} has unsupported type {dtype}; use numeric, boolean, "
                     "string or categorical columns")


def _missing(name, count):
    return DataError(f"column {name!r} has {count} missing value(s); drop or fill them first")


def _labels_column(name, labels, categories=None):
    """A categorical from row labels (any array): codes into the sorted distinct texts."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "biuf":
        distinct, codes = np.unique(labels, return_inverse=True)
    else:
        texts = labels.astype(str) if labels.dtype.kind != "O" else \
            np.array([_text(v) for v in labels.tolist()], dtype=str)
        distinct, codes = np.unique(texts, return_inverse=True)
    return RawColumn(name, CATEGORICAL, codes=codes.astype(np.int64),
                     uniques=[_text(v) for v in distinct.tolist()], categories=categories)


def _read_pandas(series, name, as_categorical):
    import pandas as pd

    dtype = series.dtype
    if series.isna().any():
        raise _missing(name, int(series.isna().sum()))
    if isinstance(dtype, pd.CategoricalDtype):
        texts = [_text(c) for c in series.cat.categories]
        return RawColumn(name, CATEGORICAL, codes=series.cat.codes.to_numpy().astype(np.int64),
                         uniques=texts, categories=texts)
    if pd.api.types.is_complex_dtype(dtype):
        raise _unsupported(name, dtype)
    if pd.api.types.is_integer_dtype(dtype):
        native = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        return _numeric_or_labels(name, series.to_numpy(dtype=native), as_categorical)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return _numeric_or_labels(name, series.to_numpy(dtype=np.float64), as_categorical)
    if pd.api.types.is_string_dtype(dtype) or getattr(dtype, "kind", None) == "O":
        values = series.to_numpy(dtype=object)
        bad = next((v for v in values[:1000] if not isinstance(v, (str, bytes))), None)
        if bad is not None and not as_categorical:
            raise _unsupported(name, f"object holding {type(bad).__name__}")
        codes, uniques = pd.factorize(values, sort=True)
        return RawColumn(name, CATEGORICAL, codes=codes.astype(np.int64),
                         uniques=[_text(v) for v in uniques])
    raise _unsupported(name, dtype)


def _read_polars(series, name, as_categorical):
    import polars as pl

    dtype = series.dtype
    if series.null_count():
        raise _missing(name, int(series.null_count()))
    if dtype.is_integer() and str(dtype) not in ("Int128", "UInt128"):    # numpy's widths
        return _numeric_or_labels(name, series.to_numpy(), as_categorical)
    if dtype == pl.Boolean or dtype.is_numeric():
        values = np.asarray(series.cast(pl.Float64).to_numpy(), dtype=np.float64)
        return _numeric_or_labels(name, values, as_categorical)
    if isinstance(dtype, pl.Enum):
        return _labels_column(name, series.cast(pl.String).to_numpy(),
                              categories=dtype.categories.to_list())
    if dtype == pl.String or isinstance(dtype, pl.Categorical):
        return _labels_column(name, series.cast(pl.String).to_numpy())
    raise _unsupported(name, dtype)


def _read_arrow(column, name, as_categorical):
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(column, pa.ChunkedArray):
        column = pa.chunked_array([column])
    kind = column.type
    if column.null_count:
        raise _missing(name, int(column.null_count))
    if pa.types.is_integer(kind):
        return _numeric_or_labels(name, column.to_numpy(), as_categorical)
    if pa.types.is_boolean(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = np.asarray(pc.cast(column, pa.float64()).to_numpy(), dtype=np.float64)
        return _numeric_or_labels(name, values, as_categorical)
    textual = pa.types.is_string(kind) or pa.types.is_large_string(kind) or \
        (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(kind))
    if not (textual or pa.types.is_dictionary(kind)):
        raise _unsupported(name, kind)
    if pa.types.is_dictionary(kind) and not (pa.types.is_string(kind.value_type)
                                             or pa.types.is_large_string(kind.value_type)
                                             or pa.types.is_integer(kind.value_type)):
        raise _unsupported(name, kind)
    declared = pa.types.is_dictionary(kind)
    encoded = column.unify_dictionaries() if declared else pc.dictionary_encode(column)
    if encoded.num_chunks == 0:
        return RawColumn(name, CATEGORICAL, codes=np.zeros(0, np.int64), uniques=[])
    dictionary = encoded.chunk(0).dictionary
    codes = np.concatenate([np.asarray(chunk.indices.to_numpy(zero_copy_only=False),
                                       dtype=np.int64) for chunk in encoded.chunks])
    entries = dictionary.to_pylist()
    null_entries = [k for k, value in enumerate(entries) if value is None]
    if null_entries and np.isin(codes, null_entries).any():
        raise _missing(name, int(np.isin(codes, null_entries).sum()))
    uniques = [_text(v) for v in entries]
    return RawColumn(name, CATEGORICAL, codes=codes, uniques=uniques,
                     categories=uniques if declared else None)


def _numeric_or_labels(name, values, as_categorical):
    if not as_categorical:
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(f"column {name!r} has a non-finite value at row "
                            f"{int(np.flatnonzero(bad)[0])}")
        return RawColumn(name, NUMERIC, values=values)
    raw = _labels_column(name, values)
    raw.categories = list(raw.uniques)           # numeric order, not text order
    return raw


def check_magnitude(name, values, rows=None, where=""):
    """DataError when |value| > MAX_ABS (its square would overflow the Fisher information);
    ``rows(i)`` numbers row i in the message (default i), ``where`` prefixes it."""
    big = np.abs(values) > MAX_ABS
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataError(f"{where}row {i if rows is None else rows(i)}, column {name!r}: value "
                        f"{values[i]:g} is too large in magnitude (> {MAX_ABS:g}; its square "
                        "would overflow the Fisher information): rescale the column")


def fit_design(X, fit_intercept=True):
    """(X to fit, its FrameDesign or None): a table converted by :func:`design_from_frame`
    with its numeric columns checked by :func:`check_magnitudes`; anything else as given."""
    if not is_frame(X):
        return X, None
    table = design_from_frame(X, fit_intercept=fit_intercept)
    check_magnitudes(table)
    return table.X, table


def per_row_arrays(y, trials, sample_weight, offset):
    """(y, trials, sample_weight, offset) with Series and Arrow arrays as numpy arrays."""
    return tuple(as_array(value, what) for value, what in (
        (y, "y"), (trials, "trials"), (sample_weight, "sample_weight"), (offset, "offset")))


def check_magnitudes(table):
    """:func:`check_magnitude` on every numeric column of a :class:`FrameDesign` (the readers
    check their columns themselves, with the file's row numbers)."""
    X = table.X
    dense, names = (X.dense, X.dense_names) if hasattr(X, "dense_names") else \
        (X, table.spec.columns)
    for j, name in enumerate(names):
        check_magnitude(name, dense[:, j])


def _text(value):
    """A level as text: integral floats without the decimal point (2.0 -> '2')."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


_READERS = {"pandas": _read_pandas, "polars": _read_polars, "pyarrow": _read_arrow}


def read_column(frame, name, as_categorical=False):
    """One column of a table as a :class:`RawColumn`."""
    return _READERS[_library(frame)](_column(frame, name), name, as_categorical)


def column_values(data, name=None, what="column"):
    """A per-row numeric column as float64: ``data[name]`` of a table, or a pandas / polars
    Series or Arrow array given directly (``name`` None). Missing values are an error."""
    if name is not None:
        raw = read_column(data, name)
    else:
        raw = _series_column(data, what)
    if raw.kind != NUMERIC:
        raise TypeError(f"{what} {raw.name!r} must be numeric")
    return np.asarray(raw.values, dtype=np.float64)


def column_labels(data, name=None, what="column"):
    """A per-row column as a numpy array: integers as themselves (exact, as in the numpy
    array of the column), other numbers as float64, other labels as str."""
    raw = read_column(data, name) if name is not None else _series_column(data, what)
    return raw.values if raw.kind == NUMERIC else raw.labels


def _series_column(series, what):
    module = (type(series).__module__ or "").split(".")[0]
    name = str(getattr(series, "name", None) or what)
    if module == "pandas":
        return _read_pandas(series, name, False)
    if module == "polars":
        return _read_polars(series, name, False)
    if module == "pyarrow":
        return _read_arrow(series, name, False)
    raise TypeError(f"{what} must be a Series or an Arrow array, got {type(series).__name__}")


def as_array(value, what):
    """``value`` as a numpy array: Series and Arrow arrays through their column reader (labels
    kept), anything else through np.asarray."""
    if value is None or isinstance(value, np.ndarray) or not _is_series(value):
        return value
    return column_labels(value, what=what)


# --------------------------------------------------------------- the table's description --
@dataclass
class TableSpec:
    """How a table becomes the fit's X: the input ``columns`` in order, their ``kinds``
    (numeric / categorical), each categorical's ``levels`` and whether its first level is
    the dropped reference (``drop_first``)."""

    columns: list
    kinds: dict
    levels: dict = field(default_factory=dict)
    drop_first: dict = field(default_factory=dict)

    def to_dict(self):
        """JSON-ready form (model.json's input description)."""
        return {"columns": list(self.columns), "kinds": dict(self.kinds),
                "levels": {k: list(v) for k, v in self.levels.items()},
                "drop_first": {k: bool(v) for k, v in self.drop_first.items()}}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; a malformed description is a DataError: columns a
        list of distinct strings, kinds {column: "numeric" | "categorical"}, levels
        {categorical: distinct levels (str, number or bool; read as strings)}, drop_first
        {categorical: bool}."""
        def bad(why):
            return DataError(f"malformed table description: {why}")

        if not isinstance(data, dict):
            raise bad(f"expected an object, got {type(data).__name__}")
        columns, kinds = data.get("columns"), data.get("kinds")
        levels, drop_first = data.get("levels", {}), data.get("drop_first", {})
        for key, value, kind in (("columns", columns, list), ("kinds", kinds, dict),
                                 ("levels", levels, dict), ("drop_first", drop_first, dict)):
            if not isinstance(value, kind):
                raise bad(f"{key!r} must be a{'' if kind is list else 'n'} "
                          f"{'list' if kind is list else 'object'}, got {type(value).__name__}")
        if not all(isinstance(name, str) for name in columns) or \
                len(set(columns)) != len(columns):
            raise bad("'columns' must be distinct strings")
        text = {}
        for name in columns:
            kind = kinds.get(name)
            if kind not in (NUMERIC, CATEGORICAL):
                raise bad(f"column {name!r} has kind {kind!r} (numeric or categorical)")
            if kind == NUMERIC:
                continue
            column_levels = levels.get(name)
            if not isinstance(column_levels, list) or not column_levels or not all(
                    isinstance(v, (str, int, float)) for v in column_levels):
                raise bad(f"categorical column {name!r} needs a list of levels (strings)")
            text[name] = [str(v) for v in column_levels]
            if len(set(text[name])) != len(text[name]):
                raise bad(f"categorical column {name!r} repeats a level")
            if not isinstance(drop_first.get(name), bool):
                raise bad(f"categorical column {name!r} needs drop_first true or false")
        return cls(list(columns), {name: kinds[name] for name in columns}, text,
                   {name: drop_first[name] for name in text})

    @property
    def categories(self):
        """{categorical column: levels} (model.json's ``categories``)."""
        return {name: self.levels[name] for name in self.columns
                if self.kinds[name] == CATEGORICAL}


@dataclass
class FrameDesign:
    """The arrays of a table: ``X`` (a float ndarray, or a :class:`ngd.design.Design` when
    some column is categorical), ``feature_names`` (one per coefficient), ``terms``
    ({input column: coefficient indices}; a categorical's levels form one term) and the
    ``spec`` that rebuilds X from new data."""

    X: object
    feature_names: list
    terms: dict
    spec: TableSpec


def design_from_frame(frame, *, fit_intercept=True, categorical=(), spec=None, columns=None):
    """X of a table (see the module docstring). ``columns``: the input columns to use (default
    all); ``categorical``: column names to treat as categorical even when numeric. With
    ``spec`` (from an earlier call), the columns, kinds and levels are the spec's: new data
    are converted exactly as the fit's (missing column, other kind or unseen level: an
    error)."""
    if not is_frame(frame):
        raise TypeError(f"expected a pandas/polars DataFrame or a pyarrow Table, got "
                        f"{type(frame).__name__}")
    if spec is not None:
        return _apply_spec(frame, spec)
    names = frame_names(frame) if columns is None else [str(c) for c in columns]
    if not names:
        raise DataError("the data have no columns")
    if len(set(names)) != len(names):
        raise DataError("column names must be distinct")
    forced = {str(c) for c in (categorical or ())}
    unknown = sorted(forced - set(names))
    if unknown:
        raise DataError(f"categorical column(s) not in the data: {', '.join(unknown)}")
    raws = [read_column(frame, name, as_categorical=name in forced) for name in names]
    kinds = {raw.name: raw.kind for raw in raws}
    levels, drop_first = {}, {}
    first = True
    for raw in raws:
        if raw.kind == CATEGORICAL:
            levels[raw.name] = _levels(raw)
            drop_first[raw.name] = bool(fit_intercept or not first)
            first = False
    table = TableSpec(names, kinds, levels, drop_first)
    return _build(raws, table)


def _apply_spec(frame, spec):
    present = set(frame_names(frame))
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise DataError(f"the data lack the model's column(s): {', '.join(missing)}")
    raws = []
    for name in spec.columns:
        raw = read_column(frame, name, as_categorical=spec.kinds[name] == CATEGORICAL)
        if raw.kind != spec.kinds[name]:
            raise TypeError(f"column {name!r} is {raw.kind} but was {spec.kinds[name]} when "
                            "the model was fitted")
        raws.append(raw)
    return _build(raws, spec)


def _build(raws, spec):
    numeric = [raw for raw in raws if raw.kind == NUMERIC]
    n = len(raws[0])
    dense = np.empty((n, len(numeric)), dtype=np.float64)
    for j, raw in enumerate(numeric):
        dense[:, j] = raw.values
    dense_names = [raw.name for raw in numeric]
    blocks = [_encode(raw, spec.levels[raw.name], spec.drop_first[raw.name])
              for raw in raws if raw.kind == CATEGORICAL]
    if not blocks:
        X, feature_names = dense, dense_names
        terms = {name: [j] for j, name in enumerate(dense_names)}
    else:
        X = Design(dense, blocks, dense_names)
        feature_names = X.feature_names
        terms = {name: list(range(s.start, s.stop)) for name, s in X.column_slices.items()}
    return FrameDesign(X, feature_names, terms, spec)


def _levels(raw):
    """The levels present in a categorical column: its declared categories in order (unused
    ones dropped), else its distinct labels sorted."""
    used = np.bincount(raw.codes, minlength=len(raw.uniques)) > 0
    present = [u for u, hit in zip(raw.uniques, used) if hit]
    alike = sorted(u for u, k in Counter(present).items() if k > 1)
    if alike:
        raise DataError(f"column {raw.name!r} has different values written alike "
                        f"({', '.join(map(repr, alike[:5]))}), e.g. 1 and '1': give the "
                        "column one type")
    if raw.categories is None:
        return sorted(present)
    present = set(present)
    return list(dict.fromkeys(c for c in raw.categories if c in present))


def _encode(raw, levels, drop_first):
    """Integer codes of a categorical column against ``levels`` (an unseen level: error)."""
    index = {level: k for k, level in enumerate(levels)}
    used = np.bincount(raw.codes, minlength=len(raw.uniques)) > 0
    unseen = [u for u, hit in zip(raw.uniques, used) if hit and u not in index]
    if unseen:
        shown = ", ".join(repr(u) for u in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise DataError(f"column {raw.name!r} has level(s) not seen when the model was "
                        f"fitted: {shown}")
    lookup = np.array([index.get(u, 0) for u in raw.uniques], dtype=np.int32)
    codes = lookup[raw.codes] - np.int32(drop_first)
    return Categorical(raw.name, codes, levels, drop_first)
