"""Predictions from fitted coefficients, for results in memory and models loaded from files."""
import numpy as np
from scipy.special import expit, softmax

from ngd import _sparse, frames
from ngd._validation import as_matrix, as_vector
from ngd.design import is_design
from ngd.models import get_family, get_link, normalise_model_name
from ngd.models._linear import matvec
from ngd.models.families import NegativeBinomial


def predict(model, coef, intercept, X, offset=None, *, link=None, power=None, spec=None):
    """Mean response of a fitted ``model`` at X: h(X coef + intercept + offset).

    X: an array, a sparse matrix, a Design, or a table (pandas / polars / pyarrow) converted
    with ``spec`` (a fit's ``input_spec``: columns matched by name, the fit's levels).

    "logistic": P(y = 1 | x) (class 1 = the second of ``classes``); "softmax": the (n, K)
    class probabilities, coef of shape (K, p); GLM families: mu = h(eta) with ``link``
    (default: the family's canonical link; tweedie needs ``power`` only for the default link).

    Parameters
    ----------
    model : str
        "logistic", "softmax" or a GLM family name (aliases accepted).
    coef : array-like
        (p,) coefficients, or (K, p) for "softmax".
    intercept : float or array-like
        The intercept ((K,) for "softmax").
    X : array, sparse matrix, Design or table
        The rows to predict at; a table needs ``spec``.
    offset : array-like or None, default None
        Added to the linear predictor (not for "softmax").
    link : str or None, default None
        The GLM link; None: the family's canonical link.
    power : float or None, default None
        The tweedie power.
    spec : TableSpec, dict or None, default None
        A fit's ``input_spec``, required when X is a table.

    Returns
    -------
    ndarray
        (n,) means or probabilities; (n, K) class probabilities for "softmax".

    Raises
    ------
    ValueError
        A table without ``spec``, coef of the wrong dimension, X's column count differing from
        coef's, an offset with "softmax", or a prediction that is not finite (overflow, or eta
        outside the link's domain).
    """
    name = normalise_model_name(model)
    if frames.is_frame(X):
        if spec is None:
            raise ValueError("predicting on a table needs the fit's input_spec (spec=)")
        spec = spec if isinstance(spec, frames.TableSpec) else frames.TableSpec.from_dict(spec)
        X = frames.design_from_frame(X, spec=spec).X
    offset = frames.as_array(offset, "offset")
    coef = np.asarray(coef, dtype=np.float64)
    expected = 2 if name == "softmax" else 1
    if coef.ndim != expected:
        raise ValueError(f"coef must be {expected}-D for the {name} model, got shape "
                         f"{coef.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        eta = linear_predictor(coef, intercept, X)
        if offset is not None:
            if name == "softmax":
                raise ValueError("offset= is not supported by the softmax model")
            eta += as_vector(offset, eta.shape[0], "offset")
    _check_finite(eta, eta, "the linear predictor overflows")
    if name == "softmax":
        with np.errstate(over="ignore", under="ignore"):
            return softmax(eta, axis=1)         # finite rows: the largest term is exp(0)
    if name == "logistic":
        return expit(eta)
    if link is None:
        link = NegativeBinomial.canonical_link if name == "negative_binomial" else \
            get_family(name, power).canonical_link
    link = get_link(link)
    with np.errstate(all="ignore"):
        mean = link.inverse(eta)
    _check_finite(mean, eta, "the prediction overflows")
    return mean


def _check_finite(values, eta, what):
    """ValueError at the first row where ``values`` (h(eta), or eta itself) is not finite,
    with that row's eta: an overflow (inf), or an eta outside the link's domain (nan)."""
    finite = np.isfinite(values)
    if finite.all():
        return
    first = tuple(np.argwhere(~finite)[0])
    row, shown = first[0], eta[first]
    if np.isnan(values[first]) and np.isfinite(shown):
        raise ValueError(f"the prediction is undefined at row {row} (eta = {shown:.6g} is "
                         "outside the link's domain)")
    raise ValueError(f"{what} at row {row} (eta = {shown:.6g}): the coefficients, intercept, "
                     "offset or X are too large for a finite prediction")


def linear_predictor(coef, intercept, X):
    """eta = X coef^T + intercept for coef (p,) or (K, p); X an array, a sparse matrix or a
    Design (its categorical columns by gathering coefficients at the codes)."""
    coef = np.asarray(coef, dtype=np.float64)
    if is_design(X):
        if coef.shape[-1] != X.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns but the model has {coef.shape[-1]} "
                             "coefficients" + (" per class" if coef.ndim == 2 else ""))
        dense = as_matrix(X.dense, "X") if X.n_dense else None
        eta = np.zeros((X.shape[0],) + coef.shape[:-1])
        if dense is not None:
            eta += matvec(dense, np.ascontiguousarray(coef[..., :X.n_dense].T))
        start = X.n_dense
        for block in X.categoricals:
            columns = coef[..., start:start + block.n_columns].T          # (L,) or (L, K)
            padded = np.concatenate([columns, np.zeros((1,) + columns.shape[1:])])
            eta += padded[block.codes]          # code -1 (reference level) reads the zero row
            start += block.n_columns
        return eta + np.asarray(intercept, dtype=np.float64)
    X = _sparse.as_csr(X, "X") if _sparse.is_sparse(X) else as_matrix(X, "X")
    if coef.shape[-1] != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns but the model has {coef.shape[-1]} "
                         f"coefficients" + (" per class" if coef.ndim == 2 else ""))
    return matvec(X, np.ascontiguousarray(coef.T)) + np.asarray(intercept, dtype=np.float64)
