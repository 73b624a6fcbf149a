"""Link functions g(mu) = eta, with inverse h(eta) = mu and its first two derivatives.

Every method is vectorised over eta. ``log_inverse``/``log1m_inverse`` give log(mu) and
log(1 - mu) for the links of the binomial family, computed without underflow.
"""
import numpy as np
from scipy.special import expit, log_ndtr, logit, ndtr, ndtri

_SQRT_2PI = np.sqrt(2.0 * np.pi)


class Link:
    """g: mean -> linear predictor. Subclasses define link, inverse, derivative (dmu/deta)
    and second_derivative (d2mu/deta2)."""

    name = ""
    eta_domain = (-np.inf, np.inf)      # open interval where h is defined

    def link(self, mu):
        raise NotImplementedError

    def inverse(self, eta):
        raise NotImplementedError

    def derivative(self, eta):
        raise NotImplementedError

    def second_derivative(self, eta):
        raise NotImplementedError

    def log_derivative(self, eta):
        """log h'(eta)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.derivative(eta))

    def derivative_ratio(self, eta):
        """h''(eta) / h'(eta)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.second_derivative(eta) / self.derivative(eta)

    def log_inverse(self, eta):
        """log h(eta)."""
        with np.errstate(divide="ignore"):
            return np.log(self.inverse(eta))

    def log1m_inverse(self, eta):
        """log(1 - h(eta))."""
        with np.errstate(divide="ignore"):
            return np.log1p(-self.inverse(eta))

    def valid_eta(self, eta):
        """True where h(eta) is defined."""
        low, high = self.eta_domain
        return (eta > low) & (eta < high)

    def __repr__(self):
        return f"{type(self).__name__}()"


class IdentityLink(Link):
    """mu = eta."""

    name = "identity"

    def link(self, mu):
        return np.asarray(mu, dtype=float)

    def inverse(self, eta):
        return np.asarray(eta, dtype=float)

    def derivative(self, eta):
        return np.ones_like(eta, dtype=float)

    def second_derivative(self, eta):
        return np.zeros_like(eta, dtype=float)

    def derivative_ratio(self, eta):
        return np.zeros_like(eta, dtype=float)


class LogLink(Link):
    """mu = exp(eta)."""

    name = "log"

    def link(self, mu):
        return np.log(mu)

    def inverse(self, eta):
        with np.errstate(over="ignore"):
            return np.exp(eta)

    derivative = inverse
    second_derivative = inverse

    def log_inverse(self, eta):
        return np.asarray(eta, dtype=float)

    log_derivative = log_inverse

    def derivative_ratio(self, eta):
        return np.ones_like(eta, dtype=float)


class LogitLink(Link):
    """mu = 1 / (1 + exp(-eta))."""

    name = "logit"

    def link(self, mu):
        return logit(mu)

    def inverse(self, eta):
        return expit(eta)

    def derivative(self, eta):
        mu = expit(eta)
        return mu * (1 - mu)

    def second_derivative(self, eta):
        mu = expit(eta)
        return mu * (1 - mu) * (1 - 2 * mu)

    def log_inverse(self, eta):
        return -np.logaddexp(0, -eta)

    def log1m_inverse(self, eta):
        return -np.logaddexp(0, eta)

    def log_derivative(self, eta):
        return -np.logaddexp(0, -eta) - np.logaddexp(0, eta)

    def derivative_ratio(self, eta):
        return 1 - 2 * expit(eta)


class ProbitLink(Link):
    """mu = Phi(eta), the standard normal CDF."""

    name = "probit"

    def link(self, mu):
        return ndtri(mu)

    def inverse(self, eta):
        return ndtr(eta)

    def derivative(self, eta):
        return np.exp(-0.5 * eta * eta) / _SQRT_2PI

    def second_derivative(self, eta):
        return -eta * self.derivative(eta)

    def log_inverse(self, eta):
        return log_ndtr(eta)

    def log_derivative(self, eta):
        return -0.5 * eta * eta - np.log(_SQRT_2PI)

    def derivative_ratio(self, eta):
        return -np.asarray(eta, dtype=float)

    def log1m_inverse(self, eta):
        return log_ndtr(-eta)


class CloglogLink(Link):
    """mu = 1 - exp(-exp(eta)) (complementary log-log)."""

    name = "cloglog"

    def link(self, mu):
        return np.log(-np.log1p(-mu))

    def inverse(self, eta):
        with np.errstate(over="ignore"):
            return -np.expm1(-np.exp(eta))

    def derivative(self, eta):
        with np.errstate(over="ignore"):
            return np.exp(eta - np.exp(eta))

    def second_derivative(self, eta):
        with np.errstate(over="ignore"):
            return np.exp(eta - np.exp(eta)) * (1 - np.exp(eta))

    def log_inverse(self, eta):
        with np.errstate(over="ignore", divide="ignore"):
            return np.log(-np.expm1(-np.exp(eta)))

    def log1m_inverse(self, eta):
        with np.errstate(over="ignore"):
            return -np.exp(eta)

    def log_derivative(self, eta):
        with np.errstate(over="ignore"):
            return eta - np.exp(eta)

    def derivative_ratio(self, eta):
        with np.errstate(over="ignore"):
            return 1 - np.exp(eta)


class PowerLink(Link):
    """eta = mu^a, mu = eta^(1/a) (a != 0; a = -1 is the inverse link, -2 inverse squared)."""

    eta_domain = (0.0, np.inf)

    def __init__(self, power):
        power = float(power)
        if power == 0 or not np.isfinite(power):
            raise ValueError(f"power link exponent must be finite and non-zero, got {power}")
        self.power = power
        self.name = {-1.0: "inverse", -2.0: "inverse_squared", 0.5: "sqrt"}.get(
            power, f"power({power!r})")   # repr: the exponent round-trips exactly

    def link(self, mu):
        return np.power(mu, self.power)

    def inverse(self, eta):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(eta, 1.0 / self.power)

    def derivative(self, eta):
        a = 1.0 / self.power
        with np.errstate(divide="ignore", invalid="ignore"):
            return a * np.power(eta, a - 1.0)

    def second_derivative(self, eta):
        a = 1.0 / self.power
        with np.errstate(divide="ignore", invalid="ignore"):
            return a * (a - 1.0) * np.power(eta, a - 2.0)

    def derivative_ratio(self, eta):
        with np.errstate(divide="ignore"):
            return (1.0 / self.power - 1.0) / eta

    def __repr__(self):
        return f"PowerLink({self.power:g})"


LINKS = {
    "identity": IdentityLink,
    "log": LogLink,
    "logit": LogitLink,
    "probit": ProbitLink,
    "cloglog": CloglogLink,
    "inverse": lambda: PowerLink(-1.0),
    "inverse_squared": lambda: PowerLink(-2.0),
    "sqrt": lambda: PowerLink(0.5),
}


def get_link(name):
    """A link by name: identity, log, logit, probit, cloglog, inverse, inverse_squared, or
    'power(a)' for eta = mu^a ('-' and '_' are equivalent)."""
    if isinstance(name, Link):
        return name
    if not isinstance(name, str):
        raise TypeError(f"link must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key.startswith("power(") and key.endswith(")"):     # the exponent keeps its '-'
        try:
            return PowerLink(float(key[6:-1]))
        except ValueError as exc:
            raise ValueError(f"bad power link {name!r}: {exc}") from None
    key = key.replace("-", "_")
    if key in LINKS:
        return LINKS[key]()
    raise ValueError(f"unknown link {name!r}; available: {', '.join(LINKS)}, power(a)")
