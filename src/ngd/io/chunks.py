"""Data read from storage one row chunk at a time: the interface between a reader that cannot
(or should not) hold all rows in memory and the chunked backend (``ngd.chunked``)."""
import numpy as np

PER_ROW = ("w", "offset", "trials")


class ChunkSource:
    """Rows (X, y and the optional per-row columns w, offset, trials) in ``len(chunk_rows)``
    chunks, chunk k holding ``chunk_rows[k] > 0`` rows, read on demand by
    :meth:`read_chunk`. ``present`` names the per-row columns the source has; ``dtype`` is
    the float type X is delivered in. ``shape`` and ``nbytes`` describe the X that a full read
    would build (nothing of that size is ever allocated).

    Subclasses implement :meth:`_read(k, use_X) <_read>`; :meth:`read_chunk` may be called
    from several threads at once, for different chunks.
    """

    ndim = 2

    def __init__(self, n_features, chunk_rows, present=(), dtype=np.float64):
        self.n_features = int(n_features)
        self.chunk_rows = [int(rows) for rows in chunk_rows]
        self.starts = np.concatenate([[0], np.cumsum(self.chunk_rows)]).astype(np.int64)
        self.present = frozenset(present)
        unknown = self.present - set(PER_ROW)
        if unknown:
            raise ValueError(f"unknown per-row column(s) {sorted(unknown)}; use {PER_ROW}")
        self.dtype = np.dtype(dtype)

    @property
    def n_samples(self):
        return int(self.starts[-1])

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    @property
    def nbytes(self):
        return self.n_samples * self.n_features * self.dtype.itemsize

    def astype(self, dtype):
        """The same source delivering X as ``dtype`` (float32 or float64)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"a chunk source delivers float32 or float64 X, not {dtype}")
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.dtype = dtype
        return copy

    def read_chunk(self, k, use_X=True):
        """The pieces of chunk k as tuples (start, X, y, w, offset, trials): start is the
        piece's first row in the whole data, X (rows, n_features) of ``dtype`` (None unless
        use_X), y as labels or float64, the per-row columns float64 or None when absent. The
        pieces' rows add up to ``chunk_rows[k]``."""
        start = int(self.starts[k])
        for X, y, extra in self._read(k, use_X):
            yield (start, X, y, extra.get("w"), extra.get("offset"), extra.get("trials"))
            start += len(y)

    def _read(self, k, use_X):
        """Yield (X or None, y, {per-row name: float64 array}) for the pieces of chunk k."""
        raise NotImplementedError
