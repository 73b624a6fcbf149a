# Per-row terms of the fused passes, shared by the dense (fused.pyx) and CSR (sparse_fused.pyx)
# kernels so that both evaluate one copy of the formulas: given a row's linear predictor eta,
# response y and weight w, the pointwise loss, the residual r = d(w nll)/d eta and the curvature
# weight. The integer codes (FisherKind, GlmFamily, GlmLink, GlmCurvature) are those of
# fused.pxd.
#
# Logistic (binomial-logit): _logistic_row. GLM (family, link) pairs: _glm_spec checks the codes
# once and fills a GlmSpec; _glm_row then computes one row. A link fills LinkTerms (h, h', h''/h'
# and, on request, log h, log(1 - h), log h') and returns whether eta lies in its domain; a
# family fills FamilyTerms (V, V', half unit deviance) and returns whether the mean lies in its
# domain. The formulas (and their order of operations) are those of ngd.models.links /
# ngd.models.families, so the kernels agree with the numpy reference GLM._evaluate_generic to
# rounding. Without ``response_terms`` (GlmSpec), a family's half deviance leaves out c(y),
# its part that depends on y alone (``Family.response_term``: Poisson xlogx(y) - y, gamma
# -log y - 1, tweedie y^(2-p) / ((1-p)(2-p)), binomial xlogx(y) + xlogx(1-y)); the caller
# adds sum_i w_i c(y_i), a constant of the fit, once instead of a log or pow per row and pass.
from libc.math cimport (exp, expm1, log, log1p, pow, sqrt, erf, erfc, fabs, fmax, isfinite,
                        INFINITY, NAN, M_PI, M_SQRT1_2)

from ngd._kernels.fused cimport (FISHER_EXACT, FISHER_EMPIRICAL, GLM_GAUSSIAN, GLM_BINOMIAL,
                                 GLM_POISSON, GLM_GAMMA, GLM_INVERSE_GAUSSIAN, GLM_TWEEDIE,
                                 GLM_NEGATIVE_BINOMIAL,
                                 GLM_LINK_IDENTITY, GLM_LINK_LOG, GLM_LINK_LOGIT,
                                 GLM_LINK_PROBIT, GLM_LINK_CLOGLOG, GLM_LINK_POWER,
                                 GLM_CURVATURE_NONE, GLM_CURVATURE_EXACT,
                                 GLM_CURVATURE_EMPIRICAL, GLM_CURVATURE_OBSERVED)


# ------------------------------------------------------------------------------ logistic --

cdef struct RowTerms:
    double nll       # pointwise loss
    double resid     # w (p - y), the derivative of w nll with respect to eta
    double weight    # Fisher weight w p (1 - p) or w (p - y)^2


cdef inline RowTerms _logistic_row(double eta, double y, double w,
                                   int fisher_kind) noexcept nogil:
    """Stable pointwise loss, residual w (p - y) and Fisher weight at one linear predictor.

    For eta >= 0 (e = exp(-eta)): nll = (1 - y) eta + log1p(e) and p - y = ((1 - y) - y e)
    / (1 + e), which keep full relative accuracy when y = 1 and p is close to 1 (the naive
    eta + log1p(e) - y eta and 1/(1 + e) - y cancel catastrophically there)."""
    cdef RowTerms out
    cdef double e, diff
    if eta >= 0:
        e = exp(-eta)
        out.nll = (1.0 - y) * eta + log1p(e)
        diff = ((1.0 - y) - y * e) / (1.0 + e)
    else:
        e = exp(eta)
        out.nll = log1p(e) - y * eta
        diff = e / (1.0 + e) - y
    out.resid = w * diff
    out.weight = 0.0
    if fisher_kind == FISHER_EXACT:
        out.weight = w * e / ((1.0 + e) * (1.0 + e))
    elif fisher_kind == FISHER_EMPIRICAL:
        out.weight = w * diff * diff
    return out


# ----------------------------------------------------------------------------------- GLM --

cdef inline double _sqrt_2pi() noexcept nogil:
    return sqrt(2.0 * M_PI)


cdef inline double _log_sqrt_2pi() noexcept nogil:
    return log(sqrt(2.0 * M_PI))


cdef struct LinkTerms:
    double h          # mean h(eta)
    double h1         # h'(eta)
    double ratio      # h''(eta) / h'(eta)
    double log_h      # log h(eta)            (logs >= 1)
    double log1m_h    # log(1 - h(eta))       (logs == 2)
    double log_h1     # log h'(eta)           (logs == 2)


cdef struct FamilyTerms:
    double var        # V(mu)
    double dvar       # V'(mu)                (only when asked for)
    double nll        # half unit deviance d(y, mu) / 2


cdef struct GlmSpec:
    int family
    int link
    double param      # the family's parameter: tweedie power p (V = mu^p) or
                      # negative-binomial alpha (V = mu + alpha mu^2)
    double inv_a      # 1 / a for the power link eta = mu^a
    int logs          # 0: no logs, 1: log h, 2: log h, log(1 - h), log h' (binomial)
    int curvature     # GlmCurvature
    bint response     # include c(y), the half deviance's part that depends on y alone


cdef inline double _softplus(double x) noexcept nogil:
    """log(1 + exp(x)) without overflow (numpy's logaddexp(0, x))."""
    if x < 0:
        return log1p(exp(x))
    return x + log1p(exp(-x))


cdef inline double _ndtr(double x) noexcept nogil:
    """Standard normal CDF (the cephes form SciPy's ndtr uses)."""
    cdef double t = x * M_SQRT1_2
    cdef double z = fabs(t)
    cdef double out
    if z < M_SQRT1_2:
        return 0.5 + 0.5 * erf(t)
    out = 0.5 * erfc(z)
    if t > 0:
        out = 1.0 - out
    return out


cdef inline double _log_ndtr(double x) noexcept nogil:
    """log Phi(x), accurate in both tails: log1p(-Phi(-x)) for x > -1, log(erfc(-x/sqrt 2)/2)
    down to x = -30, and the asymptotic series of Mills' ratio below (where erfc underflows):
    log Phi(x) = -x^2/2 - log(-x) - log sqrt(2 pi) + log(1 - 1/x^2 + 3/x^4 - ...)."""
    cdef double total, last, numerator, factor, inv_x2, sign
    cdef int i
    if x > -1.0:
        return log1p(-0.5 * erfc(x * M_SQRT1_2))
    if x > -30.0:
        return log(0.5 * erfc(-x * M_SQRT1_2))
    inv_x2 = 1.0 / (x * x)
    total = 1.0
    last = 0.0
    numerator = 1.0
    factor = 1.0
    sign = 1.0
    i = 0
    while fabs(last - total) > 2.220446049250313e-16 and i < 100:
        i = i + 1
        last = total
        sign = -sign
        factor = factor * inv_x2
        numerator = numerator * (2 * i - 1)
        total = total + sign * numerator * factor
    return -0.5 * x * x - log(-x) - _log_sqrt_2pi() + log(total)


# --- links: h = g^{-1}; each returns whether eta lies in the link's domain ---------------
cdef inline bint _identity_link(double eta, int logs, LinkTerms* t) noexcept nogil:
    t.h = eta
    t.h1 = 1.0
    t.ratio = 0.0
    if logs:
        t.log_h = log(eta)
        if logs == 2:
            t.log1m_h = log1p(-eta)
            t.log_h1 = 0.0
    return isfinite(eta)


cdef inline bint _log_link(double eta, int logs, LinkTerms* t) noexcept nogil:
    cdef double e = exp(eta)
    t.h = e
    t.h1 = e
    t.ratio = 1.0
    t.log_h = eta
    if logs == 2:
        t.log1m_h = log1p(-e)
        t.log_h1 = eta
    return isfinite(eta)


cdef inline bint _logit_link(double eta, int logs, LinkTerms* t) noexcept nogil:
    cdef double mu = 1.0 / (1.0 + exp(-eta))
    t.h = mu
    t.h1 = mu * (1.0 - mu)
    t.ratio = 1.0 - 2.0 * mu
    if logs:
        t.log_h = -_softplus(-eta)
        if logs == 2:
            t.log1m_h = -_softplus(eta)
            t.log_h1 = t.log_h - _softplus(eta)
    return isfinite(eta)


cdef inline bint _probit_link(double eta, int logs, LinkTerms* t) noexcept nogil:
    t.h = _ndtr(eta)
    t.h1 = exp(-0.5 * eta * eta) / _sqrt_2pi()
    t.ratio = -eta
    if logs:
        t.log_h = _log_ndtr(eta)
        if logs == 2:
            t.log1m_h = _log_ndtr(-eta)
            t.log_h1 = -0.5 * eta * eta - _log_sqrt_2pi()
    return isfinite(eta)


cdef inline bint _cloglog_link(double eta, int logs, LinkTerms* t) noexcept nogil:
    cdef double e = exp(eta)
    t.h = -expm1(-e)
    t.h1 = exp(eta - e)
    t.ratio = 1.0 - e
    if logs:
        t.log_h = log(-expm1(-e))
        if logs == 2:
            t.log1m_h = -e
            t.log_h1 = eta - e
    return isfinite(eta)


cdef inline bint _power_link(double eta, double inv_a, int logs, LinkTerms* t) noexcept nogil:
    """eta = mu^a, mu = eta^(1/a) on eta > 0."""
    t.h = pow(eta, inv_a)
    t.h1 = inv_a * pow(eta, inv_a - 1.0)
    t.ratio = (inv_a - 1.0) / eta
    if logs:
        t.log_h = log(t.h)
        if logs == 2:
            t.log1m_h = log1p(-t.h)
            t.log_h1 = log(t.h1)
    return eta > 0 and eta < INFINITY


# --- families: each returns whether mu lies in the family's mean domain ------------------
cdef inline double _xlogx(double x) noexcept nogil:
    """x log x with 0 log 0 = 0 (scipy's xlogy(x, x))."""
    return 0.0 if x == 0 else x * log(x)


cdef inline bint _gaussian_family(double y, const LinkTerms* t, bint deriv,
                                  FamilyTerms* f) noexcept nogil:
    cdef double d = y - t.h
    f.var = 1.0
    f.dvar = 0.0
    f.nll = 0.5 * (d * d)
    return isfinite(t.h)


cdef inline bint _binomial_family(double y, const LinkTerms* t, bint deriv, bint response,
                                  FamilyTerms* f) noexcept nogil:
    cdef double mu = t.h, fit = 0.0
    f.var = mu * (1.0 - mu)
    if deriv:
        f.dvar = 1.0 - 2.0 * mu
    if y > 0:
        fit = y * t.log_h
    if y < 1:
        fit = fit + (1.0 - y) * t.log1m_h
    f.nll = _xlogx(y) + _xlogx(1.0 - y) - fit if response else -fit
    return mu >= 0 and mu <= 1


cdef inline bint _poisson_family(double y, const LinkTerms* t, bint deriv, bint response,
                                 FamilyTerms* f) noexcept nogil:
    cdef double mu = t.h, fit = 0.0
    f.var = mu
    f.dvar = 1.0
    if y > 0:
        fit = y * t.log_h
    f.nll = _xlogx(y) - fit - y + mu if response else mu - fit
    return mu > 0 and isfinite(mu)


cdef inline bint _gamma_family(double y, const LinkTerms* t, bint deriv, bint response,
                               FamilyTerms* f) noexcept nogil:
    cdef double mu = t.h
    f.var = mu * mu
    f.dvar = 2.0 * mu
    f.nll = t.log_h - log(y) + y / mu - 1.0 if response else t.log_h + y / mu
    return mu > 0 and isfinite(mu)


cdef inline bint _inverse_gaussian_family(double y, const LinkTerms* t, bint deriv,
                                          FamilyTerms* f) noexcept nogil:
    cdef double mu = t.h, d = y - t.h
    f.var = (mu * mu) * mu          # not pow(mu, 3): libm's pow costs a few exps
    if deriv:
        f.dvar = 3.0 * mu * mu
    f.nll = (d * d) / (2.0 * y * mu * mu)
    return mu > 0 and isfinite(mu)


cdef inline bint _tweedie_family(double y, double p, const LinkTerms* t, bint deriv,
                                 bint response, FamilyTerms* f) noexcept nogil:
    """General power p (not 0, 1, 2, which are gaussian, poisson, gamma), from one power of
    the mean, a = mu^(1-p) = exp((1 - p) log mu): mu^(2-p) = mu a, V = mu^p = mu / a and
    V' = p mu^(p-1) = p / a (with y^(2-p) for y > 0 when ``response``; one exp per row
    besides the link's)."""
    cdef double mu = t.h, y_term = 0.0
    cdef double a = exp((1.0 - p) * t.log_h)
    f.var = mu / a
    if deriv:
        f.dvar = p / a
    if response and y > 0:
        y_term = pow(y, 2.0 - p)
    y_term = y_term / ((1.0 - p) * (2.0 - p))
    f.nll = y_term - y * a / (1.0 - p) + (mu * a) / (2.0 - p)
    return mu > 0 and isfinite(mu)


cdef inline double _log_quotient(double num, double den, double x) noexcept nogil:
    """log(num / den) with x = num / den - 1: log1p(x) for the quotient in [1/2, 3/2]."""
    if fabs(x) <= 0.5:
        return log1p(x)
    return log(num / den)


cdef inline bint _negative_binomial_family(double y, double alpha, const LinkTerms* t,
                                          bint deriv, FamilyTerms* f) noexcept nogil:
    """NB2 at a fixed alpha > 0: V = mu + alpha mu^2, half unit deviance
    y log(y/mu) - (y + 1/alpha) log1p(alpha (y - mu) / (1 + alpha mu)); above
    alpha max(y, mu) = NB_LARGE (r = 1/alpha) the form of ngd.models.families
    y log(y (r + mu) / (mu (r + y))) - r log((r + y) / (r + mu)); it keeps xlogx(y) whatever
    ``response_terms``: the NB_LARGE form cancels it analytically, and leaving it out there
    would bring back the cancellation that form avoids."""
    cdef double mu = t.h, fit = 0.0, r
    f.var = mu + alpha * (mu * mu)
    f.dvar = 1.0 + 2.0 * (alpha * mu)
    if alpha * fmax(y, mu) > 1e4:          # ngd.models.families.NB_LARGE
        r = 1.0 / alpha
        f.nll = -r * _log_quotient(r + y, r + mu, (y - mu) / (r + mu))
        if y > 0:
            f.nll += y * _log_quotient(y * (r + mu), mu * (r + y), r * (y - mu) / (mu * (r + y)))
        return mu > 0 and isfinite(mu)
    if y > 0:
        fit = y * t.log_h
    f.nll = _xlogx(y) - fit - (y + 1.0 / alpha) * log1p(alpha * (y - mu) / (1.0 + alpha * mu))
    return mu > 0 and isfinite(mu)


cdef inline bint _glm_terms(const GlmSpec* spec, double eta, double y, bint deriv,
                            LinkTerms* t, FamilyTerms* f) noexcept nogil:
    """The link's terms at eta and the family's at (y, h(eta)); False when the row is out of
    domain (or its half deviance is not finite)."""
    cdef bint ok
    if spec.link == GLM_LINK_IDENTITY:
        ok = _identity_link(eta, spec.logs, t)
    elif spec.link == GLM_LINK_LOG:
        ok = _log_link(eta, spec.logs, t)
    elif spec.link == GLM_LINK_LOGIT:
        ok = _logit_link(eta, spec.logs, t)
    elif spec.link == GLM_LINK_PROBIT:
        ok = _probit_link(eta, spec.logs, t)
    elif spec.link == GLM_LINK_CLOGLOG:
        ok = _cloglog_link(eta, spec.logs, t)
    else:
        ok = _power_link(eta, spec.inv_a, spec.logs, t)
    if not ok:
        return False
    if spec.family == GLM_GAUSSIAN:
        ok = _gaussian_family(y, t, deriv, f)
    elif spec.family == GLM_BINOMIAL:
        ok = _binomial_family(y, t, deriv, spec.response, f)
    elif spec.family == GLM_POISSON:
        ok = _poisson_family(y, t, deriv, spec.response, f)
    elif spec.family == GLM_GAMMA:
        ok = _gamma_family(y, t, deriv, spec.response, f)
    elif spec.family == GLM_INVERSE_GAUSSIAN:
        ok = _inverse_gaussian_family(y, t, deriv, f)
    elif spec.family == GLM_TWEEDIE:
        ok = _tweedie_family(y, spec.param, t, deriv, spec.response, f)
    else:
        ok = _negative_binomial_family(y, spec.param, t, deriv, f)
    return ok and isfinite(f.nll)


cdef inline double _pearson_row(const GlmSpec* spec, double eta, double y) noexcept nogil:
    """(y - mu)^2 / V(mu) at mu = h(eta); NaN when the row is out of domain."""
    cdef LinkTerms t
    cdef FamilyTerms f
    cdef double d
    if not _glm_terms(spec, eta, y, False, &t, &f):
        return NAN
    d = y - t.h
    return (d * d) / f.var


cdef inline bint _glm_row(const GlmSpec* spec, double eta, double y, double w, double m,
                          double* nll, double* resid, double* weight) noexcept nogil:
    """Half deviance, w (mu - y) s and the curvature weight w v of one row (s = h'/V; for
    binomial s = exp(log h' - log h - log(1 - h))); False when the row is out of domain."""
    cdef LinkTerms t
    cdef FamilyTerms f
    cdef bint deriv = spec.curvature == GLM_CURVATURE_OBSERVED
    cdef double s, h1, diff, v
    if not _glm_terms(spec, eta, y, deriv, &t, &f):
        return False
    if spec.family == GLM_BINOMIAL:
        s = exp(t.log_h1 - (t.log_h + t.log1m_h))
        h1 = exp(t.log_h1)
    else:
        h1 = t.h1
        s = h1 / f.var
    diff = t.h - y
    nll[0] = f.nll
    resid[0] = w * diff * s
    if spec.curvature == GLM_CURVATURE_EXACT:
        weight[0] = w * (h1 * s)
    elif spec.curvature == GLM_CURVATURE_EMPIRICAL:
        v = diff * s
        weight[0] = w * (v * v * m)
    elif deriv:
        v = h1 * s + diff * (s * (t.ratio - s * f.dvar))
        weight[0] = w * v
    return True



cdef inline bint _glm_spec(int family, int link, double family_param, double link_power,
                           int curvature, bint response, GlmSpec* spec) noexcept nogil:
    """Fill spec for a (family, link) pair given as codes, with the family's parameter
    (tweedie: the power, where 0, 1, 2 become gaussian, poisson, gamma; negative binomial:
    alpha) and whether the half deviance includes c(y) (``response``); False for an unknown family, link or curvature code, a zero power-link exponent
    or a negative-binomial alpha that is not finite and > 0."""
    if family < GLM_GAUSSIAN or family > GLM_NEGATIVE_BINOMIAL or link < GLM_LINK_IDENTITY or \
            link > GLM_LINK_POWER or curvature < GLM_CURVATURE_NONE or \
            curvature > GLM_CURVATURE_OBSERVED or (link == GLM_LINK_POWER and link_power == 0):
        return False
    if family == GLM_NEGATIVE_BINOMIAL and not (family_param > 0 and isfinite(family_param)):
        return False
    if family == GLM_TWEEDIE:
        if family_param == 0:
            family = GLM_GAUSSIAN
        elif family_param == 1:
            family = GLM_POISSON
        elif family_param == 2:
            family = GLM_GAMMA
    spec.family = family
    spec.link = link
    spec.param = family_param
    spec.inv_a = 1.0 / link_power if link == GLM_LINK_POWER else 1.0
    spec.curvature = curvature
    spec.response = response
    if family == GLM_BINOMIAL:
        spec.logs = 2
    elif family == GLM_POISSON or family == GLM_GAMMA or family == GLM_TWEEDIE or \
            family == GLM_NEGATIVE_BINOMIAL:
        spec.logs = 1
    else:
        spec.logs = 0
    return True
