"""Negative binomial (NB2) regression with alpha estimated by maximum likelihood.

NB2: y | x ~ NB(mu, alpha), E[y] = mu = h(eta), Var[y] = mu + alpha mu^2, with log-likelihood
(r = 1/alpha)

    l_i = log Gamma(y + r) - log Gamma(r) - log Gamma(y + 1) + y log(alpha mu)
          - (y + r) log1p(alpha mu).

At a fixed alpha this is a GLM (``families.NegativeBinomial``, phi = 1) fitted by the fused
Fisher-scoring pass like any other family. With alpha unknown, the fit alternates:

1. beta at fixed alpha: the usual optimiser (``ngd`` or ``newton``), warm-started from the
   previous beta;
2. alpha at fixed mu: a safeguarded Newton iteration on tau = log alpha for the root of the
   score dl/dtau (bracketed: a Newton step that leaves the bracket is replaced by bisection),
   O(n) per iteration without a pass over X;

until an alpha update changes log alpha by at most ``tol`` (and the last beta fit
converged; ``tol`` and ``max_iter`` apply to each beta fit, MAX_ROUNDS bounds the
rounds). The alternation rather than a joint Newton step is chosen because NB2's expected
information is block diagonal (beta and alpha are orthogonal): the alternation then
contracts at the rate of the observed cross-information, which is O(n^-1/2) relative, and
needs no curvature code beyond the GLM's. The start is the Poisson fit (alpha -> 0) and the
moment estimate alpha0 = sum w [(y - mu)^2 - y] / sum w mu^2. The score of the profile
likelihood at alpha = 0+ is (1/2) sum w [(y - mu)^2 - y] at the Poisson fit (the
overdispersion score); when it is <= 0 the maximum lies on the boundary: the result is the
Poisson fit with nb_alpha = 0 and a message (as also when the alpha iteration runs below
ALPHA_FLOOR).

Standard errors with an estimated alpha: the inverse of the joint observed information of
(beta, alpha) (statsmodels' NegativeBinomial convention); cov_type="robust": the sandwich
J^-1 B J^-1 with B = sum w s s^T of the joint scores. ``nb_alpha_stderr`` is its alpha
entry. With a fixed alpha the coefficients' covariance is the GLM's (inverse expected
Fisher), as statsmodels' GLM with a NegativeBinomial family.
"""
import copy

import numpy as np

from ngd.exceptions import DataError
from ngd.models._linear import rmatvec
from ngd.models._nb_special import digamma_gap, log1pmx, trigamma_gap
from ngd.models.categorical import CategoricalModel
from ngd.models.families import NegativeBinomial, Poisson
from ngd.models.glm import GLM
from ngd.result import History

MAX_ROUNDS = 100            # alternations of the beta fit and the alpha update
ALPHA_FLOOR = 1e-12         # an alpha iteration below this is at the boundary alpha = 0
ALPHA_CEILING = 1e12
NEWTON_MAX_ITER = 200
TAU_XTOL = 1e-14            # relative tolerance of the alpha root (on log alpha)
ESTIMATING_METHODS = ("ngd", "newton")


# --- the log-likelihood in alpha at fixed mu ------------------------------------------------
def alpha_derivatives(y, mu, alpha, second=True):
    """Per-row dl/dtau and (``second``) d^2 l/dtau^2 of the NB2 log-likelihood at fixed mu,
    tau = log alpha, r = 1/alpha, u = alpha (y - mu) / (1 + alpha mu) and
    c = psi(y + r) - psi(r) - log1p(alpha y) (ngd.models._nb_special):

        dl/dtau     = (u - log1p(u) - c) / alpha
        d^2l/dtau^2 = (log1p(u) + c) / alpha + mu / (1 + alpha mu) - r^2 (psi'(r) - psi'(y + r))
                      - alpha mu (y - mu) / (1 + alpha mu)^2.

    At alpha -> 0, dl/dtau ~ alpha [(y - mu)^2 - y] / 2."""
    q = 1.0 + alpha * mu
    u = alpha * (y - mu) / q
    c = digamma_gap(y, alpha)
    score = (-log1pmx(u) - c) / alpha
    if not second:
        return score
    curvature = ((np.log1p(u) + c) / alpha + mu / q - trigamma_gap(y, alpha) / alpha ** 2
                 - alpha * mu * (y - mu) / (q * q))
    return score, curvature


def overdispersion_score(y, mu, w):
    """dl/dalpha at alpha = 0+: (1/2) sum w [(y - mu)^2 - y]."""
    return 0.5 * float(np.sum(w * ((y - mu) ** 2 - y)))


def moment_alpha(y, mu, w):
    """The moment estimate sum w [(y - mu)^2 - y] / sum w mu^2 (> 0 when overdispersed)."""
    return float(np.sum(w * ((y - mu) ** 2 - y)) / np.sum(w * mu * mu))


def maximise_alpha(y, mu, w, alpha):
    """argmax over alpha of sum w l(y, mu, alpha) at fixed mu, from ``alpha``: the root of
    dl/dtau bracketed (the score falls from > 0 to < 0 across the bracket) and found by Newton
    steps in tau = log alpha, bisection where a step leaves the bracket. Returns 0.0 when the
    score is <= 0 down to ALPHA_FLOOR (the maximum is at the boundary); ValueError when it
    stays > 0 up to ALPHA_CEILING."""
    def score(tau):
        return float(np.sum(w * alpha_derivatives(y, mu, np.exp(tau), second=False)))

    tau = np.log(alpha)
    g = score(tau)
    if g == 0:
        return alpha
    lo = hi = tau
    width = 1.0
    if g > 0:
        while g > 0:
            lo, hi = hi, tau + width
            if hi > np.log(ALPHA_CEILING):
                raise ValueError("the negative-binomial alpha diverges (the log-likelihood "
                                 f"still rises at alpha = {ALPHA_CEILING:g})")
            g, width = score(hi), 2 * width
    else:
        while g < 0:
            hi, lo = lo, tau - width
            if lo < np.log(ALPHA_FLOOR):
                return 0.0
            g, width = score(lo), 2 * width
    tau = np.log(alpha)             # an end of the bracket, usually next to the root
    for _ in range(NEWTON_MAX_ITER):
        score_rows, curvature_rows = alpha_derivatives(y, mu, np.exp(tau))
        g, h = float(np.sum(w * score_rows)), float(np.sum(w * curvature_rows))
        if g > 0:
            lo = tau
        elif g < 0:
            hi = tau
        else:
            break
        new = tau - g / h if h < 0 else np.nan
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        done = abs(new - tau) <= TAU_XTOL * max(1.0, abs(tau))
        tau = new
        if done or hi - lo <= TAU_XTOL * max(1.0, abs(tau)):
            break
    return float(np.exp(tau))


# --- models at a given alpha ------------------------------------------------------------------
def model_at(base, alpha):
    """A GLM on ``base``'s data with the NB2 family at ``alpha`` (Poisson for alpha = 0); for
    a CategoricalModel (a Design's categorical blocks) the same blocks on that GLM."""
    if isinstance(base, CategoricalModel):
        return CategoricalModel(base.design, model_at(base.inner, alpha))
    family = Poisson() if alpha == 0 else NegativeBinomial(alpha)
    return GLM(base.X, base.y, family=family, link=base.link, sample_weight=base.sample_weight,
               offset=base.offset, fit_intercept=base.fit_intercept, l2=base.l2,
               n_threads=base.n_threads)


def _row_pieces(model, theta):
    """(mu, h'(eta), V(mu)) per row."""
    eta = model.linear_predictor(theta, offset=model.offset)
    mu = model.link.inverse(eta)
    return mu, model.link.derivative(eta), model.family.variance(mu)


def _with_intercept(model, v):
    """[X, 1]^T v (X^T v without an intercept); on a Design: the dense part's X^T v, then
    each categorical's per-level sums of v (code -1, the reference level, has no column)."""
    if isinstance(model, CategoricalModel):
        parts = [rmatvec(model.dense, v, model.n_threads)]
        for codes, n_levels in zip(model.codes, model.n_levels):
            kept = codes >= 0
            parts.append(np.bincount(codes[kept], weights=v[kept], minlength=n_levels))
        head = np.concatenate(parts)
    else:
        head = rmatvec(model.X, v, model.n_threads)
    return np.r_[head, v.sum()] if model.fit_intercept else head


def joint_covariance(model, theta, cov_type="model"):
    """Covariance of (theta, alpha) at a fit with an estimated alpha: J^-1 ("model") or
    J^-1 B J^-1 ("robust"), J the joint observed information (l2 included),

        J = [[sum w H_i,            sum w x~ (y - mu) h' mu^2 / V^2],
             [      .      ,        -sum w d^2 l / d alpha^2     ]],

    H_i the observed NLL Hessian of the GLM at fixed alpha, and B = sum w s s^T of the joint
    scores s_i = [(y - mu) h'/V x~_i, dl_i/dalpha]; None if J is not positive definite."""
    alpha, y, w = model.family.alpha, model.y, model.sample_weight
    mu, h1, variance = _row_pieces(model, theta)
    score_tau, curvature_tau = alpha_derivatives(y, mu, alpha)
    k = model.n_params
    info = np.empty((k + 1, k + 1))
    info[:k, :k] = model.hessian(theta) * model.weight_sum
    info[:k, k] = info[k, :k] = _with_intercept(model, w * (y - mu) * h1 * mu * mu
                                                / (variance * variance))
    info[k, k] = -float(np.sum(w * (curvature_tau - score_tau))) / alpha ** 2
    try:
        factor = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return None
    inverse = np.linalg.inv(factor)
    inverse = inverse.T @ inverse
    if cov_type == "model":
        return inverse
    score_alpha = score_tau / alpha
    meat = np.empty_like(info)
    meat[:k, :k] = model.empirical_fisher(theta) * model.weight_sum
    penalised = np.flatnonzero(model.penalty_mask)
    meat[penalised, penalised] -= model.l2 * model.weight_sum
    meat[:k, k] = meat[k, :k] = _with_intercept(model, w * (y - mu) * h1 / variance
                                                * score_alpha)
    meat[k, k] = float(np.sum(w * score_alpha ** 2))
    return inverse @ meat @ inverse


# --- results ------------------------------------------------------------------------------------
def attach_alpha(result, model, alpha, estimated, cov_type="model", statistics=True):
    """Add nb_alpha, nb_alpha_estimated, nb_alpha_stderr and (``statistics``) pearson_chi2 to
    a fit at ``alpha`` (``model`` the GLM it was fitted with); with an estimated alpha also
    AIC/BIC counting alpha and the joint covariance (see the module docstring)."""
    result.update(nb_alpha=float(alpha), nb_alpha_estimated=bool(estimated),
                  nb_alpha_stderr=None, model="negative_binomial", family="negative_binomial")
    if not (statistics and np.all(np.isfinite(result.x))):
        return result
    result.pearson_chi2 = model.pearson_chi2(result.x)
    if not estimated:
        return result
    if result.get("aic") is not None:
        result.aic += 2.0
        result.bic += np.log(model.weight_sum)
    if alpha == 0 or result.get("cov") is None:
        return result
    cov = joint_covariance(model, result.x, cov_type)
    if cov is None:
        result.update(cov=None, stderr=None, intercept_stderr=None)
        result.message += (" Standard errors are unavailable: the joint observed information "
                           "of the coefficients and alpha is not positive definite.")
        return result
    k = model.n_params
    result.cov = cov[:k, :k]
    result.nb_alpha_stderr = float(np.sqrt(cov[k, k]))
    result.stderr, result.intercept_stderr = model.split(np.sqrt(np.diag(result.cov)))
    if not model.fit_intercept:
        result.intercept_stderr = None
    return result


def _chain(results):
    """One History and totals (iterations, evaluations, time) over consecutive fits."""
    history = History()
    n_iter = n_fev = 0
    elapsed = 0.0
    for index, part in enumerate(results):
        table = part.history.as_dict()
        for i in range(0 if index == 0 else 1, len(part.history)):
            row = {key: values[i] for key, values in table.items()}
            row.update(iter=n_iter + row["iter"], time=elapsed + row["time"])
            history.append(**row)
        n_iter += part.n_iter
        n_fev += part.n_fev
        elapsed += part.time
    return history, n_iter, n_fev, elapsed


def fit(prepared, method, fit_fixed, statistics=True, **options):
    """The negative-binomial fit of a prepared problem (``ngd.api``): at a fixed alpha
    (``prepared.nb_alpha``) one ``fit_fixed`` (the GLM fit) plus :func:`attach_alpha`; with
    alpha to estimate (``prepared.nb_alpha`` None) the alternation of the module docstring,
    method "ngd" or "newton". The methods of one ``ngd.compare`` share ``prepared``: once one
    has estimated alpha, the later ones fit beta at that estimate, so that every row of a
    comparison minimises the same objective L(beta; alpha-hat)."""
    cov_type = options.get("cov_type", "model")
    if prepared.nb_alpha is not None:
        result = fit_fixed(prepared, method, statistics=statistics, **options)
        return attach_alpha(result, prepared.model, prepared.nb_alpha, False, cov_type,
                            statistics)
    if cov_type not in ("model", "robust"):
        raise ValueError(f"cov_type={cov_type!r} is not available with an estimated nb_alpha "
                         "(use 'model' or 'robust', or pass a fixed nb_alpha=)")
    alpha = getattr(prepared, "nb_alpha_estimate", None)
    if alpha is None:
        return _estimate(prepared, method, fit_fixed, statistics, options)
    at = copy.copy(prepared)
    at.model = model_at(prepared.model, alpha)
    result = fit_fixed(at, method, statistics=statistics, **options)
    result.message += f" alpha = {alpha:.6g}, estimated by an earlier method of this run."
    return attach_alpha(result, at.model, alpha, True, cov_type, statistics)


def _estimate(prepared, method, fit_fixed, statistics, options):
    """The alternation (module docstring); the result also carries nb_alpha_path (the alpha
    of each round) and the history of every fit, chained."""
    if method not in ESTIMATING_METHODS:
        raise ValueError(f"estimating nb_alpha needs method 'ngd' or 'newton', got "
                         f"{method!r}; pass a fixed nb_alpha= for other methods")
    base = prepared.model
    y, w = base.y, base.sample_weight
    at = copy.copy(prepared)
    at.model = model_at(base, 0.0)
    try:
        fits = [fit_fixed(at, method, statistics=False, **options)]
    except DataError as exc:
        raise DataError(f"negative_binomial: the Poisson fit that starts the estimate of "
                        f"alpha failed: {exc}") from None
    theta = start = fits[0].x
    mu = at.model.mean(theta, offset=base.offset)
    alphas = []
    boundary = converged = False
    if overdispersion_score(y, mu, w) > 0:
        alpha = moment_alpha(y, mu, w)
        for _ in range(MAX_ROUNDS):
            new = maximise_alpha(y, mu, w, alpha)
            if new == 0:
                boundary = True
                break
            at.model = model_at(base, new)
            fits.append(fit_fixed(at, method, statistics=False, theta0=theta, **options))
            alphas.append(new)
            theta = fits[-1].x
            mu = at.model.mean(theta, offset=base.offset)
            if not np.all(np.isfinite(mu)) or fits[-1].status == 6:
                break
            if abs(np.log(new / alpha)) <= options["tol"] and fits[-1].converged:
                converged = True
                break
            alpha = new
    else:
        boundary = True
    alpha = 0.0 if boundary else alphas[-1]
    at.model = model_at(base, alpha)
    final = fit_fixed(at, method, statistics=statistics, theta0=start if boundary else theta,
                      **options)
    separated = next((fit for fit in fits if fit.status == 6), None)
    if separated is not None and final.status != 6:   # the warm start hides the divergence
        final.update(status=6, message=separated.message, separation=separated.separation,
                     converged=False, success=False)
    history, n_iter, n_fev, elapsed = _chain(fits + [final])
    final.update(history=history, n_iter=n_iter, nit=n_iter, n_fev=n_fev, nfev=n_fev,
                 time=elapsed, nb_alpha_path=alphas)
    if boundary:
        final.message += (" alpha = 0: the data show no overdispersion (the likelihood is "
                          "largest at the boundary alpha -> 0), so the fit is the Poisson "
                          "fit.")
        converged = True
    elif converged:
        final.message += f" alpha = {alpha:.6g} by maximum likelihood ({len(alphas)} rounds)."
    else:
        final.message += (f" alpha did not converge in {len(alphas)} rounds of the "
                          f"coefficient fit and the alpha update (last alpha {alpha:.6g}).")
    converged = bool(converged and final.converged)
    final.update(converged=converged, success=converged)
    prepared.nb_alpha_estimate = alpha
    return attach_alpha(final, at.model, alpha, True, options.get("cov_type", "model"),
                        statistics)
