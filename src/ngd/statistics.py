"""Statistics of a fitted model: covariance, standard errors, dispersion, deviance, AIC/BIC.

Covariance ("model"): phi * (sum w * F(theta))^{-1}, F the exact Fisher of the objective
(l2 included; frequency-weight convention). ("robust"): the sandwich A^{-1} B A^{-1} with
A = sum w * F(theta) and B = sum_i w_i s_i s_i^T (the empirical Fisher without the penalty);
it does not depend on phi. phi is Pearson chi^2 / (n - k) for families with a dispersion
(n = sum of weights, k = number of parameters), else 1.
Log-likelihood at phi (the model decides: Gaussian-identity uses the maximum-likelihood
scale RSS / n, as statsmodels); AIC = -2 llf + 2 k, BIC = -2 llf + k log n.
"""
import math

import numpy as np

from ngd.kernels import cholesky_solve, damped_cholesky

COV_TYPES = ("model", "robust")


def attach_statistics(result, model, cov_type="model", covariance=True):
    """Set coef, intercept, cov, stderr, intercept_stderr, dispersion, deviance, null_deviance,
    llf, aic, bic and df_resid on ``result`` (a FitResult); ``covariance=False`` skips the
    p x p inverse (cov and stderr stay None)."""
    coef, intercept = model.split(result.x)
    result.update(coef=coef, intercept=intercept, cov=None, stderr=None, intercept_stderr=None,
                  cov_type=cov_type, dispersion=None)
    if not np.all(np.isfinite(result.x)):
        return
    stats = model.as_glm() if hasattr(model, "as_glm") else model
    n_obs, k = model.weight_sum, model.n_params
    phi = 1.0
    result.deviance = stats.deviance(result.x)
    result.null_deviance = stats.null_deviance()
    if getattr(stats, "has_dispersion", False):
        result.pearson_chi2 = stats.pearson_chi2(result.x)
        phi = result.pearson_chi2 / (n_obs - k) if n_obs > k else np.nan
    result.dispersion = phi
    result.llf = stats.log_likelihood(result.x, phi)
    result.aic = -2 * result.llf + 2 * k
    result.bic = -2 * result.llf + k * math.log(n_obs)
    result.df_resid = n_obs - k
    if result.get("status") == 6:
        result.message += " Standard errors are not reported: the estimates diverge."
        return
    if not covariance:
        result.message += (f" Standard errors were not computed ({model.n_params} parameters;"
                           " pass stderr=True to compute them).")
        return
    if getattr(model, "uses_block_covariance", False):   # a large Design: ngd.fisher.schur
        return model.attach_block_covariance(result, cov_type, phi)
    cov = model_covariance(model, result.x, cov_type, phi)
    if cov is None:
        result.message += " Standard errors are unavailable: the Fisher information is singular."
        return
    result.cov = cov
    if hasattr(model, "split_stderr"):
        result.stderr, result.intercept_stderr = model.split_stderr(cov)
    else:
        result.stderr, result.intercept_stderr = model.split(np.sqrt(np.diag(cov)))
    if not model.fit_intercept:
        result.intercept_stderr = None


def model_covariance(model, theta, cov_type="model", phi=1.0):
    """Covariance of theta (see module docstring), or None if the Fisher is singular."""
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    information = model.exact_fisher(theta) * model.weight_sum
    try:
        factor, _, escalations = damped_cholesky(information, 0.0)
    except np.linalg.LinAlgError:
        return None
    if escalations:
        return None
    inverse = np.column_stack([cholesky_solve(factor, e) for e in np.eye(model.n_params)])
    inverse = 0.5 * (inverse + inverse.T)
    if cov_type == "model":
        return phi * inverse
    meat = model.empirical_fisher(theta) * model.weight_sum
    penalised = np.flatnonzero(model.penalty_mask)
    meat[penalised, penalised] -= model.l2 * model.weight_sum
    return inverse @ meat @ inverse
