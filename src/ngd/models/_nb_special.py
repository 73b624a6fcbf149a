"""Gamma-function differences of the negative binomial, accurate for small alpha.

With r = 1/alpha and L = log1p(alpha y) (so y + r = r e^L), for y >= 0:

    log_gamma_ratio(y, alpha) = log Gamma(y + r) - log Gamma(r) + y log alpha
    digamma_gap(y, alpha)     = psi(y + r) - psi(r) - L
    trigamma_gap(y, alpha)    = psi'(r) - psi'(y + r)

Direct differences of gammaln / digamma / polygamma cancel as r grows (their terms grow like
log r while the differences shrink); for alpha <= SERIES_ALPHA (r >= 100) they are summed from
Stirling's series, whose terms in r^-k - (y + r)^-k = alpha^k (1 - e^{-kL}) are computed
without cancellation (truncation below 1e-20 relative at r >= 100).
"""
import numpy as np
from scipy.special import digamma, gammaln, polygamma

SERIES_ALPHA = 0.01
LOG1PMX_SERIES = 0.1        # |u| below this: log1p(u) - u by its Taylor series
LOG1PMX_TERMS = 20

# log Gamma(x) ~ (x - 1/2) log x - x + log sqrt(2 pi) + sum_k B_2k / (2k (2k - 1) x^(2k-1))
_LOG_GAMMA_SERIES = ((1, 1 / 12), (3, -1 / 360), (5, 1 / 1260), (7, -1 / 1680), (9, 1 / 1188))
# psi(x) ~ log x - 1/(2x) - sum_k B_2k / (2k x^2k)
_DIGAMMA_SERIES = ((1, 0.5), (2, 1 / 12), (4, -1 / 120), (6, 1 / 252), (8, -1 / 240),
                   (10, 1 / 132))
# psi'(x) ~ 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1)
_TRIGAMMA_SERIES = ((1, 1.0), (2, 0.5), (3, 1 / 6), (5, -1 / 30), (7, 1 / 42), (9, -1 / 30),
                    (11, 5 / 66))


def log1pmx(u):
    """log1p(u) - u (u > -1), by its Taylor series -u^2/2 + u^3/3 - ... for small |u|."""
    u = np.asarray(u, dtype=np.float64)
    out = np.log1p(u) - u
    small = np.abs(u) < LOG1PMX_SERIES
    if np.any(small):
        us = u[small]
        total = np.zeros_like(us)
        for k in range(LOG1PMX_TERMS + 1, 1, -1):
            total = total * us + (1.0 if k % 2 else -1.0) / k
        out[small] = total * us * us
    return out


def _power_gap(y, alpha, k):
    """r^-k - (y + r)^-k = alpha^k (1 - (1 + alpha y)^-k)."""
    return alpha ** k * -np.expm1(-k * np.log1p(alpha * y))


def _series(y, alpha, terms):
    return sum(b * _power_gap(y, alpha, k) for k, b in terms)


def log_gamma_ratio(y, alpha):
    """log Gamma(y + r) - log Gamma(r) + y log alpha, r = 1/alpha (Stirling's series for
    alpha <= SERIES_ALPHA: log1pmx(alpha y) / alpha + (y - 1/2) L - sum of the corrections)."""
    if alpha > SERIES_ALPHA:
        r = 1.0 / alpha
        return gammaln(y + r) - gammaln(r) + y * np.log(alpha)
    return (log1pmx(alpha * y) / alpha + (y - 0.5) * np.log1p(alpha * y)
            - _series(y, alpha, _LOG_GAMMA_SERIES))


def digamma_gap(y, alpha):
    """psi(y + r) - psi(r) - log1p(alpha y), r = 1/alpha."""
    if alpha > SERIES_ALPHA:
        r = 1.0 / alpha
        return digamma(y + r) - digamma(r) - np.log1p(alpha * y)
    return _series(y, alpha, _DIGAMMA_SERIES)


def trigamma_gap(y, alpha):
    """psi'(r) - psi'(y + r), r = 1/alpha."""
    if alpha > SERIES_ALPHA:
        r = 1.0 / alpha
        return polygamma(1, r) - polygamma(1, y + r)
    return _series(y, alpha, _TRIGAMMA_SERIES)
