"""Exponential-dispersion families: variance V(mu), half unit deviance, response domain.

The objective uses nll_i = d(y_i, mu_i) / 2, half the unit deviance (phi = 1; it is zero at a
perfect fit), so that deviance = 2 sum_i w_i nll_i. The dispersion phi is estimated after the
fit (Pearson chi^2 / df) for the families that have one.
"""
import numpy as np
from scipy.special import gammaln, xlogy

from ngd.exceptions import DataError
from ngd.models._nb_special import log_gamma_ratio


class Family:
    """Base class; subclasses set name, canonical_link, has_dispersion, and the formulas."""

    name = ""
    canonical_link = ""
    has_dispersion = True
    closed_form_likelihood = True   # False: log_likelihood is nan whatever the mean

    def variance(self, mu):
        raise NotImplementedError

    def variance_derivative(self, mu):
        raise NotImplementedError

    def half_deviance(self, y, eta, mu, link):
        """d(y, mu)/2 per row (link gives stable log(mu) where needed)."""
        raise NotImplementedError

    def response_term(self, y):
        """c(y) per row, the part of the half deviance that depends on y alone: the fused
        kernels can leave it out of every pass, the model adding sum_i w_i c(y_i) once; None
        where they keep every term (it must match _row_terms.pxd)."""
        return None

    def check_response(self, y):
        """Raise DataError when y is outside the family's support."""

    def valid_mean(self, mu):
        """True where mu is inside the family's mean domain."""
        return np.isfinite(mu)

    def log_likelihood(self, y, mu, w, phi, trials=None):
        """Full log-likelihood sum_i w_i log p(y_i | mu_i, phi), or nan where not closed-form."""
        return np.nan

    def mean_kl(self, mu0, mu1):
        """Per-row KL(p(. | mu0) || p(. | mu1)) at phi = 1."""
        raise NotImplementedError

    def sample(self, mu, rng, trials=None):
        """Draw y ~ p(. | mu, phi = 1)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def _positive_log(mu, link, eta):
    with np.errstate(divide="ignore", invalid="ignore"):
        return link.log_inverse(eta) if link is not None else np.log(mu)


class Gaussian(Family):
    """Normal: V(mu) = 1, d = (y - mu)^2."""

    name = "gaussian"
    canonical_link = "identity"

    def variance(self, mu):
        return np.ones_like(mu)

    def variance_derivative(self, mu):
        return np.zeros_like(mu)

    def half_deviance(self, y, eta, mu, link):
        return 0.5 * (y - mu) ** 2

    def log_likelihood(self, y, mu, w, phi, trials=None):
        return float(-0.5 * np.sum(w * ((y - mu) ** 2 / phi + np.log(2 * np.pi * phi))))

    def mean_kl(self, mu0, mu1):
        return 0.5 * (mu0 - mu1) ** 2

    def sample(self, mu, rng, trials=None):
        return mu + rng.standard_normal(mu.shape)


class Binomial(Family):
    """Proportion of successes: V(mu) = mu (1 - mu); with trials m the row weight is w m."""

    name = "binomial"
    canonical_link = "logit"
    has_dispersion = False

    def variance(self, mu):
        return mu * (1 - mu)

    def variance_derivative(self, mu):
        return 1 - 2 * mu

    def valid_mean(self, mu):
        # mu may round to 0 or 1 for large |eta|; the link's log(mu), log(1 - mu) stay exact
        return (mu >= 0) & (mu <= 1)

    def half_deviance(self, y, eta, mu, link):
        log_mu = link.log_inverse(eta)
        log1m_mu = link.log1m_inverse(eta)
        with np.errstate(invalid="ignore"):
            fit = np.where(y > 0, y * log_mu, 0.0) + np.where(y < 1, (1 - y) * log1m_mu, 0.0)
        return xlogy(y, y) + xlogy(1 - y, 1 - y) - fit

    def response_term(self, y):
        """xlogx(y) + xlogx(1 - y)."""
        return xlogy(y, y) + xlogy(1 - y, 1 - y)

    def check_response(self, y):
        if np.any((y < 0) | (y > 1)):
            raise DataError("binomial responses must lie in [0, 1] (use trials= for counts)")

    def log_likelihood(self, y, mu, w, phi, trials=None):
        m = np.ones_like(y) if trials is None else trials
        k = y * m
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = xlogy(k, mu) + xlogy(m - k, 1 - mu)
        log_choose = gammaln(m + 1) - gammaln(k + 1) - gammaln(m - k + 1)
        return float(np.sum(w * (terms + log_choose)))

    def mean_kl(self, mu0, mu1):
        return xlogy(mu0, mu0 / mu1) + xlogy(1 - mu0, (1 - mu0) / (1 - mu1))

    def sample(self, mu, rng, trials=None):
        if trials is None:
            return (rng.random(mu.shape) < mu).astype(float)
        return rng.binomial(trials.astype(np.int64), mu) / trials


class Poisson(Family):
    """Counts: V(mu) = mu, d = 2 [y log(y / mu) - (y - mu)]."""

    name = "poisson"
    canonical_link = "log"
    has_dispersion = False

    def variance(self, mu):
        return mu

    def variance_derivative(self, mu):
        return np.ones_like(mu)

    def valid_mean(self, mu):
        return (mu > 0) & np.isfinite(mu)

    def half_deviance(self, y, eta, mu, link):
        log_mu = _positive_log(mu, link, eta)
        return xlogy(y, y) - np.where(y > 0, y * log_mu, 0.0) - y + mu

    def response_term(self, y):
        """xlogx(y) - y."""
        return xlogy(y, y) - y

    def check_response(self, y):
        if np.any(y < 0):
            raise DataError("poisson responses must be >= 0")

    def log_likelihood(self, y, mu, w, phi, trials=None):
        return float(np.sum(w * (xlogy(y, mu) - mu - gammaln(y + 1))))

    def mean_kl(self, mu0, mu1):
        return xlogy(mu0, mu0 / mu1) - mu0 + mu1

    def sample(self, mu, rng, trials=None):
        return rng.poisson(mu).astype(float)


class Gamma(Family):
    """Positive continuous: V(mu) = mu^2, d = 2 [-log(y / mu) + (y - mu) / mu]."""

    name = "gamma"
    canonical_link = "inverse"

    def variance(self, mu):
        return mu * mu

    def variance_derivative(self, mu):
        return 2 * mu

    def valid_mean(self, mu):
        return (mu > 0) & np.isfinite(mu)

    def half_deviance(self, y, eta, mu, link):
        log_mu = _positive_log(mu, link, eta)
        return log_mu - np.log(y) + y / mu - 1

    def response_term(self, y):
        """-log(y) - 1."""
        return -np.log(y) - 1

    def check_response(self, y):
        if np.any(y <= 0):
            raise DataError("gamma responses must be > 0")

    def log_likelihood(self, y, mu, w, phi, trials=None):
        nu = 1.0 / phi
        return float(np.sum(w * (nu * np.log(nu * y / mu) - nu * y / mu - np.log(y)
                                 - gammaln(nu))))

    def mean_kl(self, mu0, mu1):
        ratio = mu0 / mu1
        return ratio - 1 - np.log(ratio)

    def sample(self, mu, rng, trials=None):
        return rng.gamma(1.0, mu)


class InverseGaussian(Family):
    """Positive continuous: V(mu) = mu^3, d = (y - mu)^2 / (y mu^2)."""

    name = "inverse_gaussian"
    canonical_link = "inverse_squared"

    def variance(self, mu):
        return (mu * mu) * mu

    def variance_derivative(self, mu):
        return 3 * mu * mu

    def valid_mean(self, mu):
        return (mu > 0) & np.isfinite(mu)

    def half_deviance(self, y, eta, mu, link):
        return (y - mu) ** 2 / (2 * y * mu * mu)

    def check_response(self, y):
        if np.any(y <= 0):
            raise DataError("inverse_gaussian responses must be > 0")

    def log_likelihood(self, y, mu, w, phi, trials=None):
        return float(np.sum(w * (-0.5 * np.log(2 * np.pi * phi * y ** 3)
                                 - (y - mu) ** 2 / (2 * phi * y * mu * mu))))

    def mean_kl(self, mu0, mu1):
        return (mu0 - mu1) ** 2 / (2 * mu0 * mu1 * mu1)

    def sample(self, mu, rng, trials=None):
        return rng.wald(mu, 1.0)


class Tweedie(Family):
    """V(mu) = mu^p for power p = 0 or p >= 1 (0: Gaussian, 1: Poisson, (1, 2): compound
    Poisson-gamma with y >= 0, 2: gamma, 3: inverse Gaussian; y > 0 for p >= 2).
    d = 2 [y^(2-p)/((1-p)(2-p)) - y mu^(1-p)/(1-p) + mu^(2-p)/(2-p)] away from p = 1, 2."""

    name = "tweedie"
    canonical_link = "log"      # not canonical, but the conventional default

    def __init__(self, power):
        power = float(power)
        if not np.isfinite(power) or (0 < power < 1) or power < 0:
            raise ValueError(f"tweedie power must be 0 or >= 1, got {power}")
        self.power = power
        self._special = {0.0: Gaussian(), 1.0: Poisson(), 2.0: Gamma()}.get(power)
        self.has_dispersion = power not in (1.0,)

    def variance(self, mu):
        return np.power(mu, self.power)

    def variance_derivative(self, mu):
        return self.power * np.power(mu, self.power - 1)

    def valid_mean(self, mu):
        return np.isfinite(mu) if self.power == 0 else (mu > 0) & np.isfinite(mu)

    def half_deviance(self, y, eta, mu, link):
        if self._special is not None:
            return self._special.half_deviance(y, eta, mu, link)
        p = self.power
        log_mu = _positive_log(mu, link, eta)
        return self.response_term(y) - y * np.exp((1 - p) * log_mu) / (1 - p) \
            + np.exp((2 - p) * log_mu) / (2 - p)

    def response_term(self, y):
        """y^(2-p) / ((1-p)(2-p)) (0 at y = 0); the special powers delegate."""
        if self._special is not None:
            return self._special.response_term(y)
        p = self.power
        with np.errstate(divide="ignore"):
            return np.where(y > 0, np.power(np.maximum(y, 0), 2 - p), 0.0) / ((1 - p) * (2 - p))

    def check_response(self, y):
        if self.power == 0:
            return
        if self.power < 2 and np.any(y < 0):
            raise DataError(f"tweedie (power {self.power:g}) responses must be >= 0")
        if self.power >= 2 and np.any(y <= 0):
            raise DataError(f"tweedie (power {self.power:g}) responses must be > 0")

    @property
    def closed_form_likelihood(self):
        """Only the special powers (0, 1, 2) have a closed-form density."""
        return self._special is not None

    def log_likelihood(self, y, mu, w, phi, trials=None):
        if self._special is not None:
            return self._special.log_likelihood(y, mu, w, phi)
        return np.nan

    def mean_kl(self, mu0, mu1):
        """KL at phi = 1 of an exponential dispersion family: d(mu0, mu1) / 2, half the unit
        deviance at y = mu0."""
        if self._special is not None:
            return self._special.mean_kl(mu0, mu1)
        return self.half_deviance(mu0, None, mu1, None)

    def sample(self, mu, rng, trials=None):
        """y ~ Tweedie(mu, phi = 1): the special powers delegate; 1 < p < 2 is compound
        Poisson-gamma (N ~ Poisson(mu^(2-p)/(2-p)) gamma jumps of shape (2-p)/(p-1) and
        scale (p-1) mu^(p-1)); p = 3 is the inverse Gaussian."""
        if self._special is not None:
            return self._special.sample(mu, rng, trials)
        p = self.power
        if p == 3:
            return rng.wald(mu, 1.0)
        if not 1 < p < 2:
            raise NotImplementedError(f"sampling is not available for tweedie power {p:g}")
        counts = rng.poisson(np.power(mu, 2 - p) / (2 - p))
        y = np.zeros(np.shape(mu))
        jumps = counts > 0
        scale = (p - 1) * np.power(mu, p - 1)
        y[jumps] = rng.gamma(counts[jumps] * (2 - p) / (p - 1), scale[jumps])
        return y

    def __repr__(self):
        return f"Tweedie(power={self.power:g})"


def check_nb_alpha(alpha):
    """alpha as a float; ValueError unless it is a finite number > 0."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.number)):
        raise TypeError(f"nb_alpha must be a number > 0, got {alpha!r}")
    alpha = float(alpha)
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"nb_alpha must be a finite number > 0, got {alpha!r}")
    return alpha


def nb_log_pmf(y, mu, alpha):
    """log p(y | mu, alpha) of NB2 per row, with r = 1/alpha:
    log Gamma(y + r) - log Gamma(r) - log Gamma(y + 1) + y log(alpha mu) - (y + r) log1p(alpha mu),
    the Gamma ratio with y log alpha from _nb_special.log_gamma_ratio (accurate for small alpha).
    """
    return (log_gamma_ratio(y, alpha) - gammaln(y + 1) + xlogy(y, mu)
            - (y + 1.0 / alpha) * np.log1p(alpha * mu))


NB_LARGE = 1e4      # alpha max(y, mu) above this: the half deviance of _nb_large_half_deviance


def _log_quotient(num, den, x):
    """log(num / den) for num, den > 0 with x = num / den - 1 computed without cancellation:
    log1p(x) for the quotient in [1/2, 3/2], the log of the quotient elsewhere."""
    return np.where(np.abs(x) <= 0.5, np.log1p(x), np.log(num / den))


def _nb_large_half_deviance(y, mu, alpha):
    """NB2 half unit deviance accurate for any alpha (r = 1/alpha):
    y log(y (r + mu) / (mu (r + y))) - r log((r + y) / (r + mu)), which is
    y log(y/mu) - (y + r) log((1 + alpha y)/(1 + alpha mu)) with the O(y) parts cancelled
    analytically (the direct form keeps them, and its log1p rounds to log(0) at y = 0 once
    alpha mu > ~1e16)."""
    r = 1.0 / alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = _log_quotient(y * (r + mu), mu * (r + y), r * (y - mu) / (mu * (r + y)))
        spread = _log_quotient(r + y, r + mu, (y - mu) / (r + mu))
        return np.where(y > 0, y * fit, 0.0) - r * spread


def _nb_large_rows(out, y, mu, alpha):
    """``out`` (the direct half deviance) with the rows where alpha max(y, mu) > NB_LARGE
    replaced by :func:`_nb_large_half_deviance`."""
    large = alpha * np.maximum(y, mu) > NB_LARGE
    if not np.any(large):
        return out
    return np.where(large, _nb_large_half_deviance(y, mu, alpha), out)


class NegativeBinomial(Family):
    """NB2 counts at a fixed alpha > 0 (a gamma mixture of Poissons): V(mu) = mu + alpha mu^2,
    d = 2 [y log(y / mu) - (y + 1/alpha) log((1 + alpha y) / (1 + alpha mu))], written with
    log1p(alpha (y - mu) / (1 + alpha mu)) (as the fused kernel) up to alpha max(y, mu) =
    NB_LARGE, with :func:`_nb_large_half_deviance` above; Poisson as alpha -> 0. No free scale
    (phi = 1)."""

    name = "negative_binomial"
    canonical_link = "log"      # the conventional default (the canonical link is
    has_dispersion = False      # log(alpha mu / (1 + alpha mu)), which depends on alpha)

    def __init__(self, alpha):
        self.alpha = check_nb_alpha(alpha)

    def variance(self, mu):
        return mu + self.alpha * (mu * mu)

    def variance_derivative(self, mu):
        return 1.0 + 2.0 * (self.alpha * mu)

    def valid_mean(self, mu):
        return (mu > 0) & np.isfinite(mu)

    def half_deviance(self, y, eta, mu, link):
        a = self.alpha
        log_mu = _positive_log(mu, link, eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (xlogy(y, y) - np.where(y > 0, y * log_mu, 0.0)
                   - (y + 1.0 / a) * np.log1p(a * (y - mu) / (1.0 + a * mu)))
        return _nb_large_rows(out, y, mu, a)

    def check_response(self, y):
        if np.any(y < 0):
            raise DataError("negative_binomial responses must be counts >= 0")

    def log_likelihood(self, y, mu, w, phi, trials=None):
        return float(np.sum(w * nb_log_pmf(y, mu, self.alpha)))

    def mean_kl(self, mu0, mu1):
        """KL(NB(mu0) || NB(mu1)) = d(mu0, mu1) / 2."""
        a = self.alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xlogy(mu0, mu0 / mu1) - (mu0 + 1.0 / a) * np.log1p(a * (mu0 - mu1)
                                                                    / (1.0 + a * mu1))
        return _nb_large_rows(out, mu0, mu1, a)

    def sample(self, mu, rng, trials=None):
        """y ~ NB2(mu, alpha): failures before 1/alpha successes of probability
        1 / (1 + alpha mu)."""
        return rng.negative_binomial(1.0 / self.alpha, 1.0 / (1.0 + self.alpha * mu)) \
            .astype(float)

    def __repr__(self):
        return f"NegativeBinomial(alpha={self.alpha:g})"


FAMILIES = {"gaussian": Gaussian, "binomial": Binomial, "poisson": Poisson, "gamma": Gamma,
            "inverse_gaussian": InverseGaussian, "tweedie": Tweedie,
            "negative_binomial": NegativeBinomial}
FAMILY_ALIASES = {"negbin": "negative_binomial", "nb2": "negative_binomial"}

UNIT_INTERVAL_LINKS = ("logit", "probit", "cloglog")


def check_link(family, link):
    """Raise ValueError for a family/link pair that cannot describe the family's mean: links
    onto (0, 1) are for the binomial family only, which in turn needs logit, probit, cloglog
    or log (the line search keeps a log-link mean below 1)."""
    if family.name == "binomial":
        if link.name not in UNIT_INTERVAL_LINKS + ("log",):
            raise ValueError(f"the binomial family needs a logit, probit, cloglog or log link, "
                             f"got {link.name!r}")
    elif link.name in UNIT_INTERVAL_LINKS:
        raise ValueError(f"the {link.name} link maps onto (0, 1) and applies to the binomial "
                         f"family only, not {family.name!r}")


def get_family(name, power=None, nb_alpha=None):
    """A family by name (aliases: FAMILY_ALIASES); tweedie needs ``power``, negative_binomial
    ``nb_alpha``."""
    if not isinstance(name, str):
        raise TypeError(f"family must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; available: {', '.join(FAMILIES)}")
    if power is not None and key != "tweedie":
        raise ValueError(f"power= applies to the tweedie family only, not {key!r}")
    if nb_alpha is not None and key != "negative_binomial":
        raise ValueError(f"nb_alpha= applies to the negative_binomial family only, not {key!r}")
    if key == "tweedie":
        if power is None:
            raise ValueError("the tweedie family needs power= (0, or >= 1)")
        return Tweedie(power)
    if key == "negative_binomial":
        if nb_alpha is None:
            raise ValueError("the negative_binomial family needs nb_alpha= (a number > 0)")
        return NegativeBinomial(nb_alpha)
    return FAMILIES[key]()
