"""Parquet and Arrow IPC data for the chunked backend, read one row group (or record batch)
at a time with column projection: :class:`ArrowChunks` and :func:`read_arrow_chunks`.

A chunk is a Parquet row group or an IPC record batch, read in pieces of at most
``piece_rows`` rows (the chunked backend's chunk size for this many columns of X): a task
holds the piece's projected columns, its X (piece rows x columns of X) and its model's
temporaries, never the whole X nor any length-n vector.

Categorical features (string and dictionary columns, and the ``categorical=`` ones) need
their levels before the first pass: one survey pass over those columns alone finds them,
with the rules of the in-memory read (``ngd.frames``: sorted, a dictionary's order, numeric
order for numbers), and each piece's X then holds their one-hot columns, densely (the piece
is small). Missing cells (null, NaN) are an error at the first pass that meets them, or with
``dropna`` are dropped: the survey then reads every used column and counts the rows each
chunk keeps.
"""
import numpy as np

from ngd.exceptions import DataError
from ngd.frames import check_magnitude
from ngd.io.arrow import (NUMERIC, ArrowInput, Columns, RowNumbers, per_row_values, screen,
                          target_values)
from ngd.io.chunks import ChunkSource
from ngd.io.dataset import Dataset


class _Levels:
    """The levels of one categorical column, gathered piece by piece as ngd.frames finds
    them in the whole column: the labels present, and a dictionary's declared order."""

    def __init__(self, numeric):
        self.numeric = numeric
        self.present = set()
        self.order = None               # declared categories in order of first appearance

    def add(self, raw):
        used = np.bincount(raw.codes, minlength=len(raw.uniques)) > 0
        self.present.update(u for u, hit in zip(raw.uniques, used) if hit)
        if raw.categories is not None and not self.numeric:
            self.order = list(dict.fromkeys((self.order or []) + list(raw.categories)))

    def levels(self):
        if self.numeric:
            return sorted(self.present, key=float)
        if self.order is None:
            return sorted(self.present)
        return [level for level in self.order if level in self.present]


class ArrowChunks(ChunkSource):
    """The rows of a Parquet file / dataset or Arrow IPC file as a
    :class:`ngd.io.chunks.ChunkSource` (see the module docstring). ``feature_names`` and
    ``spec`` (an ``ngd.frames.TableSpec``) describe X as the in-memory read would;
    ``n_dropped`` and ``dropped_rows`` (the first 10, counted from 0) report the rows
    ``dropna`` dropped."""

    def __init__(self, source, columns, dropna=False, piece_rows=None):
        from ngd import frames
        from ngd.chunked.local import default_chunk_rows
        if columns.target is None:
            raise DataError(f"{source.path}: a chunked read needs a target column")
        self.path = source.path
        self.columns = columns
        self.dropna = bool(dropna)
        categorical = [c for c in columns.features
                       if columns.kinds[c] != NUMERIC or c in columns.categorical]
        self.piece_rows = int(piece_rows or default_chunk_rows(len(columns.features)))
        pieces = source.pieces()
        file_starts = np.concatenate([[0], np.cumsum([rows for rows, _ in pieces])])
        self.n_dropped, self.dropped_rows = 0, []
        levels = {c: _Levels(columns.kinds[c] == NUMERIC) for c in categorical}
        kept = [rows for rows, _ in pieces]
        if self.dropna or categorical:
            kept = [self._survey(read, int(start), levels)
                    for (_, read), start in zip(pieces, file_starts)]
        self.spec = frames.TableSpec(
            list(columns.features),
            {c: frames.CATEGORICAL if c in levels else frames.NUMERIC for c in columns.features},
            {c: list(columns.levels[c]) if columns.levels and c in columns.levels
             else found.levels() for c, found in levels.items()},
            {c: True for c in levels})
        self.feature_names = _names(self.spec)
        if not self.feature_names:
            raise DataError(f"{self.path}: no feature columns left after encoding (each "
                            "categorical column has a single level)")
        if categorical and piece_rows is None:
            self.piece_rows = default_chunk_rows(len(self.feature_names))
        chosen = [k for k, rows in enumerate(kept) if rows > 0]
        self._readers = [pieces[k][1] for k in chosen]
        self._file_starts = [int(file_starts[k]) for k in chosen]
        super().__init__(len(self.feature_names), [kept[k] for k in chosen],
                         {key for key, what in (("w", "weights"), ("offset", "offset"),
                                                ("trials", "trials"))
                          if what in columns.extra})
        if self.n_samples == 0:
            raise DataError(f"{self.path}: every row has a missing cell ({self.n_dropped} "
                            "rows dropped)" if self.n_dropped else f"{self.path}: no data rows")

    def _survey(self, read, first_row, levels):
        """Rows of one chunk that are kept (without a missing cell among the used columns,
        with ``dropna``), and the levels of its categorical columns (added to ``levels``)."""
        from ngd import frames
        names = self.columns.used if self.dropna else list(levels)
        kept = 0
        for table in read(names, self.piece_rows):
            rows, dropped = screen(table, names, self.dropna, first_row, where=f"{self.path}: ")
            kept += rows.num_rows
            self.n_dropped += dropped.size
            self.dropped_rows += dropped[:10 - len(self.dropped_rows)].tolist()
            for name, found in levels.items():
                found.add(frames.read_column(rows, name, as_categorical=True))
            first_row += table.num_rows
        return kept

    def _read(self, k, use_X):
        columns = self.columns
        per_row = list(columns.extra.values()) + [columns.target]
        names = columns.used if use_X or self.dropna else list(dict.fromkeys(per_row))
        first_row = self._file_starts[k]
        for table in self._readers[k](names, self.piece_rows):
            rows = table.num_rows
            table, dropped = screen(table, names, self.dropna, first_row)
            if table.num_rows:
                where = RowNumbers(first_row, dropped)
                X = self._X(table, where) if use_X else None
                yield X, target_values(table, columns), _short_names(
                    per_row_values(table, columns, where))
            first_row += rows

    def _X(self, table, where):
        """The piece's X as the in-memory read builds it, one-hot columns dense."""
        from ngd import frames
        design = frames.design_from_frame(table.select(self.columns.features), spec=self.spec)
        if not hasattr(design.X, "dense"):
            dense, blocks = design.X, []
        else:
            dense, blocks = design.X.dense, design.X.categoricals
        numeric = [c for c in self.spec.columns if self.spec.kinds[c] == frames.NUMERIC]
        for j, name in enumerate(numeric):
            check_magnitude(name, dense[:, j], where)
        if not blocks:
            return np.ascontiguousarray(dense, dtype=self.dtype)
        X = np.zeros((table.num_rows, self.n_features), dtype=self.dtype)
        X[:, :dense.shape[1]] = dense
        start = dense.shape[1]
        for block in blocks:                    # code -1: the reference level, no column
            rows = np.flatnonzero(block.codes >= 0)
            X[rows, start + block.codes[rows]] = 1.0
            start += block.n_columns
        return X


def _names(spec):
    """The X column names of a spec, as ngd.frames names them (numeric columns, then each
    categorical's ``name=level`` columns)."""
    from ngd import frames
    from ngd.design import Categorical, Design
    numeric = [c for c in spec.columns if spec.kinds[c] == frames.NUMERIC]
    blocks = [Categorical(c, np.empty(0), spec.levels[c], spec.drop_first[c])
              for c in spec.columns if spec.kinds[c] == frames.CATEGORICAL]
    return Design(np.empty((0, len(numeric))), blocks, numeric).feature_names


def _short_names(extra):
    """{weights, offset, trials} -> {w, offset, trials} (the ChunkSource keys)."""
    return {("w" if what == "weights" else what): values for what, values in extra.items()}


def read_arrow_chunks(path, target=None, *, features=None, weights=None, offset=None,
                      trials=None, categorical=None, dropna=False, ignore=(), piece_rows=None,
                      min_bytes=0):
    """A :class:`Dataset` whose X is an :class:`ArrowChunks` over ``path`` (a Parquet file or
    directory, or an Arrow IPC file; column options as :func:`ngd.io.arrow.read_parquet`),
    its y and per-row columns None (they come with the chunks), for
    ``ngd.fit(dataset.X, None, backend="chunked")``. With ``min_bytes`` > 0, None when the
    features as float64 would take fewer bytes or the data cannot be read in chunks (an IPC
    stream): the caller then reads it in memory."""
    source = ArrowInput(path)
    columns = Columns(source, target, features, weights, offset, trials, categorical, True,
                      ignore)
    if min_bytes > 0:
        rows = source.num_rows
        if rows is None or rows * len(columns.features) * 8 < min_bytes:
            return None
    chunks = ArrowChunks(source, columns, dropna=dropna, piece_rows=piece_rows)
    return Dataset(X=chunks, y=None, feature_names=list(chunks.feature_names),
                   target_name=columns.target, source=str(path),
                   columns=list(columns.features), categories=chunks.spec.categories,
                   weights_name=columns.extra.get("weights"),
                   offset_name=columns.extra.get("offset"),
                   trials_name=columns.extra.get("trials"), n_dropped=chunks.n_dropped,
                   dropped_lines=list(chunks.dropped_rows))
