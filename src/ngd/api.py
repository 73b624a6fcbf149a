"""``ngd.fit``: validate once, build the model, run one optimiser, attach statistics."""
import numbers

import numpy as np

from ngd import _sparse, _validation, frames
from ngd._threads import effective_n_threads, fit_threads
from ngd.design import is_design
from ngd.exceptions import DataError
from ngd.fisher import SOLVERS, auto_subsample_size
from ngd.io.chunks import ChunkSource
from ngd.models import get_model, normalise_model_name
from ngd.models.categorical import CategoricalModel, dense_part
from ngd.models.families import check_nb_alpha
from ngd.messages import name_list
from ngd.optim import CurvatureStepper, SGDStepper, run
from ngd.optim.adam import AdamStepper
from ngd.optim.diagonal import DiagonalStepper
from ngd.optim.sqn import SQNStepper
from ngd.clusters import cluster_codes
from ngd.statistics import COV_TYPES, attach_statistics

METHODS = ("ngd", "newton", "sgd", "sqn", "adam", "rmsprop")
FISHERS = ("exact", "empirical", "observed", "kfac", "bohning",  # kfac: softmax; bohning: logistic
           "diagonal")
STDERR_MAX_PARAMS = 4096       # above this, stderr="auto" skips the p x p inverse
NB_START_ALPHA = 1.0           # negative binomial: alpha of the data-carrier model
DEFAULT_MAX_ITER = {"ngd": 100, "newton": 100, "sgd": 30, "sqn": 30, "adam": 30, "rmsprop": 30}
_DATA_KEYS = ("model", "link", "power", "trials", "sample_weight", "offset", "fit_intercept",
              "l2", "n_threads", "backend", "cluster", "nb_alpha")
_SOLVER_DEFAULTS = dict(fisher="exact", tol=1e-8, max_iter=None, ftol=1e-12, damping=0.0,
                        step="armijo", kl=0.01, batch_size=256, learning_rate=None, seed=0,
                        callback=None, cov_type="model", solver="auto", subsample="auto",
                        stderr="auto")


def fit(X, y=None, model="logistic", method="ngd", fisher="exact", l2=0.0, link=None,
        power=None,
        trials=None, sample_weight=None, offset=None, fit_intercept=True, tol=1e-8,
        max_iter=None, backend="numpy", *, ftol=1e-12, damping=0.0, step="armijo", kl=0.01,
        batch_size=256, learning_rate=None, seed=0, n_threads=None, callback=None,
        cov_type="model", solver="auto", subsample="auto", stderr="auto", alpha=None,
        l1_ratio=0.0, penalty_factor=None, chunk_rows=None, cluster=None, data=None,
        dropna=False, nb_alpha=None):
    """Fit ``model`` to (X, y) by ``method`` on the objective

        L(theta) = (1/sum w) sum_i w_i nll_i(theta) + (l2/2) ||coef||^2   (intercept unpenalised)

    model: "logistic" (two labels of any kind), "softmax" (K labels), or a GLM family
    ("gaussian", "binomial", "poisson", "gamma", "inverse_gaussian", "tweedie" with power=)
    with ``link`` (default: the family's canonical link; tweedie: log). For GLMs nll_i is
    half the unit deviance (dispersion fixed at 1); binomial counts: y = successes, trials=.
    method: "ngd" (step -(C + lambda I)^{-1} g with curvature C = ``fisher``: "exact" Fisher
    (Fisher scoring), "empirical" (1/sum w) sum w_i s_i s_i^T (the BHHH method), or "observed"
    Hessian), "newton" (observed Hessian) or "sgd" (mini-batch, lr_e = lr0/(1+e)); stochastic
    quasi-Newton "sqn" (step beta/k, ngd.optim.sqn) and "adam" / "rmsprop" (ngd.optim.adam) use
    batch_size, learning_rate (SQN's beta, default 1; Adam's alpha, default 0.01) and seed.
    fisher="diagonal": NGD with the exact Fisher's diagonal (ngd.optim.diagonal).
    fisher="bohning" (logistic only): the fixed bound X~^T W X~ / (4 sum w), factored once.
    step: "armijo" (backtracking from alpha = 1), "kl" (backtracking from
    alpha = min(1, sqrt(2 kl / g^T C^{-1} g)), the KL-budget step) or "lm"
    (Levenberg-Marquardt damping adapted by the ratio of actual to predicted decrease).
    solver: how (C + lambda I) d = -g is solved: "auto" (by shape), "cholesky" (dense),
    "cg" (matrix-free preconditioned CG) or "woodbury" (n x n system, single-output models
    with fewer rows than parameters); see ngd.fisher.
    subsample: rows the curvature is computed on: "auto" (method "ngd" on large n: a seeded
    random subset of max(10 000, 16 p) rows, grown when convergence slows; the gradient always
    uses every row, so the optimum is unchanged), None (all rows), an int (rows) or a float
    in (0, 1] (fraction of the rows).
    Stops when max|g| or the Newton decrement sqrt(g^T C^{-1} g) is <= tol, or the loss
    changes by <= ftol * max(1, |L|).
    cov_type: "model" (phi (sum w F)^{-1}), "robust" (sandwich) or "cluster" (cluster-robust
    sandwich, CR1 as statsmodels; ngd.statistics) standard errors. cluster: the cluster labels
    of cov_type="cluster": one array of n labels (one-way) or two (two-way: a pair of arrays
    or an (n, 2) array); in-memory backend, unpenalised or ridge fits.
    stderr: "auto" (standard errors when there are at most 4096 parameters), True or False.
    alpha, l1_ratio, penalty_factor: elastic net, adding alpha sum_j f_j [(1 - l1_ratio)/2
    coef_j^2 + l1_ratio |coef_j|] (glum's convention; see ngd.elastic_net): l1_ratio = 0 without
    factors is l2 = alpha, otherwise proximal NGD (result.kkt_violation).
    Returns a FitResult (coef, intercept, stderr, history, deviance, aic, ...) with
    ``feature_names`` (one per coefficient column), ``terms`` ({term: coefficient indices})
    and ``input_spec`` (how a table became X, for predictions on new tables; None for arrays).
    X: an array, a scipy sparse matrix, an :class:`ngd.design.Design`, or a pandas / polars
    DataFrame or pyarrow Table (ngd.frames: numeric and boolean columns dense, string and
    categorical columns native categorical blocks; y, weights, offset and trials may be
    Series or Arrow arrays).
    backend: "numpy" (in memory), "chunked" (one pass over row chunks of numpy or
    memory-mapped arrays per evaluation, memory bounded by a chunk plus p x p; ngd.chunked) or
    "dask" (dask.array / dask.dataframe inputs, which also select it: the chunks' passes run
    on Dask's workers; ngd.dask_backend). The chunked backends fit logistic, softmax and GLM
    models by methods "ngd" and "newton" with L2 or the elastic net; chunk_rows: their rows
    per chunk (default about 64 MB of X and at most 262 144 rows locally, 16 MB for numpy
    inputs sent to Dask; dask arrays keep theirs).
    nb_alpha (model "negative_binomial", aliases "negbin", "nb2": NB2 counts with
    Var = mu + alpha mu^2, default link log): None estimates alpha by maximum likelihood
    (methods "ngd" and "newton"; ngd.models.negbin), a number > 0 fixes it; the result
    carries nb_alpha and, when estimated, nb_alpha_stderr.
    Formulas (ngd.formula; pip install 'ngd[formula]'): ``fit("y ~ x1 + C(g)", data=df)``
    without y; the formula sets the intercept, sample_weight / offset / trials / cluster may
    name columns of data, and dropna=True drops rows with missing values (else an error).
    """
    if isinstance(X, str):                      # a formula on data=: ngd.formula builds X, y
        options = dict(locals())
        from ngd.formula import fit_formula
        return fit_formula(fit, options.pop("X"), options.pop("y"), options.pop("data"),
                           options.pop("dropna"), options)
    if data is not None or dropna:
        raise TypeError("data= and dropna= go with a formula: fit('y ~ x1 + x2', data=df)")
    if y is None and not isinstance(X, ChunkSource):    # a chunk source reads its own y
        raise TypeError("y is required (or pass a formula 'y ~ ...' as X with data=)")
    X, table = frames.fit_design(X, fit_intercept)
    y, trials, sample_weight, offset = frames.per_row_arrays(y, trials, sample_weight, offset)
    result = _fit_any(X, y, model, method, fisher, l2, link, power, trials, sample_weight,
                      offset, fit_intercept, tol, max_iter, backend, ftol=ftol,
                      damping=damping, step=step, kl=kl, batch_size=batch_size,
                      learning_rate=learning_rate, seed=seed, n_threads=n_threads,
                      callback=callback, cov_type=cov_type, solver=solver,
                      subsample=subsample, stderr=stderr, alpha=alpha, l1_ratio=l1_ratio,
                      penalty_factor=penalty_factor, chunk_rows=chunk_rows,
                      cluster=frames.as_array(cluster, "cluster"), nb_alpha=nb_alpha)
    attach_names(result, X, table)
    return result


def attach_names(result, X, table=None):
    """Set result.feature_names, result.terms and result.input_spec from the fitted X (and
    the table it came from): names of a Design or table's columns, else x0, x1, ..."""
    if table is not None:
        names, terms, spec = table.feature_names, table.terms, table.spec.to_dict()
    elif is_design(X):
        names = X.feature_names
        terms = {t: list(range(s.start, s.stop)) for t, s in X.column_slices.items()}
        spec = None
    elif getattr(X, "feature_names", None) is not None:       # a named chunk source
        names = list(X.feature_names)
        terms = {name: [j] for j, name in enumerate(names)}
        spec = None
    else:
        names = [f"x{j}" for j in range(X.shape[1])] if hasattr(X, "shape") and \
            len(X.shape) == 2 else None
        terms = None if names is None else {name: [j] for j, name in enumerate(names)}
        spec = None
    result.update(feature_names=names, terms=terms, input_spec=spec)
    separation = result.get("separation")
    if separation and names and separation.get("columns"):
        result.message += " The columns: " + name_list(
            names[j] for j in separation["columns"] if j < len(names)) + "."


def _fit_any(X, y, model, method, fisher, l2, link, power, trials, sample_weight, offset,
             fit_intercept, tol, max_iter, backend, *, ftol, damping, step, kl, batch_size,
             learning_rate, seed, n_threads, callback, cov_type, solver, subsample, stderr,
             alpha, l1_ratio, penalty_factor, chunk_rows, cluster=None, nb_alpha=None):
    """ngd.fit on arrays (a dense or sparse matrix or a Design): dispatch on the backend."""
    if normalise_model_name(model) == "negative_binomial" and (
            backend in ("dask", "chunked") or _is_dask(X) or
            (alpha is not None and (l1_ratio != 0 or penalty_factor is not None))):
        raise ValueError("model 'negative_binomial' is fitted in memory (backend='numpy') "
                         "with l2 or alpha alone, not the chunked or Dask backends or the "
                         "elastic net")
    if is_design(X) and backend in ("dask", "chunked"):
        raise ValueError(f"backend={backend!r} does not take a Design (categorical blocks); "
                         "use backend='numpy'")
    if backend in ("dask", "chunked") or _is_dask(X):
        if cluster is not None or cov_type == "cluster":
            raise ValueError(f"cov_type='cluster' needs the in-memory backend (backend="
                             f"'numpy'), not {'dask' if _is_dask(X) else backend!r}")
        if backend == "chunked":
            from ngd.chunked import fit as chunked_fit
        else:
            from ngd.dask_backend import fit as chunked_fit
        return chunked_fit(
            X, y, model=model, method=method, fisher=fisher, l2=l2, link=link, power=power,
            trials=trials, sample_weight=sample_weight, offset=offset,
            fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, n_threads=n_threads,
            ftol=ftol, damping=damping, step=step, kl=kl, callback=callback,
            cov_type=cov_type, solver=solver, subsample=subsample, stderr=stderr, alpha=alpha,
            l1_ratio=l1_ratio, penalty_factor=penalty_factor, seed=seed, chunk_rows=chunk_rows)
    if chunk_rows is not None:
        raise ValueError("chunk_rows applies to backend='chunked' or 'dask' only")
    if alpha is not None or l1_ratio != 0 or penalty_factor is not None:
        from ngd.elastic_net import check_penalty, fit_elastic_net
        l2, penalty = check_penalty(l2, alpha, l1_ratio, penalty_factor)
        if penalty is not None:
            if is_design(X):        # the elastic net's CSR path on the one-hot design
                X = X.to_csr()
            if cluster is not None or cov_type == "cluster":
                raise ValueError("cov_type='cluster' applies to unpenalised or ridge fits, "
                                 "not the elastic net (alpha with l1_ratio > 0)")
            return fit_elastic_net(X, y, penalty, model=model, method=method, fisher=fisher,
                                   link=link, power=power, trials=trials,
                                   sample_weight=sample_weight, offset=offset,
                                   fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                                   ftol=ftol, backend=backend, n_threads=n_threads,
                                   callback=callback)
    prepared = _prepare(X, y, model, link, power, trials, sample_weight, offset, fit_intercept,
                        l2, n_threads, backend, nb_alpha=nb_alpha)
    prepared.cluster = _cluster_codes(cluster, cov_type, prepared.model)
    return _fit_prepared(prepared, method, fisher=fisher, tol=tol, max_iter=max_iter,
                         ftol=ftol, damping=damping, step=step, kl=kl, batch_size=batch_size,
                         learning_rate=learning_rate, seed=seed, callback=callback,
                         cov_type=cov_type, solver=solver, subsample=subsample, stderr=stderr)


def compare(X, y, methods=("ngd", "newton", "sgd"), statistics="all", **options):
    """Fit the same objective with each of ``methods``; returns {method: FitResult}.
    Options are those of :func:`fit` (a method ignores options that do not apply to it).
    ``statistics="first"`` computes standard errors and deviances for the first method only
    (the others' ``stderr`` etc. are None), saving one Fisher evaluation per extra method."""
    if statistics not in ("all", "first"):
        raise ValueError(f"statistics must be 'all' or 'first', got {statistics!r}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}")
    X, table = frames.fit_design(X, options.get("fit_intercept", True))
    y = frames.as_array(y, "y")
    data = {key: frames.as_array(options.pop(key), key) for key in _DATA_KEYS if key in options}
    unknown = set(options) - set(_SOLVER_DEFAULTS)
    if unknown:
        raise TypeError(f"unexpected options: {', '.join(sorted(unknown))}")
    prepared = _prepare(X, y, data.get("model", "logistic"), data.get("link"),
                        data.get("power"), data.get("trials"), data.get("sample_weight"),
                        data.get("offset"), data.get("fit_intercept", True),
                        data.get("l2", 0.0), data.get("n_threads"), data.get("backend", "numpy"),
                        nb_alpha=data.get("nb_alpha"))
    solver = dict(_SOLVER_DEFAULTS, **options)
    prepared.cluster = _cluster_codes(data.get("cluster"), solver["cov_type"], prepared.model)
    results = {method: _fit_prepared(prepared, method,
                                     statistics=(statistics == "all" or i == 0), **solver)
               for i, method in enumerate(methods)}
    for result in results.values():
        attach_names(result, X, table)
    return results


class _Prepared:
    """Validated arrays and the model built on them (shared by the methods of a comparison)."""

    def __init__(self, model, classes, n_threads, dtype, cluster=None):
        self.model = model
        self.classes = classes
        self.n_threads = n_threads
        self.dtype = dtype
        self.cluster = cluster      # cluster codes of cov_type="cluster" (ngd.clusters)
        self.negative_binomial = False  # model "negative_binomial": fitted by ngd.models.negbin
        self.nb_alpha = None            # its fixed alpha (None: estimated)


def _cluster_codes(cluster, cov_type, model):
    """The code arrays of ``cluster`` (ngd.clusters.cluster_codes) on the rows of ``model``
    when cov_type="cluster", None otherwise; cluster= and cov_type="cluster" go together."""
    if cluster is None:
        if cov_type == "cluster":
            raise ValueError("cov_type='cluster' needs cluster= (one or two arrays of cluster "
                             "labels)")
        return None
    if cov_type != "cluster":
        raise ValueError(f"cluster= applies to cov_type='cluster', got cov_type={cov_type!r}")
    if _sparse.is_sparse(model.X):
        raise ValueError("cov_type='cluster' needs a dense X (or a Design), not a sparse "
                         "matrix: pass X.toarray()")
    return cluster_codes(cluster, model.n_samples)


def model_kind(model, link, power, trials, fit_intercept, l2):
    """("logistic" | "softmax" | "glm", the GLM's family or None) of ``fit``'s model options,
    after the checks every backend shares (l2, fit_intercept, power, link, trials)."""
    name = normalise_model_name(model)
    _validation.check_real(l2, "l2", minimum=0.0, maximum=_validation.MAX_ABS)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    if power is not None and name != "tweedie":
        raise ValueError(f"power= applies to the tweedie model only, not {name!r}")
    if power is not None:
        _validation.check_real(power, "power")     # its range: the family's check
    if name == "logistic" and trials is None:
        if link not in (None, "logit"):
            raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}; "
                             "use model='binomial' for other links")
        return "logistic", None
    if name == "softmax":
        if link is not None or trials is not None:
            raise ValueError("model 'softmax' takes no link= or trials=")
        return "softmax", None
    return "glm", "binomial" if name == "logistic" else name


def _prepare(X, y, model, link, power, trials, sample_weight, offset, fit_intercept, l2,
             n_threads, backend, nb_alpha=None):
    if backend != "numpy":
        raise ValueError(f"backend={backend!r} is for ngd.fit (one method per call), not "
                         "compare()" if backend in ("dask", "chunked") else
                         f"backend must be 'numpy', 'chunked' or 'dask', got {backend!r}")
    kind, family = model_kind(model, link, power, trials, fit_intercept, l2)
    negative_binomial = family == "negative_binomial"
    if nb_alpha is not None:
        if not negative_binomial:
            raise ValueError(f"nb_alpha= applies to the negative_binomial model only, not "
                             f"{normalise_model_name(model)!r}")
        nb_alpha = _validation.check_real(check_nb_alpha(nb_alpha), "nb_alpha",
                                          maximum=_validation.MAX_ABS)
    design = X if is_design(X) else None
    if design is not None:      # softmax: the one-hot CSR path; else the dense part + codes
        X = design.to_csr() if kind == "softmax" else dense_part(design)
    elif _sparse.is_sparse(X):
        X = _sparse.as_csr(X, "X")
    else:
        X = _validation.as_matrix(X, "X", max_abs=_validation.MAX_ABS)
    n = X.shape[0]
    w = None
    if sample_weight is not None:
        w = _validation.as_vector(sample_weight, n, "sample_weight")
        if (w < 0).any():
            raise DataError("sample_weight must be >= 0")
        _validation.check_weight_sum(w, "sample_weight")
    off = None if offset is None else _validation.as_vector(offset, n, "offset",
                                                            max_abs=_validation.MAX_ABS)
    threads = effective_n_threads(n_threads)
    common = dict(sample_weight=w, offset=off, fit_intercept=bool(fit_intercept),
                  l2=float(l2), n_threads=threads)
    if kind == "logistic":
        y01, classes = _labels(y, n, exactly=2)
        built = get_model("logistic")(X, y01, **common)
    elif kind == "softmax":
        codes, classes = _labels(y, n, exactly=None)
        built = get_model("softmax")(X, codes, n_classes=len(classes), **common)
    else:
        y = _validation.as_vector(y, n, "y")
        t = None if trials is None else _validation.as_vector(trials, n, "trials")
        if t is not None:
            with np.errstate(over="ignore"):
                _validation.check_finite_scale(t.sum(), "the sum of trials")
        # alpha to estimate: the model at NB_START_ALPHA carries the validated data only
        built = get_model(family)(X, y, family=family, link=link, power=power, trials=t,
                                  nb_alpha=(NB_START_ALPHA if nb_alpha is None else nb_alpha)
                                  if negative_binomial else None, **common)
        classes = None
    if design is not None and kind != "softmax":
        built = CategoricalModel(design, built)
    prepared = _Prepared(built, classes, threads, X.dtype.name)
    prepared.negative_binomial, prepared.nb_alpha = negative_binomial, nb_alpha
    return prepared


def _is_dask(X):
    """True for a dask array / dataframe (checked by module name: dask stays optional)."""
    return (type(X).__module__ or "").split(".")[0] in ("dask", "dask_expr")


def _labels(y, n, exactly):
    """Map labels to codes 0..K-1 in sorted order; K must be ``exactly`` (or >= 2)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"y must have shape ({n},) to match X, got {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"y has a non-finite value ({y[i]}) at index {i}")
    if y.dtype.kind == "O":
        y = y.astype(str)
    if exactly == 2 and y.dtype.kind in "biuf":     # O(n) instead of a sort
        low, high = y.min(), y.max()
        is_high = y == high
        if low != high and np.all(is_high | (y == low)):
            return is_high.astype(np.float64), np.array([low, high])
    classes, codes = np.unique(y, return_inverse=True)
    if exactly is not None and classes.size != exactly:
        what = "only one class" if classes.size == 1 else f"{classes.size} distinct values"
        raise DataError(f"logistic regression needs exactly two classes in y, found {what}; "
                        "use model='softmax' for more")
    if classes.size < 2:
        raise DataError("y has only one class; at least two are needed")
    return codes.astype(np.float64 if exactly == 2 else np.intp), classes


def _subsample_size(subsample, method, model, curvature):
    """Rows of the curvature subsample for the ``subsample`` option, or None for all rows."""
    n = model.n_samples
    if subsample is None or subsample is False:
        return None
    if isinstance(subsample, str):
        if subsample != "auto":
            raise ValueError(f"subsample must be 'auto', None, a row count or a fraction, "
                             f"got {subsample!r}")
        if method != "ngd" or curvature == "bohning":     # a fixed curvature is formed once
            return None
        if hasattr(model, "curvature_blocks"):    # a Design: a subsample can miss levels
            return None
        return auto_subsample_size(n, model.n_params)
    if isinstance(subsample, bool) or not isinstance(subsample, numbers.Real):
        raise TypeError(f"subsample must be 'auto', None, a row count or a fraction, "
                        f"got {subsample!r}")
    if isinstance(subsample, numbers.Integral):
        if subsample < 1:
            raise ValueError(f"subsample must be >= 1 row, got {subsample!r}")
        return min(int(subsample), n)
    if not 0 < subsample <= 1:
        raise ValueError(f"a fractional subsample must lie in (0, 1], got {subsample!r}")
    return max(1, int(round(subsample * n)))


def _fit_prepared(prepared, method, statistics=True, **options):
    """One method on a prepared problem: the negative-binomial model through
    ngd.models.negbin (alpha estimated or fixed), every other model by _fit_single."""
    if prepared.negative_binomial:
        from ngd.models import negbin
        return negbin.fit(prepared, method, _fit_single, statistics=statistics, **options)
    return _fit_single(prepared, method, statistics=statistics, **options)


def _fit_single(prepared, method, *, fisher, tol, max_iter, ftol, damping, step, kl,
                batch_size, learning_rate, seed, callback, cov_type, solver="auto",
                subsample="auto", stderr="auto", statistics=True, theta0=None):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if fisher not in FISHERS:
        raise ValueError(f"fisher must be one of {FISHERS}, got {fisher!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if stderr not in ("auto", True, False):
        raise ValueError(f"stderr must be 'auto', True or False, got {stderr!r}")
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    _validation.check_real(tol, "tol", minimum=0.0)
    _validation.check_real(ftol, "ftol", minimum=0.0)
    _validation.check_real(damping, "damping", minimum=0.0, maximum=_validation.MAX_ABS)
    _validation.check_real(kl, "kl", positive=True)
    if learning_rate is not None:
        _validation.check_real(learning_rate, "learning_rate", positive=True,
                               maximum=_validation.MAX_ABS)
    _validation.check_seed(seed)
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER[method]
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    model = prepared.model
    with fit_threads(prepared.n_threads):
        if method == "sgd":
            stepper = SGDStepper(model, batch_size=batch_size, learning_rate=learning_rate,
                                 seed=seed)
            curvature, step_rule = None, "sgd"
        elif method == "sqn":
            stepper = SQNStepper(model, batch_size=batch_size, learning_rate=learning_rate,
                                 seed=seed)
            curvature, step_rule = None, "sqn"
        elif method in ("adam", "rmsprop"):
            stepper = AdamStepper(model, method, batch_size=batch_size,
                                  learning_rate=learning_rate, seed=seed)
            curvature, step_rule = None, method
        elif method == "ngd" and fisher == "diagonal":
            stepper = DiagonalStepper(model, damping=float(damping), step_rule=step,
                                      kl_budget=float(kl))
            curvature, step_rule = fisher, step
        else:
            curvature = fisher if method == "ngd" else "observed"
            stepper = CurvatureStepper(model, curvature, damping=float(damping),
                                       step_rule=step, kl_budget=float(kl), solver=solver,
                                       subsample=_subsample_size(subsample, method, model,
                                                                 curvature),
                                       seed=seed)
            step_rule = step
        start = _start(model, prepared.nb_alpha) if theta0 is None else theta0
        result = run(stepper, start, tol=float(tol), ftol=float(ftol),
                     max_iter=int(max_iter), method=method, callback=callback)
        result.attach_model(model)
        result.solver = getattr(stepper, "solver_name", None)
        if statistics:
            covariance = stderr is True or (stderr == "auto" and (
                model.n_params <= STDERR_MAX_PARAMS
                or getattr(model, "uses_block_covariance", False)))   # a Design: blocks
            attach_statistics(result, model, cov_type, covariance=covariance,
                              cluster=prepared.cluster)
        else:
            coef, intercept = model.split(result.x)
            result.update(coef=coef, intercept=intercept, stderr=None, intercept_stderr=None,
                          cov=None, cov_type=None, dispersion=None)
    result.update(fisher=curvature, step_rule=step_rule, n_threads=prepared.n_threads,
                  dtype=prepared.dtype, classes=prepared.classes, tol=float(tol),
                  max_iter=int(max_iter), model=model.name,
                  family=getattr(model, "family_name", None) or _family_name(model),
                  link=getattr(model, "link_name", None) or _link_name(model),
                  power=getattr(getattr(model, "family", None), "power", None),
                  l2=model.l2, fit_intercept=model.fit_intercept,
                  damping=float(result.history["damping"][-1]) if result.n_iter else 0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result


def _start(model, nb_alpha=None):
    """The model's starting point; with an offset or a fixed ``nb_alpha``, no valid start is
    an error naming them (the offset is on the linear predictor's scale: log(exposure))."""
    offset = getattr(model, "offset", None)
    causes = {}
    if offset is not None:
        causes["offset"] = (f"the offset spans [{offset.min():g}, {offset.max():g}] on the "
                            "linear predictor's scale; pass log(exposure) for a log link, "
                            "not the exposure")
    if nb_alpha is not None:
        causes["nb_alpha"] = f"nb_alpha = {nb_alpha:g} may be too large for these means"
    if not causes:
        return model.initial_theta()
    try:
        with np.errstate(all="ignore"):         # our message, not numpy's warnings
            return model.initial_theta()
    except DataError as exc:
        raise DataError(f"{' and '.join(causes)}: {exc} ({'; '.join(causes.values())})") \
            from None


def _family_name(model):
    family = getattr(model, "family", None)
    return None if family is None else family.name


def _link_name(model):
    link = getattr(model, "link", None)
    return None if link is None else link.name
