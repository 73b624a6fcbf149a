"""Parquet and Arrow IPC data for the chunked backend, read one row group (or record batch)
at a time with column projection: :class:`ArrowChunks` and :func:`read_arrow_chunks`.

A chunk is a Parquet row group or an IPC record batch, read in pieces of at most
``piece_rows`` rows (the chunked backend's chunk size for this many features): a task holds
the piece's projected columns, its X (pieces x features) and its model's temporaries, never
the whole X nor any length-n vector. Features must be numeric or boolean columns (categorical
blocks need their levels before the first pass: read such data in memory). Missing cells
(null, NaN) are an error at the first pass that meets them, or with ``dropna`` are dropped:
one pass over the used columns then counts the rows each chunk keeps.
"""
import numpy as np

from ngd.exceptions import DataError
from ngd.io.arrow import (NUMERIC, ArrowInput, Columns, RowNumbers, check_magnitude,
                          per_row_values, screen, target_values)
from ngd.io.chunks import ChunkSource
from ngd.io.dataset import Dataset


class ArrowChunks(ChunkSource):
    """The rows of a Parquet file / dataset or Arrow IPC file as a
    :class:`ngd.io.chunks.ChunkSource` (see the module docstring). ``n_dropped`` and
    ``dropped_rows`` (the first 10, counted from 0) report the rows ``dropna`` dropped."""

    def __init__(self, source, columns, dropna=False, piece_rows=None):
        from ngd.chunked.local import default_chunk_rows
        if columns.target is None:
            raise DataError(f"{source.path}: a chunked read needs a target column")
        self.path = source.path
        self.columns = columns
        self.dropna = bool(dropna)
        self.piece_rows = int(piece_rows or default_chunk_rows(len(columns.features)))
        pieces = source.pieces()
        file_starts = np.concatenate([[0], np.cumsum([rows for rows, _ in pieces])])
        self.n_dropped, self.dropped_rows = 0, []
        kept = [rows for rows, _ in pieces]
        if self.dropna:
            kept = [self._count(read, start) for (_, read), start in zip(pieces, file_starts)]
        chosen = [k for k, rows in enumerate(kept) if rows > 0]
        self._readers = [pieces[k][1] for k in chosen]
        self._file_starts = [int(file_starts[k]) for k in chosen]
        super().__init__(len(columns.features), [kept[k] for k in chosen],
                         {key for key, what in (("w", "weights"), ("offset", "offset"),
                                                ("trials", "trials"))
                          if what in columns.extra})
        if self.n_samples == 0:
            raise DataError(f"{self.path}: every row has a missing cell ({self.n_dropped} "
                            "rows dropped)" if self.n_dropped else f"{self.path}: no data rows")

    def _count(self, read, first_row):
        """Rows of one chunk without a missing cell among the used columns."""
        kept = 0
        for table in read(self.columns.used, self.piece_rows):
            rows, dropped = screen(table, self.columns.used, True, first_row)
            kept += rows.num_rows
            self.n_dropped += dropped.size
            self.dropped_rows += dropped[:10 - len(self.dropped_rows)].tolist()
            first_row += table.num_rows
        return kept

    def _read(self, k, use_X):
        from ngd import frames
        columns = self.columns
        per_row = list(columns.extra.values()) + [columns.target]
        names = columns.used if use_X or self.dropna else list(dict.fromkeys(per_row))
        first_row = self._file_starts[k]
        for table in self._readers[k](names, self.piece_rows):
            rows = table.num_rows
            table, dropped = screen(table, names, self.dropna, first_row)
            if table.num_rows:
                where = RowNumbers(first_row, dropped)
                X = None
                if use_X:
                    X = np.empty((table.num_rows, len(columns.features)), dtype=self.dtype)
                    for j, name in enumerate(columns.features):
                        values = frames.column_values(table, name)
                        check_magnitude(name, values, where)
                        X[:, j] = values
                yield X, target_values(table, columns), _short_names(
                    per_row_values(table, columns, where))
            first_row += rows


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
    float64 X would take fewer bytes or when the data cannot be chunked (categorical
    features, an IPC stream): the caller then reads it in memory."""
    source = ArrowInput(path)
    columns = Columns(source, target, features, weights, offset, trials, categorical, True,
                      ignore)
    text = [c for c in columns.features if columns.kinds[c] != NUMERIC] + columns.categorical
    if min_bytes > 0:
        rows = source.num_rows
        if text or rows is None or rows * len(columns.features) * 8 < min_bytes:
            return None
    elif text:
        raise DataError(f"{path}: a chunked fit takes numeric or boolean features; "
                        f"{', '.join(repr(c) for c in dict.fromkeys(text))} "
                        f"{'is' if len(set(text)) == 1 else 'are'} categorical (fit in memory: "
                        "--backend numpy)")
    chunks = ArrowChunks(source, columns, dropna=dropna, piece_rows=piece_rows)
    return Dataset(X=chunks, y=None, feature_names=list(columns.features),
                   target_name=columns.target, source=str(path),
                   columns=list(columns.features), weights_name=columns.extra.get("weights"),
                   offset_name=columns.extra.get("offset"),
                   trials_name=columns.extra.get("trials"), n_dropped=chunks.n_dropped,
                   dropped_lines=list(chunks.dropped_rows))
