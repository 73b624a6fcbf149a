"""``ngd.fit(..., backend="chunked")``: one pass over row chunks of numpy / memory-mapped
arrays per evaluation. The same optimum, standard errors and statistics as the in-memory fit
to 1e-10, the null deviance with an intercept and an offset by its own fit, one pass per
evaluation (passes that fit the null model do not read X), memory bounded by a chunk, the
seeded curvature subsample, one clear error per bad input, and ``ngd fit --backend``."""
import json
import math
import tracemalloc

import numpy as np
import pytest

import ngd
from ngd.chunked import LocalChunkedModel
from ngd.chunked import tasks as chunk_tasks
from ngd.exceptions import DataError

TOL = 1e-10


def _rng_X(n=1500, p=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((n, p))


def _close(a, b, rel):
    """a == b to ``rel`` relative (None == None, nan == nan)."""
    if a is None or b is None:
        assert a is None and b is None, (a, b)
        return
    if math.isnan(b):
        assert math.isnan(a), (a, b)
        return
    assert a == pytest.approx(b, rel=rel, abs=0), (a, b)


def _same(fit, ref, stderr=True):
    """The chunked fit equals the in-memory one (see the module docstring)."""
    assert fit.backend == "chunked"
    assert fit.converged and ref.converged, (fit.message, ref.message)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=TOL)
    assert abs(fit.intercept - ref.intercept) <= TOL
    assert abs(fit.loss - ref.loss) <= TOL
    if stderr:
        np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-9, atol=0)
        if ref.intercept_stderr is None:
            assert fit.intercept_stderr is None
        else:
            _close(fit.intercept_stderr, ref.intercept_stderr, 1e-9)
    for key in ("deviance", "null_deviance", "aic", "bic", "llf", "dispersion"):
        _close(fit.get(key), ref.get(key), TOL)
    assert fit.cov_type == ref.cov_type
    assert fit.n_passes >= fit.n_fev + 2 and fit.n_chunks >= 1


def _both(X, y, chunk_rows=400, **options):
    """(chunked fit, in-memory fit) of the same problem."""
    fit = ngd.fit(X, y, backend="chunked", chunk_rows=chunk_rows, **options)
    ref = ngd.fit(X, y, subsample=None, **options)
    return fit, ref


# --- 1. equality with the in-memory fit ------------------------------------------------

def _logistic_problem(n=1500):
    rng, X = _rng_X(n, seed=0)
    offset = 0.3 * rng.standard_normal(n)
    w = rng.uniform(0.2, 3.0, n)
    w[:400] = 0.0                                   # the whole first chunk has zero weight
    w[rng.random(n) < 0.1] = 0.0                    # and some rows elsewhere
    eta = X @ np.array([1.0, -0.5, 0.25, 0.0]) + offset - 0.3
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    return X, y, w, offset


@pytest.mark.parametrize("options", [
    dict(),
    dict(cov_type="robust"),
    dict(method="newton"),
    dict(method="newton", cov_type="robust"),
    dict(fisher="empirical"),
    dict(fisher="observed", step="kl"),
    dict(fisher="bohning"),
    dict(step="lm"),
], ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_logistic_string_labels_weights_offset_l2_match_in_memory(options):
    X, y, w, offset = _logistic_problem()
    fit, ref = _both(X, y, sample_weight=w, offset=offset, l2=1e-3, tol=1e-10, **options)
    _same(fit, ref)
    assert list(fit.classes) == ["no", "yes"]
    assert fit.n_chunks == 4 and fit.dtype == "float64"


def test_poisson_log_with_exposure_offset_and_weights_matches_in_memory():
    rng, X = _rng_X(seed=1)
    exposure = rng.uniform(0.5, 4.0, len(X))
    w = rng.uniform(0.5, 2.0, len(X))
    w[rng.random(len(X)) < 0.05] = 0.0
    y = rng.poisson(exposure * np.exp(X @ np.array([0.3, -0.2, 0.1, 0.0]) + 0.2))
    fit, ref = _both(X, y, model="poisson", offset=np.log(exposure), sample_weight=w,
                     chunk_rows=333)
    _same(fit, ref)
    assert fit.family == "poisson" and fit.link == "log"


@pytest.mark.parametrize("model, link, power", [
    ("gamma", "log", None),
    ("inverse_gaussian", "log", None),
    ("tweedie", None, 1.5),
    ("gaussian", "identity", None),
])
def test_glm_families_match_in_memory(model, link, power):
    rng, X = _rng_X(seed=2)
    beta = np.array([0.2, 0.1, -0.3, 0.05])
    mu = np.exp(X @ beta + 1.0)
    if model == "gamma":
        y = rng.gamma(3.0, mu / 3.0)
    elif model == "inverse_gaussian":
        y = rng.wald(mu, 20.0)
    elif model == "tweedie":
        counts = rng.poisson(mu / 2)
        y = np.array([rng.gamma(2.0, 1.0, c).sum() for c in counts])    # zeros and positives
    else:
        y = X @ beta + 1.0 + rng.standard_normal(len(X))
    w = rng.uniform(0.5, 2.0, len(X))
    for method in ("ngd", "newton"):
        fit, ref = _both(X, y, model=model, link=link, power=power, sample_weight=w,
                         l2=1e-4, method=method)
        _same(fit, ref)
        assert fit.dispersion != 1.0                 # Pearson chi^2 / (n - k)
    if model == "gaussian":                          # the llf at the ML scale RSS / sum w
        phi = ref.deviance / w.sum()
        resid = y - (X @ ref.coef + ref.intercept)
        llf = -0.5 * np.sum(w * (resid ** 2 / phi + np.log(2 * np.pi * phi)))
        assert fit.llf == pytest.approx(llf, rel=1e-10)


def test_binomial_probit_with_trials_matches_in_memory():
    rng, X = _rng_X(n=1200, seed=4)
    trials = rng.integers(1, 6, len(X)).astype(float)
    p = 1 / (1 + np.exp(-(X @ np.array([0.4, -0.3, 0.0, 0.2]))))
    y = rng.binomial(trials.astype(int), p).astype(float)
    fit, ref = _both(X, y, model="binomial", link="probit", trials=trials)
    _same(fit, ref)
    assert fit.link == "probit"


def test_float32_without_intercept_and_integer_x_match_in_memory():
    rng, X = _rng_X(n=1200, seed=5)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X @ np.array([1.0, -1.0, 0.5, 0.0])))) * 1.0
    X32 = X.astype(np.float32)
    fit, ref = _both(X32, y, fit_intercept=False)
    assert fit.dtype == "float32" == ref.dtype
    _same(fit, ref)
    assert fit.intercept == 0.0 and fit.intercept_stderr is None
    Xi = np.rint(3 * X).astype(np.int32)            # converted to float64 chunk by chunk
    fit, ref = _both(Xi, y, l2=1e-3, model="poisson", chunk_rows=500)
    _same(fit, ref)
    assert fit.dtype == "float64"


@pytest.mark.parametrize("chunk_rows, n, n_chunks", [
    (7, 100, 15),                   # does not divide n
    (1, 25, 25),                    # one row per chunk
    (1000, 120, 1),                 # more rows than n
    (None, 300, 1),                 # the default (about 64 MB of X)
])
def test_chunk_sizes(chunk_rows, n, n_chunks):
    rng, X = _rng_X(n=n, p=2, seed=6)
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + 0.5 * X[:, 1]))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    offset = 0.2 * rng.standard_normal(n)
    fit = ngd.fit(X, y, backend="chunked", chunk_rows=chunk_rows, sample_weight=w,
                  offset=offset, l2=1e-2)
    ref = ngd.fit(X, y, subsample=None, sample_weight=w, offset=offset, l2=1e-2)
    _same(fit, ref)
    assert fit.n_chunks == n_chunks


# --- 2. null deviance with an intercept and an offset -------------------------------------

@pytest.mark.parametrize("model, link", [
    ("logistic", None), ("poisson", "log"), ("gamma", "log"), ("binomial", "cloglog")])
def test_null_deviance_with_intercept_and_offset_matches_in_memory(model, link):
    rng, X = _rng_X(n=1000, p=3, seed=7)
    offset = 0.5 * rng.standard_normal(len(X))
    eta = X @ np.array([0.3, -0.2, 0.1]) + offset
    trials = None
    if model == "logistic":
        y = (rng.random(len(X)) < 1 / (1 + np.exp(-eta))).astype(float)
    elif model == "poisson":
        y = rng.poisson(np.exp(eta + 0.5)).astype(float)
    elif model == "gamma":
        y = rng.gamma(2.0, np.exp(eta + 1.0) / 2.0)
    else:
        trials = rng.integers(1, 8, len(X)).astype(float)
        y = rng.binomial(trials.astype(int), 1 - np.exp(-np.exp(eta - 0.5))).astype(float)
    options = dict(model=model, link=link, trials=trials, offset=offset)
    fit, ref = _both(X, y, chunk_rows=300, **options)
    assert math.isfinite(ref.null_deviance) and ref.null_deviance > ref.deviance
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-10, abs=0)
    # not the closed form g(ybar) - mean offset: the intercept-only model was fitted
    with pytest.warns(ngd.ConvergenceWarning):
        start = ngd.fit(X, y, backend="chunked", chunk_rows=300, max_iter=0, **options)
        shortcut = ngd.fit(np.zeros((len(X), 1)), y, max_iter=0, **options)
    # the deviance at the start's intercept g(ybar) - mean offset is larger
    assert shortcut.deviance > ref.null_deviance * (1 + 1e-8)
    no_offset = ngd.fit(X, y, backend="chunked", chunk_rows=300, model=model, link=link,
                        trials=trials)
    assert start.null_deviance == pytest.approx(ref.null_deviance, rel=1e-10, abs=0)
    assert no_offset.null_deviance != pytest.approx(ref.null_deviance, rel=1e-6)


# --- 3. one pass per evaluation --------------------------------------------------------

@pytest.fixture
def passes(monkeypatch):
    """Every pass of LocalChunkedModel: (label, task name, chunk task calls, X given)."""
    record = []
    original = LocalChunkedModel._map_reduce

    def counting(self, task, args, label="pass", use_X=True):
        calls = []

        def counted(spec, task_args, start, X, *arrays):
            calls.append(X is not None)
            return task(spec, task_args, start, X, *arrays)

        out = original(self, counted, args, label=label, use_X=use_X)
        record.append((label, task.__name__, len(calls), calls))
        return out

    monkeypatch.setattr(LocalChunkedModel, "_map_reduce", counting)
    return record


@pytest.mark.parametrize("method, cov_type", [
    ("ngd", "model"), ("newton", "model"), ("ngd", "robust")])
def test_one_pass_per_evaluation_without_offset(passes, method, cov_type):
    rng, X = _rng_X(n=1000, p=3, seed=8)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    fit = ngd.fit(X, y, backend="chunked", chunk_rows=150, method=method,
                  cov_type=cov_type)                                # 7 chunks
    assert fit.n_chunks == 7
    labels = [label for label, *_ in passes]
    # the summary pass, one null-model pass over y and w (the start check: the loss at
    # coef = 0; its intercept, log-odds of the mean, is the null model's MLE, so the null
    # deviance reuses it), one pass per evaluation (loss, gradient AND curvature Gram) and
    # the statistics pass (0/1 labels: the log-likelihood is -deviance / 2, no pass of its own)
    assert labels == ["summary", "null"] + ["pass"] * fit.n_fev + ["stats"]
    assert fit.n_passes == len(passes) == fit.n_fev + 3
    assert all(calls == 7 for _, _, calls, _ in passes)          # each chunk once per pass
    assert not any(passes[1][3])
    assert all(all(x_given) for *_, x_given in passes[:1] + passes[2:])
    assert [name for _, name, *_ in passes][2:-1] == ["evaluation"] * fit.n_fev


def test_null_fit_passes_do_not_read_x(passes):
    rng, X = _rng_X(n=900, p=3, seed=9)
    exposure = rng.uniform(0.5, 3.0, len(X))
    y = rng.poisson(exposure * np.exp(X @ np.array([0.3, -0.2, 0.1])))
    fit = ngd.fit(X, y, model="poisson", offset=np.log(exposure), backend="chunked",
                  chunk_rows=200)                                 # 5 chunks
    labels = [label for label, *_ in passes]
    null = [entry for entry in passes if entry[0] == "null"]
    assert len(null) >= 2                                         # the start and >= 1 step
    assert fit.n_passes == len(passes) == fit.n_fev + 3 + len(null)
    assert labels[:2 + fit.n_fev] == ["summary", "null"] + ["pass"] * fit.n_fev   # start check
    assert labels[2 + fit.n_fev] == "stats" and labels[-1] == "llf"
    for label, name, calls, x_given in passes:
        assert calls == 5
        if label == "null":
            assert name == "null_evaluation" and not any(x_given)   # X is never read
        else:
            assert all(x_given)


# --- 4. memory bounded by the chunk ------------------------------------------------------

def _traced_peak(function):
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_memory_is_bounded_by_the_chunk_not_by_n(tmp_path):
    n, p = 400_000, 5
    rng = np.random.default_rng(10)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=(n, p))
    y = np.empty(n)
    beta = np.array([0.5, -0.5, 0.25, 0.0, 0.1])
    for a in range(0, n, 50_000):
        block = rng.standard_normal((50_000, p))
        X[a:a + 50_000] = block
        y[a:a + 50_000] = rng.random(50_000) < 1 / (1 + np.exp(-block @ beta))
    X.flush()
    del X
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "w.npy", rng.uniform(0.5, 2.0, n))
    del y
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    w = np.load(tmp_path / "w.npy", mmap_mode="r")
    one_vector = n * 8                                            # 3.2 MB

    out = {}

    def chunked():
        out["chunked"] = ngd.fit(X, y, sample_weight=w, backend="chunked", chunk_rows=10_000,
                                 l2=1e-4)

    def in_memory():
        out["numpy"] = ngd.fit(X, y, sample_weight=w, backend="numpy", l2=1e-4)

    peak = _traced_peak(chunked)
    assert out["chunked"].converged and out["chunked"].n_chunks == 40
    assert peak < one_vector, f"chunked fit peaked at {peak} bytes"
    # the measurement has teeth: the in-memory fit holds length-n temporaries
    peak_numpy = _traced_peak(in_memory)
    assert peak_numpy > one_vector, f"in-memory fit peaked at {peak_numpy} bytes"
    assert out["chunked"].loss == pytest.approx(out["numpy"].loss, rel=1e-10)


# --- 5. the curvature on a seeded row subsample ------------------------------------------

@pytest.fixture(scope="module")
def subsample_problem():
    rng, X = _rng_X(n=40_000, p=5, seed=11)
    eta = X @ np.array([1.0, -1.0, 0.5, 0.0, 0.2]) - 0.2
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y, ngd.fit(X, y, subsample=None, tol=1e-12)


def test_subsampled_curvature_reaches_the_in_memory_optimum(subsample_problem):
    X, y, ref = subsample_problem
    options = dict(backend="chunked", subsample=2000, tol=1e-12)
    fit = ngd.fit(X, y, chunk_rows=3000, **options)
    assert fit.converged, fit.message
    assert fit.history["fisher_rows"][1] == 2000                # nominal m, not the draw
    assert fit.loss == pytest.approx(ref.loss, rel=1e-12, abs=0)
    # linear convergence: the loop stops when the loss change is at rounding while the
    # coefficients may still move by more than that
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=1e-6)
    assert abs(fit.intercept - ref.intercept) <= 1e-6
    again = ngd.fit(X, y, chunk_rows=3000, **options)
    np.testing.assert_array_equal(again.history["loss"], fit.history["loss"])
    np.testing.assert_array_equal(again.coef, fit.coef)
    # the draw is keyed by (seed, draw, chunk start): other chunks, another sample
    other = ngd.fit(X, y, chunk_rows=7001, **options)
    assert other.history["loss"][2] != fit.history["loss"][2]
    assert other.loss == pytest.approx(ref.loss, rel=1e-12, abs=0)
    seeded = ngd.fit(X, y, chunk_rows=3000, seed=1, **options)
    assert seeded.history["loss"][2] != fit.history["loss"][2]
    assert seeded.loss == pytest.approx(ref.loss, rel=1e-12, abs=0)


def test_sample_rows_fraction_and_keys():
    rows = chunk_tasks.sample_rows((0.1, 0, 1), 0, 100_000)
    assert abs(rows.size - 10_000) < 500
    np.testing.assert_array_equal(rows, chunk_tasks.sample_rows((0.1, 0, 1), 0, 100_000))
    assert not np.array_equal(rows[:100], chunk_tasks.sample_rows((0.1, 0, 1), 5, 100_000)[:100])
    assert not np.array_equal(rows[:100], chunk_tasks.sample_rows((0.1, 0, 2), 0, 100_000)[:100])
    assert not np.array_equal(rows[:100], chunk_tasks.sample_rows((0.1, 1, 1), 0, 100_000)[:100])


@pytest.mark.parametrize("subsample", [None, "auto"])
def test_no_subsample_on_small_n_uses_all_rows(subsample):
    rng, X = _rng_X(n=3000, p=3, seed=12)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    fit = ngd.fit(X, y, backend="chunked", chunk_rows=700, subsample=subsample)
    assert np.all(fit.history["fisher_rows"][1:] == len(X))
    _same(fit, ngd.fit(X, y, subsample=None))


# --- 6. bad input: one clear error ----------------------------------------------------

@pytest.fixture
def small():
    rng, X = _rng_X(n=200, p=3, seed=13)
    y = (rng.random(200) < 0.5).astype(float)
    return X, y


def test_sparse_x_is_a_type_error_naming_numpy(small):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = small
    with pytest.raises(TypeError, match="backend='numpy'"):
        ngd.fit(sparse.csr_matrix(X), y, backend="chunked")


@pytest.mark.parametrize("options", [
    dict(method="sgd"), dict(method="adam"), dict(fisher="diagonal"),
    dict(solver="cg")],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_unsupported_options_name_the_backend(small, options):
    X, y = small
    with pytest.raises(ValueError, match="backend='chunked'"):
        ngd.fit(X, y, backend="chunked", **options)


def _softmax_data(n=2400, p=4, K=3, seed=12):
    rng, X = _rng_X(n=n, p=p, seed=seed)
    eta = X @ rng.standard_normal((K, p)).T
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    labels = np.array(["red", "green", "blue"])[:K]
    y = labels[(rng.random(n)[:, None] > prob.cumsum(axis=1)).sum(axis=1)]
    w = rng.uniform(0.5, 2.0, n)
    w[:400] = 0.0
    return rng, X, y, w


@pytest.mark.parametrize("l2", [0.0, 1e-2])            # reference and symmetric gauges
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_matches_in_memory(l2, fit_intercept):
    _, X, y, w = _softmax_data()
    ref = ngd.fit(X, y, model="softmax", l2=l2, sample_weight=w, fit_intercept=fit_intercept,
                  subsample=None)
    fit = ngd.fit(X, y, model="softmax", l2=l2, sample_weight=w, fit_intercept=fit_intercept,
                  backend="chunked", chunk_rows=500)
    assert list(fit.classes) == list(ref.classes) == ["blue", "green", "red"]
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.intercept, ref.intercept, rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-9, equal_nan=True)
    if fit_intercept:
        np.testing.assert_allclose(fit.intercept_stderr, ref.intercept_stderr, rtol=1e-9,
                                   equal_nan=True)
    for key in ("loss", "deviance", "null_deviance", "llf", "aic", "bic"):
        _close(fit[key], ref[key], 1e-10)
    assert fit.n_passes == fit.n_fev + 2                  # summary, passes, statistics


def test_softmax_with_a_subsampled_curvature_reaches_the_optimum():
    _, X, y, w = _softmax_data(n=6000, seed=13)
    ref = ngd.fit(X, y, model="softmax", l2=1e-3, sample_weight=w, subsample=None, tol=1e-12)
    fit = ngd.fit(X, y, model="softmax", l2=1e-3, sample_weight=w, backend="chunked",
                  chunk_rows=800, subsample=600, tol=1e-12)
    assert fit.history["fisher_rows"][1] == 600
    assert fit.loss == pytest.approx(ref.loss, rel=1e-13)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=1e-7)


def test_softmax_refuses_offset_link_and_trials():
    _, X, y, _ = _softmax_data(n=300)
    with pytest.raises(ValueError, match="offset= is not supported by the softmax model"):
        ngd.fit(X, y, model="softmax", offset=np.zeros(len(y)), backend="chunked")
    with pytest.raises(ValueError, match="no link= or trials="):
        ngd.fit(X, y, model="softmax", link="logit", backend="chunked")


@pytest.mark.parametrize("model, options", [
    ("logistic", dict(alpha=0.01, l1_ratio=1.0)),
    ("logistic", dict(alpha=0.02, l1_ratio=0.5, penalty_factor="first free")),
    ("poisson", dict(alpha=0.01, l1_ratio=1.0)),
    ("softmax", dict(alpha=0.01, l1_ratio=1.0)),
    ("softmax", dict(alpha=0.01, l1_ratio=0.7, penalty_factor="first free"))],
    ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values())))
def test_elastic_net_matches_in_memory(model, options):
    """Proximal NGD on the chunked model (the reduced Gram as curvature): the same sparse
    optimum, KKT-certified, as the in-memory elastic net."""
    rng, X = _rng_X(n=3000, p=20, seed=14)
    beta = np.where(np.arange(20) < 5, 0.6, 0.0)
    eta = X @ beta
    if options.get("penalty_factor") == "first free":
        options = dict(options, penalty_factor=np.r_[0.0, np.ones(19)])
    extra = {}
    if model == "logistic":
        extra = dict(offset=0.2 * rng.standard_normal(len(X)),
                     sample_weight=rng.uniform(0.5, 2.0, len(X)))
        y = (rng.random(len(X)) < 1 / (1 + np.exp(-(eta + extra["offset"])))).astype(float)
    elif model == "poisson":
        extra = dict(offset=0.2 * rng.standard_normal(len(X)))
        y = rng.poisson(np.exp(0.3 * eta + extra["offset"])).astype(float)
    else:
        scores = np.column_stack([np.zeros(len(X)), eta, -X[:, 1]])
        prob = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        y = (rng.random(len(X))[:, None] > prob.cumsum(axis=1)).sum(axis=1)
    ref = ngd.fit(X, y, model=model, tol=1e-10, **options, **extra)
    fit = ngd.fit(X, y, model=model, tol=1e-10, backend="chunked", chunk_rows=700, **options,
                  **extra)
    assert fit.backend == "chunked" and fit.kkt_violation <= 1e-10
    assert fit.n_nonzero == ref.n_nonzero < np.size(ref.coef)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.intercept, ref.intercept, rtol=0, atol=1e-9)
    _close(fit.deviance, ref.deviance, 1e-10)
    _close(fit.null_deviance, ref.null_deviance, 1e-10)


@pytest.mark.parametrize("model, link", [("logistic", None), ("binomial", "probit")])
def test_separation_is_detected_as_in_memory(model, link):
    """Completely separated data: status 6 with the same rows and columns as the in-memory
    fit (the check is one pass over the chunks); the same check stays silent on data with an
    MLE."""
    rng, X = _rng_X(n=1800, p=3, seed=15)
    y = (X[:, 1] + 0.5 * X[:, 2] > 0).astype(float)
    ref = ngd.fit(X, y, model=model, link=link, subsample=None)
    fit = ngd.fit(X, y, model=model, link=link, backend="chunked", chunk_rows=250)
    assert ref.status == fit.status == 6
    assert fit.separation["columns"] == ref.separation["columns"] == [1, 2]
    np.testing.assert_array_equal(fit.separation["rows"], ref.separation["rows"])
    assert "does not exist (separation)" in fit.message
    y[:40] = 1 - y[:40]                                  # overlap: the MLE exists
    assert ngd.fit(X, y, model=model, link=link, backend="chunked", chunk_rows=250).status \
        in (0, 1)


def test_nan_in_x_names_the_global_row_and_column(small):
    X, y = small
    X = X.copy()
    X[137, 2] = np.nan                              # chunk_rows 60: the third chunk
    with pytest.raises(DataError, match=r"non-finite value \(nan\) at row 137, column 2"):
        ngd.fit(X, y, backend="chunked", chunk_rows=60)


def test_bad_data_is_a_data_error(small):
    X, y = small
    w = np.ones(len(y))
    w[150] = -1.0
    with pytest.raises(DataError, match="sample_weight must be >= 0"):
        ngd.fit(X, y, backend="chunked", sample_weight=w, chunk_rows=60)
    with pytest.raises(DataError, match="positive sum"):
        ngd.fit(X, y, backend="chunked", sample_weight=np.zeros(len(y)))
    with pytest.raises(DataError, match=r"y must have shape \(200,\)"):
        ngd.fit(X, y[:-1], backend="chunked")
    with pytest.raises(DataError, match="only one class"):
        ngd.fit(X, np.ones(len(y)), backend="chunked", chunk_rows=60)
    with pytest.raises(DataError, match="3 distinct values"):
        ngd.fit(X, np.arange(len(y)) % 3, backend="chunked", chunk_rows=60)
    with pytest.raises(DataError, match="3 distinct values"):       # the third only late
        ngd.fit(X, np.where(np.arange(len(y)) == 199, 2.0, y), backend="chunked",
                chunk_rows=60)


@pytest.mark.parametrize("model", ["poisson", "gaussian"])
def test_nan_in_glm_y_is_a_data_error_naming_the_global_row(small, model):
    X, _ = small
    y = np.random.default_rng(0).poisson(1.0, len(X)).astype(float)
    y[137] = np.nan
    with pytest.raises(DataError, match=r"nan\)? at (index|row) 137"):
        ngd.fit(X, y, model=model, subsample=None)                 # in memory: a DataError
    with pytest.raises(DataError, match=r"y has a non-finite value \(nan\) at index 137"):
        ngd.fit(X, y, model=model, backend="chunked", chunk_rows=60)


@pytest.mark.parametrize("chunk_rows", [0, -3, 1.5, True, "100"])
def test_bad_chunk_rows(small, chunk_rows):
    X, y = small
    with pytest.raises(ValueError, match="chunk_rows must be an integer >= 1"):
        ngd.fit(X, y, backend="chunked", chunk_rows=chunk_rows)


def test_chunk_rows_on_numpy_is_an_error_and_compare_runs_on_chunked(small):
    X, y = small
    with pytest.raises(ValueError, match="chunk_rows applies to backend='chunked'"):
        ngd.fit(X, y, backend="numpy", chunk_rows=100)
    results = ngd.compare(X, y, backend="chunked", chunk_rows=100, statistics="first")
    assert list(results) == ["ngd", "newton"]          # sgd: not run by the backend
    for method, result in results.items():
        alone = ngd.fit(X, y, backend="chunked", chunk_rows=100, method=method)
        assert result.backend == "chunked"
        np.testing.assert_array_equal(result.coef, alone.coef)
        assert result.loss == alone.loss and result.n_passes <= alone.n_passes
    assert results["ngd"].stderr is not None and results["newton"].stderr is None
    with pytest.raises(ValueError, match="backend='chunked' supports method 'ngd' or 'newton'"):
        ngd.compare(X, y, methods=("sgd", "ngd"), backend="chunked")


# --- 7. the command line -------------------------------------------------------------

@pytest.fixture
def npy_data(tmp_path):
    rng, X = _rng_X(n=1500, p=3, seed=14)
    offset = 0.3 * rng.standard_normal(len(X))
    eta = X @ np.array([1.0, 0.0, -1.0]) + offset
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-eta))).astype(float)
    np.save(tmp_path / "d.npy", X)
    np.save(tmp_path / "d.y.npy", y)
    np.save(tmp_path / "d.w.npy", rng.uniform(0.5, 2.0, len(X)))
    np.save(tmp_path / "d.offset.npy", offset)
    return tmp_path / "d.npy"


def _invoke(*args):
    from click.testing import CliRunner
    from ngd.cli.main import cli
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_backend_chunked_equals_numpy(npy_data):
    base = ["fit", npy_data, "--l2", "1e-3", "--json", "--no-compare"]
    ref = _invoke(*base, "--backend", "numpy")
    out = _invoke(*base, "--backend", "chunked")
    assert ref.exit_code == 0, ref.output
    assert out.exit_code == 0, out.output
    ref, out = json.loads(ref.stdout), json.loads(out.stdout)
    assert out["backend"] == "chunked" and ref["backend"] == "numpy"
    assert isinstance(out["n_passes"], int) and out["n_passes"] > 3
    assert out["data"]["weights"] is not None and out["data"]["offset"] is not None
    assert [c["name"] for c in out["coefficients"]] == [c["name"] for c in ref["coefficients"]]
    for a, b in zip(out["coefficients"], ref["coefficients"]):
        assert a["estimate"] == pytest.approx(b["estimate"], abs=TOL, rel=0)
        assert a["stderr"] == pytest.approx(b["stderr"], rel=1e-9)
    for key in ("deviance", "null_deviance", "aic"):
        assert out["statistics"][key] == pytest.approx(ref["statistics"][key], rel=1e-10)


def test_cli_backend_chunked_runs_ngd_and_newton_only(npy_data):
    out = _invoke("fit", npy_data, "--json", "--backend", "chunked")     # compare by default
    assert out.exit_code == 0, out.output
    assert "not run: sgd" in out.stderr
    report = json.loads(out.stdout)
    assert [r["method"] for r in report["convergence"]] == ["ngd", "newton"]


@pytest.mark.parametrize("extra, message", [
    (["--model", "softmax"], "offset= is not supported by the softmax model"),
    (["--path"], "no --path or --cv"),
])
def test_cli_backend_chunked_unsupported_is_one_error_line(npy_data, extra, message):
    out = _invoke("fit", npy_data, "--backend", "chunked", "--no-compare", *extra)
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]
    assert "Traceback" not in out.output


def test_cli_backend_auto_on_small_npy_stays_in_memory(npy_data):
    out = _invoke("fit", npy_data, "--json", "--no-compare", "--backend", "auto")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["backend"] == "numpy" and report["n_passes"] is None


def test_chunks_on_a_thread_pool_give_the_single_thread_sums():
    """n_threads > 1 runs the chunks on a pool (kernels single-threaded in each chunk): the
    results are bit-identical to one thread, and the first bad chunk in row order is reported
    whichever thread finds it."""
    rng, X = _rng_X(n=5000, p=6, seed=11)
    offset = 0.2 * rng.standard_normal(len(X))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + offset)).astype(float)
    one = ngd.fit(X, y, model="poisson", offset=offset, backend="chunked", chunk_rows=700,
                  n_threads=1, subsample=1000)
    two = ngd.fit(X, y, model="poisson", offset=offset, backend="chunked", chunk_rows=700,
                  n_threads=2, subsample=1000)
    np.testing.assert_array_equal(one.coef, two.coef)
    np.testing.assert_array_equal(one.history["loss"], two.history["loss"])
    assert one.null_deviance == two.null_deviance and one.stderr.tolist() == two.stderr.tolist()
    bad = X.copy()
    bad[[1500, 4800], [1, 2]] = np.inf
    with pytest.raises(DataError, match=r"row 1500, column 1"):
        ngd.fit(bad, y, model="poisson", backend="chunked", chunk_rows=700, n_threads=2)


def test_offset_without_a_valid_start_is_named_out_of_core():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 3)), rng.poisson(1.0, 200).astype(float)
    offset = np.zeros(200)
    offset[0] = 1000.0                    # exp(1000) overflows: no finite loss at coef = 0
    with pytest.raises(ngd.DataError, match="^offset: no valid starting point") as info:
        ngd.fit(X, y, model="poisson", offset=offset, backend="chunked")
    assert "\n" not in str(info.value)
