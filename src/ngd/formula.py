"""Formulas: ``ngd.fit("y ~ x1 + np.log(x2) + C(region) + x1:x3", data=df, model="poisson")``.

formulaic (``pip install 'ngd[formula]'``) parses the formula and materialises its columns,
named as formulaic names them (``C(region)[T.b]``, ``x1:x3``, ``np.log(x2)``), with its rank
rules: treatment coding, the first level the reference, whenever the intercept or an earlier
term already spans the constant. What ngd adds:

- Native categoricals: a term that is one categorical factor (``C(col)``, or a string /
  categorical column ``col``) used in no other term becomes an :class:`ngd.design.Categorical`
  block of integer codes, never a one-hot matrix; formulaic codes a one-level stand-in in its
  place, so the block drops its first level exactly when formulaic would. The other columns
  are formulaic's dense matrix. X is a :class:`ngd.design.Design` when there is a native
  block, else a dense float64 array.
- The intercept: the formula's ``1`` / ``0`` / ``- 1`` is ngd.fit's fit_intercept (the
  intercept column is not part of X).
- ``offset(expr)`` terms are summed into the fit's offset instead of becoming columns.
- Missing values (NaN / None in a used column, or made by a transform, e.g. np.log of a
  negative number) are an error naming the first such row, unless ``dropna=True``: then those
  rows are dropped (``n_dropped``) and the formula is evaluated again on the rows kept, so
  stateful transforms (center, scale, poly, ...) see exactly the fitted rows.
- ``spec``: a JSON-ready dict (the formula, factor levels, transform state, native blocks and
  column names) from which :func:`design_matrix` rebuilds the same columns on new data; a
  level not seen in the fit, a missing column or a different column kind is one error line.

Data: pandas DataFrames; polars DataFrames, pyarrow Tables and dicts of columns are converted
to pandas first (formulaic's pandas materialiser is its stable one).

formulaic evaluates a formula's terms as Python expressions, also when a model file's formula
is rebuilt for predictions: load only model files you trust.
"""
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from ngd import _formula_state, _optional
from ngd.design import Categorical, Design
from ngd.exceptions import DataError

PER_ROW = ("sample_weight", "offset", "trials", "cluster")   # fit arguments with one value a row
_C_CALL = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$")
_C_ANY = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*[,)]")
_OFFSET = re.compile(r"^offset\(.*\)$", re.S)
_STANDIN = "__ngd_native_{}__"
_SHOWN = 10                      # dropped row positions kept in ModelFrame.dropped_rows


def require():
    """(formulaic, pandas), imported; a MissingDependencyError (an ImportError) naming the
    extra when one is missing."""
    return (_optional.require("formulaic", "formula", "a formula"),
            _optional.require("pandas", "formula", "a formula"))


@dataclass
class ModelFrame:
    """A formula on a table: the response ``y`` (labels kept for classification), ``X`` (dense
    float64 array or Design), one ``feature_names`` entry per column of X, ``terms`` ({formula
    term: coefficient indices}), ``fit_intercept``, ``offset`` (sum of the offset() terms, or
    None), ``per_row`` (the fit's per-row arguments on the rows kept), the JSON ``spec``, and
    the rows dropped for missing values (``n_dropped``; ``dropped_rows``: the first positions)."""

    y: object
    X: object
    feature_names: list
    terms: dict
    fit_intercept: bool
    offset: object
    spec: dict
    per_row: dict = field(default_factory=dict)
    n_dropped: int = 0
    dropped_rows: list = field(default_factory=list)


@dataclass
class _Native:
    """A native categorical term: its position among the right-hand side's terms, the column it
    reads, its levels and whether the first one is dropped."""

    position: int
    term: str
    variable: str
    levels: list = None
    drop_first: bool = True
    codes: np.ndarray = None

    def column_names(self):
        fmt = "{}[T.{}]" if self.drop_first else "{}[{}]"
        return [fmt.format(self.term, level) for level in self.levels[int(self.drop_first):]]


@dataclass
class _Parsed:
    text: str
    lhs: object            # the response's formulaic Term, or None
    rhs: list              # formulaic Terms in formulaic's order
    roles: list            # per rhs term: "intercept", "offset", "native" or "column"


# ------------------------------------------------------------------------------ parsing --
def _one_line(exc):
    """The first line of a formulaic message, without its terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m|[⧛⧚]", "", str(exc)).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _parse(formula):
    formulaic, _ = require()
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x1 + x2', got "
                        f"{type(formula).__name__}")
    if "1" in re.findall(r"`([^`]*)`", formula):
        raise DataError(f"formula {formula!r}: a column named '1' cannot be used (formulaic "
                        "reads `1` as the intercept); rename the column")
    try:
        parsed = formulaic.Formula(formula)
    except formulaic.errors.FormulaicError as exc:
        if "`.` operator" in str(exc):
            raise DataError(f"formula {formula!r}: '.' (every other column) is not supported; "
                            "name the columns: 'y ~ x1 + x2'") from None
        raise DataError(f"formula {formula!r}: {_one_line(exc)}") from None
    lhs, rhs = (parsed.lhs, parsed.rhs) if hasattr(parsed, "rhs") else (None, parsed)
    if not isinstance(rhs, formulaic.SimpleFormula) or \
            (lhs is not None and not isinstance(lhs, formulaic.SimpleFormula)):
        raise DataError(f"formula {formula!r}: only 'response ~ terms' formulas are supported "
                        "(no '|' parts)")
    response = None
    if lhs is not None:
        terms = list(lhs)
        if len(terms) != 1 or len(terms[0].factors) != 1:
            raise DataError(f"formula {formula!r}: the left-hand side must be one response, "
                            f"got '{lhs}'")
        response = terms[0]
    terms = list(rhs)
    roles = []
    uses = {}
    for term in terms:
        for factor in term.factors:
            uses[factor.expr] = uses.get(factor.expr, 0) + 1
    for term in terms:
        offsets = [f for f in term.factors if _OFFSET.match(f.expr)]
        if offsets and len(term.factors) > 1:
            raise DataError(f"formula {formula!r}: offset() must be a term of its own, not "
                            f"part of '{term}'")
        if str(term) == "1":
            roles.append("intercept")
        elif offsets:
            roles.append("offset")
        elif len(term.factors) == 1 and uses[term.factors[0].expr] == 1:
            roles.append("single")           # a native candidate; decided on the data
        else:
            roles.append("column")
    return _Parsed(formula, response, terms, roles)


def _native_variable(term, frame, pandas):
    """The column a single-factor term codes natively (``C(col)`` or a categorical column)."""
    factor = term.factors[0]
    match = _C_CALL.match(factor.expr)
    if match and factor.eval_method.value == "python" and match.group(1) in frame.columns:
        return match.group(1)
    if factor.eval_method.value == "lookup" and factor.expr in frame.columns:
        dtype = frame[factor.expr].dtype
        if dtype in ("object", "str") or isinstance(dtype, pandas.CategoricalDtype):
            return factor.expr           # formulaic's test for a categorical column
    return None


def _settle_roles(parsed, natives):
    """Single-factor terms become "native" (those in ``natives``) or "column"."""
    positions = {native.position for native in natives}
    parsed.roles = ["native" if i in positions else "column" if role == "single" else role
                    for i, role in enumerate(parsed.roles)]


# ------------------------------------------------------------------------------ tables ----
def as_pandas(data):
    """``data`` as a pandas DataFrame with a 0..n-1 index (formulaic drops rows by position)."""
    _, pandas = require()
    module = (type(data).__module__ or "").split(".")[0]
    if isinstance(data, pandas.DataFrame):
        frame = data
    elif module == "polars" and type(data).__name__ == "DataFrame":
        frame = data.to_pandas()
    elif module == "pyarrow" and type(data).__name__ in ("Table", "RecordBatch"):
        frame = data.to_pandas()
    elif isinstance(data, dict):
        frame = pandas.DataFrame(data)
    else:
        raise TypeError(f"data must be a pandas or polars DataFrame, a pyarrow Table or a dict "
                        f"of columns, got {type(data).__name__}")
    if not frame.columns.is_unique:
        raise DataError("data: column names must be distinct")
    frame = _plain_strings(frame, pandas)
    if not isinstance(frame.index, pandas.RangeIndex) or frame.index.start != 0 \
            or frame.index.step != 1:
        frame = frame.reset_index(drop=True)
    return frame


def _plain_strings(frame, pandas):
    """``frame`` with extension string columns (``string[python]``, ``string[pyarrow]``,
    Arrow strings) as object columns, missing cells NaN: formulaic takes only object and
    ``str`` columns for categorical (it would read the others as numbers)."""
    extension = [name for name, dtype in frame.dtypes.items()
                 if pandas.api.types.is_string_dtype(dtype) and dtype not in ("object", "str")
                 and not isinstance(dtype, pandas.CategoricalDtype)]
    if not extension:
        return frame
    frame = frame.copy(deep=False)           # the caller's frame is not modified
    for name in extension:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
    return frame


def _used_categories(frame, pandas):
    """``frame`` with the unused categories of its categorical columns removed (a subset of a
    table keeps them; each would be an all-zero column and make the fit singular)."""
    unused = [name for name, dtype in frame.dtypes.items()
              if isinstance(dtype, pandas.CategoricalDtype)
              and len(frame[name].cat.categories) > frame[name].nunique()]
    if not unused:
        return frame
    frame = frame.copy(deep=False)           # the caller's frame is not modified
    for name in unused:
        frame[name] = frame[name].cat.remove_unused_categories()
    return frame


def _is_table(data):
    from ngd import frames
    return frames.is_frame(data) or isinstance(data, dict)


def formula_columns(formula, names):
    """The columns among ``names`` that ``formula`` may read: those written in it as a name
    or between backquotes (a superset of what it uses; for reading only those columns)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula))
    words |= set(re.findall(r"`([^`]+)`", formula))
    return [name for name in names if name in words]


def _row_values(value, name, frame):
    """A per-row fit argument as an array over the rows of ``frame``: a column name (str),
    or values with one entry a row; a list/tuple of those for two-way clusters."""
    if isinstance(value, (list, tuple)) and name == "cluster" and len(value) in (1, 2) and \
            all(isinstance(v, str) or np.ndim(v) == 1 for v in value):
        return tuple(_row_values(v, name, frame) for v in value)
    if isinstance(value, str):
        if value not in frame.columns:
            raise DataError(f"{name}={value!r} is not a column of the data")
        return frame[value].to_numpy()
    from ngd import frames
    values = np.asarray(frames.as_array(value, name))
    if values.shape[:1] != (len(frame),):
        raise DataError(f"{name} has {values.shape[0] if values.ndim else 0} rows but the data "
                        f"have {len(frame)}")
    return values


def _take_rows(values, rows):
    if isinstance(values, tuple):
        return tuple(_take_rows(v, rows) for v in values)
    return values[rows]


def _missing_mask(values, pandas):
    if isinstance(values, tuple):
        return np.logical_or.reduce([_missing_mask(v, pandas) for v in values])
    values = np.asarray(values)
    if values.dtype.kind == "f":
        mask = np.isnan(values)
        return mask if mask.ndim == 1 else mask.any(axis=1)
    if values.dtype.kind == "O":
        mask = np.asarray(pandas.isna(values))
        return mask if mask.ndim == 1 else mask.any(axis=1)
    return np.zeros(values.shape[0], dtype=bool)


# ---------------------------------------------------------------------- materialisation --
def _offset_values(values):
    """``offset(expr)`` in a formula: the values of expr (pulled out of X afterwards)."""
    return np.asarray(values, dtype=np.float64)


def _check_names(parsed, frame, context):
    """An unknown name in a term: one line naming it (before formulaic's longer message)."""
    import builtins

    from formulaic.transforms import TRANSFORMS
    known = set(frame.columns) | set(context) | set(TRANSFORMS) | set(dir(builtins))
    terms = parsed.rhs + ([parsed.lhs] if parsed.lhs is not None else [])
    for term in terms:
        for factor in term.factors:
            unknown = sorted(str(v) for v in factor.required_variables if str(v) not in known)
            if unknown:
                raise DataError(f"formula term '{term}': {', '.join(unknown)} "
                                f"{'is not a column' if len(unknown) == 1 else 'are not columns'}"
                                " of the data")


def _materialise(parsed, frame, natives, drop_rows, transform_state=None, encoder_state=None):
    """formulaic's model matrix of the right-hand side with a one-level stand-in for each
    native term; returns (matrix, its ModelSpec). ``drop_rows`` (a set of positions) gains the
    rows with missing values. The states are None at fit time, a fit's when rebuilding."""
    formulaic, pandas = require()
    from formulaic.errors import DataMismatchWarning, FormulaicError
    from formulaic.parser.types import Factor, Term

    n = len(frame)
    terms = list(parsed.rhs)
    context = {"offset": _offset_values}
    rebuilding = encoder_state is not None
    encoder_state = dict(encoder_state or {})
    for k, native in enumerate(natives):
        name = _STANDIN.format(k)
        if name in frame.columns:
            raise DataError(f"data: column name {name!r} is reserved for formulas")
        terms[native.position] = Term([Factor(name, eval_method="lookup", kind="categorical")])
        context[name] = pandas.Series(pandas.Categorical.from_codes(
            np.zeros(n, dtype=np.int8), categories=[0]))
        if rebuilding:                         # the stand-in's levels, as at fit time
            encoder_state[name] = (Factor.Kind.CATEGORICAL, {"categories": [0]})
    _check_names(parsed, frame, context)
    spec = formulaic.ModelSpec(formula=formulaic.SimpleFormula(terms, _ordering="none"),
                               output="numpy", na_action="drop", ensure_full_rank=True,
                               transform_state=dict(transform_state or {}),
                               encoder_state=encoder_state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataMismatchWarning)
        try:
            matrix = spec.get_model_matrix(frame, context=context, drop_rows=drop_rows)
        except DataMismatchWarning as exc:
            found = re.search(r"\{.*\}", str(exc))
            found = found.group(0) if found else exc
            if not rebuilding:                 # at fit time: C(x, levels=[...]) misses some
                raise DataError(f"formula {parsed.text!r}: the data have value(s) outside a "
                                f"factor's levels=: {found}") from None
            raise DataError(f"data: a categorical factor has level(s) not seen when the model "
                            f"was fitted: {found}") from None
        except (FormulaicError, ValueError, TypeError, NameError) as exc:
            raise DataError(f"formula {parsed.text!r}: {_one_line(exc)}") from None
    return np.asarray(matrix, dtype=np.float64), matrix.model_spec


def _response(parsed, frame):
    """The response over all rows: a column's values as they are (labels for classifiers), or
    a numeric expression of columns (e.g. np.log(y)) through formulaic."""
    formulaic, _ = require()
    factor = parsed.lhs.factors[0]
    if factor.eval_method.value == "lookup":
        if factor.expr not in frame.columns:
            raise DataError(f"formula {parsed.text!r}: the response {factor.expr!r} is not a "
                            "column of the data")
        return frame[factor.expr].to_numpy()
    spec = formulaic.ModelSpec(formula=formulaic.SimpleFormula([parsed.lhs], _ordering="none"),
                               output="numpy", na_action="ignore", ensure_full_rank=False)
    try:
        values = np.asarray(spec.get_model_matrix(frame))
    except (formulaic.errors.FormulaicError, ValueError, TypeError, NameError) as exc:
        raise DataError(f"formula {parsed.text!r}: {_one_line(exc)}") from None
    if values.ndim != 2 or values.shape[1] != 1 or values.dtype.kind not in "biuf":
        raise DataError(f"formula {parsed.text!r}: the response '{parsed.lhs}' must be one "
                        "numeric column")
    return values[:, 0].astype(np.float64)


def _native_codes(native, frame, pandas, fitted):
    """Integer codes (pandas convention: -1 missing) of a native term's column; at fit time
    (``fitted`` False) its levels too, as formulaic would find them."""
    series = frame[native.variable]
    if not fitted:
        categorical = series if isinstance(series.dtype, pandas.CategoricalDtype) \
            else series.astype("category")
        native.levels = [_formula_state.decode(_formula_state.encode(level, native.term))
                         for level in categorical.cat.categories.tolist()]
        return categorical.cat.codes.to_numpy().astype(np.int32)
    codes = pandas.Index(native.levels).get_indexer(series).astype(np.int32)
    unseen = (codes < 0) & ~np.asarray(series.isna())
    if unseen.any():
        values = list(dict.fromkeys(series[unseen].tolist()))
        shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
        raise DataError(f"factor {native.term} has level(s) not seen when the model was "
                        f"fitted: {shown}")
    return codes


def _encoded_columns(encoder_state, frame):
    """(factor, column, fitted levels) of each formulaic-coded categorical of one column of
    ``frame`` (``col`` or ``C(col, ...)``)."""
    for expr, (kind, state) in encoder_state.items():
        if kind.value != "categorical" or "categories" not in state:
            continue
        match = _C_ANY.match(expr)
        column = expr if expr in frame.columns else match.group(1) if match else None
        if column is not None and column in frame.columns:
            yield expr, column, state["categories"]


def _categorical_columns(natives, encoder_state, frame):
    """(column, fitted levels) of every categorical factor of a single column."""
    for native in natives:
        yield native.variable, native.levels
    for _, column, levels in _encoded_columns(encoder_state, frame):
        yield column, levels


def _align_levels(frame, natives, encoder_state, pandas):
    """``frame`` with categorical columns whose values equal the fitted levels only as text
    (a CSV's integers 1, 2 against a Parquet file's strings '1', '2') mapped onto the fitted
    levels; other columns untouched (the caller's frame is not modified)."""
    replaced = {}
    for column, levels in _categorical_columns(natives, encoder_state, frame):
        series = replaced.get(column, frame[column])
        index = pandas.Index(levels)
        if ((index.get_indexer(series) >= 0) | np.asarray(series.isna())).all():
            continue
        by_text = {_level_text(level): level for level in levels}
        values = series.astype(object)
        replaced[column] = values.map(lambda v: v if pandas.isna(v)
                                      else by_text.get(_level_text(v), v))
    return frame.assign(**replaced) if replaced else frame


def _level_text(value):
    """A level as text, integral floats without the decimal point (2.0 -> '2')."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _check_levels(encoder_state, frame, pandas):
    """Named unseen-level errors for formulaic-coded categoricals of a column (``col``,
    ``C(col, ...)``); others are caught by formulaic's mismatch warning."""
    for expr, column, levels in _encoded_columns(encoder_state, frame):
        series = frame[column]
        unseen = (pandas.Index(levels).get_indexer(series) < 0) & ~np.asarray(series.isna())
        if unseen.any():
            values = list(dict.fromkeys(series[unseen].tolist()))
            raise DataError(f"factor {expr} has level(s) not seen when the model was fitted: "
                            + ", ".join(repr(v) for v in values[:5])
                            + (" ..." if len(values) > 5 else ""))


# --------------------------------------------------------------------------- assembling --
@dataclass
class _Built:
    matrix: np.ndarray
    model_spec: object
    natives: list
    dropped: set
    y: object = None
    per_row: dict = field(default_factory=dict)


def _build(parsed, frame, natives, per_row, fitted, states=(None, None)):
    """One evaluation of the formula on ``frame``: response, native codes, formulaic matrix,
    and the positions of rows with a missing value in any of them."""
    _, pandas = require()
    dropped = set()
    for native in natives:
        native.codes = _native_codes(native, frame, pandas, fitted)
        dropped.update(np.flatnonzero(native.codes < 0).tolist())
    y = None
    if parsed.lhs is not None:
        y = _response(parsed, frame)
        dropped.update(np.flatnonzero(_missing_mask(y, pandas)).tolist())
    for values in per_row.values():
        dropped.update(np.flatnonzero(_missing_mask(values, pandas)).tolist())
    matrix, model_spec = _materialise(parsed, frame, natives, dropped, *states)
    return _Built(matrix, model_spec, natives, {int(i) for i in dropped}, y, per_row)


def _assemble(parsed, built):
    """(X, feature_names, terms, offset) from an evaluation without missing values."""
    columns = list(built.model_spec.column_names)
    indices = [list(built.model_spec.term_indices[term]) for term in
               built.model_spec.formula]
    natives = {native.position: native for native in built.natives}
    dense_cols, offset_cols, terms = [], [], {}
    for position, (term, role) in enumerate(zip(parsed.rhs, parsed.roles)):
        cols = indices[position]
        if position in natives:
            natives[position].drop_first = not cols      # formulaic's stand-in: 0 or 1 column
        elif role == "offset":
            offset_cols += cols
        elif role != "intercept":
            terms[str(term)] = list(range(len(dense_cols), len(dense_cols) + len(cols)))
            dense_cols += cols
    matrix = built.matrix
    dense = matrix if dense_cols == list(range(matrix.shape[1])) else matrix[:, dense_cols]
    dense = np.ascontiguousarray(dense, dtype=np.float64)
    dense_names = [columns[j] for j in dense_cols]
    finite = np.isfinite(dense)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(f"formula column '{dense_names[col]}' has a non-finite value "
                        f"({dense[row, col]}) at row {row}")
    offset = None
    if offset_cols:
        offset = matrix[:, offset_cols].sum(axis=1)
        if not np.isfinite(offset).all():
            row = int(np.flatnonzero(~np.isfinite(offset))[0])
            raise DataError(f"formula offset has a non-finite value ({offset[row]}) at row "
                            f"{row}")
    blocks = []
    start = len(dense_cols)
    for native in built.natives:
        codes = native.codes - np.int32(native.drop_first)
        blocks.append(Categorical(native.term, codes, [str(v) for v in native.levels],
                                  native.drop_first, native.column_names()))
        width = blocks[-1].n_columns
        terms[native.term] = list(range(start, start + width))
        start += width
    order = [str(term) for term in parsed.rhs if str(term) in terms]
    terms = {name: terms[name] for name in order if terms[name]}
    if blocks:
        X = Design(dense, blocks, dense_names)
        names = X.feature_names
    else:
        X, names = dense, dense_names
    return X, names, terms, offset


def _spec(parsed, built, feature_names, terms):
    """The JSON-ready description that :func:`design_matrix` rebuilds X from."""
    formulaic, _ = require()
    model_spec = built.model_spec
    standins = {_STANDIN.format(k) for k in range(len(built.natives))}
    encoder = {}
    for expr, (kind, state) in model_spec.encoder_state.items():
        if expr in standins:
            continue
        kept = {key: value for key, value in state.items() if key != "contrasts"}
        encoder[expr] = {"kind": kind.value,
                         "state": _formula_state.encode(kept, f"the levels of {expr}")}
    variables = {str(v) for v in model_spec.required_variables} - standins - {"offset"}
    variables |= {native.variable for native in built.natives}
    return {
        "formula": parsed.text,
        "formulaic_version": formulaic.__version__,
        "response": None if parsed.lhs is None else str(parsed.lhs),
        "intercept": "intercept" in parsed.roles,
        "variables": sorted(variables),
        "columns": list(model_spec.column_names),
        "native": [{"position": native.position, "term": native.term,
                    "variable": native.variable,
                    "levels": _formula_state.encode(native.levels, native.term),
                    "drop_first": bool(native.drop_first)} for native in built.natives],
        "encoder_state": encoder,
        "transform_state": _formula_state.encode(dict(model_spec.transform_state),
                                                 "the state of the formula's transforms"),
        "feature_names": list(feature_names),
        "terms": {name: list(cols) for name, cols in terms.items()},
    }


# ----------------------------------------------------------------------------- public -----
def model_frame(formula, data, *, dropna=False, **per_row):
    """Evaluate ``formula`` ("y ~ terms") on ``data`` for a fit: a :class:`ModelFrame`.

    per_row: the fit's per-row arguments (sample_weight, offset, trials, cluster), each a
    column name of ``data`` or values with one entry a row; returned on the rows kept.
    dropna: drop rows with a missing value in the response, a used column or a per-row
    argument (else such a row is an error).
    """
    _, pandas = require()
    parsed = _parse(formula)
    if parsed.lhs is None:
        raise DataError(f"formula {formula!r} has no response: write 'y ~ {formula.strip()}'")
    frame = _used_categories(as_pandas(data), pandas)
    if len(frame) == 0:
        raise DataError("the data have no rows")
    named = {name: value for name, value in per_row.items() if isinstance(value, str)}
    per_row = {name: _row_values(value, name, frame) for name, value in per_row.items()
               if value is not None}
    natives = [_Native(position, str(term), variable)
               for position, (term, role) in enumerate(zip(parsed.rhs, parsed.roles))
               if role == "single"
               and (variable := _native_variable(term, frame, pandas)) is not None]
    _settle_roles(parsed, natives)
    built = _build(parsed, frame, natives, per_row, fitted=False)
    n_dropped, shown = 0, []
    if built.dropped:
        rows = sorted(built.dropped)
        if not dropna:
            raise _missing_error(rows, frame, parsed, per_row, built.model_spec, natives)
        kept = np.setdiff1d(np.arange(len(frame)), rows)
        frame = _used_categories(frame.take(kept).reset_index(drop=True), pandas)
        per_row = {name: _take_rows(values, kept) for name, values in per_row.items()}
        built = _build(parsed, frame, natives, per_row, fitted=False)
        if built.dropped:
            raise DataError(f"formula {formula!r}: the rows left after dropping missing "
                            "values give missing values again (a transform such as lag()?)")
        n_dropped, shown = len(rows), rows[:_SHOWN]
    X, names, terms, offset = _assemble(parsed, built)
    spec = dict(_spec(parsed, built, names, terms), row_columns=named)
    return ModelFrame(built.y, X, names, terms, "intercept" in parsed.roles, offset, spec,
                      built.per_row, n_dropped, shown)


def _missing_error(rows, frame, parsed, per_row, model_spec, natives):
    """One line: how many rows have missing values, and the first one's column (or that a
    transform made it)."""
    _, pandas = require()
    first = rows[0]
    used = {str(v) for v in model_spec.required_variables} | {n.variable for n in natives}
    if parsed.lhs is not None:
        used |= {str(v) for v in parsed.lhs.factors[0].required_variables}
    columns = [c for c in frame.columns if c in used and pandas.isna(frame[c].iloc[first])]
    columns += [name for name, values in per_row.items()
                if _missing_mask(_take_rows(values, [first]), pandas)[0]]
    where = (f"column(s) {', '.join(map(str, columns))}" if columns
             else "made by a transform, e.g. np.log of a value <= 0")
    return DataError(f"{len(rows)} row(s) have a missing value (first: row {first}, {where}); "
                     "pass dropna=True (ngd fit --dropna) to drop them")


def design_matrix(spec, data):
    """(X, offset) of new ``data`` laid out as the fit described by ``spec`` (a ModelFrame's
    spec, e.g. from model.json): the same columns, levels and transform state. Every row is
    kept (a missing value is an error)."""
    formulaic, pandas = require()
    from formulaic.parser.types import Factor
    try:
        if not isinstance(spec, dict):
            raise TypeError(f"expected an object, got {type(spec).__name__}")
        parsed = _parse(spec["formula"])
        natives = [_Native(int(item["position"]), str(item["term"]), str(item["variable"]),
                           _formula_state.decode(item["levels"]), bool(item["drop_first"]))
                   for item in spec["native"]]
        encoder = {expr: (Factor.Kind(item["kind"]), _formula_state.decode(item["state"]))
                   for expr, item in spec["encoder_state"].items()}
        transform = _formula_state.decode(spec["transform_state"])
        expected = list(spec["columns"])
        variables = list(spec["variables"])
        for native in natives:
            if str(parsed.rhs[native.position]) != native.term:
                raise ValueError(f"term {native.term!r} is not at position {native.position}")
            if native.variable not in variables or not _scalars(native.levels):
                raise ValueError(f"term {native.term!r} needs a list of levels (scalars) and a "
                                 "column among the variables")
        if not isinstance(transform, dict) or not all(
                isinstance(state, dict) and _scalars(state.get("categories", []))
                for _, state in encoder.values()):
            raise ValueError("the encoder and transform states must be objects (categories a "
                             "list of scalars)")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError,
            RecursionError) as exc:
        raise DataError(f"malformed formula description in the model: "
                        f"{' '.join(str(exc).split()) or type(exc).__name__}") from None
    frame = as_pandas(data)
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise DataError(f"the data lack column(s) used by the formula: {', '.join(missing)}")
    _settle_roles(parsed, natives)
    frame = _align_levels(frame, natives, encoder, pandas)
    _check_levels(encoder, frame, pandas)
    parsed.lhs = None                           # predictions need no response
    with np.errstate(all="ignore"):         # a non-finite column is refused below, by name
        built = _build(parsed, frame, natives, {}, fitted=True, states=(transform, encoder))
    refitted = _formula_state.encode(dict(built.model_spec.transform_state), "the state")
    if refitted != spec["transform_state"]:
        changed = sorted(set(refitted) ^ set(spec["transform_state"]) | {
            k for k in set(refitted) & set(spec["transform_state"])
            if refitted[k] != spec["transform_state"][k]})
        raise DataError("malformed formula description in the model: the transform state "
                        f"of {', '.join(map(str, changed[:5]))} is missing or incomplete (the "
                        "transform would be refitted on these data)")
    if built.dropped:
        first = min(built.dropped)
        raise DataError(f"{len(built.dropped)} row(s) have a missing value in a column the "
                        f"formula uses (first: row {first}); predictions need every value")
    got = list(built.model_spec.column_names)
    if got != expected:
        extra = [c for c in got if c not in expected]
        lost = [c for c in expected if c not in got]
        raise DataError(f"the formula's columns on these data differ from the fitted model's "
                        f"(missing: {', '.join(lost) or '-'}; unexpected: "
                        f"{', '.join(extra) or '-'})")
    X, names, _, offset = _assemble(parsed, built)
    if names != list(spec.get("feature_names", names)):
        raise DataError("the formula's columns on these data differ from the fitted model's")
    return X, offset


def _scalars(levels):
    """True for a list of distinct hashable levels (no lists, dicts or arrays)."""
    return isinstance(levels, list) and not any(
        isinstance(level, (list, dict, np.ndarray)) for level in levels) \
        and len(set(levels)) == len(levels)


def attach(result, frame):
    """Name a fit of ``frame``'s arrays: feature_names, terms, formula_spec, n_dropped."""
    result.update(feature_names=list(frame.feature_names), terms=dict(frame.terms),
                  formula_spec=frame.spec, n_dropped=frame.n_dropped)
    return result


def fit_formula(fit, formula, y, data, dropna, options):
    """``ngd.fit(formula, data=df, ...)``: the model frame, then ``fit`` on its arrays.
    options: fit's other arguments (per-row ones may name columns of ``data``)."""
    if y is not None:
        hint = "; pass the table as data=" if _is_table(y) else ""
        raise TypeError("y must be omitted when X is a formula: the response is the formula's "
                        f"left-hand side ('y ~ ...'){hint}")
    if data is None:
        raise TypeError("a formula needs data=: a pandas or polars DataFrame or a pyarrow "
                        "Table")
    per_row = {name: options.pop(name) for name in PER_ROW if name in options}
    frame = model_frame(formula, data, dropna=dropna, **per_row)
    if frame.X.shape[1] == 0:
        raise DataError(f"formula {formula!r} has no terms besides the intercept; ngd fits "
                        "at least one column")
    if not options.pop("fit_intercept", True) and frame.fit_intercept:
        raise ValueError("fit_intercept=False conflicts with the formula's intercept: write "
                         "'y ~ 0 + ...' (or '... - 1') for a fit without one")
    if frame.offset is not None:
        if frame.per_row.get("offset") is not None:
            raise ValueError("the offset is given twice: in the formula (offset(...)) and as "
                             "offset=")
        frame.per_row["offset"] = frame.offset
    result = fit(frame.X, frame.y, fit_intercept=frame.fit_intercept, **frame.per_row,
                 **options)
    return attach(result, frame)
