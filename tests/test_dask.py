"""The Dask backend on a real dask.distributed LocalCluster (two worker processes, loopback):
same optimum, standard errors and deviance as the in-memory fit to 1e-10, one pass over the
data per evaluation, clear errors, and ``ngd fit --backend dask``."""
import json

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed",
                                  reason="the Dask backend needs dask[distributed] "
                                         "(pip install 'ngd[dask]')")
da = pytest.importorskip("dask.array", reason="the Dask backend needs dask.array")

import ngd  # noqa: E402
from ngd.exceptions import DataError  # noqa: E402

TOL = 1e-10


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _data(n=2400, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return rng, X


def _same(dask_fit, ref, stderr=True):
    assert dask_fit.backend == "dask"
    assert dask_fit.converged and ref.converged
    np.testing.assert_allclose(dask_fit.coef, ref.coef, rtol=0, atol=TOL)
    assert abs(dask_fit.intercept - ref.intercept) <= TOL
    assert abs(dask_fit.loss - ref.loss) <= TOL
    if stderr:
        np.testing.assert_allclose(dask_fit.stderr, ref.stderr, rtol=1e-9, atol=0)
        if ref.intercept_stderr is None:            # no intercept
            assert dask_fit.intercept_stderr is None
        else:
            assert dask_fit.intercept_stderr == pytest.approx(ref.intercept_stderr, rel=1e-9)
    assert dask_fit.deviance == pytest.approx(ref.deviance, rel=1e-11)
    assert dask_fit.aic == pytest.approx(ref.aic, rel=1e-11)
    assert dask_fit.dispersion == pytest.approx(ref.dispersion, rel=1e-10)


def test_logistic_with_weights_offset_and_l2_matches_in_memory(client):
    rng, X = _data()
    offset = 0.3 * rng.standard_normal(len(X))
    w = rng.uniform(0.2, 3.0, len(X))
    w[:500] = 0.0                                       # a chunk of zero weight
    eta = X @ np.array([1.0, -0.5, 0.25, 0.0]) + offset - 0.3
    y = np.where(rng.random(len(X)) < 1 / (1 + np.exp(-eta)), "yes", "no")
    ref = ngd.fit(X, y, sample_weight=w, offset=offset, l2=1e-3, subsample=None)
    Xd = da.from_array(X, chunks=(500, 2))              # columns re-chunked to one block
    fit = ngd.fit(Xd, y, sample_weight=da.from_array(w, chunks=700), offset=offset, l2=1e-3)
    _same(fit, ref)
    assert list(fit.classes) == ["no", "yes"]
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)   # offset: own fit
    newton = ngd.fit(X, y, method="newton", backend="dask", sample_weight=w, offset=offset,
                     l2=1e-3, cov_type="robust")
    ref = ngd.fit(X, y, method="newton", sample_weight=w, offset=offset, l2=1e-3,
                  subsample=None, cov_type="robust")
    _same(newton, ref)


def test_poisson_log_with_dask_offset_matches_in_memory(client):
    rng, X = _data(seed=1)
    exposure = rng.uniform(0.5, 4.0, len(X))
    y = rng.poisson(exposure * np.exp(X @ np.array([0.3, -0.2, 0.1, 0.0]) + 0.2))
    ref = ngd.fit(X, y, model="poisson", offset=np.log(exposure), subsample=None)
    fit = ngd.fit(da.from_array(X, chunks=(600, 4)), da.from_array(y.astype(float), 1000),
                  model="poisson", offset=da.from_array(np.log(exposure), chunks=450))
    _same(fit, ref)
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)


def test_gamma_log_fisher_scoring_and_newton_match_in_memory(client):
    rng, X = _data(seed=2)
    mu = np.exp(X @ np.array([0.2, 0.1, -0.3, 0.05]) + 1.0)
    y = rng.gamma(3.0, mu / 3.0)
    Xd = da.from_array(X, chunks=(800, 4))
    for method in ("ngd", "newton"):            # non-canonical link: the two differ
        ref = ngd.fit(X, y, model="gamma", link="log", method=method, l2=1e-4,
                      subsample=None)
        fit = ngd.fit(Xd, y, model="gamma", link="log", method=method, l2=1e-4)
        _same(fit, ref)
        assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)
        assert fit.llf == pytest.approx(ref.llf, rel=1e-11)


def test_one_pass_per_evaluation(client):
    rng, X = _data(seed=3)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    Xd = da.from_array(X, chunks=(400, 4))              # 6 chunks
    with distributed.get_task_stream(client) as stream:
        fit = ngd.fit(Xd, y, method="newton")
    keys = [str(task["key"]) for task in stream.data]
    chunk_tasks = [k for k in keys if k.startswith("ngd-pass-") and "-chunk-" in k]
    passes = {k.rsplit("-chunk-", 1)[0] for k in chunk_tasks}
    # every evaluation of the loop (loss, gradient AND the Fisher Gram) is one pass: one
    # task per chunk, reduced by a tree, no second pass for the curvature
    assert len(passes) == fit.n_fev
    assert len(chunk_tasks) == fit.n_chunks * fit.n_fev == 6 * fit.n_fev
    assert fit.n_fev == fit.n_iter + 1                  # Newton takes unit steps here
    # + the first pass (validation, start), the statistics pass (logistic: no llf pass) and
    # the null model's pass over y (not X)
    assert fit.n_passes == fit.n_fev + 3
    assert sum(k.startswith("ngd-stats-") and "-chunk-" in k for k in keys) == 6


def test_subsampled_fisher_on_dask_equals_the_local_chunked_fit(client):
    """The curvature on a seeded row subsample (the same rows for the same chunks, wherever the
    chunk runs): the Dask fit equals the local chunked fit step for step, and reaches the
    in-memory optimum."""
    rng, X = _data(n=6000, p=5, seed=6)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X @ np.array([1.0, -1.0, 0.5, 0.0, 0.2]))))
    options = dict(subsample=400, tol=1e-12, l2=1e-4)
    fit = ngd.fit(da.from_array(X, chunks=(1000, 5)), y, **options)
    local = ngd.fit(X, y, backend="chunked", chunk_rows=1000, **options)
    ref = ngd.fit(X, y, l2=1e-4, tol=1e-12, subsample=None)
    assert 0 < fit.history["fisher_rows"][1] < len(X)
    np.testing.assert_array_equal(fit.history["loss"], local.history["loss"])
    np.testing.assert_allclose(fit.coef, local.coef, rtol=0, atol=1e-14)
    # a subsampled curvature converges linearly: the loss stops changing above rounding
    # (the loop's stop) while the coefficients still move by ~1e-8
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=1e-7)
    assert fit.loss == pytest.approx(ref.loss, rel=1e-14)


def test_softmax_on_dask_matches_in_memory(client):
    rng, X = _data(n=2400, p=4, seed=7)
    eta = X @ rng.standard_normal((3, 4)).T
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y = (rng.random(len(X))[:, None] > prob.cumsum(axis=1)).sum(axis=1)
    ref = ngd.fit(X, y, model="softmax", l2=1e-3, subsample=None)
    fit = ngd.fit(da.from_array(X, chunks=(500, 4)), y, model="softmax", l2=1e-3)
    assert fit.backend == "dask" and list(fit.classes) == [0, 1, 2]
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.stderr, ref.stderr, rtol=1e-9)
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)
    assert fit.aic == pytest.approx(ref.aic, rel=1e-11)


def test_lasso_on_dask_matches_in_memory(client):
    rng, X = _data(n=2400, p=4, seed=8)
    offset = 0.3 * rng.standard_normal(len(X))
    y = rng.poisson(np.exp(X @ np.array([0.4, 0.0, -0.3, 0.0]) + offset)).astype(float)
    ref = ngd.fit(X, y, model="poisson", offset=offset, alpha=0.05, l1_ratio=1.0, tol=1e-10)
    fit = ngd.fit(da.from_array(X, chunks=(500, 4)), y, model="poisson", offset=offset,
                  alpha=0.05, l1_ratio=1.0, tol=1e-10)
    assert fit.backend == "dask" and fit.n_nonzero == ref.n_nonzero < 4
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=0, atol=1e-9)
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)


def test_glm_binomial_trials_probit_and_float32(client):
    rng, X = _data(n=1200, seed=4)
    trials = rng.integers(1, 6, len(X)).astype(float)
    p = 1 / (1 + np.exp(-(X @ np.array([0.4, -0.3, 0.0, 0.2]))))
    y = rng.binomial(trials.astype(int), p).astype(float)
    ref = ngd.fit(X, y, model="binomial", link="probit", trials=trials, subsample=None)
    fit = ngd.fit(X, y, model="binomial", link="probit", trials=trials, backend="dask")
    _same(fit, ref)
    X32 = X.astype(np.float32)
    ref = ngd.fit(X32, y, model="binomial", trials=trials, fit_intercept=False,
                  subsample=None)
    fit = ngd.fit(da.from_array(X32, chunks=(300, 4)), y, model="binomial", trials=trials,
                  fit_intercept=False)
    assert fit.dtype == "float32"
    _same(fit, ref)
    assert fit.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)


def test_dask_dataframe_input(client):
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pandas")
    pd = pytest.importorskip("pandas")
    rng, X = _data(n=900, p=3, seed=5)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X[:, 1]))).astype(float)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=3)
    fit = ngd.fit(frame, dd.from_pandas(pd.Series(y), npartitions=3))
    _same(fit, ngd.fit(X, y, subsample=None))


def test_bad_backend_and_unsupported_options_are_clear(client):
    rng, X = _data(n=200, p=2)
    y = (rng.random(200) < 0.5).astype(float)
    with pytest.raises(ValueError,
                       match=r"backend must be 'numpy', 'chunked' or 'dask', got 'spark'"):
        ngd.fit(X, y, backend="spark")
    with pytest.raises(ValueError, match="backend='dask' supports method 'ngd' or 'newton'"):
        ngd.fit(X, y, backend="dask", method="sgd")
    with pytest.raises(DataError, match="exactly two classes"):
        ngd.fit(X, np.arange(200) % 3, backend="dask")
    bad = X.copy()
    bad[150, 1] = np.nan
    with pytest.raises(DataError, match=r"row 150, column 1"):
        ngd.fit(da.from_array(bad, chunks=(60, 2)), y)


def test_cli_backend_dask_on_npy(client, tmp_path):
    from click.testing import CliRunner
    from ngd.cli.main import cli
    rng, X = _data(n=1500, p=3, seed=6)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-X[:, 0] + X[:, 2]))).astype(float)
    np.save(tmp_path / "d.npy", X)
    np.save(tmp_path / "d.y.npy", y)
    np.save(tmp_path / "d.w.npy", rng.uniform(0.5, 2.0, len(X)))
    runner = CliRunner()
    base = ["fit", str(tmp_path / "d.npy"), "--l2", "1e-3", "--json", "--compare", "ngd,newton"]
    ref = runner.invoke(cli, base)
    out = runner.invoke(cli, base + ["--backend", "dask", "--scheduler",
                                     client.scheduler.address])
    assert ref.exit_code == 0, ref.output
    assert out.exit_code == 0, out.output
    ref, out = json.loads(ref.stdout), json.loads(out.stdout)
    assert [r["method"] for r in out["convergence"]] == ["ngd", "newton"]
    for a, b in zip(out["coefficients"], ref["coefficients"]):
        assert a["estimate"] == pytest.approx(b["estimate"], abs=TOL)
        assert a["stderr"] == pytest.approx(b["stderr"], rel=1e-9)
    bad = runner.invoke(cli, base + ["--backend", "dask", "--method", "sgd", "--scheduler",
                                     client.scheduler.address])
    assert bad.exit_code == 2 and "supports method 'ngd' or 'newton'" in bad.output


def test_cli_backend_dask_on_csv_read_by_dask_dataframe(client, tmp_path):
    pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pandas")
    from click.testing import CliRunner
    from ngd.cli.main import cli
    rng, X = _data(n=800, p=2, seed=7)
    exposure = rng.uniform(0.5, 3.0, len(X))
    y = rng.poisson(exposure * np.exp(X @ np.array([0.3, -0.2])))
    lines = ["a,b,logexp,count"] + [f"{a:.17g},{b:.17g},{e:.17g},{c}" for (a, b), e, c
                                    in zip(X, np.log(exposure), y)]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    base = ["fit", str(tmp_path / "p.csv"), "--model", "poisson", "--offset", "logexp",
            "--json", "--no-compare"]
    runner = CliRunner()
    ref = runner.invoke(cli, base)
    out = runner.invoke(cli, base + ["--backend", "dask", "--scheduler",
                                     client.scheduler.address])
    assert ref.exit_code == 0 and out.exit_code == 0, out.output
    ref, out = json.loads(ref.stdout), json.loads(out.stdout)
    assert [c["name"] for c in out["coefficients"]] == ["(intercept)", "a", "b"]
    for a, b in zip(out["coefficients"], ref["coefficients"]):
        assert a["estimate"] == pytest.approx(b["estimate"], abs=TOL)
    assert out["statistics"]["deviance"] == pytest.approx(ref["statistics"]["deviance"],
                                                          rel=1e-11)
