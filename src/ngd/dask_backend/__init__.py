"""The Dask backend: ``ngd.fit(..., backend="dask")`` on data held in a ``dask.array``.

X lives in a dask array split into row chunks (all columns in one chunk); y, sample_weight,
offset and trials are dask or numpy vectors aligned with those chunks. :class:`DaskModel`
has the model interface the shared optimiser loop needs (``evaluate``, ``curvature_matrix``,
...) and computes, per call of ``evaluate(theta, curvature)``, ONE pass over the data:

- on the workers, for every row chunk, an ordinary in-memory ngd model (``LogisticModel`` or
  ``GLM``) is built on the chunk's rows and ngd's fused kernel gives the chunk's loss sum,
  gradient sum and curvature weights, from which ngd's Gram kernel forms the chunk's
  curvature [X, 1]^T diag(v) [X, 1] in the same task;
- Dask sums the (loss, gradient, Gram) triples by a tree reduction;
- the client divides by sum w, adds the L2 terms, and the optimiser solves the p x p system.

The objective is the one of DESIGN.md (identical scale conventions to the in-memory models),
so the optimum equals the in-memory fit to rounding. ``evaluate`` returns an ``Evaluation``
whose ``weights`` is a :class:`ReducedCurvature` token carrying the reduced Gram;
``curvature_matrix(token)`` returns it (+ l2 on the coef diagonal).

Scope: models "logistic" and the GLM families (any link; sample_weight, offset, trials,
intercept, l2); methods "ngd" (fisher "exact", "empirical" or "observed"; logistic also
"bohning") and "newton"; solver "cholesky" (the Gram is formed anyway); no row subsample of
the curvature (``subsample`` must be "auto" or None; every pass computes the full Gram);
no softmax, L1/elastic net, SGD/SQN/Adam or diagonal Fisher.

Statistics (standard errors, dispersion, deviance, AIC/BIC) take two more passes after the
fit: one at the final theta for the exact Fisher Gram (and the empirical one for
cov_type="robust"), the deviance, Pearson's chi^2 and the null deviance, and one for the
log-likelihood at the estimated dispersion. The null deviance is not available (nan) for a
model with both an intercept and an offset (it needs its own iterative fit). ``result.check()``
(the Fisher propositions) needs in-memory data and is not supported.

Data stay where Dask keeps them: with a distributed client, ``persist="auto"`` persists the
arrays on the workers when they take at most half of the workers' memory (then each pass
reads worker memory); larger data are re-read from their source (e.g. ``.npy`` files on
storage every worker can reach) on every pass.
"""
from ngd.dask_backend.cluster import cluster_client, fit_methods
from ngd.dask_backend.data import as_dask_dataset, csv_dataset, file_dataset, npy_dataset
from ngd.dask_backend.model import DaskModel, ReducedCurvature, default_client, fit

__all__ = ["fit", "DaskModel", "ReducedCurvature", "default_client", "npy_dataset",
           "csv_dataset", "file_dataset", "as_dask_dataset", "cluster_client", "fit_methods"]
