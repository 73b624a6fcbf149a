"""ngd.policy MDPs: validation, the NPZ loader, exact evaluation, visitation, value iteration."""
import numpy as np
import pytest

from ngd import policy


def random_mdp(rng, n_states=5, n_actions=3, gamma=0.9):
    P = rng.random((n_states, n_actions, n_states)) ** 3
    P /= P.sum(axis=2, keepdims=True)
    rho = rng.random(n_states)
    return policy.MDP(P, rng.random((n_states, n_actions)), gamma, rho / rho.sum())


def random_policy(rng, mdp):
    pi = rng.random((mdp.n_states, mdp.n_actions)) + 0.05
    return pi / pi.sum(axis=1, keepdims=True)


def test_value_iteration_matches_exact_evaluation_of_its_greedy_policy():
    rng = np.random.default_rng(0)
    for mdp in (random_mdp(rng), random_mdp(rng, 7, 2, gamma=0.99), policy.chain(slip=0.2),
                policy.gridworld(4)):
        V_star, greedy = policy.value_iteration(mdp, tol=1e-11)
        exact = policy.evaluate_policy(mdp, greedy)
        assert np.allclose(V_star, exact.V, rtol=0, atol=1e-10)
        # Bellman optimality: the greedy policy's advantages are <= 0, zero on its actions
        assert exact.advantage.max() < 1e-9
        assert np.abs(exact.advantage[greedy == 1]).max() < 1e-9
        # no stochastic policy does better, in any state
        for _ in range(5):
            assert (policy.evaluate_policy(mdp, random_policy(rng, mdp)).V <= V_star + 1e-9).all()


def test_chain_optimal_value_in_closed_form():
    # V* = max(gamma^(n-1), 0.1) / (1 - gamma): always right, or the distractor forever
    mdp = policy.chain(8, gamma=0.9)
    assert policy.optimal_value(mdp) == pytest.approx(0.9 ** 7 / 0.1, rel=1e-12)
    short_sighted = policy.chain(8, gamma=0.5)     # here the distractor is optimal
    assert policy.optimal_value(short_sighted) == pytest.approx(0.1 / 0.5, rel=1e-12)


def test_evaluation_satisfies_the_bellman_equation_and_visitation_is_discounted_occupancy():
    rng = np.random.default_rng(1)
    mdp = random_mdp(rng)
    pi = random_policy(rng, mdp)
    ev = policy.evaluate_policy(mdp, pi)
    assert np.allclose(ev.V, (pi * (mdp.R + mdp.gamma * mdp.P @ ev.V)).sum(axis=1), atol=1e-12)
    assert np.allclose((pi * ev.advantage).sum(axis=1), 0, atol=1e-12)
    assert ev.value == pytest.approx(mdp.rho @ ev.V, rel=1e-14)
    # d = (1 - gamma) sum_t gamma^t rho^T P_pi^t, summed term by term
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    d, term = np.zeros(mdp.n_states), mdp.rho.copy()
    for t in range(600):
        d += (1 - mdp.gamma) * mdp.gamma ** t * term
        term = term @ P_pi
    assert np.allclose(ev.visitation, d, atol=1e-13)
    assert ev.visitation.sum() == pytest.approx(1.0, abs=1e-12)
    # and V(rho) = sum_s d(s) r_pi(s) / (1 - gamma)
    assert ev.value == pytest.approx(d @ (pi * mdp.R).sum(axis=1) / (1 - mdp.gamma), rel=1e-12)


def test_builtin_environments_are_valid_mdps_with_rewards_in_unit_interval():
    grid = policy.gridworld(5, slip=0.1)
    assert (grid.n_states, grid.n_actions) == (25, 4)
    assert np.allclose(grid.P.sum(axis=2), 1)
    assert grid.P[-1, :, -1].min() == 1.0            # absorbing goal
    assert grid.P[0, 1, 1] == pytest.approx(0.9)      # 'right' from the corner
    assert grid.P[0, 1, 0] == pytest.approx(0.05)     # slip 'up' into the wall
    chain = policy.chain(4, slip=0.25)
    assert chain.P[1, 1, 2] == 0.75 and chain.P[1, 1, 0] == 0.25
    for mdp in (grid, chain):
        assert 0 <= mdp.R.min() and mdp.R.max() <= 1
        assert not mdp.P.flags.writeable


def save(tmp_path, **arrays):
    path = tmp_path / "mdp.npz"
    np.savez(path, **arrays)
    return path


def good_arrays():
    mdp = policy.chain(3)
    return {"P": np.array(mdp.P), "R": np.array(mdp.R), "gamma": 0.9, "rho": np.array(mdp.rho)}


def test_npz_round_trip(tmp_path):
    mdp = policy.load_mdp(save(tmp_path, **good_arrays()))
    assert (mdp.n_states, mdp.n_actions, mdp.gamma) == (3, 2, 0.9)
    assert policy.optimal_value(mdp) == pytest.approx(policy.optimal_value(policy.chain(3)))


def _bad(key, value):
    arrays = good_arrays()
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    return arrays


P_OK = good_arrays()["P"]
P_SHORT = P_OK.copy()
P_SHORT[1, 0] *= 0.9
P_NEG = P_OK.copy()
P_NEG[0, 1] = [-0.1, 0.6, 0.5]
P_NAN = P_OK.copy()
P_NAN[2, 1, 0] = np.nan

BAD_NPZ = [
    (_bad("rho", None), ValueError, "missing array(s) 'rho'"),
    (_bad("P", np.ones((3, 2))), ValueError, "P must have shape (S, A, S)"),
    (_bad("P", np.ones((3, 2, 4)) / 4), ValueError, "P must have shape (S, A, S)"),
    (_bad("R", np.zeros((2, 3))), ValueError, "R must have shape (3, 2)"),
    (_bad("rho", np.ones(4) / 4), ValueError, "rho must have shape (3,)"),
    (_bad("P", P_SHORT), ValueError, "P[1, 0, :] must sum to 1, but sums to 0.9"),
    (_bad("P", P_NEG), ValueError, "P has a negative probability (-0.1) at index (0, 1, 0)"),
    (_bad("P", P_NAN), ValueError, "P has a non-finite value (nan) at index (2, 1, 0)"),
    (_bad("R", np.array([[0, 1], [np.inf, 0], [0, 0]])), ValueError, "R has a non-finite"),
    (_bad("gamma", 1.0), ValueError, "gamma must be in [0, 1), got 1.0"),
    (_bad("gamma", -0.1), ValueError, "gamma must be in [0, 1)"),
    (_bad("gamma", np.nan), ValueError, "gamma has a non-finite value"),
    (_bad("gamma", [0.9, 0.8]), ValueError, "gamma must be a scalar"),
    (_bad("rho", np.array([0.5, 0.5, 0.5])), ValueError, "rho must sum to 1, but sums to 1.5"),
    (_bad("rho", np.array([1.5, -0.5, 0.0])), ValueError, "rho has a negative probability"),
    (_bad("R", np.array([["a", "b"]] * 3)), TypeError, "R must be a real numeric array"),
    (_bad("gamma", True), TypeError, "gamma must be a real numeric array, got dtype bool"),
    ({**good_arrays(), "Rho": np.ones(3)}, ValueError, "unexpected array(s) 'Rho'"),
]


@pytest.mark.parametrize("arrays, error, message", BAD_NPZ,
                         ids=[case[2][:30] for case in BAD_NPZ])
def test_malformed_npz_raises_one_clear_error(tmp_path, arrays, error, message):
    with pytest.raises(error) as info:
        policy.load_mdp(save(tmp_path, **arrays))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_files(tmp_path):
    text = tmp_path / "mdp.npz"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read NPZ file"):
        policy.load_mdp(text)
    single = tmp_path / "P.npy"
    np.save(single, np.ones(3))
    with pytest.raises(ValueError, match="not an NPZ archive"):
        policy.load_mdp(single)
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, **{**good_arrays(), "P": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="P: cannot load the array"):
        policy.load_mdp(pickled)
