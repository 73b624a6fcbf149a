"""The curvature layer (ngd.fisher) and what rides on it: matrix-free products and diagonals
against the dense curvature, row subsamples against an explicit numpy estimate, each solver
(Cholesky, CG, Woodbury) against a dense solve, and whole fits with every solver, subsample,
step rule and the Boehning bound reaching the optimum of the plain dense fit; the Newton
decrement's invariance to column scaling; the factor reuse of a fixed curvature."""
import numpy as np
import pytest
from scipy.special import expit

import ngd
from ngd.fitting import FitData, build_model
from ngd.spec import ModelSpec
from ngd.fisher import CGSolver, CholeskySolver, RowSubsample, WoodburySolver, choose_solver
from ngd.models import RowSample


def _data(n=400, p=6, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) @ (np.eye(p) + 0.3 * rng.standard_normal((p, p)))
    return np.ascontiguousarray(X, dtype=dtype), rng


def _model(kind, n=400, p=6, l2=0.05, seed=0, weights=True, intercept=True):
    """A prepared model of each family (through ngd.api's validation)."""
    X, rng = _data(n, p, seed)
    w = rng.uniform(0.2, 3.0, n) if weights else None
    off = None
    beta = 0.3 * rng.standard_normal(p)
    eta = X @ beta
    if kind == "logistic":
        y = (rng.random(n) < expit(eta)).astype(float)
    elif kind == "poisson":
        off = 0.2 * rng.standard_normal(n)
        y = rng.poisson(np.exp(0.5 * eta + off)).astype(float)
    elif kind == "gamma":
        y = rng.gamma(2.0, np.exp(0.3 * eta) / 2.0)
    elif kind == "softmax":
        y = rng.integers(0, 4, n)
    else:
        raise KeyError(kind)
    link = "log" if kind == "gamma" else None
    spec = ModelSpec(model=kind, link=link, fit_intercept=intercept, l2=l2)
    prepared = build_model(spec, FitData(X, y, w, off), threads=1)
    return prepared.model


MODELS = [("logistic", 0.05), ("poisson", 0.0), ("gamma", 0.01), ("softmax", 0.05),
          ("softmax", 0.0)]


def _theta(model, seed=1):
    rng = np.random.default_rng(seed)
    return model.initial_theta() + 0.05 * rng.standard_normal(model.n_params)


# --- model accessors ------------------------------------------------------------------

@pytest.mark.parametrize("kind,l2", MODELS)
@pytest.mark.parametrize("curvature", ["exact", "empirical", "observed"])
def test_curvature_vector_and_diagonal_match_the_matrix(kind, l2, curvature):
    model = _model(kind, l2=l2)
    if kind == "softmax" and curvature == "observed":
        curvature = "exact"
    weights = model.evaluate(_theta(model), curvature).weights
    C = model.curvature_matrix(weights)
    u = np.random.default_rng(3).standard_normal(model.n_params)
    np.testing.assert_allclose(model.curvature_vector(weights, u), C @ u, rtol=1e-11,
                               atol=1e-13 * np.abs(C).max())
    np.testing.assert_allclose(model.curvature_diagonal(weights), np.diag(C), rtol=1e-12)


@pytest.mark.parametrize("kind,l2", MODELS)
def test_row_subsample_curvature_is_the_rescaled_rows_gram(kind, l2):
    model = _model(kind, l2=l2)
    index = np.random.default_rng(5).choice(model.n_samples, 90, replace=False)
    rows = RowSample(model, index)
    w = model.sample_weight
    assert rows.scale == pytest.approx(model.weight_sum / w[rows.index].sum(), rel=1e-15)
    weights = model.evaluate(_theta(model), "exact").weights
    sub = model.curvature_matrix(weights, rows)
    if kind == "softmax":       # subsampled model: the same rows, weights scaled up
        ref_model = _model(kind, l2=l2)
        ref_model.X = model.X[rows.index]
        curvature, P, D, wn = weights
        i = rows.index
        ref = ref_model.curvature_matrix((curvature, P[i], D[i], wn[i] * rows.scale))
    else:
        Xt = np.column_stack([model.X[rows.index], np.ones(rows.size)])
        v = weights[rows.index] * rows.scale
        ref = (Xt * v[:, None]).T @ Xt
        ref[np.arange(model.n_features), np.arange(model.n_features)] += model.l2
    np.testing.assert_allclose(sub, ref, rtol=1e-11, atol=1e-14)
    u = np.random.default_rng(6).standard_normal(model.n_params)
    np.testing.assert_allclose(model.curvature_vector(weights, u, rows), sub @ u,
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(model.curvature_diagonal(weights, rows), np.diag(sub),
                               rtol=1e-12)


# --- solvers ------------------------------------------------------------------------------

def _dense_solution(model, weights, g, damping, rows=None):
    C = model.curvature_matrix(weights, rows)
    return np.linalg.solve(C + damping * np.eye(C.shape[0]), g)


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("damping", [0.0, 1e-3])
@pytest.mark.parametrize("shape", [(60, 200), (300, 20)])
def test_woodbury_matches_the_dense_solve(intercept, damping, shape):
    n, p = shape
    model = _model("logistic", n=n, p=p, l2=0.02, intercept=intercept)
    weights = model.evaluate(_theta(model), "exact").weights
    g = np.random.default_rng(2).standard_normal(model.n_params)
    solve = WoodburySolver().solve(model, weights, g, damping)
    assert solve.damping == damping and solve.escalations == 0
    np.testing.assert_allclose(solve.direction, _dense_solution(model, weights, g, damping),
                               rtol=1e-8, atol=1e-10)


def test_woodbury_on_rows_and_with_a_singular_curvature():
    model = _model("logistic", n=500, p=40, l2=0.01)
    rows = RowSample(model, np.arange(0, 500, 20))          # 25 rows < 41 parameters
    weights = model.evaluate(_theta(model), "exact").weights
    g = np.random.default_rng(2).standard_normal(model.n_params)
    solve = WoodburySolver().solve(model, weights, g, 0.0, rows)
    np.testing.assert_allclose(solve.direction, _dense_solution(model, weights, g, 0.0, rows),
                               rtol=1e-8, atol=1e-10)
    model.l2 = 0.0                      # 25 rows, no penalty: singular, damping is raised
    solve = WoodburySolver().solve(model, weights, g, 0.0, rows)
    assert solve.escalations > 0 and solve.damping > 0
    assert np.all(np.isfinite(solve.direction)) and g @ solve.direction > 0
    negative = weights.copy()
    negative[0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        WoodburySolver().solve(model, negative, g, 0.0)


@pytest.mark.parametrize("kind,l2", MODELS)
def test_cg_reaches_its_forcing_tolerance(kind, l2):
    model = _model(kind, l2=l2)
    weights = model.evaluate(_theta(model), "exact").weights
    C = model.curvature_matrix(weights)
    for scale in (1.0, 1e-10):      # forcing min(0.1, sqrt(||g||)): loose far, tight near 0
        g = scale * np.random.default_rng(4).standard_normal(model.n_params)
        solve = CGSolver().solve(model, weights, g, 1e-8)
        residual = np.linalg.norm((C + 1e-8 * np.eye(len(g))) @ solve.direction - g)
        forcing = max(1e-12, min(0.1, np.sqrt(np.linalg.norm(g))))
        assert residual <= 1.0001 * forcing * np.linalg.norm(g) + 1e-15
        assert solve.info["residual"] <= forcing


def test_cg_raises_damping_on_an_indefinite_curvature():
    model = _model("gamma", l2=0.0)
    weights = -np.abs(model.evaluate(_theta(model), "exact").weights)   # negative definite
    g = np.random.default_rng(4).standard_normal(model.n_params)
    solve = CGSolver().solve(model, weights, g, 0.0)
    assert solve.escalations > 0 and solve.damping > 0


def test_cholesky_reuses_the_matrix_while_the_weights_do_not_change():
    model = _model("gamma", l2=0.0, weights=False)       # Gamma-log: exact weights w / sum w
    solver = CholeskySolver()
    g = np.ones(model.n_params)
    first = solver.solve(model, model.evaluate(_theta(model, 1), "exact").weights, g, 0.0)
    second = solver.solve(model, model.evaluate(_theta(model, 2), "exact").weights, g, 0.0)
    assert solver.n_matrices == 1 and second.info["reused"]
    np.testing.assert_array_equal(first.direction, second.direction)
    solver.solve(model, model.evaluate(_theta(model, 2), "observed").weights, g, 0.0)
    assert solver.n_matrices == 2                      # observed weights depend on theta


def test_automatic_choice_by_shape():
    small = _model("logistic", n=300, p=20)
    assert choose_solver(small, "exact", 300) == "cholesky"
    wide = _model("logistic", n=40, p=2100)
    assert choose_solver(wide, "exact", 40) == "woodbury"
    assert choose_solver(wide, "observed", 40) == "cg"       # Hessian weights may be < 0
    assert choose_solver(wide, "exact", 5000) == "cg"
    softmax = _model("softmax", n=40, p=600)                 # 4 x 601 parameters
    assert choose_solver(softmax, "exact", 40) == "cg"


# --- fits -----------------------------------------------------------------------------------

def _fit(kind, l2, **options):
    X, rng = _data(2000, 8, seed=11)
    eta = X @ (0.3 * rng.standard_normal(8))
    kwargs = dict(model=kind, l2=l2, tol=1e-10)
    if kind == "logistic":
        y = (rng.random(2000) < expit(eta)).astype(float)
        kwargs["sample_weight"] = rng.uniform(0.5, 2.0, 2000)
    elif kind == "poisson":
        off = 0.3 * rng.standard_normal(2000)
        y = rng.poisson(np.exp(0.5 * eta + off)).astype(float)
        kwargs["offset"] = off
    elif kind == "gamma":
        y = rng.gamma(2.0, np.exp(0.3 * eta) / 2.0)
        kwargs["link"] = "log"
    else:
        y = rng.integers(0, 3, 2000) + (eta > 0)
    return ngd.fit(X, y, **kwargs, **options)


OPTIONS = [dict(solver="cg"), dict(solver="woodbury"), dict(step="lm"),
           dict(subsample=300), dict(subsample=0.1, solver="cg"), dict(subsample=0.2, step="lm"),
           dict(fisher="empirical", solver="cg")]


@pytest.mark.parametrize("kind,l2", [("logistic", 1e-3), ("poisson", 0.0), ("gamma", 0.01),
                                     ("softmax", 1e-3), ("softmax", 0.0)])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}"
                                                                        for k, v in o.items()))
def test_every_solver_and_step_reaches_the_same_optimum(kind, l2, options):
    if options.get("fisher") == "empirical":        # BHHH converges linearly
        options = dict(options, max_iter=1000)
    if kind == "softmax" and options.get("solver") == "woodbury":
        with pytest.raises(ValueError, match="single-output"):
            _fit(kind, l2, **options)
        return
    reference = _fit(kind, l2, solver="cholesky", subsample=None)
    result = _fit(kind, l2, **options)
    assert result.converged, result.message
    assert result.solver == options.get("solver", "cholesky")
    scale = 1 + np.abs(reference.x).max()
    linear = options.get("fisher") == "empirical"      # stops on ftol while still creeping
    np.testing.assert_allclose(result.x, reference.x, rtol=0,
                               atol=(1e-5 if linear else 1e-7) * scale)
    assert result.loss <= reference.loss + 1e-13 * abs(reference.loss)
    if "subsample" in options:
        assert result.history["fisher_rows"][-1] < 2000 or \
            np.any(np.diff(result.history["fisher_rows"][1:]) > 0)


def test_wide_logistic_same_optimum_with_woodbury_cg_and_cholesky():
    X, rng = _data(60, 300, seed=3)
    y = (rng.random(60) < 0.5).astype(float)
    fits = {s: ngd.fit(X, y, l2=0.01, solver=s, tol=1e-10) for s in ("cholesky", "cg",
                                                                     "woodbury")}
    assert ngd.fit(X, y, l2=0.01).solver == "cholesky"       # 301 parameters: dense is cheap
    for name, res in fits.items():
        assert res.converged, (name, res.message)
        np.testing.assert_allclose(res.x, fits["cholesky"].x, atol=1e-8)


def test_subsample_grows_when_convergence_slows():
    X, rng = _data(6000, 30, seed=8)
    y = (rng.random(6000) < expit(X @ (0.5 * rng.standard_normal(30)))).astype(float)
    full = ngd.fit(X, y, subsample=None, tol=1e-10)
    tiny = ngd.fit(X, y, subsample=40, tol=1e-10)           # 40 rows for 31 parameters
    rows = tiny.history["fisher_rows"][1:]
    assert rows[0] == 40 and rows[-1] > 40 and np.all(np.diff(rows) >= 0)
    np.testing.assert_allclose(tiny.x, full.x, atol=1e-7 * (1 + np.abs(full.x).max()))


def test_auto_subsample_only_for_large_n_and_ngd():
    model = _model("logistic", n=400, p=6)
    sampler = RowSubsample(model, 100, seed=0)
    assert sampler.size == 100 and sampler.rows.X.shape == (100, 6)
    assert RowSubsample(model, 100, seed=0).rows is not None   # n/4 rows: a copy of n/4 rows
    assert RowSubsample(model, 101, seed=0).rows is None     # more than n/4: all rows


def test_auto_subsample_size_is_the_cheapest_estimated_doubling():
    """None below 4 m0 rows (m0 = max(10 000, 16 P)), m0 below 8 m0, else the m among
    m0, 2 m0, 4 m0 (<= n / 4) with the least estimated time to converge: more rows for a dense
    pass that dominates the solve; a softmax keeps m0."""
    from ngd.fisher import auto_subsample_size
    from ngd.fisher.cost import problem_shape, subsample_seconds
    assert auto_subsample_size(_model("logistic", n=39_999, p=10)) is None
    assert auto_subsample_size(_model("logistic", n=79_999, p=10)) == 10_000
    model = _model("logistic", n=400_000, p=60, weights=False)
    sizes = [10_000, 20_000, 40_000, 80_000]
    shape = problem_shape(model, model.n_samples)
    estimates = {m: subsample_seconds(shape, m, ["cholesky", "woodbury", "cg"]) for m in sizes}
    chosen = auto_subsample_size(model)
    assert chosen == min(estimates, key=estimates.get)
    assert chosen > 10_000              # the 4e5 x 60 gradient pass outweighs a 10k-row Gram
    assert estimates[chosen] < estimates[10_000]
    softmax = _model("softmax", n=400_000, p=20, weights=False)   # multi-output: m0
    assert auto_subsample_size(softmax) == 10_000
    narrow = _model("logistic", n=1_000_000, p=3, weights=False)   # a Gram costs ~nothing
    assert auto_subsample_size(narrow) == 40_000                    # at most 4 m0


def test_boehning_bound_is_monotone_with_unit_steps_and_one_factorisation():
    X, rng = _data(3000, 10, seed=9)
    y = (rng.random(3000) < expit(X @ (0.4 * rng.standard_normal(10)))).astype(float)
    bound = ngd.fit(X, y, fisher="bohning", tol=1e-9, max_iter=500)
    newton = ngd.fit(X, y, method="newton", tol=1e-10)
    assert bound.converged and bound.fisher == "bohning"
    assert np.all(bound.history["step_size"][1:] == 1.0)
    assert np.all(np.diff(bound.history["loss"]) <= 1e-15)
    np.testing.assert_allclose(bound.x, newton.x, atol=1e-6)
    with pytest.raises(ValueError, match="curvature"):
        ngd.fit(X, rng.gamma(2.0, 1.0, 3000), model="gamma", fisher="bohning")


def test_lm_raises_damping_after_a_poor_step_and_lowers_it_after_good_ones():
    X, rng = _data(2000, 5, seed=4)
    y = rng.poisson(np.exp(X @ np.full(5, 0.6))).astype(float)
    lm = ngd.fit(X, y, model="poisson", step="lm", tol=1e-10)
    damping = lm.history["damping"][1:]
    assert lm.converged and damping.max() > 0
    assert damping[-1] < damping.max()
    assert np.all(np.diff(lm.history["loss"]) <= 1e-15)     # every accepted step decreases
    ref = ngd.fit(X, y, model="poisson", tol=1e-10)
    np.testing.assert_allclose(lm.x, ref.x, atol=1e-8 * (1 + np.abs(ref.x).max()))


def test_newton_decrement_is_invariant_to_column_scaling():
    X, rng = _data(1500, 5, seed=6)
    y = (rng.random(1500) < expit(X @ (0.5 * rng.standard_normal(5)))).astype(float)
    scales = np.array([1e-3, 1.0, 10.0, 1e3, 0.5])
    plain = ngd.fit(X, y, tol=1e-12)
    scaled = ngd.fit(X * scales, y, tol=1e-12)
    k = min(len(plain.history), len(scaled.history))
    np.testing.assert_allclose(scaled.history["decrement"][1:k], plain.history["decrement"][1:k],
                               rtol=1e-6)
    assert not np.allclose(scaled.history["grad_norm"][:k], plain.history["grad_norm"][:k],
                           rtol=1e-2)
    np.testing.assert_allclose(plain.history["decrement"][1:] ** 2,
                               -plain.history["dir_deriv"][1:], rtol=1e-12)
    assert plain.newton_decrement == plain.history["decrement"][-1]


def test_decrement_stops_a_fit_whose_gradient_tolerance_is_out_of_reach():
    X, rng = _data(1500, 4, seed=7)
    y = (rng.random(1500) < expit(X @ np.full(4, 0.3))).astype(float)
    X = X * np.array([1e6, 1.0, 1.0, 1.0])     # gradient of column 0 is 1e6 times larger
    res = ngd.fit(X, y, tol=1e-9, ftol=0.0)
    assert res.status == 0, res.message
    assert res.history["decrement"][-1] <= 1e-9


@pytest.mark.parametrize("bad,error", [(dict(solver="qr"), ValueError),
                                       (dict(subsample="half"), ValueError),
                                       (dict(subsample=0), ValueError),
                                       (dict(subsample=1.5), ValueError),
                                       (dict(subsample=True), TypeError),
                                       (dict(stderr="maybe"), ValueError),
                                       (dict(step="trust"), ValueError)])
def test_bad_solver_options(bad, error):
    X, rng = _data(50, 3)
    y = (rng.random(50) < 0.5).astype(float)
    with pytest.raises(error):
        ngd.fit(X, y, **bad)


def test_stderr_option():
    X, rng = _data(200, 3)
    y = (rng.random(200) < expit(X[:, 0])).astype(float)
    skipped = ngd.fit(X, y, stderr=False)
    assert skipped.stderr is None and "not computed" in skipped.message
    assert skipped.deviance == pytest.approx(ngd.fit(X, y).deviance, rel=1e-12)
    wide_X, rng = _data(30, 4100, seed=2)
    wide = ngd.fit(wide_X, (rng.random(30) < 0.5).astype(float), l2=0.1, max_iter=3)
    assert wide.solver == "woodbury" and wide.stderr is None


def test_float32_data_reach_the_float64_optimum():
    X, rng = _data(3000, 6, seed=12)
    y = (rng.random(3000) < expit(X @ np.full(6, 0.2))).astype(float)
    X32 = X.astype(np.float32)
    for options in (dict(), dict(solver="cg"), dict(subsample=500)):
        r32 = ngd.fit(X32, y, **options)
        r64 = ngd.fit(X32.astype(np.float64), y, **options)
        assert r32.dtype == "float32"
        np.testing.assert_allclose(r32.x, r64.x, rtol=1e-6, atol=1e-9)


def test_subsample_draws_only_rows_with_positive_weight():
    X, rng = _data(4000, 5, seed=13)
    y = (rng.random(4000) < expit(X[:, 0])).astype(float)
    w = np.where(np.arange(4000) < 3700, 0.0, 1.0)        # 300 rows carry all the weight
    fits = {size: ngd.fit(X, y, sample_weight=w, subsample=size, tol=1e-10)
            for size in (None, 60)}
    assert fits[60].history["fisher_rows"][1] == 60
    np.testing.assert_allclose(fits[60].x, fits[None].x, atol=1e-8)
    model = _model("logistic", n=400, p=6)
    model.sample_weight = np.r_[np.zeros(300), np.ones(100)]
    sample = RowSubsample(model, 25, seed=0)
    assert sample.rows is not None and np.all(sample.rows.index >= 300)
    assert RowSubsample(model, 26, seed=0).rows is None     # > a quarter of the 100 rows


def test_a_loose_tol_stops_earlier_at_a_small_gap():
    X, rng = _data(20_000, 10, seed=21)
    y = (rng.random(20_000) < expit(X @ (0.3 * rng.standard_normal(10)))).astype(float)
    tight = ngd.fit(X, y, tol=1e-12, subsample=2000)
    loose = ngd.fit(X, y, tol=1e-4, subsample=2000)
    assert loose.converged and loose.n_iter < tight.n_iter
    assert loose.history["decrement"][-1] <= 1e-4
    assert loose.loss - tight.loss <= 1e-10 * abs(tight.loss)
