"""Elastic net (glum's convention) with per-feature penalty factors, and ``ngd.fit``'s entry.

    F(theta) = L(theta) + alpha sum_j f_j [(1 - r)/2 beta_j^2 + r |beta_j|]

L = (1/sum w) sum_i w_i nll_i as in DESIGN.md, r = l1_ratio in [0, 1], f_j >= 0 the penalty
factor of feature j (default 1; 0 leaves it unpenalised; it scales both parts, as glmnet's
penalty.factor, and is not rescaled). Intercepts are never penalised. ``l2=`` stays the ridge
shorthand: alpha = l2, r = 0, which the smooth solvers fit; any r > 0 (or any factors) goes to
the proximal natural-gradient solver of ``ngd.optim.proximal``. X may be CSR for logistic and
the GLM families (kept sparse throughout: no column is scaled, no dense X is formed); softmax
needs dense X here.

The same objective elsewhere (unit weights, n rows): scikit-learn ``ElasticNet(alpha, l1_ratio)``
and ``Lasso(alpha)`` for gaussian (they use 1/(2n) ||y - X beta||^2, which is our L);
``LogisticRegression(l1_ratio=r, C=1/(alpha n))`` (its C multiplies the summed NLL); glum's
``alpha``/``l1_ratio``; glmnet's lambda = alpha with alpha_glmnet = r (standardize=FALSE).

Softmax: elementwise L1 on every class's coefficients (glmnet's type.multinomial =
"ungrouped") in the symmetric parametrisation (all K coefficient rows free, the first intercept
pinned), so the penalty does not depend on the order of the classes; the coefficients of
features with factor 0 are reported centred over the classes (they are identified only up to a
shared shift).
"""
import numbers

import numpy as np

from ngd import _sparse, frames
from ngd._validation import MAX_ABS, check_real
from ngd._threads import fit_threads
from ngd.fitting import model_fields, prepare as prepare_data
from ngd.models import normalise_model_name
from ngd.optim.proximal import CompositeProblem, CurvatureCache, minimise


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


def centre_unpenalised(model, theta, factor):
    """Softmax: the coefficients of a feature with penalty factor 0 are identified only up to
    a shift shared by all classes (the probabilities and the penalty do not change); return
    theta with those columns centred over the classes (other models: theta)."""
    if not hasattr(model, "free") or factor is None or np.all(factor > 0):
        return theta
    K, p = model.n_classes, model.n_features
    full = model.expand(theta)
    W = full[:K * p].reshape(K, p)
    free = factor == 0
    W[:, free] -= W[:, free].mean(axis=0)
    return full[model.free]


def prepare(X, y, *, model, link, power, trials, sample_weight, offset, fit_intercept,
            n_threads, backend="numpy"):
    """The validated model of ``ngd.fit`` with its own l2 = 0 (the penalty is handled here).
    The softmax model takes its gauge from l2 at construction (reference class when l2 = 0);
    it is built with l2 > 0 for the symmetric gauge and its l2 then set to 0. CSR X stays
    sparse for the single-output models (TypeError for softmax); a DataFrame is converted
    by ngd.frames."""
    X, _ = frames.fit_design(X, fit_intercept)
    y, trials, sample_weight, offset = frames.per_row_arrays(y, trials, sample_weight, offset)
    symmetric = normalise_model_name(model) == "softmax"
    if symmetric and _sparse.is_sparse(X):
        raise TypeError("L1 / elastic-net fits of model='softmax' need dense X "
                        "(X.toarray()); sparse X is fitted by logistic and the GLM families")
    prepared = prepare_data(X, y, model, link, power, trials, sample_weight, offset,
                            fit_intercept, 1.0 if symmetric else 0.0, n_threads, backend)
    prepared.model.l2 = 0.0
    return prepared


def check_solver(tol, max_iter, ftol=0.0):
    """tol and ftol finite >= 0, max_iter an integer >= 0 (ValueError otherwise)."""
    for value, name in ((tol, "tol"), (ftol, "ftol")):
        check_real(value, name, 0.0)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")


def check_curvature(method, fisher):
    """The proximal solver's curvature from ``fit``'s method and fisher arguments."""
    if method != "ngd" or fisher not in ("exact", "empirical"):
        raise ValueError("L1 penalties are fitted by proximal natural gradient: method='ngd' "
                         f"with fisher='exact' or 'empirical' (got method={method!r}, "
                         f"fisher={fisher!r})")
    return fisher


def fit_elastic_net(X, y, penalty, *, model, method, fisher, link, power, trials,
                    sample_weight, offset, fit_intercept, tol, max_iter, ftol, backend,
                    n_threads, callback):
    """``ngd.fit`` with an elastic-net penalty (see the module docstring)."""
    curvature = check_curvature(method, fisher)
    prepared = prepare(X, y, model=model, link=link, power=power, trials=trials,
                       sample_weight=sample_weight, offset=offset, fit_intercept=fit_intercept,
                       n_threads=n_threads, backend=backend)
    return fit_prepared(prepared, penalty, curvature=curvature, tol=tol,
                        max_iter=100 if max_iter is None else max_iter, ftol=ftol,
                        callback=callback)


def fit_prepared(prepared, penalty, *, curvature="exact", tol=1e-8, max_iter=100, ftol=1e-12,
                 callback=None, theta0=None, cache=None, previous_l1=None):
    """Proximal NGD on a prepared model (from :func:`prepare`); a FitResult with coef,
    intercept, kkt_violation, n_nonzero, deviance and null_deviance (no standard errors)."""
    check_solver(tol, max_iter, ftol)
    model = prepared.model
    l1, ridge = penalty.vectors(model)
    problem = CompositeProblem(model, l1, ridge, curvature)
    theta0 = model.initial_theta() if theta0 is None else theta0
    with fit_threads(prepared.n_threads):
        result = minimise(problem, theta0, tol=float(tol), ftol=float(ftol),
                          max_iter=int(max_iter), cache=cache or CurvatureCache(model),
                          previous_l1=previous_l1, callback=callback)
        stats = model.as_glm() if hasattr(model, "as_glm") else model
        null_deviance = stats.null_deviance()
    result.x = centre_unpenalised(model, result.x, penalty.factor)
    coef, intercept = model.split(result.x)
    result.message += " Standard errors are not reported for L1-penalised fits."
    result.update(coef=coef, intercept=intercept, stderr=None, intercept_stderr=None, cov=None,
                  cov_type=None, dispersion=None, deviance=2.0 * model.weight_sum * result.nll,
                  null_deviance=null_deviance, n_nonzero=int(np.count_nonzero(coef)),
                  alpha=penalty.alpha, l1_ratio=penalty.l1_ratio,
                  penalty_factor=penalty.factor, fisher=curvature, step_rule="armijo",
                  n_threads=prepared.n_threads, dtype=prepared.dtype, classes=prepared.classes,
                  tol=float(tol), max_iter=int(max_iter), **model_fields(model),
                  l2=penalty.alpha * (1.0 - penalty.l1_ratio),
                  fit_intercept=model.fit_intercept, damping=0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result
