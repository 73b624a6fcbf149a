"""The elastic-net penalty of ``ngd.fit`` (glum's convention): alpha, l1_ratio and per-feature
factors, checked once (:func:`check_penalty`), and its per-parameter vectors on a model.
Below :mod:`ngd.spec` (which validates ``fit``'s penalty options with it) and
:mod:`ngd.elastic_net` (which fits it); imports neither."""
import numpy as np

from ngd._validation import MAX_ABS, check_real


class Penalty:
    """alpha, l1_ratio and the penalty factors (None: all 1) of an elastic net."""

    def __init__(self, alpha, l1_ratio, factor=None):
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        self.factor = factor

    def at(self, alpha):
        """The same penalty at another alpha."""
        return Penalty(alpha, self.l1_ratio, self.factor)

    def vectors(self, model):
        """(l1, ridge) per parameter of ``model``: alpha r f and alpha (1 - r) f."""
        f = parameter_factors(model, self.factor)
        return self.alpha * self.l1_ratio * f, self.alpha * (1.0 - self.l1_ratio) * f


def check_penalty(l2, alpha, l1_ratio, penalty_factor):
    """(l2, Penalty or None) from ``fit``'s arguments: alpha with l1_ratio = 0 and no factors
    is the ridge l2 = alpha; anything else with alpha is a Penalty (and l2 = 0)."""
    if alpha is None:
        if l1_ratio != 0 or penalty_factor is not None:
            raise ValueError("l1_ratio= and penalty_factor= need alpha= (the penalty strength)")
        return l2, None
    alpha = check_real(alpha, "alpha", 0.0, MAX_ABS)
    l1_ratio = check_real(l1_ratio, "l1_ratio", 0.0, 1.0)
    if l2 != 0:
        raise ValueError("give either l2= (the ridge shorthand) or alpha= with l1_ratio=, "
                         "not both")
    if l1_ratio == 0 and penalty_factor is None:
        return alpha, None
    factor = _check_factor(penalty_factor)
    if factor is not None and factor.size and alpha * factor.max() > MAX_ABS:
        raise ValueError(f"alpha * penalty_factor reaches {alpha * factor.max():g} "
                         f"(> {MAX_ABS:g}, where the curvature overflows): rescale them")
    return 0.0, Penalty(alpha, l1_ratio, factor)


def path_penalty(l1_ratio, penalty_factor):
    """The Penalty of a path (alpha set per grid point) from validated arguments."""
    return Penalty(0.0, check_real(l1_ratio, "l1_ratio", 0.0, 1.0), _check_factor(penalty_factor))


def _check_factor(penalty_factor):
    if penalty_factor is None:
        return None
    try:
        factor = np.asarray(penalty_factor, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"penalty_factor must be a 1-D array of numbers, got "
                        f"{penalty_factor!r:.60}") from None
    if factor.ndim != 1 or not np.all(np.isfinite(factor)) or np.any(factor < 0) \
            or np.any(factor > MAX_ABS):
        raise ValueError(f"penalty_factor must be a 1-D array of finite numbers >= 0 and "
                         f"<= {MAX_ABS:g}")
    return factor


def parameter_factors(model, factor):
    """Penalty factor of every parameter of ``model`` (intercepts 0)."""
    p = model.n_features
    factor = np.ones(p) if factor is None else factor
    if factor.shape != (p,):
        raise ValueError(f"penalty_factor must have one entry per feature ({p}), got "
                         f"{factor.shape[0]}")
    if hasattr(model, "free"):                       # softmax: free entries of [vec(W), b]
        full = model.free
        coef = full < model.n_classes * p
        return np.where(coef, factor[np.where(coef, full % p, 0)], 0.0)
    return np.where(model.penalty_mask, np.r_[factor, np.zeros(model.n_params - p)], 0.0)
