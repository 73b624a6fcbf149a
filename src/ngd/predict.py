"""Predictions from fitted coefficients, for results in memory and models loaded from files."""
import numpy as np
from scipy.special import expit

from ngd._validation import as_matrix, as_vector
from ngd.models import get_model


def predict(model, coef, intercept, X, offset=None, *, link=None, power=None):
    """Mean response E[y | x] = h(x . coef + intercept + offset) of a fitted ``model``.

    For "logistic" it is P(y = 1 | x) (class 1 = the second of ``classes``).
    """
    model_cls = get_model(model)
    X = as_matrix(X, "X")
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape != (X.shape[1],):
        raise ValueError(f"X has {X.shape[1]} columns but the model has {coef.shape[0]} "
                         "coefficients")
    eta = np.asarray(X, dtype=np.float64) @ coef + float(intercept)
    if offset is not None:
        eta += as_vector(offset, X.shape[0], "offset")
    if model_cls.name == "logistic":
        return expit(eta)
    raise ValueError(f"prediction for model {model!r} is not implemented")
