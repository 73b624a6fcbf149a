"""Client side of the Dask backend: :class:`DaskModel` (a :class:`ngd.chunked.ChunkedModel`
whose passes run on Dask's workers over row-chunked dask arrays, tree-summed) and
:func:`fit`."""
import itertools
import math

import numpy as np

from ngd import _sparse
from ngd.chunked import tasks
from ngd.chunked.fit import ChunkedBackend, task_spec
from ngd.chunked.model import ChunkedModel
from ngd.exceptions import DataError
from ngd.fitting import FitData
from ngd.spec import split_options

FAN_IN = 8                              # tree reduction: sums of at most 8 partial results
_PASS_IDS = itertools.count()


class DaskModel(ChunkedModel):
    """Logistic, softmax or GLM objective on row-chunked dask arrays: each pass is one task per
    chunk on the workers (``ngd.chunked.tasks``), summed by a tree of fan-in FAN_IN."""

    def __init__(self, X, y, spec, sample_weight=None, offset=None, trials=None, l2=0.0,
                 client=None, persist="auto"):
        self.client = client
        arrays = {"X": X, "y": y, "w": sample_weight, "offset": offset, "trials": trials}
        arrays = self._maybe_persist(arrays, persist)
        self._arrays = arrays           # holds persisted data (their futures) for the fit
        self._blocks = {key: None if a is None else a.to_delayed().ravel().tolist()
                        for key, a in arrays.items()}
        self.chunk_rows = [int(c) for c in X.chunks[0]]
        self._starts = np.concatenate([[0], np.cumsum(self.chunk_rows)[:-1]]).astype(int)
        self.pass_keys = []             # key prefix of each pass's chunk tasks
        super().__init__(spec, X.shape[0], X.shape[1], offset is not None, l2)

    def _maybe_persist(self, arrays, persist):
        if persist not in ("auto", True, False):
            raise ValueError(f"persist must be 'auto', True or False, got {persist!r}")
        if persist is False or self.client is None:
            return arrays
        if persist == "auto":
            nbytes = sum(a.nbytes for a in arrays.values() if a is not None)
            workers = self.client.scheduler_info().get("workers", {})
            memory = sum(info.get("memory_limit") or 0 for info in workers.values())
            if not memory or nbytes > memory / 2:
                return arrays
        keys = [k for k, a in arrays.items() if a is not None]
        persisted = self.client.persist([arrays[k] for k in keys])
        return dict(arrays, **dict(zip(keys, persisted)))

    def _chunk_args(self, i, use_X):
        return [None if self._blocks[key] is None or (key == "X" and not use_X)
                else self._blocks[key][i] for key in ("X", "y", "w", "offset", "trials")]

    def _map_reduce(self, task, args, label="pass", use_X=True):
        """Apply ``task(spec, args, start, X, y, w, offset, trials)`` to every chunk on the
        workers, sum the results by a tree reduction, return the sum (one pass)."""
        import dask
        prefix = f"ngd-{label}-{next(_PASS_IDS)}"
        parts = [dask.delayed(task, pure=False)(self.spec, args, int(self._starts[i]),
                                                *self._chunk_args(i, use_X),
                                                dask_key_name=f"{prefix}-chunk-{i}")
                 for i, rows in enumerate(self.chunk_rows) if rows > 0]
        level = 0
        while len(parts) > 1:
            parts = [dask.delayed(tasks.add, pure=False)(*parts[j:j + FAN_IN],
                                                        dask_key_name=f"{prefix}-sum-{level}-{j}")
                     for j in range(0, len(parts), FAN_IN)]
            level += 1
        self.n_passes += 1
        self.pass_keys.append(prefix)
        if self.client is not None:
            return self.client.compute(parts[0], sync=True)
        return parts[0].compute()

    def release(self):
        """Drop the references to the (persisted) data: the fit is done."""
        self._arrays = self._blocks = None


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------
def _as_dask_matrix(X, chunk_rows):
    import dask.array as da
    if hasattr(X, "to_dask_array"):                     # dask DataFrame
        X = X.to_dask_array(lengths=True)
    elif not isinstance(X, da.Array):
        X = np.asarray(X)
        X = da.from_array(X, chunks=(_row_chunks(X.shape[0], X.shape[1], chunk_rows), -1))
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise DataError("X has unknown chunk sizes; use to_dask_array(lengths=True) or "
                        "compute_chunk_sizes()")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise DataError(f"X must have at least one row and one column, got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _dense(X):
    """A scipy sparse X (checked) as a dense array: the workers get dense chunks."""
    if not _sparse.is_sparse(X):
        return X
    _sparse.check_structure(X, "X")
    try:
        return X.toarray()
    except MemoryError:
        raise DataError(f"X of shape {X.shape} does not fit in memory as a dense array "
                        "(the Dask backend sends dense chunks)") from None


def _row_chunks(n, p, chunk_rows):
    if chunk_rows is None:
        chunk_rows = max(1, (16 << 20) // (8 * max(p, 1)))      # about 16 MB per chunk
    return min(int(chunk_rows), n)


def _as_dask_vector(v, X, name):
    import dask.array as da
    if v is None:
        return None
    if hasattr(v, "to_dask_array"):                     # dask Series / one-column frame
        v = v.to_dask_array(lengths=True)
    if isinstance(v, da.Array):
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1 or v.shape[0] != X.shape[0]:
            raise DataError(f"{name} must have shape ({X.shape[0]},) to match X, "
                            f"got {v.shape}")
        return v.rechunk((X.chunks[0],))
    v = np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != X.shape[0]:
        raise DataError(f"{name} must have shape ({X.shape[0]},) to match X, got {v.shape}")
    if name != "y" and v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")
    return da.from_array(v, chunks=(X.chunks[0],))


def default_client():
    """The active ``dask.distributed`` client, or None (then Dask's default scheduler)."""
    try:
        from distributed import default_client as get
    except ImportError:
        return None
    try:
        return get()
    except ValueError:
        return None


def fit(X, y, *, trials=None, sample_weight=None, offset=None, chunk_rows=None, client=None,
        persist="auto", statistics=True, **options):
    """``ngd.fit(X, y, backend="dask", **options)`` without the front door's conversions:
    ``options`` are ``ngd.fit``'s model and solver keywords (their defaults: ngd.spec), run
    by :func:`fit_spec`."""
    spec, solver = split_options(dict(options, trials=trials is not None))
    return fit_spec(spec, solver, FitData(X, y, sample_weight, offset, trials),
                    chunk_rows=chunk_rows, client=client, persist=persist,
                    statistics=statistics)


class DaskBackend(ChunkedBackend):
    """``backend="dask"``: a :class:`DaskModel` on the data as row-chunked dask arrays (numpy
    inputs split into ``chunk_rows`` rows, default about 16 MB). client: a
    ``dask.distributed.Client`` (default: the active one, else Dask's default scheduler);
    persist: keep the data on the workers ("auto": when they fit in half of the workers'
    memory)."""

    name = "dask"

    def __init__(self, chunk_rows=None, client=None, persist="auto"):
        self.chunk_rows, self.client, self.persist = chunk_rows, client, persist

    def build(self, spec, data, threads):
        try:
            import dask.array  # noqa: F401  (a clear ImportError below)
        except ImportError:
            raise ImportError("backend='dask' needs dask: pip install 'ngd[dask]'") from None
        client = default_client() if self.client is None else self.client
        Xd = _as_dask_matrix(_dense(data.X), self.chunk_rows)
        model = DaskModel(Xd, _as_dask_vector(data.y, Xd, "y"), task_spec(spec),
                          sample_weight=_as_dask_vector(data.sample_weight, Xd,
                                                        "sample_weight"),
                          offset=_as_dask_vector(data.offset, Xd, "offset"),
                          trials=_as_dask_vector(data.trials, Xd, "trials"),
                          l2=spec.model_l2, client=client, persist=self.persist)
        return model, Xd.dtype.name

    def release(self, model):
        model.release()


def fit_spec(spec, options, data, *, chunk_rows=None, client=None, persist="auto",
             statistics=True):
    """``ngd.fit`` of ``spec`` by ``options`` on dask arrays (see the package docstring and
    :class:`DaskBackend`); ``ngd.fit(..., backend="dask")`` runs this. Returns a FitResult
    whose ``n_passes`` counts the passes over the data (fit and statistics)."""
    return DaskBackend(chunk_rows, client, persist).fit(spec, options, data,
                                                        statistics=statistics)
