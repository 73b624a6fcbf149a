"""The propositions behind natural-gradient fitting, checked numerically on one fit.

With theta* the fit, theta0 the starting point and R replicate responses y~ ~ p_theta*(. | X)
drawn with a seeded generator (F, E[s s^T] and the Hessian are those of the likelihood at
dispersion 1, the l2 term removed):

1. the mean score (1/sum w) sum_i w_i s_i(y~) has expectation 0: max_j |mean_j| / s.e._j
   must stay below the two-sided normal quantile at level 1e-3 / n_params;
2. F = E[s s^T]: F against the replicates' mean empirical Fisher, and
3. F = -E[Hessian of log p] (the Hessian of the NLL averaged over the replicates): relative
   Frobenius errors within 4 Monte-Carlo standard errors;
4. KL(p_theta* || p_theta*+eps d) / (1/2 eps^2 d^T F d) -> 1 for eps = 0.1, 0.01, 0.001
   (d random with 1/2 d^T F d = 1): |ratio - 1| <= 5 eps, the remainder being O(eps^3);
5. at theta0 the natural gradient -F^{-1} g (F with its l2 term) has the direction of the
   minimiser of g^T d subject to the exact KL budget KL(p_theta0 || p_theta0+d) +
   (l2/2) |d_coef|^2 <= delta (SLSQP, delta = 1e-4): cosine >= 1 - 1e-3 (the exact KL bends
   the direction by O(delta));
6. the empirical Fisher equals the Fisher only at the fit of a well-specified model (Kunstner
   et al. 2019): the gap |F^ - phi F| / |phi F| at theta* (phi the estimated dispersion) must
   not exceed the largest gap of the replicates (a Monte-Carlo information-matrix test); the
   gap at theta0 is reported next to it.

:func:`check_fit` takes a FitResult (or fits one); ``FitResult.check()`` calls it through
``ngd.result.register_checker``, so ``ngd.result`` does not import this module (which imports
``ngd.api``).
"""
import copy
from dataclasses import asdict, dataclass

import numpy as np
import scipy.optimize
from scipy.stats import norm

from ngd.api import fit as _fit
from ngd.models.base import CAPABILITY_MEMBERS, capabilities
from ngd.result import FitResult, register_checker

MEAN_SCORE_LEVEL = 1e-3
MC_STANDARD_ERRORS = 4.0
ROUNDING = 1e-9                     # relative error floor of Fisher identities that are exact
KL_EPSILONS = (1e-1, 1e-2, 1e-3)
KL_SLOPE = 5.0                      # tolerance |ratio - 1| <= KL_SLOPE * eps
COSINE_TOLERANCE = 1e-3
HESSIAN_GROUPS = 20


@dataclass
class CheckRow:
    """One verified quantity: passed when |value - target| <= tolerance."""

    quantity: str
    value: float
    target: float
    tolerance: float
    note: str = ""

    @property
    def passed(self):
        return bool(abs(self.value - self.target) <= self.tolerance)   # False for nan

    def as_dict(self):
        """Plain types for JSON: quantity, value, target, tolerance, passed, note."""
        return dict(asdict(self), passed=self.passed)


def check_fit(fit, X=None, y=None, *, n_draws=200, seed=0, kl_budget=1e-4, **fit_options):
    """Rows of the checks of the module docstring for ``fit``: a FitResult of :func:`ngd.fit`,
    or a model name, then fitted first as ``ngd.fit(X, y, model=fit, **fit_options)``.

    Parameters
    ----------
    fit : FitResult or str
        A fit of the in-memory backend, or a model name to fit first.
    X, y : array-like or None, default None
        The data, with a model name only.
    n_draws : int, default 200
        Replicate responses drawn from the fitted model (>= 2).
    seed : int, default 0
        Seed of the replicates and of the random KL direction.
    kl_budget : float, default 1e-4
        delta of check 5 (> 0).
    **fit_options
        :func:`ngd.fit`'s options, with a model name only.

    Returns
    -------
    list of CheckRow
        One row per verified quantity (``passed``, ``as_dict()``).

    Raises
    ------
    TypeError
        X, y or fit options given with a FitResult.
    ValueError
        A FitResult without its model (e.g. unpickled), a model that cannot draw responses
        or has no Hessian (e.g. fitted out of core), an invalid n_draws or kl_budget, or as
        :func:`ngd.fit`.
    """
    if isinstance(fit, FitResult):
        if X is not None or y is not None or fit_options:
            raise TypeError("X, y and fit options apply only when fit is a model name")
        result = fit
    else:
        result = _fit(X, y, model=fit, **fit_options)
    model = vars(result).get("_model")
    if model is None:
        raise ValueError("this FitResult holds no model (e.g. it was unpickled); refit it, "
                         "or call check_fit(model_name, X, y, ...)")
    dispersion = result.get("dispersion") or 1.0
    return check_model(model, result.x, dispersion=dispersion, n_draws=n_draws, seed=seed,
                       kl_budget=kl_budget)


register_checker(check_fit)


def check_model(model, theta, *, theta0=None, dispersion=1.0, n_draws=200, seed=0,
                kl_budget=1e-4):
    """The rows of the module docstring for ``model`` at ``theta`` (theta0: the model's
    starting point unless given)."""
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise ValueError(f"n_draws must be an integer >= 2, got {n_draws!r}")
    if not (np.isfinite(kl_budget) and kl_budget > 0):
        raise ValueError(f"kl_budget must be a finite number > 0, got {kl_budget!r}")
    theta = np.asarray(theta, dtype=np.float64)
    _require_checkable(model, theta)
    rng = np.random.default_rng(seed)
    theta0 = model.initial_theta() if theta0 is None else np.asarray(theta0, dtype=np.float64)
    fisher = _likelihood_part(model, model.exact_fisher(theta))
    draws = _Replicates(model, theta, fisher, int(n_draws), rng)
    return [draws.mean_score_row(),
            _fisher_row("Fisher vs E[s s^T] under the model (rel. error)", fisher,
                        *draws.empirical),
            _fisher_row("Fisher vs -E[Hessian] under the model (rel. error)", fisher,
                        *draws.hessian),
            *_kl_rows(model, theta, fisher, rng),
            _natural_gradient_row(model, theta0, float(kl_budget)),
            _empirical_fisher_row(model, theta, theta0, fisher, float(dispersion), draws)]


def _model_label(model):
    """The model's name for messages, with the Tweedie power."""
    power = getattr(getattr(model, "family", None), "power", None)
    return model.name if power is None else f"{model.name} (power {power:g})"


def _require_checkable(model, theta):
    """ValueError naming the model unless it can draw responses, give its KL divergence and
    its Hessian (in-memory models whose family has a sampler and a closed-form KL)."""
    found = capabilities(model)
    absent = sorted(member for name in ("sampling", "hessian") if name not in found
                    for member in CAPABILITY_MEMBERS[name] if not hasattr(model, member))
    where = " fitted out of core (refit with backend='numpy')" if "chunked" in found else ""
    if absent:
        raise ValueError(f"cannot check the {_model_label(model)} model{where}: it has no "
                         f"{', '.join(absent)}")
    try:
        model.sample_response(theta, np.random.default_rng(0))
        model.mean_kl(theta, theta)
    except NotImplementedError as exc:
        raise ValueError(f"cannot check the {_model_label(model)} model: "
                         f"{' '.join(str(exc).split())}") from None


def _likelihood_part(model, matrix):
    """A curvature of the objective without its l2 term."""
    return matrix - np.diag(model.l2 * model.penalty_mask)


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _response(classes, draw):
    """A drawn response as the model stores it (``classes``, softmax: one-hot rows)."""
    return np.eye(classes)[draw] if classes else draw


def _with_response(model, classes, response, codes=None):
    """A shallow copy of ``model`` fitted to ``response`` (softmax, ``classes`` > 0: one-hot
    rows with their class ``codes``, or rows of class frequencies without codes, which only
    the Hessian reads: it does not depend on the response)."""
    replica = copy.copy(model)
    if classes:
        replica.onehot = response
        if codes is not None:
            replica.codes = codes
    else:
        replica.y = response
    return replica


def _standard_error(total, total_sq, count):
    """Standard error of a mean from the sum and the sum of squares of ``count`` values."""
    variance = (total_sq - total * total / count) / (count - 1)
    return np.sqrt(np.maximum(variance, 0.0) / count)


class _Replicates:
    """Mean scores, empirical Fishers and Hessians at theta over responses drawn from the model
    (means and Monte-Carlo standard errors; per-draw gaps between empirical and exact Fisher).

    The Hessian of the NLL is affine in the response, so its mean over a group of draws is the
    Hessian at the group's mean response: it is formed once per group, not once per draw.
    """

    def __init__(self, model, theta, fisher, n_draws, rng):
        self.n_draws = n_draws
        penalty = model.l2 * model.penalty_mask
        self.scores = np.empty((n_draws, model.n_params))
        self.gaps = np.empty(n_draws)
        moments = np.zeros((2, model.n_params, model.n_params))   # sums of F^ and F^ * F^
        groups = min(HESSIAN_GROUPS, n_draws)
        group_sums = [0.0] * groups
        classes = model.n_classes if "class_codes" in capabilities(model) else 0
        for r in range(n_draws):
            draw = model.sample_response(theta, rng)
            response = _response(classes, draw)
            replica = _with_response(model, classes, response, draw)
            evaluation = replica.evaluate(theta, "empirical")
            self.scores[r] = penalty * theta - evaluation.grad    # grad L = -mean score + l2 coef
            empirical = _likelihood_part(model, replica.curvature_matrix(evaluation.weights))
            self.gaps[r] = _relative(empirical, fisher)
            moments += (empirical, empirical * empirical)
            group_sums[r % groups] = group_sums[r % groups] + response
        self.empirical = (moments[0] / n_draws, _standard_error(*moments, n_draws))
        sizes = np.bincount(np.arange(n_draws) % groups)
        hessians = np.array([_likelihood_part(model, _with_response(model, classes, total / size)
                                              .hessian(theta))
                             for total, size in zip(group_sums, sizes)])
        self.hessian = (np.average(hessians, axis=0, weights=sizes),
                        hessians.std(axis=0, ddof=1) / np.sqrt(groups))

    def mean_score_row(self):
        mean = self.scores.mean(axis=0)
        se = self.scores.std(axis=0, ddof=1) / np.sqrt(self.n_draws)
        z = np.abs(mean) / np.maximum(se, np.finfo(float).tiny)
        critical = float(norm.isf(0.5 * MEAN_SCORE_LEVEL / mean.size))
        return CheckRow("mean score under the model (max |z|)", float(np.max(z)), 0.0,
                        critical, f"{self.n_draws} model draws, level {MEAN_SCORE_LEVEL:g}")


def _fisher_row(quantity, fisher, mean, standard_error):
    scale = float(np.linalg.norm(fisher))
    tolerance = MC_STANDARD_ERRORS * float(np.linalg.norm(standard_error)) / scale + ROUNDING
    return CheckRow(quantity, _relative(mean, fisher), 0.0, tolerance,
                    f"tolerance {MC_STANDARD_ERRORS:g} Monte-Carlo s.e.")


def _kl_rows(model, theta, fisher, rng):
    d = rng.standard_normal(theta.size)
    d /= np.sqrt(0.5 * float(d @ fisher @ d))              # 1/2 d^T F d = 1
    rows = []
    for eps in KL_EPSILONS:
        ratio = model.mean_kl(theta, theta + eps * d) / (eps * eps)
        rows.append(CheckRow(f"KL / (1/2 eps^2 d'Fd), eps = {eps:g}", float(ratio), 1.0,
                             KL_SLOPE * eps, "random d at the fit"))
    return rows


def _natural_gradient_row(model, theta0, budget):
    """Cosine between -F^{-1} g and the numeric argmin of g^T d under the exact KL budget."""
    grad = model.gradient(theta0)
    curvature = model.exact_fisher(theta0)                 # the objective's: F + l2 on coef
    natural = -np.linalg.lstsq(curvature, grad, rcond=None)[0]
    penalty = model.l2 * model.penalty_mask
    scale = np.sqrt(2.0 * budget) / np.sqrt(np.diag(curvature))   # d = scale * u, |u| ~ 1
    slope = grad * scale
    slope /= max(float(np.linalg.norm(slope)), np.finfo(float).tiny)

    def spent(u):                                          # 1 - budget used (>= 0: feasible)
        d = scale * u
        return 1.0 - (model.mean_kl(theta0, theta0 + d) + 0.5 * float(penalty @ (d * d))) \
            / budget

    found = scipy.optimize.minimize(lambda u: float(slope @ u), np.zeros(theta0.size),
                                    jac=lambda u: slope, method="SLSQP",
                                    constraints=[{"type": "ineq", "fun": spent}],
                                    options={"maxiter": 1000, "ftol": 1e-12})
    d = scale * found.x
    cosine = float(d @ natural / (np.linalg.norm(d) * np.linalg.norm(natural)))
    return CheckRow("natural gradient vs KL-budget argmin (cosine)", cosine, 1.0,
                    COSINE_TOLERANCE, f"at theta0, delta = {budget:g}, SLSQP "
                    f"{found.nit} iterations")


def _empirical_fisher_row(model, theta, theta0, fisher, dispersion, draws):
    gap = _relative(_likelihood_part(model, model.empirical_fisher(theta)),
                    dispersion * fisher)
    start = _relative(_likelihood_part(model, model.empirical_fisher(theta0)),
                      dispersion * _likelihood_part(model, model.exact_fisher(theta0)))
    return CheckRow("empirical vs exact Fisher at the fit (rel. gap)", gap, 0.0,
                    float(np.max(draws.gaps)),
                    f"at theta0: {start:.3g}; tolerance: largest of {draws.n_draws} "
                    "model draws")
