"""Finite discounted MDPs given as arrays, their validation, and the NPZ loader.

An MDP is (P, R, gamma, rho): P[s, a, s'] = Pr(s' | s, a), R[s, a] the expected reward of
taking a in s, gamma in [0, 1) the discount, rho the initial-state distribution. Its value
under a policy pi is V^pi(rho) = E[sum_t gamma^t R(s_t, a_t) | s_0 ~ rho, a_t ~ pi(.|s_t)].
"""
import zipfile
import zlib

import numpy as np

KEYS = ("P", "R", "gamma", "rho")
SUM_TOL = 1e-9
_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, MemoryError)
# a damaged archive: bad zip, corrupt deflate stream, truncated member, bad .npy header


class MDP:
    """A validated finite MDP; the arrays are read-only float64 copies.

    Raises TypeError (non-numeric array) or ValueError (shape, non-finite value, probability
    out of range, gamma outside [0, 1)) with one line naming the offending array.
    """

    def __init__(self, P, R, gamma, rho, name="mdp"):
        P = _real_array(P, "P")
        if P.ndim != 3 or P.shape[0] < 1 or P.shape[1] < 1 or P.shape[2] != P.shape[0]:
            raise ValueError(f"P must have shape (S, A, S) with S, A >= 1, got {P.shape}")
        n_states, n_actions = P.shape[:2]
        R = _real_array(R, "R")
        if R.shape != (n_states, n_actions):
            raise ValueError(f"R must have shape ({n_states}, {n_actions}) to match P, "
                             f"got {R.shape}")
        rho = _real_array(rho, "rho")
        if rho.shape != (n_states,):
            raise ValueError(f"rho must have shape ({n_states},) to match P, got {rho.shape}")
        gamma = _real_array(gamma, "gamma")
        if gamma.size != 1 or gamma.ndim > 1:
            raise ValueError(f"gamma must be a scalar, got shape {gamma.shape}")
        for key, a in (("P", P), ("R", R), ("rho", rho), ("gamma", gamma)):
            _check_finite(a, key)
        gamma = float(gamma.reshape(()))
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma}")
        _check_distribution(P, "P")
        _check_distribution(rho, "rho")
        self.P, self.R, self.rho = (_frozen(a) for a in (P, R, rho))
        self.gamma = gamma
        self.name = name

    @property
    def n_states(self):
        return self.P.shape[0]

    @property
    def n_actions(self):
        return self.P.shape[1]

    def __repr__(self):
        return (f"MDP({self.name!r}: {self.n_states} states, {self.n_actions} actions, "
                f"gamma = {self.gamma:g})")


def load_mdp(path):
    """Read an MDP from an NPZ archive holding exactly the arrays P, R, gamma and rho."""
    try:
        archive = np.load(path, allow_pickle=False)
    except _UNREADABLE as exc:
        raise ValueError(f"cannot read NPZ file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("not an NPZ archive (a single .npy array?); save the MDP with "
                         "numpy.savez(path, P=P, R=R, gamma=gamma, rho=rho)")
    with archive:
        found = set(archive.files)
        missing = [key for key in KEYS if key not in found]
        if missing:
            raise ValueError(f"missing array(s) {', '.join(map(repr, missing))}; an MDP file "
                             "holds P (S, A, S), R (S, A), gamma and rho (S)")
        extra = sorted(found - set(KEYS))
        if extra:
            raise ValueError(f"unexpected array(s) {', '.join(map(repr, extra))}; an MDP file "
                             "holds exactly P, R, gamma and rho")
        arrays = {}
        for key in KEYS:
            try:
                arrays[key] = archive[key]
            except _UNREADABLE as exc:
                raise ValueError(f"{key}: cannot load the array ({exc})") from None
    return MDP(**arrays, name=str(path))


def _real_array(a, key):
    a = np.asarray(a)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{key} must be a real numeric array, got dtype {a.dtype}")
    return a.astype(np.float64)


def _check_finite(a, key):
    values = np.atleast_1d(a)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        at = tuple(int(i) for i in bad[0])
        where = f" at index {at}" if a.ndim else ""
        raise ValueError(f"{key} has a non-finite value ({values[at]}){where}")


def _check_distribution(a, key):
    """Entries >= 0, and sums over the last axis equal to 1 (within SUM_TOL)."""
    negative = np.argwhere(a < 0)
    if negative.size:
        at = tuple(int(i) for i in negative[0])
        raise ValueError(f"{key} has a negative probability ({a[at]:g}) at index {at}")
    sums = np.atleast_1d(a.sum(axis=-1))
    off = np.argwhere(np.abs(sums - 1.0) > SUM_TOL)
    if off.size:
        at = tuple(int(i) for i in off[0]) if a.ndim > 1 else (0,)
        row = f"{key}[{', '.join(map(str, at))}, :]" if a.ndim > 1 else key
        raise ValueError(f"{row} must sum to 1, but sums to {sums[at]:.12g}")


def _frozen(a):
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a
