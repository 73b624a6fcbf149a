"""``ngd.fit``: the front door. It converts tables and formulas, then dispatches on the
backend: "numpy" runs the shared path of :mod:`ngd.fitting` (``build_model`` then
``fit_prepared``; an L1 / elastic-net penalty: :mod:`ngd.elastic_net`, on the same prepared
model), "chunked" and "dask" hand the arrays to their backend (:mod:`ngd.chunked`,
:mod:`ngd.dask_backend`), whose models run the same ``fit_prepared``.

Nothing below imports this module: the backends, ``ngd.elastic_net`` and ``ngd.fitting`` do
not (tests/test_module_graph.py checks it).
"""
from collections.abc import Mapping

from ngd import _sparse, frames
from ngd.clusters import cluster_codes
from ngd.design import is_design
from ngd.elastic_net import check_curvature, fit_elastic_net
from ngd.fitting import FitData, build_model, fit_prepared
from ngd.io.chunks import ChunkSource
from ngd.messages import default_names, name_list
from ngd.spec import (METHODS, MODEL_FIELDS, SOLVER_FIELDS, ModelSpec, SolverOptions,
                      split_options)

_M, _S = ModelSpec, SolverOptions          # the defaults: one place, ngd.spec
_DATA_KEYS = ("sample_weight", "offset", "trials", "cluster")


def fit(X, y=None, model=_M.model, method=_S.method, fisher=_S.fisher, l2=_M.l2,
        link=_M.link, power=_M.power, trials=None, sample_weight=None, offset=None,
        fit_intercept=_M.fit_intercept, tol=_S.tol, max_iter=_S.max_iter, backend="numpy", *,
        ftol=_S.ftol, damping=_S.damping, step=_S.step, kl=_S.kl, batch_size=_S.batch_size,
        learning_rate=_S.learning_rate, seed=_S.seed, n_threads=_S.n_threads,
        callback=_S.callback, cov_type=_S.cov_type, solver=_S.solver, subsample=_S.subsample,
        stderr=_S.stderr, alpha=_M.alpha, l1_ratio=_M.l1_ratio,
        penalty_factor=_M.penalty_factor, chunk_rows=None, cluster=None, data=None,
        dropna=False, nb_alpha=_M.nb_alpha):
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
    solver: how (C + lambda I) d = -g is solved: "auto" (the cheapest by estimated cost,
    ngd.fisher.cost; the estimates are in result.solver_costs), "cholesky" (dense), "cg"
    (matrix-free preconditioned CG) or "woodbury" (n x n system, single-output models with
    fewer rows than parameters); see ngd.fisher.
    subsample: rows the curvature is computed on: "auto" (method "ngd" on large n: a seeded
    random subset of m rows, m >= max(10 000, 16 P) chosen by estimated cost
    (ngd.fisher.subsample), grown when convergence slows; the gradient always
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

    The model options become an :class:`ngd.spec.ModelSpec`, the solver options an
    :class:`ngd.spec.SolverOptions` (where the defaults live), each checked once.

    Parameters
    ----------
    X : array, sparse matrix, Design, DataFrame, ChunkSource or formula str
    y : array-like or None
        None only with a formula or a chunk source.
    model, link, power, trials, fit_intercept, l2, alpha, l1_ratio, penalty_factor, nb_alpha
        The objective (:class:`ngd.spec.ModelSpec`).
    method, fisher, tol, max_iter, ftol, damping, step, kl, batch_size, learning_rate, seed,
    n_threads, callback, cov_type, solver, subsample, stderr
        The solver (:class:`ngd.spec.SolverOptions`).
    sample_weight, offset, cluster : array-like or None
    backend : {"numpy", "chunked", "dask"}
    chunk_rows : int or None
    data, dropna
        A formula's table and missing-value rule.

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError, TypeError
        An invalid option or argument (one line naming it).
    ngd.DataError
        Invalid data (a ValueError).
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
    spec = ModelSpec(model=model, link=link, power=power, fit_intercept=fit_intercept, l2=l2,
                     alpha=alpha, l1_ratio=l1_ratio, penalty_factor=penalty_factor,
                     nb_alpha=nb_alpha, trials=trials is not None)
    options = SolverOptions(method=method, fisher=fisher, step=step, kl=kl, damping=damping,
                            solver=solver, subsample=subsample, tol=tol, ftol=ftol,
                            max_iter=max_iter, batch_size=batch_size,
                            learning_rate=learning_rate, seed=seed, stderr=stderr,
                            cov_type=cov_type, n_threads=n_threads, callback=callback)
    data = FitData(X, y, sample_weight, offset, trials, frames.as_array(cluster, "cluster"))
    result = _fit_any(spec, options, data, backend, chunk_rows)
    attach_names(result, X, table)
    return result


class ColumnTerms(Mapping):
    """{name: [j]}: the terms of a design whose every column is its own term (a plain array,
    a named chunk source). Lookups go through a name -> column dict built on the first one,
    so a fit on 1e5 columns does not allocate 1e5 lists it may never read."""

    def __init__(self, names):
        self._names = names
        self._index = None

    def __getitem__(self, name):
        if self._index is None:
            self._index = {term: j for j, term in enumerate(self._names)}
        return [self._index[name]]

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __repr__(self):
        return repr(dict(self))


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
        terms = ColumnTerms(names)
        spec = None
    else:
        names = default_names(X.shape[1]) if hasattr(X, "shape") and \
            len(X.shape) == 2 else None
        terms = None if names is None else ColumnTerms(names)
        spec = None
    result.update(feature_names=names, terms=terms, input_spec=spec)
    separation = result.get("separation")
    if separation and names and separation.get("columns"):
        result.message += " The columns: " + name_list(
            names[j] for j in separation["columns"] if j < len(names)) + "."


def _fit_any(spec, options, data, backend, chunk_rows):
    """ngd.fit on arrays (a dense or sparse matrix or a Design): dispatch on the backend."""
    engine = _engine(backend, data.X, chunk_rows)
    if engine is not None:
        return engine.fit(spec, options, data)
    if spec.penalty is not None:
        if is_design(data.X):        # the elastic net's CSR path on the one-hot design
            data.X = data.X.to_csr()
        if data.cluster is not None or options.cov_type == "cluster":
            raise ValueError("cov_type='cluster' applies to unpenalised or ridge fits, "
                             "not the elastic net (alpha with l1_ratio > 0)")
        return fit_elastic_net(spec, data, options, backend)
    prepared = build_model(spec, data, backend, options.threads)
    prepared.cluster = _cluster_codes(data.cluster, options.cov_type, prepared.model)
    return fit_prepared(prepared, options)


def _engine(backend, X, chunk_rows):
    """The backend object of ``backend`` ("chunked": ngd.chunked.local.LocalBackend, "dask"
    or dask X: ngd.dask_backend.model.DaskBackend), None for the in-memory backend."""
    if backend == "chunked":
        from ngd.chunked.local import LocalBackend
        return LocalBackend(chunk_rows)
    if backend == "dask" or _is_dask(X):
        from ngd.dask_backend.model import DaskBackend
        return DaskBackend(chunk_rows)
    if chunk_rows is not None:
        raise ValueError("chunk_rows applies to backend='chunked' or 'dask' only")
    return None


def backend_supports(backend, **options):
    """Whether ``backend`` fits a model with these :func:`fit` options.

    Parameters
    ----------
    backend : {"numpy", "chunked", "dask"}
    **options
        :func:`fit`'s model and solver keywords (``method``, ``model``, ``alpha``, ...).

    Returns
    -------
    bool
        False when the backend does not run them (e.g. method "sgd" on "chunked").

    Raises
    ------
    ValueError, TypeError
        Options that are invalid on any backend, or an unknown backend.
    """
    if backend not in ("numpy", "chunked", "dask"):
        raise ValueError(f"backend must be 'numpy', 'chunked' or 'dask', got {backend!r}")
    spec, solver = split_options(options)
    return _runs(_engine(backend, None, None), spec, solver)


def _runs(engine, spec, options):
    """Whether the backend (None: in memory) fits ``spec`` by ``options``."""
    if engine is not None:
        return engine.supports(spec, options)
    try:
        if spec.penalty is not None:
            check_curvature(options.method, options.fisher)
    except ValueError:
        return False
    return True


def compare(X, y, methods=("ngd", "newton", "sgd"), statistics="all", **options):
    """Fit the same objective with each of ``methods``, on any backend.

    Parameters
    ----------
    X, y
        As :func:`fit` (arrays, sparse matrices, Designs, tables, chunk sources, dask arrays).
    methods : sequence of str
        A non-empty subset of ngd.spec.METHODS. The first must be one the backend and
        penalty run; later ones that they do not run (e.g. "sgd" on backend="chunked", or
        any but "ngd" with an L1 penalty) are left out of the result.
    statistics : {"all", "first"}
        "first" computes standard errors and deviances for the first method only (the
        others' ``stderr`` etc. are None), saving one Fisher evaluation per extra method.
    **options
        Those of :func:`fit` except ``method``, ``data`` and ``dropna`` (``backend``,
        ``chunk_rows``, the elastic net and per-row arrays included).

    Returns
    -------
    dict
        {method: FitResult}, in the order of ``methods``.

    Raises
    ------
    ValueError, TypeError
        Invalid methods, options or data, or a first method the backend does not run.
    """
    if statistics not in ("all", "first"):
        raise ValueError(f"statistics must be 'all' or 'first', got {statistics!r}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}")
    backend, chunk_rows = options.pop("backend", "numpy"), options.pop("chunk_rows", None)
    unknown = set(options) - set(_DATA_KEYS) - set(MODEL_FIELDS) - set(SOLVER_FIELDS) - \
        {"trials"} | ({"method", "gauge"} & set(options))
    if unknown:
        raise TypeError(f"unexpected options: {', '.join(sorted(unknown))}")
    X, table = frames.fit_design(X, options.get("fit_intercept", True))
    y = frames.as_array(y, "y")
    data = FitData(X, y, **{key: frames.as_array(options.pop(key), key)
                            for key in _DATA_KEYS if key in options})
    spec = ModelSpec(trials=data.trials is not None,
                     **{key: options.pop(key) for key in MODEL_FIELDS if key in options})
    first = SolverOptions(method=methods[0], **options)
    engine = _engine(backend, X, chunk_rows)
    runs = [first.replace(method=m) for m in methods]
    runs = runs[:1] + [run for run in runs[1:] if _runs(engine, spec, run)]
    if engine is not None or spec.penalty is not None:
        results = {run.method: engine.fit(spec, run, data, statistics=(
                       statistics == "all" or i == 0)) if engine is not None else
                   _fit_any(spec, run, data, backend, None) for i, run in enumerate(runs)}
    else:
        prepared = build_model(spec, data, backend, first.threads)
        prepared.cluster = _cluster_codes(data.cluster, first.cov_type, prepared.model)
        results = {run.method: fit_prepared(prepared, run,
                                            statistics=(statistics == "all" or i == 0))
                   for i, run in enumerate(runs)}
    for result in results.values():
        attach_names(result, X, table)
    return results


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


def _is_dask(X):
    """True for a dask array / dataframe (checked by module name: dask stays optional)."""
    return (type(X).__module__ or "").split(".")[0] in ("dask", "dask_expr")
