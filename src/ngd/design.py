"""A design matrix with native categorical blocks: X = [D | onehot(c_1) | ... | onehot(c_K)]
held as a dense part D (n x p) and, per categorical, integer codes (n,) instead of the n x L
one-hot matrix.

Coding: each categorical has ``levels`` (all levels, in order); with ``drop_first`` the first
level is the reference and has no column, so level j >= 1 is column j - 1. ``codes`` hold
the column of each row's level, or -1 for the reference level (a row of zeros in the
one-hot matrix). Column names are ``name=level``.
"""
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ngd.exceptions import DataError
from ngd.messages import default_names


@dataclass
class Categorical:
    """One categorical block: codes (int32, -1 = reference level), levels, name; optional
    ``names``: one column name per column, replacing the default ``name=level`` (formulas
    name them as formulaic does, e.g. ``C(region)[T.b]``)."""

    name: str
    codes: np.ndarray
    levels: list
    drop_first: bool = True
    names: list = None

    def __post_init__(self):
        self.levels = [str(level) for level in self.levels]
        if self.names is not None:
            self.names = [str(name) for name in self.names]
            if len(self.names) != self.n_columns:
                raise DataError(f"categorical {self.name!r}: {len(self.names)} names for "
                                f"{self.n_columns} columns")
        self.codes = np.ascontiguousarray(self.codes, dtype=np.int32)
        if self.codes.ndim != 1:
            raise DataError(f"categorical {self.name!r}: codes must be 1-D")
        if len(set(self.levels)) != len(self.levels):
            raise DataError(f"categorical {self.name!r}: levels must be distinct")
        if self.codes.size and (self.codes.min() < -1 or self.codes.max() >= self.n_columns):
            raise DataError(f"categorical {self.name!r}: codes must lie in [-1, "
                            f"{self.n_columns - 1}]")
        if not self.drop_first and self.codes.size and self.codes.min() < 0:
            raise DataError(f"categorical {self.name!r}: code -1 needs a reference level "
                            "(drop_first=True)")

    @property
    def n_columns(self):
        """Columns of the one-hot block: len(levels) - drop_first."""
        return len(self.levels) - int(self.drop_first)

    @property
    def column_names(self):
        """``names`` if given, else ``name=level`` for each level that has a column."""
        if self.names is not None:
            return list(self.names)
        return [f"{self.name}={level}" for level in self.levels[int(self.drop_first):]]

    def onehot(self, dtype=np.float64):
        """The n x n_columns one-hot matrix as CSR (rows of the reference level are empty)."""
        n = self.codes.size
        rows = np.flatnonzero(self.codes >= 0)
        return sp.csr_matrix((np.ones(rows.size, dtype=dtype), (rows, self.codes[rows])),
                             shape=(n, self.n_columns))

    def take(self, rows):
        """This block on a subset of rows (same levels)."""
        return Categorical(self.name, self.codes[rows], self.levels, self.drop_first,
                           self.names)


@dataclass
class Design:
    """X = [dense | one-hot categoricals] without the one-hot matrices (see module docstring).

    dense: (n, p) float32/float64 array, p may be 0; dense_names: its column names.
    """

    dense: np.ndarray
    categoricals: list = field(default_factory=list)
    dense_names: list = None

    def __post_init__(self):
        self.dense = np.asarray(self.dense)
        if self.dense.ndim != 2:
            raise DataError(f"the dense part of a design must be 2-D, got {self.dense.shape}")
        if self.dense_names is None:
            self.dense_names = default_names(self.dense.shape[1])
        self.dense_names = [str(name) for name in self.dense_names]
        if len(self.dense_names) != self.dense.shape[1]:
            raise DataError(f"{len(self.dense_names)} names for {self.dense.shape[1]} dense "
                            "columns")
        n = self.dense.shape[0]
        for block in self.categoricals:
            if block.codes.shape[0] != n:
                raise DataError(f"categorical {block.name!r} has {block.codes.shape[0]} rows, "
                                f"the dense part {n}")

    @property
    def shape(self):
        """(n, p + sum of the categoricals' columns): the shape of the full X."""
        return (self.dense.shape[0],
                self.dense.shape[1] + sum(b.n_columns for b in self.categoricals))

    @property
    def dtype(self):
        """The float type of the dense part (the one-hot part is exact in any)."""
        return self.dense.dtype

    def astype(self, dtype):
        """The design with its dense part as ``dtype`` (codes unchanged)."""
        return Design(self.dense.astype(dtype), self.categoricals, self.dense_names)

    @property
    def n_dense(self):
        return self.dense.shape[1]

    @property
    def feature_names(self):
        """Dense names, then each categorical's ``name=level`` columns."""
        names = list(self.dense_names)
        for block in self.categoricals:
            names += block.column_names
        return names

    @property
    def column_slices(self):
        """{term: slice of the coefficient vector}: one per dense column and one per
        categorical (all its levels, the unit of a Wald test)."""
        out = {name: slice(j, j + 1) for j, name in enumerate(self.dense_names)}
        start = self.n_dense
        for block in self.categoricals:
            out[block.name] = slice(start, start + block.n_columns)
            start += block.n_columns
        return out

    def to_csr(self):
        """The full X as CSR (dense part included): for tests and small fallbacks."""
        parts = [sp.csr_matrix(np.asarray(self.dense, dtype=np.float64))]
        parts += [block.onehot() for block in self.categoricals]
        return sp.hstack(parts, format="csr")

    def toarray(self):
        """The full X as a dense float64 array (small designs only)."""
        return self.to_csr().toarray()

    def take(self, rows):
        """The design on a subset of rows."""
        return Design(self.dense[rows], [b.take(rows) for b in self.categoricals],
                      self.dense_names)


def is_design(X):
    """True for a :class:`Design`."""
    return isinstance(X, Design)
