"""Predictions from fitted coefficients, for results in memory and models loaded from files."""
import numpy as np
from scipy.special import expit, softmax

from ngd import _sparse
from ngd._validation import as_matrix, as_vector
from ngd.models import get_family, get_link, normalise_model_name
from ngd.models._linear import matvec


def predict(model, coef, intercept, X, offset=None, *, link=None, power=None):
    """Mean response of a fitted ``model`` at X: h(X coef + intercept + offset).

    "logistic": P(y = 1 | x) (class 1 = the second of ``classes``); "softmax": the (n, K)
    class probabilities, coef of shape (K, p); GLM families: mu = h(eta) with ``link``
    (default: the family's canonical link; tweedie needs ``power`` only for the default link).
    """
    name = normalise_model_name(model)
    X = _sparse.as_csr(X, "X") if _sparse.is_sparse(X) else as_matrix(X, "X")
    coef = np.asarray(coef, dtype=np.float64)
    expected = 2 if name == "softmax" else 1
    if coef.ndim != expected or coef.shape[-1] != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns but the model has {coef.shape[-1]} "
                         f"coefficients" + (" per class" if name == "softmax" else ""))
    eta = matvec(X, np.ascontiguousarray(coef.T)) + np.asarray(intercept, dtype=np.float64)
    if offset is not None:
        if name == "softmax":
            raise ValueError("offset= is not supported by the softmax model")
        eta += as_vector(offset, X.shape[0], "offset")
    if name == "softmax":
        return softmax(eta, axis=1)
    if name == "logistic":
        return expit(eta)
    if link is None:
        link = get_family(name, power).canonical_link
    return get_link(link).inverse(eta)
