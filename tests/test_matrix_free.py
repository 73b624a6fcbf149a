"""CGSolver's forcing term across the gradients of one fit: sqrt(||g||) on the first,
||g_k|| / ||g_{k-1}|| (at most 0.1) on each new one, kept when a gradient is solved again; and
the in-place PCG against a dense solve."""
import numpy as np
import pytest

from ngd.fisher import CGSolver


class DenseCurvature:
    """The two curvature accessors CGSolver uses, for a fixed SPD matrix C."""

    def __init__(self, C):
        self.C = C

    def curvature_vector(self, weights, u, rows=None):
        return self.C @ u

    def curvature_diagonal(self, weights, rows=None):
        return np.diag(self.C).copy()


def _curvature(p=60, seed=0, smallest=1e-4):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return DenseCurvature((Q * np.logspace(np.log10(smallest), 0, p)) @ Q.T), rng


def _residual(model, solve, g):
    return np.linalg.norm(model.C @ solve.direction + solve.damping * solve.direction - g)


def test_forcing_follows_the_ratio_of_gradient_norms():
    model, rng = _curvature()
    solver = CGSolver()
    g1 = 1e-6 * rng.standard_normal(60)
    first = solver.solve(model, None, g1, 0.0)
    assert _residual(model, first, g1) <= 1.0001 * np.sqrt(np.linalg.norm(g1)) * \
        np.linalg.norm(g1)
    g2 = 1e-9 * rng.standard_normal(60)
    ratio = np.linalg.norm(g2) / np.linalg.norm(g1)
    second = solver.solve(model, None, g2, 0.0)
    assert _residual(model, second, g2) <= 1.0001 * ratio * np.linalg.norm(g2)
    again = solver.solve(model, None, g2, 1e-3)          # same gradient, other damping
    assert _residual(model, again, g2) <= 1.0001 * ratio * np.linalg.norm(g2)
    assert solver.forcing(np.linalg.norm(g2)) == pytest.approx(ratio)
    fresh = CGSolver().solve(model, None, g2, 0.0)       # sqrt(||g2||) < ratio: tighter
    assert fresh.info["cg_iter"] >= second.info["cg_iter"]
    assert solver.forcing(10 * np.linalg.norm(g2)) == 0.1        # a growing gradient: capped


def test_inplace_pcg_matches_a_dense_solve_and_tracks_its_residual():
    model, rng = _curvature(seed=1, smallest=1e-2)
    g = rng.standard_normal(60)
    for damping in (0.0, 1e-2):                 # the two operators (damped adds in place)
        solve = CGSolver().solve(model, None, 1e-20 * g, damping)   # forcing ~ 3e-10
        np.testing.assert_allclose(1e-20 * solve.direction,
                                   np.linalg.solve(model.C + damping * np.eye(60), 1e-40 * g),
                                   rtol=1e-5)
        true = _residual(model, solve, 1e-20 * g) / np.linalg.norm(1e-20 * g)
        assert solve.info["residual"] == pytest.approx(true, rel=1e-3, abs=1e-14)
    assert np.array_equal(model.curvature_vector(None, g), model.C @ g)   # inputs untouched
