"""Built-in MDPs for demos and tests: a chain with a distractor reward, and a slippery
gridworld with an absorbing goal. Rewards lie in [0, 1]."""
import numpy as np

from ngd.policy.mdp import MDP

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))   # gridworld actions: up, right, down, left


def chain(n_states=8, gamma=0.9, slip=0.0, distractor=0.1):
    """States 0..n-1 in a row, actions 0 = left, 1 = right (the opposite move with probability
    ``slip``; walls keep the state). Reward 1 for 'right' in the last state, ``distractor``
    for 'left' in state 0; every episode starts in state 0 (rho = e_0).

    V* = gamma^(n-1) / (1 - gamma) without slip: reaching the far end beats the distractor's
    0.1 / (1 - gamma), but a uniformly random policy rarely gets there.
    """
    if n_states < 2:
        raise ValueError(f"n_states must be >= 2, got {n_states}")
    P = np.zeros((n_states, 2, n_states))
    for s in range(n_states):
        left, right = max(s - 1, 0), min(s + 1, n_states - 1)
        P[s, 0, left] += 1.0 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1.0 - slip
        P[s, 1, left] += slip
    R = np.zeros((n_states, 2))
    R[-1, 1] = 1.0
    R[0, 0] = distractor
    rho = np.zeros(n_states)
    rho[0] = 1.0
    return MDP(P, R, gamma, rho, name=f"chain({n_states})")


def gridworld(size=5, gamma=0.95, slip=0.1):
    """A size x size grid, state r * size + c, actions up/right/down/left; the intended move
    happens with probability 1 - slip, else each perpendicular move with slip / 2 (walls keep
    the state). The bottom-right cell is an absorbing goal paying 1 per step; every episode
    starts top-left."""
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    n = size * size
    P = np.zeros((n, 4, n))
    for r in range(size):
        for c in range(size):
            s = r * size + c
            for a in range(4):
                if s == n - 1:
                    P[s, a, s] = 1.0
                    continue
                for move, prob in ((a, 1.0 - slip), ((a + 1) % 4, slip / 2),
                                   ((a + 3) % 4, slip / 2)):
                    dr, dc = MOVES[move]
                    rr, cc = min(max(r + dr, 0), size - 1), min(max(c + dc, 0), size - 1)
                    P[s, a, rr * size + cc] += prob
    R = np.zeros((n, 4))
    R[n - 1] = 1.0
    rho = np.zeros(n)
    rho[0] = 1.0
    return MDP(P, R, gamma, rho, name=f"gridworld({size}x{size})")


ENVIRONMENTS = {"chain": chain, "gridworld": gridworld}
