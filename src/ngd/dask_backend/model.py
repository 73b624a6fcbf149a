"""Client side of the Dask backend: :class:`DaskModel` (the model interface of the shared
optimiser loop over row-chunked dask arrays, one pass per evaluation, tree-summed) and
:func:`fit`."""
import itertools
import math

import numpy as np

from ngd.dask_backend._chunks import (_add, _chunk_log_likelihood, _chunk_pass,
                                      _chunk_statistics, _chunk_summary)
from ngd.exceptions import DataError
from ngd.models.logistic import Evaluation

MODEL_METHODS = ("ngd", "newton")
FAN_IN = 8                              # tree reduction: sums of at most 8 partial results
_PASS_IDS = itertools.count()


class ReducedCurvature:
    """The curvature of one evaluation, reduced over all chunks: G / sum w with
    G = sum_chunks [X, 1]^T diag(w v) [X, 1] (without the L2 term)."""

    def __init__(self, gram):
        self.gram = gram


class DaskModel:
    """Logistic or GLM objective on row-chunked dask arrays (see the module docstring)."""

    def __init__(self, X, y, spec, sample_weight=None, offset=None, trials=None, l2=0.0,
                 client=None, persist="auto"):
        self.spec = spec
        self.client = client
        self.name = "logistic" if spec["name"] == "logistic" else spec["name"]
        self.fit_intercept = spec["fit_intercept"]
        self.l2 = float(l2)
        self.n_threads = 1
        arrays = {"X": X, "y": y, "w": sample_weight, "offset": offset, "trials": trials}
        arrays = self._maybe_persist(arrays, persist)
        self._arrays = arrays           # holds persisted data (their futures) for the fit
        self._blocks = {key: None if a is None else a.to_delayed().ravel().tolist()
                        for key, a in arrays.items()}
        self.chunk_rows = [int(c) for c in X.chunks[0]]
        self.n_samples, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.n_params = self.n_features + self.fit_intercept
        self.penalty_mask = np.arange(self.n_params) < self.n_features
        self.has_offset = offset is not None
        self.n_passes = 0
        self.pass_keys = []             # key prefix of each pass's chunk tasks
        self._stats = None
        if spec["name"] != "logistic":
            from ngd.models.families import check_link, get_family
            from ngd.models.links import get_link
            self.family = get_family(spec["name"], spec["power"])
            self.link = get_link(spec["link"] if spec["link"] is not None
                                 else self.family.canonical_link)
            check_link(self.family, self.link)
            self.family_name, self.link_name = self.family.name, self.link.name
        else:
            self.family_name, self.link_name = "binomial", "logit"
        self._summarise()

    # --- dask plumbing -------------------------------------------------------------
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

    def _chunk_args(self, i):
        return [None if self._blocks[key] is None else self._blocks[key][i]
                for key in ("X", "y", "w", "offset", "trials")]

    def _run_pass(self, function, *args, label="pass"):
        """Apply ``function(spec, *args, X, y, w, offset, trials)`` to every chunk on the
        workers, sum the results by a tree reduction, return the sum (one pass)."""
        import dask
        prefix = f"ngd-{label}-{next(_PASS_IDS)}"
        parts = [dask.delayed(function, pure=False)(self.spec, *args, *self._chunk_args(i),
                                                    dask_key_name=f"{prefix}-chunk-{i}")
                 for i, rows in enumerate(self.chunk_rows) if rows > 0]
        level = 0
        while len(parts) > 1:
            parts = [dask.delayed(_add, pure=False)(*parts[j:j + FAN_IN],
                                                   dask_key_name=f"{prefix}-sum-{level}-{j}")
                     for j in range(0, len(parts), FAN_IN)]
            level += 1
        self.n_passes += 1
        self.pass_keys.append(prefix)
        if self.client is not None:
            return self.client.compute(parts[0], sync=True)
        return parts[0].compute()

    def _summarise(self):
        starts = np.concatenate([[0], np.cumsum(self.chunk_rows)[:-1]]).astype(int)
        import dask
        parts = [dask.delayed(_chunk_summary, pure=False)(self.spec, int(starts[i]),
                                                          *self._chunk_args(i))
                 for i, rows in enumerate(self.chunk_rows) if rows > 0]
        root = dask.delayed(_add, pure=False)(*parts)
        summary = self.client.compute(root, sync=True) if self.client is not None \
            else root.compute()
        self.n_passes += 1
        self.weight_sum = float(summary["weight_sum"])
        if not self.weight_sum > 0:
            raise DataError("sample_weight must have a positive sum")
        if self.spec["name"] == "logistic":
            labels = summary["labels"]
            if len(labels) != 2:
                what = "only one class" if len(labels) == 1 else f"{len(labels)} distinct values"
                raise DataError(f"logistic regression needs exactly two classes in y, found "
                                f"{what}; use model='softmax' for more")
            classes = np.array(sorted(labels))
            self.spec["classes"] = classes.tolist()
            self.classes = classes
            self._wy = labels[classes[1].item()]
        else:
            self.classes = None
            self._wy = summary["wy"]
        self._woffset = summary["woffset"]

    def release(self):
        """Drop the references to the (persisted) data: the fit is done."""
        self._arrays = self._blocks = None

    # --- the model interface --------------------------------------------------------
    def split(self, theta):
        """(coef, intercept) from theta = [coef, intercept]."""
        return theta[:self.n_features], (float(theta[-1]) if self.fit_intercept else 0.0)

    def _ybar(self):
        ybar = self._wy / self.weight_sum
        if self.family_name == "binomial":
            ybar = min(max(ybar, 1e-10), 1 - 1e-10)
        return ybar

    def initial_theta(self):
        """coef = 0, intercept = g(weighted mean of y) - weighted mean offset (as the in-memory
        models); a GLM whose mean leaves the family's domain there has no Dask start."""
        theta = np.zeros(self.n_params)
        if self.fit_intercept:
            ybar = self._ybar()
            if self.spec["name"] == "logistic":
                theta[-1] = math.log(ybar / (1 - ybar))
            else:
                theta[-1] = float(self.link.link(np.array([ybar]))[0]) \
                    - self._woffset / self.weight_sum
        return theta

    def evaluate(self, theta, curvature=None):
        """Loss, gradient and (with a curvature) its reduced Gram, in one pass."""
        theta = np.asarray(theta, dtype=np.float64)
        loss, grad, gram, finite = self._run_pass(_chunk_pass, theta, curvature)
        if not finite:
            return Evaluation(np.inf, np.full(self.n_params, np.nan), None, curvature)
        coef, _ = self.split(theta)
        loss = loss / self.weight_sum + 0.5 * self.l2 * float(coef @ coef)
        grad = grad / self.weight_sum
        grad[:self.n_features] += self.l2 * coef
        weights = None if gram is None else ReducedCurvature(gram / self.weight_sum)
        return Evaluation(float(loss), grad, weights, curvature)

    def loss(self, theta):
        """L(theta) (one pass)."""
        return self.evaluate(theta).loss

    def gradient(self, theta):
        """grad L(theta) (one pass)."""
        return self.evaluate(theta).grad

    def curvature_matrix(self, weights, rows=None):
        """The reduced Gram + l2 on the coef diagonal (intercept unpenalised)."""
        if rows is not None:
            raise ValueError("the Dask backend has no row-subsampled curvature; "
                             "use subsample=None")
        out = np.array(weights.gram, dtype=np.float64)
        p = self.n_features
        out[np.arange(p), np.arange(p)] += self.l2
        return out

    def curvature_vector(self, weights, u, rows=None):
        """C u from the reduced Gram."""
        return self.curvature_matrix(weights, rows) @ u

    def curvature_diagonal(self, weights, rows=None):
        """diag(C) from the reduced Gram."""
        return np.diag(self.curvature_matrix(weights, rows)).copy()

    # --- statistics (used by ngd.statistics.attach_statistics) ----------------------
    cov_type = "model"

    @property
    def has_dispersion(self):
        """True for families with a free scale phi."""
        return self.spec["name"] != "logistic" and self.family.has_dispersion

    def _statistics(self, theta):
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if self._stats is None or self._stats[0] != key:
            if not self.fit_intercept:
                null = "zero"
            elif self.has_offset:
                null = None
            elif self.spec["name"] == "logistic":
                ybar = self._ybar()
                null = math.log(ybar / (1 - ybar))
            else:
                with np.errstate(all="ignore"):
                    null = float(self.link.link(np.array([self._ybar()]))[0])
            options = {"robust": self.cov_type == "robust", "null_eta": null}
            sums = self._run_pass(_chunk_statistics, np.asarray(theta, dtype=np.float64),
                                  options, label="stats")
            self._stats = (key, sums)
        return self._stats[1]

    def exact_fisher(self, theta):
        """Exact Fisher of the objective at theta (from the statistics pass)."""
        return self.curvature_matrix(ReducedCurvature(self._statistics(theta)["fisher"]
                                                      / self.weight_sum))

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T + l2 on the coef (cov_type='robust')."""
        sums = self._statistics(theta)
        if "empirical" not in sums:
            self._stats = None
            self.cov_type = "robust"
            sums = self._statistics(theta)
        return self.curvature_matrix(ReducedCurvature(sums["empirical"] / self.weight_sum))

    def deviance(self, theta):
        """2 sum_i w_i d(y_i, mu_i)/2."""
        return float(self._statistics(theta)["deviance"])

    def pearson_chi2(self, theta):
        """sum_i w_i (y_i - mu_i)^2 / V(mu_i)."""
        return float(self._statistics(theta)["pearson"])

    def null_deviance(self):
        """Deviance of the intercept-only model (nan with an intercept and an offset)."""
        if self._stats is None:
            return np.nan
        return float(self._stats[1]["null"])

    def log_likelihood(self, theta, phi):
        """Full log-likelihood at dispersion phi (one more pass; Gaussian-identity at the
        maximum-likelihood scale deviance / sum w, as the in-memory GLM)."""
        if self.family_name == "gaussian" and self.link_name == "identity":
            phi = self.deviance(theta) / self.weight_sum
        return float(self._run_pass(_chunk_log_likelihood, np.asarray(theta, np.float64),
                                    float(phi), label="llf"))


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


def fit(X, y, model="logistic", method="ngd", fisher="exact", l2=0.0, link=None, power=None,
        trials=None, sample_weight=None, offset=None, fit_intercept=True, tol=1e-8,
        max_iter=None, *, client=None, persist="auto", chunk_rows=None, n_threads=None,
        ftol=1e-12, damping=0.0, step="armijo", kl=0.01, callback=None, cov_type="model",
        solver="auto", subsample="auto", stderr="auto", alpha=None, l1_ratio=0.0,
        penalty_factor=None, statistics=True):
    """``ngd.fit`` on dask arrays (see the module docstring); ``ngd.fit(..., backend="dask")``
    calls this. client: a ``dask.distributed.Client`` (default: the active one, else Dask's
    default scheduler); persist: keep the data on the workers ("auto": when they fit in half
    of the workers' memory); chunk_rows: rows per chunk for numpy inputs. Returns a FitResult
    whose ``n_passes`` counts the passes over the data (fit and statistics)."""
    try:
        import dask.array  # noqa: F401  (a clear ImportError below)
    except ImportError:
        raise ImportError("backend='dask' needs dask: pip install 'ngd[dask]'") from None
    from ngd import api
    from ngd.models import normalise_model_name
    from ngd.elastic_net import check_penalty

    l2, penalty = check_penalty(l2, alpha, l1_ratio, penalty_factor)
    if penalty is not None:
        raise ValueError("backend='dask' supports the L2 penalty only (no l1_ratio > 0 or "
                         "penalty_factor)")
    name = normalise_model_name(model)
    if name == "softmax":
        raise ValueError("backend='dask' supports model='logistic' and the GLM families, "
                         "not 'softmax'")
    if method not in MODEL_METHODS:
        raise ValueError(f"backend='dask' supports method 'ngd' or 'newton', got {method!r}")
    if fisher == "diagonal" or fisher == "kfac":
        raise ValueError(f"backend='dask' does not support fisher={fisher!r}")
    if solver not in ("auto", "cholesky"):
        raise ValueError(f"backend='dask' forms the p x p curvature on the client: solver "
                         f"must be 'auto' or 'cholesky', got {solver!r}")
    if subsample not in ("auto", None, False):
        raise ValueError("backend='dask' computes the curvature on every row (one pass gives "
                         "loss, gradient and Fisher together): use subsample=None")
    api._check_real(l2, "l2", minimum=0.0)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    if power is not None and name != "tweedie":
        raise ValueError(f"power= applies to the tweedie model only, not {name!r}")
    if name == "logistic" and trials is None:
        if link not in (None, "logit"):
            raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}; "
                             "use model='binomial' for other links")
        spec = {"name": "logistic"}
    else:
        spec = {"name": "binomial" if name == "logistic" else name, "link": link,
                "power": power}
    spec["fit_intercept"] = bool(fit_intercept)
    if client is None:
        client = default_client()
    Xd = _as_dask_matrix(X, chunk_rows)
    yd = _as_dask_vector(y, Xd, "y")
    dask_model = DaskModel(Xd, yd, spec, sample_weight=_as_dask_vector(sample_weight, Xd,
                                                                       "sample_weight"),
                           offset=_as_dask_vector(offset, Xd, "offset"),
                           trials=_as_dask_vector(trials, Xd, "trials"), l2=l2, client=client,
                           persist=persist)
    dask_model.cov_type = cov_type
    if dask_model.fit_intercept is False and spec["name"] != "logistic":
        if not np.isfinite(dask_model.loss(dask_model.initial_theta())):
            raise DataError(f"no valid starting point for the {spec['name']} family with the "
                            f"{dask_model.link_name} link at coef = 0 (the Dask backend has "
                            "no least-squares start); try an intercept or another link")
    threads = api.effective_n_threads(n_threads)
    prepared = api._Prepared(dask_model, dask_model.classes, threads, Xd.dtype.name)
    result = api._fit_prepared(prepared, method, fisher=fisher, tol=tol, max_iter=max_iter,
                               ftol=ftol, damping=damping, step=step, kl=kl, batch_size=256,
                               learning_rate=None, seed=0, callback=callback,
                               cov_type=cov_type, solver="cholesky", subsample=None,
                               stderr=stderr, statistics=statistics)
    result.update(backend="dask", n_passes=dask_model.n_passes,
                  n_chunks=sum(1 for rows in dask_model.chunk_rows if rows > 0))
    dask_model.release()
    return result
