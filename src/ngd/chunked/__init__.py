"""Chunked fits: ``ngd.fit(..., backend="chunked")`` (row chunks of numpy / memory-mapped
arrays, in this process) and the base of ``backend="dask"`` (row chunks on Dask's workers).

Every call of ``evaluate(theta, curvature)`` is ONE pass over the data: for every row chunk,
an ordinary in-memory ngd model (``LogisticModel``, ``SoftmaxModel`` or ``GLM``) is built on
the chunk's rows,
ngd's fused kernel gives its loss sum, gradient sum and curvature weights w_i v_i, and ngd's
Gram kernel forms sum_i w_i v_i x~_i x~_i^T over the chunk's rows -- or over those of its
rows in a seeded row subsample (``subsample=``: gradient on all rows, curvature on about m of
them, grown as ngd.fisher.RowSubsample grows it). The sums are added chunk by chunk
(locally) or by a tree (Dask); the model divides by sum w, adds the L2 terms, and the
optimiser solves the p x p system. Memory: one chunk's temporaries plus p x p sums.

The objective is that of DESIGN.md with the in-memory models' scale conventions, so the
optimum equals the in-memory fit to rounding.

Scope: "logistic", "softmax" and the GLM families (any link; sample_weight, offset except
for softmax, trials, intercept, l2); methods "ngd" (fisher "exact", "empirical" or
"observed"; logistic also "bohning") and "newton"; solver "cholesky"; the elastic net
(alpha, l1_ratio, penalty_factor) by ngd.elastic_net's proximal NGD with the reduced Gram as
curvature. No paths or cross-validation, SGD/SQN/Adam or diagonal Fisher.
Statistics take passes after the fit: one at the final theta (exact Fisher Gram, empirical
one for cov_type="robust", deviance, Pearson chi^2), one for a GLM's log-likelihood
(logistic and softmax: -deviance / 2), and the null deviance's passes over y, w and the offset
(not X): its intercept-only fit, one pass without an offset (the start is the MLE).
"""
from ngd.chunked.local import LocalChunkedModel, fit
from ngd.chunked.model import ChunkedModel, ChunkedSubsample, ReducedCurvature

__all__ = ["fit", "ChunkedModel", "LocalChunkedModel", "ChunkedSubsample", "ReducedCurvature"]
