"""Models: pointwise losses over a linear predictor, their gradients and Fisher weights.

No optimiser logic lives here; optimisers call ``evaluate`` and ``curvature_matrix``.
"""
from ngd.models.logistic import Evaluation, LogisticModel
from ngd.models.registry import MODELS, get_model

__all__ = ["Evaluation", "LogisticModel", "MODELS", "get_model"]
