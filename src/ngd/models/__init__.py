"""Models: pointwise losses over a linear predictor, their gradients and Fisher weights.

No optimiser logic lives here; optimisers call ``evaluate`` and the curvature accessors
(``curvature_matrix``, ``curvature_vector``, ``curvature_diagonal``), optionally on a
``RowSample`` of the rows.
"""
from ngd.models._common import Evaluation, RowSample
from ngd.models.families import FAMILIES, get_family
from ngd.models.glm import GLM
from ngd.models.links import LINKS, get_link
from ngd.models.logistic import LogisticModel
from ngd.models.registry import MODEL_NAMES, get_model, normalise_model_name

__all__ = ["Evaluation", "RowSample", "LogisticModel", "GLM", "FAMILIES", "LINKS", "MODEL_NAMES",
           "get_family", "get_link", "get_model", "normalise_model_name"]
