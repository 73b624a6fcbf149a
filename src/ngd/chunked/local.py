"""``ngd.fit(..., backend="chunked")``: the chunked objective in this process, over the row
chunks of numpy arrays -- typically a memory-mapped ``.npy`` larger than memory."""
import dataclasses
import functools
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ngd import _sparse
from ngd.chunked import tasks
from ngd.chunked.fit import ChunkedBackend, task_spec
from ngd.chunked.model import ChunkedModel
from ngd.exceptions import DataError
from ngd.fitting import FitData
from ngd.io.chunks import ChunkSource
from ngd.spec import split_options

CHUNK_BYTES = 64 << 20          # default chunk: about 64 MB of X ...
MAX_CHUNK_ROWS = 1 << 18        # ... and at most this many rows (each per-row temporary of a
MIN_CHUNK_ROWS = 1024           # chunk's evaluation is then 2 MB)
ARRAYS = ("X", "y", "w", "offset", "trials")


def default_chunk_rows(n_features, itemsize=8):
    """Rows per chunk: about CHUNK_BYTES of X, within [MIN_CHUNK_ROWS, MAX_CHUNK_ROWS]."""
    rows = CHUNK_BYTES // (itemsize * max(n_features, 1))
    return int(min(MAX_CHUNK_ROWS, max(MIN_CHUNK_ROWS, rows)))


class LocalChunkedModel(ChunkedModel):
    """A :class:`ChunkedModel` whose passes run the chunk tasks here on the row chunks
    [a, a + chunk_rows), adding the results in chunk order to a running sum: memory holds the
    temporaries of the chunks in flight and the p x p sums, whatever n is. With n_threads > 1
    the chunks run on a pool of n_threads threads, each chunk's kernels single-threaded (the
    kernels release the GIL): the threads never wait on each other inside a chunk, which keeps
    a pass fast on a busy machine, and the sums are the same for any thread count."""

    def __init__(self, X, y, spec, sample_weight=None, offset=None, trials=None, l2=0.0,
                 chunk_rows=None, n_threads=1):
        n, p = X.shape
        rows = default_chunk_rows(p, X.dtype.itemsize) if chunk_rows is None else chunk_rows
        self._arrays = dict(zip(ARRAYS, (X, y, sample_weight, offset, trials)))
        self._bounds = [(a, min(a + rows, n)) for a in range(0, n, rows)]
        self.chunk_rows = [b - a for a, b in self._bounds]
        self._workers = min(n_threads, len(self._bounds))
        super().__init__(dict(spec, n_threads=1 if self._workers > 1 else n_threads), n, p,
                         offset is not None, l2)

    def _chunk(self, key, a, b):
        array = self._arrays[key]
        if array is None:
            return None
        part = array[a:b]
        if key == "X" and part.dtype not in (np.float32, np.float64):
            part = part.astype(np.float64)
        return part

    def _run_chunk(self, task, args, use_X, bounds):
        """task(spec, args, a, X[a:b], y[a:b], ...) on the chunk [a, b) (X None unless use_X)."""
        a, b = bounds
        return task(self.spec, args, a, *[self._chunk(key, a, b) if key != "X" or use_X
                                          else None for key in ARRAYS])

    def _map_reduce(self, task, args, label="pass", use_X=True):
        """sum over chunks of :meth:`_run_chunk`, added in chunk order."""
        run = functools.partial(self._run_chunk, task, args, use_X)
        self.n_passes += 1
        if self._workers == 1:
            return functools.reduce(tasks.add, map(run, self._bounds))
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="ngd-chunk")
        try:
            return functools.reduce(tasks.add, pool.map(run, self._bounds))
        finally:                        # a chunk's error stops the chunks not yet started
            pool.shutdown(cancel_futures=True)


class SourceChunkedModel(LocalChunkedModel):
    """A :class:`LocalChunkedModel` over the chunks of a :class:`ngd.io.chunks.ChunkSource`
    (e.g. the row groups of a Parquet file): each chunk is read when its task runs, piece by
    piece, and the task's sums over its pieces are added; nothing outside the chunks in flight
    is held, not even y."""

    def __init__(self, source, spec, l2=0.0, n_threads=1):
        self._source = source
        self._bounds = list(range(len(source.chunk_rows)))
        self.chunk_rows = list(source.chunk_rows)
        self._workers = min(n_threads, len(self._bounds))
        ChunkedModel.__init__(self, dict(spec, n_threads=1 if self._workers > 1 else n_threads),
                              source.n_samples, source.n_features, "offset" in source.present,
                              l2)

    def _run_chunk(self, task, args, use_X, k):
        return functools.reduce(tasks.add, (task(self.spec, args, *piece)
                                             for piece in self._source.read_chunk(k, use_X)))


def _check_source_arguments(y, sample_weight, offset, trials, chunk_rows):
    given = [name for name, value in (("y", y), ("sample_weight", sample_weight),
                                      ("offset", offset), ("trials", trials),
                                      ("chunk_rows", chunk_rows)) if value is not None]
    if given:
        raise ValueError(f"X is a chunk source, which reads y and the per-row columns with its "
                         f"own chunks: pass {', '.join(given)} as None")


def _matrix(X):
    if _sparse.is_sparse(X):
        raise TypeError("backend='chunked' takes a dense X (numpy array or memory-mapped "
                        ".npy); sparse X is fitted in memory by backend='numpy'")
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise DataError(f"X must have at least one row and one column, got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    return X


def _vector(v, n, name):
    if v is None:
        return None
    v = v if isinstance(v, np.ndarray) else np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != n:
        raise DataError(f"{name} must have shape ({n},) to match X, got {v.shape}")
    if name != "y" and v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")
    return v


def fit(X, y, *, trials=None, sample_weight=None, offset=None, chunk_rows=None,
        statistics=True, **options):
    """``ngd.fit(X, y, backend="chunked", **options)`` without the front door's table and
    formula conversions: ``options`` are ``ngd.fit``'s model and solver keywords (their
    defaults: ngd.spec), run by :func:`fit_spec`."""
    spec, solver = split_options(dict(options, trials=trials is not None))
    return fit_spec(spec, solver, FitData(X, y, sample_weight, offset, trials),
                    chunk_rows=chunk_rows, statistics=statistics)


class LocalBackend(ChunkedBackend):
    """``backend="chunked"``: the chunked model of this process (:class:`LocalChunkedModel`,
    or :class:`SourceChunkedModel` on a :class:`ngd.io.chunks.ChunkSource`) with
    ``chunk_rows`` rows per chunk (None: :func:`default_chunk_rows`)."""

    name = "chunked"

    def __init__(self, chunk_rows=None):
        if chunk_rows is not None and (isinstance(chunk_rows, bool) or
                                       not isinstance(chunk_rows, numbers.Integral)
                                       or chunk_rows < 1):
            raise ValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
        self.chunk_rows = chunk_rows

    def check(self, spec, options=None, data=None):
        if data is not None and isinstance(data.X, ChunkSource):
            _check_source_arguments(data.y, data.sample_weight, data.offset, data.trials,
                                    self.chunk_rows)
        super().check(spec, options, data)

    def build(self, spec, data, threads):
        """(model, dtype name) of ``spec`` on ``data``: every evaluation one pass over the row
        chunks of X, y, sample_weight, offset, trials (numpy arrays, memory-mapped ones
        included, never copied whole), or over a chunk source's chunks, which bring y and its
        per-row columns."""
        X = data.X
        if isinstance(X, ChunkSource):      # its per-row columns come with its chunks
            spec = dataclasses.replace(spec, trials="trials" in X.present)
            if not (X.n_samples and X.n_features):
                raise DataError(f"X must have at least one row and one column, got {X.shape}")
            model = SourceChunkedModel(X, task_spec(spec), l2=spec.model_l2, n_threads=threads)
            return model, X.dtype.name
        X = _matrix(X)
        n = X.shape[0]
        model = LocalChunkedModel(X, _vector(data.y, n, "y"), task_spec(spec),
                                  sample_weight=_vector(data.sample_weight, n, "sample_weight"),
                                  offset=_vector(data.offset, n, "offset"),
                                  trials=_vector(data.trials, n, "trials"), l2=spec.model_l2,
                                  chunk_rows=self.chunk_rows, n_threads=threads)
        return model, (X.dtype.name if X.dtype in (np.float32, np.float64) else "float64")


def fit_spec(spec, options, data, *, chunk_rows=None, statistics=True):
    """``ngd.fit`` chunk by chunk (``ngd.fit(..., backend="chunked")``) of ``spec`` (an
    :class:`ngd.spec.ModelSpec`) by ``options`` (an :class:`ngd.spec.SolverOptions`) on
    ``data`` (an ``ngd.fitting.FitData``; see :class:`LocalBackend`): the curvature's Gram
    formed in each pass (on a seeded row subsample with ``subsample``), the p x p solve after
    it. chunk_rows: rows per chunk (default: about 64 MB of X, at most 262 144 rows). X may
    be a :class:`ngd.io.chunks.ChunkSource` (e.g. ``ngd.io.arrow.read_parquet_chunks``),
    which reads y and its per-row columns with its own chunks (y, sample_weight, offset,
    trials and chunk_rows are then None). Same optimum, standard errors and deviances as the
    in-memory fit; ``result.n_passes`` counts the passes."""
    return LocalBackend(chunk_rows).fit(spec, options, data, statistics=statistics)
