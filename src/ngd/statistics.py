"""Statistics of a fitted model: covariance, standard errors, dispersion, deviance, AIC/BIC.

Covariance ("model"): phi * (sum w * F(theta))^{-1}, F the exact Fisher of the objective
(l2 included; frequency-weight convention). ("robust"): the sandwich A^{-1} B A^{-1} with
A = sum w * F(theta) and B = sum_i w_i s_i s_i^T (the empirical Fisher without the penalty);
it does not depend on phi. ("cluster"): the same sandwich with the meat summed over clusters,
B = sum_g u_g u_g^T, u_g = sum_{i in g} w_i s_i (CR1: times G/(G-1) (N-1)/(N-k), N the number
of rows, as statsmodels' cov_type="cluster"); two-way V_a + V_b - V_ab (Cameron, Gelbach and
Miller), each term with its own G. The bread of every sandwich is the expected information
(equal to the observed Hessian for canonical links; statsmodels uses the observed one).
phi is Pearson chi^2 / (n - k) for families with a dispersion (n = sum of weights,
k = number of parameters), else 1.
Inference: t with df_resid (clusters: min G - 1) degrees of freedom for families with an
estimated dispersion (use_t), the normal distribution otherwise; see ngd.inference.
Log-likelihood at phi (the model decides: Gaussian-identity uses the maximum-likelihood
scale RSS / n, as statsmodels); AIC = -2 llf + 2 k, BIC = -2 llf + k log n.
"""
import math

import numpy as np

from ngd.clusters import group_sums, intersection_codes
from ngd.kernels import cholesky_solve, damped_cholesky

COV_TYPES = ("model", "robust", "cluster")


def attach_statistics(result, model, cov_type="model", covariance=True, cluster=None):
    """Set coef, intercept, cov, stderr, intercept_stderr, dispersion, deviance, null_deviance,
    llf, aic, bic, df_resid, nobs, use_t and df_inference (and n_groups for clusters) on
    ``result`` (a FitResult); ``covariance=False`` skips the p x p inverse (cov and stderr
    stay None). ``cluster``: the code arrays of :func:`ngd.clusters.cluster_codes`, needed
    by (and only by) cov_type="cluster"."""
    if (cov_type == "cluster") != (cluster is not None):
        raise ValueError("cov_type='cluster' needs cluster= (the cluster labels)"
                         if cluster is None else
                         f"cluster= applies to cov_type='cluster', got cov_type={cov_type!r}")
    coef, intercept = model.split(result.x)
    result.update(coef=coef, intercept=intercept, cov=None, stderr=None, intercept_stderr=None,
                  cov_type=cov_type, dispersion=None, use_t=None, df_inference=None)
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
    result.nobs = n_obs
    result.use_t = bool(getattr(stats, "has_dispersion", False))
    result.df_inference = result.df_resid
    if cluster is not None:
        result.n_groups = tuple(int(codes.max()) + 1 for codes in cluster)
        result.df_inference = min(result.n_groups) - 1
    if hasattr(model, "_report_matrix"):
        vars(result)["_report_matrix"] = model._report_matrix()
    if result.get("status") == 6:
        result.message += " Standard errors are not reported: the estimates diverge."
        return
    if not covariance:
        result.message += (f" Standard errors were not computed ({model.n_params} parameters;"
                           " pass stderr=True to compute them).")
        return
    if getattr(model, "uses_block_covariance", False):   # a large Design: ngd.fisher.schur
        return model.attach_block_covariance(result, cov_type, phi)
    cov = model_covariance(model, result.x, cov_type, phi, cluster)
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


def model_covariance(model, theta, cov_type="model", phi=1.0, cluster=None):
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
    inverse = cholesky_solve(factor, np.eye(model.n_params))    # one solve, p right-hand sides
    inverse = 0.5 * (inverse + inverse.T)
    if cov_type == "model":
        return phi * inverse
    if cov_type == "cluster":
        return cluster_covariance(model, theta, inverse, cluster)
    meat = model.empirical_fisher(theta) * model.weight_sum
    penalised = np.flatnonzero(model.penalty_mask)
    meat[penalised, penalised] -= model.l2 * model.weight_sum
    return inverse @ meat @ inverse


def cluster_covariance(model, theta, bread, cluster):
    """CR1 cluster-robust covariance (module docstring) from the inverse information
    ``bread`` and the code arrays ``cluster`` (one or two dimensions)."""
    if not hasattr(model, "scores"):
        raise ValueError(f"cov_type='cluster' is not available for the {model.name} model")
    scores = model.scores(theta)
    weights = row_weights(model)
    if weights is not None:
        scores = scores * weights[:, None]
    n_rows, k = scores.shape
    if n_rows <= k:
        raise ValueError(f"cov_type='cluster' needs more rows ({n_rows}) than parameters ({k})")
    terms = [(1.0, codes) for codes in cluster]
    if len(cluster) == 2:
        terms.append((-1.0, intersection_codes(*cluster)))
    cov = np.zeros_like(bread)
    for sign, codes in terms:
        sums = group_sums(scores, codes)
        n_groups = sums.shape[0]        # >= 2 (checked by cluster_codes)
        meat = sums.T @ sums * (n_groups / (n_groups - 1.0) * (n_rows - 1.0) / (n_rows - k))
        cov += sign * (bread @ meat @ bread)
    return 0.5 * (cov + cov.T)


def row_weights(model):
    """The user's row weights w_i (trials divided out of a binomial GLM's weights, since its
    scores carry them), or None for unit weights: the weighted score of row i is w_i s_i."""
    weights = getattr(model, "sample_weight", None)
    trials = getattr(model, "trials", None)
    if weights is not None and trials is not None:
        weights = weights / trials
    return weights
