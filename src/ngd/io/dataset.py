"""The arrays a reader returns."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    """X (n, p) float, y (n,), optional sample weights, and the names of the columns."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    sample_weight: np.ndarray | None = None
    source: str = ""

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]
