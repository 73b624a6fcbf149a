"""The Dask backend: ``ngd.fit(..., backend="dask")`` on data held in a ``dask.array``.

X lives in a dask array split into row chunks (all columns in one chunk); y, sample_weight,
offset and trials are dask or numpy vectors aligned with those chunks. :class:`DaskModel` is
the chunked model of :mod:`ngd.chunked` (same scope, same one pass per evaluation, same
optional row subsample of the curvature) whose passes run on the workers: for every row chunk
a task of ``ngd.chunked.tasks`` builds an ordinary in-memory ngd model on the chunk's rows and
returns its (loss, gradient, Gram) sums from ngd's kernels; Dask sums them by a tree
reduction (fan-in 8); the client divides by sum w, adds the L2 terms and solves the p x p
system. ``result.check()`` (the Fisher propositions) needs in-memory data and is not
supported.

Data stay where Dask keeps them: with a distributed client, ``persist="auto"`` persists the
arrays on the workers when they take at most half of the workers' memory (then each pass
reads worker memory); larger data are re-read from their source (e.g. ``.npy`` files on
storage every worker can reach) on every pass.
"""
from ngd.dask_backend.cluster import cluster_client
from ngd.dask_backend.data import as_dask_dataset, csv_dataset, file_dataset, npy_dataset
from ngd.chunked.model import ReducedCurvature
from ngd.dask_backend.model import DaskModel, default_client, fit

__all__ = ["fit", "DaskModel", "ReducedCurvature", "default_client", "npy_dataset",
           "csv_dataset", "file_dataset", "as_dask_dataset", "cluster_client"]
