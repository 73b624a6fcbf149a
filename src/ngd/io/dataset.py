"""The arrays a reader returns."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """X (n, p) float, y (n,), optional per-row columns, and the names of the columns.

    ``feature_names`` name the columns of X (a one-hot column of a categorical input column
    ``c`` is named ``c=level``); ``columns`` are the input columns X was built from, in order;
    ``categories`` maps each categorical input column to all its levels (the first level is
    the dropped reference level). ``weights_name`` / ``offset_name`` / ``trials_name`` are the
    source columns of ``sample_weight`` / ``offset`` / ``trials`` (None when absent).
    ``n_dropped`` rows with missing cells were dropped (``dropped_lines``: their line numbers,
    the first 10 at most). ``y`` is None when the reader was asked for no target.
    ``cluster``: a tuple of one or two (n,) arrays of cluster labels (two-way clustering),
    from the columns ``cluster_names``; None when no cluster column was asked for.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list
    target_name: str | None
    sample_weight: np.ndarray | None = None
    source: str = ""
    offset: np.ndarray | None = None
    trials: np.ndarray | None = None
    columns: list = field(default_factory=list)
    categories: dict = field(default_factory=dict)
    weights_name: str | None = None
    offset_name: str | None = None
    trials_name: str | None = None
    n_dropped: int = 0
    dropped_lines: list = field(default_factory=list)
    cluster: tuple | None = None
    cluster_names: list = field(default_factory=list)

    def __post_init__(self):
        if not self.columns:
            self.columns = list(self.feature_names)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]
