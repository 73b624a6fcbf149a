"""Hypothesis tests on fitted models: Wald tests of linear restrictions and likelihood-ratio
(or deviance F) tests between nested fits.

Wald: H0: R beta = r on the reported coefficients beta (FitResult.params, intercept first),
W = (R beta - r)^T (R V R^T)^{-1} (R beta - r) with V = FitResult.cov_params() (the fit's
cov_type: model, robust or cluster). Fixed-dispersion families (binomial, poisson, logistic,
softmax): W ~ chi2(q). Families with an estimated dispersion: F = W / q ~ F(q, df) with
df = result.df_inference (df_resid, or clusters - 1): statsmodels' wald_test with
use_f=True, i.e. its default for a fit with use_t=True.

Likelihood ratio: LR = 2 (llf_full - llf_restricted) ~ chi2(k_full - k_restricted), the
default for fixed-dispersion families (statsmodels: the llf difference; for Gaussian-identity
fits, whose llf is at the maximum-likelihood scale, its OLS compare_lr_test). Families with an
estimated dispersion default to the deviance F test (R's anova(..., test="F")):
F = (D_restricted - D_full) / (q phi_full) ~ F(q, df_resid_full), phi_full the full fit's
Pearson dispersion; for Gaussian-identity with unit weights it is the exact OLS F test
(statsmodels' compare_f_test).
"""
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ngd.result import FitResult

NESTING_TOL = 1e-8          # relative residual of a restricted column projected on the full X


@dataclass(frozen=True)
class HypothesisTest:
    """The outcome of a test (frozen; ``str()`` is a one-line report).

    Parameters
    ----------
    test : {"wald", "lr", "f"}
    statistic : float
        W, LR or F.
    df : float
        Degrees of freedom (chi2), or the numerator's (F).
    pvalue : float
    distribution : {"chi2", "F"}
    df_denom : float or None, default None
        The F distribution's denominator degrees of freedom.
    names : tuple of str, default ()
        The restricted coefficients (Wald tests of names).
    hypothesis : str, default ""
        The hypothesis in words.
    """

    test: str
    statistic: float
    df: float
    pvalue: float
    distribution: str
    df_denom: float = None
    names: tuple = field(default=())
    hypothesis: str = ""

    def __str__(self):
        what = {"wald": "Wald test", "lr": "likelihood-ratio test",
                "f": "deviance F test"}[self.test]
        dist = (f"F({self.df:g}, {self.df_denom:.6g})" if self.distribution == "F"
                else f"chi2({self.df:g})")
        on = f" of {self.hypothesis}" if self.hypothesis else ""
        return f"{what}{on}: {dist} = {self.statistic:.6g}, p = {self.pvalue:.4g}"

    def to_dict(self):
        """Plain-Python form (for JSON).

        Returns
        -------
        dict
            The fields, ``names`` as a list.
        """
        return {"test": self.test, "statistic": self.statistic, "df": self.df,
                "df_denom": self.df_denom, "pvalue": self.pvalue,
                "distribution": self.distribution, "names": list(self.names),
                "hypothesis": self.hypothesis}


# ------------------------------------------------------------------------------ Wald --
def wald_test(result, terms, value=None):
    """Wald test of H0: R beta = r on ``result``'s reported coefficients (module docstring).

    Parameters
    ----------
    result : FitResult
        A fit with standard errors.
    terms : str, list of str or array-like
        A coefficient name (as in result.coefficient_names(), e.g. 'x1', '(intercept)',
        'b:x1' for softmax), a term name (a key of result.terms: all its coefficients, e.g.
        every level of a categorical; softmax: a feature's coefficients in every free class),
        or a list of these; or a restriction matrix R of shape (q, m), m = len(result.params).
    value : float, array-like or None, default None
        r: a number or one per restriction (None: 0).

    Returns
    -------
    HypothesisTest
        chi2(q), or F(q, df_inference) where the dispersion is estimated.

    Raises
    ------
    TypeError
        result not a FitResult, or terms neither names nor a numeric matrix.
    ValueError
        No covariance (stderr not computed), an unknown name, a matrix of the wrong shape or
        with non-finite entries, dependent restrictions, a singular restricted covariance, or
        value of the wrong length or not finite.
    """
    _check_result(result, "result")
    cov = result.cov_params()
    if cov is None:
        raise ValueError("result has no covariance matrix (standard errors were not computed "
                         "for this fit); refit with stderr=True")
    params = result.params
    R, names, hypothesis = _restrictions(result, terms)
    if R.shape[1] != params.size:
        raise ValueError(f"the restriction matrix must have {params.size} columns (one per "
                         f"coefficient of result.params), got shape {R.shape}")
    q = R.shape[0]
    r = _value(value, q)
    if np.linalg.matrix_rank(R) < q:
        raise ValueError(f"the {q} restrictions are linearly dependent (rank "
                         f"{np.linalg.matrix_rank(R)}); drop the redundant ones")
    middle = R @ cov @ R.T
    middle = 0.5 * (middle + middle.T)
    eigenvalues = np.linalg.eigvalsh(middle) if np.isfinite(middle).all() else [np.nan]
    threshold = 1e-12 * max(np.max(np.abs(eigenvalues)), 1e-300)
    if not np.min(eigenvalues) > threshold:
        rank = int(np.sum(np.asarray(eigenvalues) > threshold))
        raise ValueError(f"the covariance of the {q} restrictions is singular (rank {rank}): "
                         "not testable with this covariance (a pinned softmax reference "
                         "class, or effects of the clustering variable itself?)")
    diff = R @ params - r
    statistic = float(diff @ np.linalg.solve(middle, diff))
    if result.distribution == "t":
        df_denom = float(result.df_inference)
        F = statistic / q
        return HypothesisTest("wald", F, q, float(stats.f.sf(F, q, df_denom)), "F",
                              df_denom, names, hypothesis)
    return HypothesisTest("wald", statistic, q, float(stats.chi2.sf(statistic, q)), "chi2",
                          None, names, hypothesis)


def _restrictions(result, terms):
    """(R, names, hypothesis) of ``terms``: rows selecting the named coefficients, or the
    given matrix."""
    if isinstance(terms, str):
        terms = [terms]
    if isinstance(terms, (list, tuple)) and terms and all(isinstance(t, str) for t in terms):
        index = []
        for name in terms:
            index += [i for i in _coefficient_indices(result, name) if i not in index]
        all_names = result.coefficient_names()
        R = np.zeros((len(index), len(all_names)))
        R[np.arange(len(index)), index] = 1.0
        return R, tuple(all_names[i] for i in index), ", ".join(terms)
    try:
        R = np.array(terms, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("terms must be a coefficient or term name, a list of names, or a "
                        f"restriction matrix, got {terms!r}") from None
    if R.ndim == 1 and R.size:
        R = R[None, :]
    if R.ndim != 2 or R.shape[0] == 0:
        raise ValueError(f"terms must name at least one coefficient or be a non-empty (q, m) "
                         f"restriction matrix, got shape {R.shape}")
    if not np.isfinite(R).all():
        raise ValueError("the restriction matrix has non-finite entries")
    return R, (), f"R beta = r ({R.shape[0]} restriction{'s' * (R.shape[0] > 1)})"


def _coefficient_indices(result, name):
    """Positions in result.params of a coefficient name or a term's coefficients."""
    names = result.coefficient_names()
    if name in names:
        return [names.index(name)]
    terms = result.get("terms") or {}
    p = np.shape(result.coef)[-1]
    fit_intercept = bool(result.get("fit_intercept", True))
    if name in terms:
        columns = [fit_intercept + int(j) for j in _term_columns(terms[name], p, name)]
    elif name == "(intercept)" and fit_intercept:
        columns = [0]
    else:
        shown = ", ".join(list(terms) if terms else names)
        raise ValueError(f"unknown coefficient or term {name!r}; "
                         f"{'terms' if terms else 'coefficients'} are: {shown[:300]}")
    if np.ndim(result.coef) != 2:
        return columns
    # softmax: the columns in every class whose coefficients are free (the reference class is
    # pinned; in the symmetric gauge the classes sum to zero, so the last one is implied)
    width = p + fit_intercept
    n_classes = np.shape(result.coef)[0]
    classes = range(1, n_classes) if result.get("l2", 0.0) == 0 else range(n_classes - 1)
    return [k * width + c for k in classes for c in columns]


def _term_columns(columns, p, name):
    """A term's coefficient columns (a list of indices or a slice) checked against p."""
    if isinstance(columns, slice):
        columns = range(*columns.indices(p))
    columns = [int(j) for j in columns]
    if not columns or min(columns) < 0 or max(columns) >= p:
        raise ValueError(f"term {name!r} has coefficient indices outside 0..{p - 1}")
    return columns


def _value(value, q):
    """The hypothesised values r (length q) from None, a number or an array."""
    if value is None:
        return np.zeros(q)
    r = np.asarray(value, dtype=np.float64)
    if r.ndim == 0:
        r = np.full(q, float(r))
    if r.shape != (q,):
        raise ValueError(f"value must be a number or have one entry per restriction ({q}), "
                         f"got shape {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("value must be finite")
    return r


# ----------------------------------------------------------------- likelihood ratio --
def lr_test(full, restricted, test="auto"):
    """Test ``restricted`` (a fit nested in ``full``) against ``full`` (module docstring).

    df = the difference in the number of parameters. Both fits must be unpenalised
    maximum-likelihood fits of the same family and link on the same rows (same y, weights
    and offset when the fitted models are at hand, and the restricted design's columns in the
    span of the full one's).

    Parameters
    ----------
    full, restricted : FitResult
        The two fits, ``restricted`` nested in ``full``.
    test : {"auto", "lr", "f"}, default "auto"
        "lr": LR = 2 (llf_full - llf_restricted) ~ chi2(df); "f": the deviance F test;
        "auto": "f" where the dispersion is estimated, else "lr".

    Returns
    -------
    HypothesisTest

    Raises
    ------
    TypeError
        full or restricted not a FitResult.
    ValueError
        An unknown test; fits that differ in model, family, link, power, classes, rows or
        data, are penalised, lack a log-likelihood, are not nested, or where the full fit
        has no more parameters; "f" without a positive dispersion and residual df.
    """
    _check_result(full, "full")
    _check_result(restricted, "restricted")
    if test not in ("auto", "lr", "f"):
        raise ValueError(f"test must be 'auto', 'lr' or 'f', got {test!r}")
    _check_comparable(full, restricted)
    df = int(np.size(full.x) - np.size(restricted.x))
    if df <= 0:
        raise ValueError(f"the full fit must have more parameters than the restricted one "
                         f"({np.size(full.x)} vs {np.size(restricted.x)}); swap them?")
    models = vars(full).get("_model"), vars(restricted).get("_model")
    if None not in models:
        _check_same_rows(*models)
        _check_nested_columns(*models)
    llf_full, llf_restricted = float(full.llf), float(restricted.llf)
    if llf_restricted - llf_full > 1e-6 * max(1.0, abs(llf_full)):
        raise ValueError(f"the restricted fit has the higher log-likelihood ({llf_restricted:.8g}"
                         f" > {llf_full:.8g}): the fits are not nested (or did not converge)")
    if test == "auto":
        test = "f" if full.get("use_t") else "lr"
    if test == "lr":
        statistic = max(2.0 * (llf_full - llf_restricted), 0.0)
        return HypothesisTest("lr", statistic, df, float(stats.chi2.sf(statistic, df)),
                              "chi2", hypothesis=f"{df} restriction{'s' * (df > 1)}")
    phi, df_denom = float(full.dispersion), float(full.df_resid)
    if not (np.isfinite(phi) and phi > 0 and df_denom > 0):
        raise ValueError("the deviance F test needs a positive dispersion and residual df in "
                         "the full fit")
    F = max(float(restricted.deviance) - float(full.deviance), 0.0) / (df * phi)
    return HypothesisTest("f", F, df, float(stats.f.sf(F, df, df_denom)), "F", df_denom,
                          hypothesis=f"{df} restriction{'s' * (df > 1)}")


def _check_result(result, name):
    if not isinstance(result, FitResult):
        raise TypeError(f"{name} must be a FitResult of ngd.fit, got {type(result).__name__}")


def _check_comparable(full, restricted):
    """Same model, family, link, power, classes and number of observations; unpenalised."""
    for key in ("model", "family", "link", "power"):
        if full.get(key) != restricted.get(key):
            raise ValueError(f"the fits differ in {key} ({full.get(key)!r} vs "
                             f"{restricted.get(key)!r}); a likelihood-ratio test compares "
                             "fits of the same model")
    classes = full.get("classes"), restricted.get("classes")
    if (classes[0] is None) != (classes[1] is None) or \
            (classes[0] is not None and not np.array_equal(*classes)):
        raise ValueError("the fits have different classes of y; they must be fitted on the "
                         "same data")
    for name, fit in (("full", full), ("restricted", restricted)):
        if fit.get("llf") is None or not np.isfinite(fit.llf):
            raise ValueError(f"the {name} fit has no log-likelihood")
        if fit.get("l2", 0.0) or fit.get("kkt_violation") is not None:
            raise ValueError(f"the {name} fit is penalised (l2 or elastic net): likelihood-"
                             "ratio tests compare maximum-likelihood fits")
    if not np.isclose(full.nobs, restricted.nobs, rtol=1e-12, atol=0):
        raise ValueError(f"the fits have different numbers of observations ({full.nobs:g} vs "
                         f"{restricted.nobs:g}); they must be fitted on the same rows")


def _check_same_rows(full, restricted):
    """Identical responses, weights, offsets and trials of the two fitted models."""
    if full.n_samples != restricted.n_samples:
        raise ValueError(f"the fits have different numbers of rows ({full.n_samples} vs "
                         f"{restricted.n_samples})")
    keys = ("codes",) if full.name == "softmax" else ("y",)      # softmax: label codes
    for key in keys + ("sample_weight", "trials"):
        a, b = getattr(full, key, None), getattr(restricted, key, None)
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
            raise ValueError(f"the fits differ in their {'y' if key == 'codes' else key}: a "
                             "likelihood-ratio test needs the same data")


def _check_nested_columns(full, restricted):
    """Every linear predictor of the restricted fit is one of the full fit: the columns of
    [X_r, 1] and the offset difference lie in the column span of [X_f, 1] (checked for dense
    X; otherwise the offsets must be equal)."""
    offset_full, offset_restricted = (np.zeros(m.n_samples) if getattr(m, "offset", None) is None
                                      else m.offset for m in (full, restricted))
    if not (isinstance(full.X, np.ndarray) and isinstance(restricted.X, np.ndarray)):
        if not np.array_equal(offset_full, offset_restricted):
            raise ValueError("the fits differ in their offset: a likelihood-ratio test needs "
                             "the same data")
        return
    design_full = _with_intercept(full)
    design_restricted = _with_intercept(restricted)
    shift = offset_restricted - offset_full
    if np.any(shift):
        design_restricted = np.column_stack([design_restricted, shift])
    basis, _ = np.linalg.qr(design_full)
    residual = design_restricted - basis @ (basis.T @ design_restricted)
    scale = np.maximum(np.linalg.norm(design_restricted, axis=0), 1e-300)
    if np.max(np.linalg.norm(residual, axis=0) / scale) > NESTING_TOL:
        raise ValueError("the fits are not nested: the restricted fit's columns are not in "
                         "the span of the full fit's columns")


def _with_intercept(model):
    X = np.asarray(model.X, dtype=np.float64)
    if model.fit_intercept:
        X = np.column_stack([X, np.ones(X.shape[0])])
    return X
