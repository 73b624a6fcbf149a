"""solver="auto" by estimated cost (ngd.fisher.cost, ngd.fisher.choice): the estimates scale
as their formulas, the memory budget excludes a solver, and the picks on shapes whose best
solver is clear (the wide sparse shape is estimated only, never fitted here)."""
import dataclasses
import json

import numpy as np
import pytest
import scipy.sparse as sp

import ngd
from ngd.fisher import auto_solver, choose_solver
from ngd.fisher.choice import FREE_SECONDS, cheapest, solver_costs
from ngd.fisher.cost import (CG_MAX, Cost, ProblemShape, cg_cost, cg_iterations, cholesky_cost,
                             memory_budget, problem_shape, woodbury_cost)
from ngd.models import LogisticModel
from ngd.models.softmax import SoftmaxModel
from ngd.optim import CurvatureStepper


def _dense(n, p, **changes):
    shape = ProblemShape(rows=n, columns=p, outputs=1, params=p + 1, entries_per_row=p,
                         row_square=p * p, column_square=p, mean_square=1.0, sparse=False,
                         mu=1e-5)
    return dataclasses.replace(shape, **changes)


def _model(X, y, model="logistic", l2=1e-5):
    """A logistic (or softmax on integer codes) model on clean float64 X and y."""
    if model == "softmax":
        return SoftmaxModel(X, y, int(y.max()) + 1, l2=l2)
    return LogisticModel(X, y, l2=l2)


def _wide_csr(n, p, per_row, seed=0):
    """CSR (n, p) with ``per_row`` uniform column draws a row (repeats summed), N(0, 1)
    values, and a random binary y."""
    rng = np.random.default_rng(seed)
    cols = np.sort(rng.integers(0, p, size=(n, per_row)), axis=1)
    X = sp.csr_matrix((rng.standard_normal(n * per_row), cols.ravel(),
                       np.arange(0, n * per_row + 1, per_row)), shape=(n, p))
    X.sum_duplicates()
    return X, (rng.random(n) < 0.5).astype(float)


# --- the estimates scale as the formulas say -------------------------------------------------

def test_cholesky_estimate_grows_as_p_cubed_at_large_p():
    small, large = cholesky_cost(_dense(100, 8000)), cholesky_cost(_dense(100, 16000))
    assert 7.0 < large.seconds / small.seconds < 8.5
    assert large.bytes / small.bytes == pytest.approx(4.0, rel=1e-3)      # 16 P^2


def test_cholesky_gram_grows_with_rows_and_with_the_class_blocks():
    """n p^2 Gram: linear in rows; K classes: K(K+1)/2 blocks of it (parameters fixed)."""
    one = cholesky_cost(_dense(10 ** 6, 100)).seconds
    assert cholesky_cost(_dense(2 * 10 ** 6, 100)).seconds / one == pytest.approx(2.0, rel=0.05)
    three = cholesky_cost(_dense(10 ** 6, 100, outputs=3)).seconds
    assert three / one == pytest.approx(6.0, rel=0.05)


def test_woodbury_estimate_grows_as_rows_cubed_and_its_memory_as_rows_squared():
    small, large = woodbury_cost(_dense(20000, 100)), woodbury_cost(_dense(40000, 100))
    assert 7.0 < large.seconds / small.seconds < 8.5
    assert large.bytes / small.bytes == pytest.approx(4.0)
    assert woodbury_cost(_dense(10_000, 50_000)).bytes == pytest.approx(32 * 1e8)


def test_cg_estimate_is_iterations_times_two_passes():
    shape = _dense(500_000, 1000, sparse=True, entries_per_row=40.0, row_square=1600.0)
    double = dataclasses.replace(shape, entries_per_row=80.0)
    assert cg_iterations(double) == cg_iterations(shape)      # the spread does not change
    assert cg_cost(double).seconds / cg_cost(shape).seconds == pytest.approx(2.0, rel=0.05)
    dense = _dense(500_000, 1000)
    single = dataclasses.replace(dense, itemsize=4)          # float32: half the bytes a pass
    assert cg_cost(dense).seconds / cg_cost(single).seconds == pytest.approx(2.0, rel=0.05)


def test_cg_iterations_grow_as_the_ridge_shrinks_and_stay_bounded():
    square = _dense(2000, 2000)                   # r = 1: only the ridge bounds kappa
    counts = [cg_iterations(dataclasses.replace(square, mu=mu)) for mu in (1.0, 1e-2, 1e-4)]
    assert counts[0] < counts[1] < counts[2] <= CG_MAX
    assert cg_iterations(dataclasses.replace(square, mu=0.0)) == CG_MAX
    assert cg_iterations(_dense(40, 2000, mu=0.0)) <= 41        # rank of 40 rows, + 1
    tall, wide = cg_iterations(_dense(100_000, 100)), cg_iterations(_dense(1100, 1000))
    assert tall < wide                            # Marchenko-Pastur spread near n = p


def test_problem_shape_of_csr_counts_rows_columns_and_entries():
    X = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 0, 3], [0, 0, 0], [4, 0, 0]]))
    model = _model(X, np.array([0.0, 1, 0, 1]), l2=0.5)
    shape = problem_shape(model, 4, damping=0.25)
    assert shape.sparse and shape.entries_per_row == 1.0 and shape.mu == 0.75
    assert shape.row_square == pytest.approx((4 + 1 + 0 + 1) / 4)       # mean z_i^2
    assert shape.column_square == pytest.approx((2 ** 2 + 0 + 2 ** 2) / 16)
    assert shape.mean_square == pytest.approx((1 + 4 + 9 + 16) / 4)


# --- the choice -----------------------------------------------------------------------------

def test_memory_budget_excludes_a_solver():
    costs = {"cholesky": Cost(1.0, 4e9), "woodbury": Cost(2.0, 1e9), "cg": Cost(5.0, 1e6)}
    assert cheapest(costs, budget=1e10) == "cholesky"
    assert cheapest(costs, budget=2e9) == "woodbury"
    assert cheapest(costs, budget=1e8) == "cg"
    assert cheapest(costs, budget=1.0) == "cg"             # nothing fits: the smallest
    assert 0 < memory_budget()


def test_negligible_estimates_are_ranked_by_preference():
    tiny = FREE_SECONDS / 10
    costs = {"cholesky": Cost(tiny, 1.0), "woodbury": Cost(tiny / 5, 1.0),
             "cg": Cost(tiny / 9, 1.0)}
    assert cheapest(costs, budget=1e9) == "cholesky"


def test_wide_sparse_shape_picks_cg():
    """The 1e4 x 5e4 CSR, 40 a row, l2 = 1e-5 of issue 15 (where a fixed rule picked Woodbury
    and its dense 1e4 x 1e4 X X^T): estimated, not fitted."""
    X, y = _wide_csr(10_000, 50_000, 40)
    model = _model(X, y)
    costs = solver_costs(model, "exact", model.n_samples)
    assert cheapest(costs, budget=1e15) == "cg"             # cheapest even with no memory limit
    assert costs["cg"].seconds * 5 < costs["woodbury"].seconds
    assert costs["woodbury"].bytes == pytest.approx(32e8)
    assert choose_solver(model, "exact", model.n_samples) == "cg"


def test_small_dense_picks_cholesky_and_tall_dense_too():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 20))
    assert choose_solver(_model(X, (X[:, 0] > 0).astype(float)), "exact", 500) == "cholesky"
    X = rng.standard_normal((20000, 40))
    assert choose_solver(_model(X, (X[:, 0] > 0).astype(float)), "exact", 20000) == "cholesky"


def test_dense_with_far_fewer_rows_than_columns_picks_woodbury():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 4000))
    model = _model(X, (rng.random(500) < 0.5).astype(float), l2=1e-3)
    name, costs = auto_solver(model, "exact", 500)
    assert name == "woodbury", costs
    assert costs["cholesky"]["seconds"] > 10 * costs["woodbury"]["seconds"]


def test_woodbury_only_for_single_output_nonnegative_curvatures():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2100))
    model = _model(X, (rng.random(40) < 0.5).astype(float), l2=0.05)
    assert "woodbury" in solver_costs(model, "exact", 40)
    assert "woodbury" not in solver_costs(model, "observed", 40)     # Hessian weights < 0
    assert auto_solver(model, "kfac", 40) == ("cholesky", None)
    softmax = _model(X, rng.integers(0, 3, 40), model="softmax", l2=0.05)
    assert set(solver_costs(softmax, "exact", 40)) == {"cholesky", "cg"}


def test_stepper_keeps_the_estimates_and_the_result_names_the_solver():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 5))
    y = (rng.random(300) < 0.5).astype(float)
    stepper = CurvatureStepper(_model(X, y), "exact")
    costs = stepper.solver_costs
    assert set(costs) == {"cholesky", "woodbury", "cg"}
    assert all(set(c) == {"seconds", "bytes"} and c["seconds"] > 0 for c in costs.values())
    assert stepper.solver_name == "cholesky"
    assert CurvatureStepper(_model(X, y), "exact", solver="cg").solver_costs is None
    fit = ngd.fit(X, y, l2=1e-3)
    document = json.loads(json.dumps(fit.to_dict()))
    assert document["solver"] == fit.solver == "cholesky"
    assert document["solver_costs"] == fit.solver_costs
    assert set(fit.solver_costs) == set(costs)


def test_result_reports_the_estimates_auto_compared():
    rng = np.random.default_rng(5)
    X = sp.random(400, 3000, density=0.01, format="csr", random_state=5)
    y = (rng.random(400) < 0.5).astype(float)
    fit = ngd.fit(X, y, l2=1e-3)
    costs = {name: Cost(**c) for name, c in fit.solver_costs.items()}
    assert fit.solver == cheapest(costs)
    assert ngd.fit(X, y, l2=1e-3, solver="cg").solver_costs is None


def test_sampled_column_square_is_exact_unsampled_and_close_sampled():
    from ngd.fisher.cost import _column_square
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, 2001) ** 0.7
    indices = rng.choice(2000, size=400_000, p=popularity / popularity.sum())
    counts = np.bincount(indices, minlength=2000).astype(float)
    assert _column_square(indices, 2000, 1) == counts @ counts
    assert _column_square(indices, 2000, 10) == pytest.approx(counts @ counts, rel=0.05)
