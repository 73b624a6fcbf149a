"""Generalized linear models: a family, a link, weights, offset, intercept and L2.

    L(theta) = (1/sum w) sum_i w_i d(y_i, mu_i)/2 + (l2/2) ||coef||^2,  mu_i = h(eta_i),
    eta_i = x_i . coef + intercept + offset_i,   theta = [coef, intercept].

Per row, with s = h'(eta)/V(mu):  dnll/deta = (mu - y) s; exact Fisher weight h' s;
observed-Hessian weight h' s + (mu - y) s', s' = s (h''/h' - s V'(mu)); empirical weight
((mu - y) s)^2. For binomial counts (trials m), y is the proportion and the row weight w m;
the row's log-likelihood score is m (y - mu) s x, so its empirical weight is m ((mu - y) s)^2
(times w m): E[empirical] = exact Fisher, and the robust meat is sum w (m (y - mu) s)^2 x x^T.
"""
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr

from ngd import _sparse
from ngd._kernels import fused as _fused
from ngd._kernels import sparse_fused as _sparse_fused
from ngd.exceptions import DataError
from ngd.models._common import Evaluation, SingleOutputModel
from ngd.models._linear import matvec, rmatvec, scaled_rows
from ngd.models import families as _families
from ngd.models import links as _links
from ngd.models.families import check_link, get_family
from ngd.models.links import get_link
from ngd.models.separation import binary_certificate, involved_columns, margin_witness

CURVATURES = ("exact", "empirical", "observed")
NULL_MAX_ITER = 100
NULL_STEP_TOL = 1e-10       # relative step of the intercept at which its fit has converged


def null_intercept_deviance(at, b):
    """Deviance at the MLE of the intercept-only model eta_i = offset_i + b, by Fisher
    scoring b <- b - score / Fisher from ``b``, the step halved while the loss rises; stops
    before a step below NULL_STEP_TOL * max(1, |b|) (the deviance's error is then of order
    Fisher * step^2). ``at(b)`` returns (loss, score, Fisher, deviance) at b, all in the same
    scale (sums or means)."""
    loss, score, fisher, deviance = at(b)
    for _ in range(NULL_MAX_ITER):
        if not (np.isfinite(loss) and fisher > 0):
            return np.nan
        step = score / fisher
        if abs(step) <= NULL_STEP_TOL * max(1.0, abs(b)):
            break
        while True:
            trial = at(b - step)
            if trial[0] <= loss or abs(step) <= NULL_STEP_TOL * max(1.0, abs(b)):
                break
            step *= 0.5
        b -= step
        loss, score, fisher, deviance = trial
    return deviance

_KERNEL_FAMILIES = {_families.Gaussian: "gaussian", _families.Binomial: "binomial",
                    _families.Poisson: "poisson", _families.Gamma: "gamma",
                    _families.InverseGaussian: "inverse_gaussian",
                    _families.Tweedie: "tweedie",
                    _families.NegativeBinomial: "negative_binomial"}
_KERNEL_LINKS = {_links.IdentityLink: "identity", _links.LogLink: "log",
                 _links.LogitLink: "logit", _links.ProbitLink: "probit",
                 _links.CloglogLink: "cloglog", _links.PowerLink: "power"}


def kernel_codes(family, link):
    """(family code, link code, family parameter, link exponent) of ``glm_pass`` for a family
    and link of ngd.models (exact types), or None for any other (user-defined) pair; the
    family parameter is the tweedie power or the negative-binomial alpha (else 0)."""
    fam = _KERNEL_FAMILIES.get(type(family))
    lnk = _KERNEL_LINKS.get(type(link))
    if fam is None or lnk is None:
        return None
    return (_fused.GLM_FAMILIES[fam], _fused.GLM_LINKS[lnk],
            family.power if fam == "tweedie" else
            family.alpha if fam == "negative_binomial" else 0.0,
            float(link.power) if lnk == "power" else 1.0)


_BINOMIAL_LOGIT = (_fused.GLM_FAMILIES["binomial"], _fused.GLM_LINKS["logit"])
# the logistic pass's per-row weights of each curvature (logit is canonical: observed = exact)
_LOGISTIC_KINDS = {None: _fused.FISHER_KINDS["none"], "exact": _fused.FISHER_KINDS["exact"],
                   "observed": _fused.FISHER_KINDS["exact"],
                   "empirical": _fused.FISHER_KINDS["empirical"]}

STATISTICS_BLOCK_ROWS = 65_536


def _zero_mean_at_infinity(family):
    """True for the families whose responses may be 0 and whose likelihood of a 0 keeps
    rising as the mean falls to 0 (Poisson, negative binomial, Tweedie 1 <= power < 2)."""
    if family.name == "tweedie":
        return 1 <= family.power < 2
    return family.name in ("poisson", "negative_binomial")


def _as_f64(a):
    return None if a is None else np.ascontiguousarray(a, dtype=np.float64)


class GLM(SingleOutputModel):
    """A GLM on validated arrays (see ``ngd.api``)."""

    def __init__(self, X, y, family="gaussian", link=None, power=None, trials=None,
                 sample_weight=None, offset=None, fit_intercept=True, l2=0.0, n_threads=1,
                 nb_alpha=None):
        self.family = get_family(family, power, nb_alpha) if isinstance(family, str) \
            else family
        self.link = get_link(link if link is not None else self.family.canonical_link)
        check_link(self.family, self.link)
        self.name = self.family.name
        self.X = X
        self.n_samples, self.n_features = X.shape
        weights = np.ones(self.n_samples) if sample_weight is None else sample_weight
        self.trials = trials
        if trials is not None:
            if self.family.name != "binomial":
                raise ValueError("trials= applies to the binomial family only")
            if np.any(trials <= 0):
                raise DataError("trials must be > 0")
            if np.any((y < 0) | (y > trials)):
                raise DataError("binomial successes must lie in [0, trials]")
            y = y / trials
            weights = weights * trials
        self.family.check_response(y)
        self.y = y
        self.sample_weight = weights
        self.offset = offset
        self.fit_intercept = bool(fit_intercept)
        self.l2 = float(l2)
        self.n_threads = int(n_threads)
        self.weight_sum = float(weights.sum())
        self.n_params = self.n_features + self.fit_intercept
        self.penalty_mask = np.arange(self.n_params) < self.n_features
        self._kernel_codes = kernel_codes(self.family, self.link)

    # --- parameters -------------------------------------------------------------------
    def linear_predictor(self, theta, X=None, offset=None):
        """eta = X coef + intercept + offset (float64)."""
        coef, intercept = self.split(theta)
        eta = matvec(self.X if X is None else X, np.asarray(coef, dtype=np.float64),
                     self.n_threads) + intercept
        return eta if offset is None else eta + offset

    def initial_theta(self):
        """coef = 0 and intercept = g(weighted mean of y) - mean offset; without an intercept,
        coef = 0 if that gives a valid mean, else least squares of g(y) on X."""
        theta = np.zeros(self.n_params)
        w = self.sample_weight
        ybar = float(np.sum(w * self.y) / self.weight_sum)
        if self.family.name == "binomial":
            ybar = min(max(ybar, 1e-10), 1 - 1e-10)
        if self.fit_intercept:
            mean_offset = 0.0 if self.offset is None else float(np.sum(w * self.offset)
                                                                 / self.weight_sum)
            theta[-1] = float(self.link.link(np.array([ybar]))[0]) - mean_offset
        if not self._start_is_valid(theta[-1] if self.fit_intercept else 0.0):
            target = self.link.link(0.5 * (self.y + ybar))
            if self.offset is not None:
                target = target - self.offset
            theta = self._least_squares(target)
            if not np.isfinite(self._evaluate_rows_loss(theta)):
                raise DataError(f"no valid starting point for the {self.family.name} family "
                                f"with the {self.link.name} link (the mean leaves the "
                                "family's domain); try another link or an intercept")
        return theta

    def _least_squares(self, target):
        """argmin_theta ||X~ theta - target||_2 (LSQR for CSR X, which stays sparse)."""
        if _sparse.is_sparse(self.X):
            design = sp.hstack([self.X, np.ones((self.n_samples, 1))], format="csr") \
                if self.fit_intercept else self.X
            return lsqr(design.astype(np.float64), target, atol=1e-12, btol=1e-12)[0]
        X = np.asarray(self.X, dtype=np.float64)
        design = np.hstack([X, np.ones((self.n_samples, 1))]) if self.fit_intercept else X
        return np.linalg.lstsq(design, target, rcond=None)[0]

    def _evaluate_rows_loss(self, theta):
        return self.evaluate(theta).loss

    def _start_is_valid(self, intercept):
        """True when the loss at coef = 0 and this intercept (eta_i = intercept + offset_i) is
        finite; O(n): X is not read."""
        return bool(np.isfinite(self._intercept_only()._loss(np.array([intercept]))))

    def _intercept_only(self):
        """This model without columns (theta = [b], eta_i = b + offset_i, l2 = 0, y and the
        weights as here, trials folded in): its passes cost O(n) and never read X. Kept
        while y, the weights, the offset, the family and the link are the same objects, so
        that the null deviance at the start's intercept reuses the start check's loss."""
        if self.n_features == 0 and self.fit_intercept and self.l2 == 0:
            return self
        inputs = (self.y, self.sample_weight, self.offset, self.family, self.link)
        kept = getattr(self, "_null_model", None)
        if kept is None or any(a is not b for a, b in zip(kept[0], inputs)):
            kept = (inputs, GLM(np.empty((self.n_samples, 0)), self.y, self.family, self.link,
                                sample_weight=self.sample_weight, offset=self.offset,
                                n_threads=self.n_threads))
            self._null_model = kept
        return kept[1]

    # --- pointwise terms --------------------------------------------------------------
    def _pointwise(self, y, eta):
        """(mu, nll, s, h1) per row, or None when some mean leaves the family's domain."""
        link, family = self.link, self.family
        with np.errstate(all="ignore"):
            mu = link.inverse(eta)
            if not (np.all(link.valid_eta(eta)) and np.all(family.valid_mean(mu))):
                return None
            if family.name == "binomial":
                log_h1 = link.log_derivative(eta)
                log_v = link.log_inverse(eta) + link.log1m_inverse(eta)
                s = np.exp(log_h1 - log_v)
                h1 = np.exp(log_h1)
            else:
                h1 = link.derivative(eta)
                s = h1 / family.variance(mu)
            nll = family.half_deviance(y, eta, mu, link)
        return mu, nll, s, h1

    def _row_weights(self, curvature, y, eta, mu, s, h1):
        if curvature == "exact":
            return h1 * s
        if curvature == "empirical":
            return ((mu - y) * s) ** 2
        ds = s * (self.link.derivative_ratio(eta) - s * self.family.variance_derivative(mu))
        return h1 * s + (mu - y) * ds

    # --- one evaluation: loss, gradient, curvature weights -----------------------------
    def evaluate(self, theta, curvature=None):
        """Loss, gradient and (if curvature is given) per-row weights v_i / sum w. The loss
        and, for dense X, the linear predictor are remembered with theta and the data they
        were computed on (``_remembered``)."""
        eta = None if _sparse.is_sparse(self.X) else np.empty(self.n_samples)
        evaluation = self._evaluate(theta, curvature, self.X, self.y, self.sample_weight,
                                    self.offset, self.weight_sum, self.trials, eta_out=eta)
        self._last = (np.array(theta, dtype=np.float64), self._loss_inputs(), evaluation.loss,
                      eta if np.isfinite(evaluation.loss) else None)
        return evaluation

    def _loss_inputs(self):
        """(objects, values) the full-data loss depends on besides theta: the arrays and
        the family and link (compared by identity), l2, the kernel codes and the intercept
        flag (by value)."""
        return ((self.X, self.y, self.sample_weight, self.offset, self.trials, self.family,
                 self.link),
                (self.l2, self._kernel_codes, self.fit_intercept, self.weight_sum))

    def _loss(self, theta):
        """L(theta), remembered from the last evaluation when it was at theta."""
        loss, _ = self._remembered(theta)
        return self.evaluate(theta).loss if loss is None else loss

    def _remembered(self, theta):
        """(loss, eta or None) of the last ``evaluate`` if it was at this theta on the same
        data and objective (e.g. the fit's final iterate), else (None, None)."""
        last = getattr(self, "_last", None)
        if last is None:
            return None, None
        at, (objects, values), loss, eta = last
        now_objects, now_values = self._loss_inputs()
        theta = np.asarray(theta, dtype=np.float64)
        if at.shape != theta.shape or not np.array_equal(at, theta) or values != now_values \
                or any(a is not b for a, b in zip(objects, now_objects)):
            return None, None
        return loss, eta

    def evaluate_rows(self, theta, rows):
        """Loss and gradient of the objective restricted to ``rows`` (a mini-batch)."""
        w = self.sample_weight[rows]
        off = None if self.offset is None else self.offset[rows]
        return self._evaluate(theta, None, self.X[rows], self.y[rows], w, off, float(w.sum()))

    def _evaluate(self, theta, curvature, X, y, w, offset, w_sum, trials=None, resid_out=None,
                  eta_out=None):
        """One pass over X in the fused ``glm_pass`` kernel (CSR X: its CSR counterpart
        ``csr_glm_pass``; dense binomial-logit with 0/1 responses: ``logistic_pass``); numpy
        for user-defined families or links, or dense X that is not a C- or F-contiguous
        float32/float64 array. resid_out and eta_out (float64 (n,), dense X
        only): filled with r_i = w_i (mu_i - y_i) s_i and eta_i."""
        if curvature not in (None,) + CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        sparse = _sparse.is_sparse(X)
        if self._kernel_codes is None or X.shape[0] == 0 or \
                X.dtype not in (np.float32, np.float64) or \
                not (sparse or X.flags.c_contiguous or X.flags.f_contiguous):
            return self._evaluate_generic(theta, curvature, X, y, w, offset, w_sum, trials,
                                          resid_out, eta_out)
        family, link, power, link_power = self._kernel_codes
        constant = None
        coef, intercept = self.split(theta)
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        raw_grad = np.empty(self.n_features + 1)
        weights = None if curvature is None else np.empty(X.shape[0])
        args = (coef, float(intercept), _as_f64(y), _as_f64(w), _as_f64(offset),
                _as_f64(trials) if curvature == "empirical" else None, family, link, power,
                link_power, _fused.GLM_CURVATURES[curvature], raw_grad, weights, self.n_threads)
        if sparse:
            constant = self._response_constant(y, w)
            loss_sum, valid = _sparse_fused._csr_glm_pass(X.data, X.indices, X.indptr,
                                                          X.shape[1], *args,
                                                          response_terms=constant is None)
        elif (family, link) == _BINOMIAL_LOGIT and self._binary_response(y) and \
                (trials is None or curvature != "empirical"):
            # 0/1 responses: the half deviance is the logistic loss and s = h'/V = 1, so the
            # logistic pass computes the same terms with two transcendentals a row, not six
            loss_sum = _fused._logistic_pass(X, coef, float(intercept), *args[2:5],
                                             _LOGISTIC_KINDS[curvature], raw_grad, weights,
                                             self.n_threads, resid_out, eta_out)
            valid = bool(np.isfinite(loss_sum))
        else:
            constant = self._response_constant(y, w)
            loss_sum, valid = _fused._glm_pass(X, *args, resid_out, eta_out,
                                               response_terms=constant is None)
        if constant is not None:
            loss_sum += constant
            valid = valid and bool(np.isfinite(loss_sum))
        if not valid:
            return Evaluation(np.inf, np.full(self.n_params, np.nan), None, curvature)
        loss = loss_sum / w_sum + 0.5 * self.l2 * float(coef @ coef)
        grad = raw_grad[:self.n_params] / w_sum
        grad[:self.n_features] += self.l2 * coef
        if weights is not None:
            weights /= w_sum
        return Evaluation(loss, grad, weights, curvature)

    def _response_constant(self, y, w):
        """sum_i w_i c(y_i) (``Family.response_term``) for the model's own y and weights,
        computed once (or taken from its intercept-only model, which shares them) and left out
        of the kernel passes; None for other rows (a mini-batch) or a family whose kernel
        keeps every term."""
        if y is not self.y or w is not self.sample_weight:
            return None
        key = (y, w, self.family)
        null = getattr(self, "_null_model", (None, None))[1]   # shares y, w and the family
        for model in (self, null):
            last = getattr(model, "_last_constant", None)
            if last is not None and all(a is b for a, b in zip(last, key)):
                self._last_constant = last
                return last[3]
        term = self.family.response_term(y)
        self._last_constant = key + (None if term is None else float(np.sum(w * term)),)
        return self._last_constant[3]

    def _binary_response(self, y):
        """True when every entry of y is 0 or 1 (remembered for the last y object)."""
        last = getattr(self, "_last_binary", None)
        if last is None or last[0] is not y:
            last = (y, bool(np.all((y == 0) | (y == 1))))
            self._last_binary = last
        return last[1]

    def _evaluate_generic(self, theta, curvature, X, y, w, offset, w_sum, trials=None,
                          resid_out=None, eta_out=None):
        """The numpy reference of ``_evaluate`` (two passes over X; the kernel's test oracle)."""
        if curvature not in (None,) + CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        coef, _ = self.split(theta)
        eta = self.linear_predictor(theta, X, offset)
        if eta_out is not None:
            eta_out[:] = eta
        terms = self._pointwise(y, eta)
        if terms is None or not np.all(np.isfinite(terms[1])):
            return Evaluation(np.inf, np.full(self.n_params, np.nan), None, curvature)
        mu, nll, s, h1 = terms
        loss = float(np.sum(w * nll)) / w_sum + 0.5 * self.l2 * float(coef @ coef)
        r = w * (mu - y) * s
        if resid_out is not None:
            resid_out[:] = r
        grad = np.empty(self.n_params)
        grad[:self.n_features] = rmatvec(X, r, self.n_threads) / w_sum + self.l2 * coef
        if self.fit_intercept:
            grad[-1] = r.sum() / w_sum
        weights = None
        if curvature is not None:
            with np.errstate(all="ignore"):
                v = self._row_weights(curvature, y, eta, mu, s, h1)
                if curvature == "empirical" and trials is not None:
                    v = v * trials      # the row's score is m (y - mu) s x (y a proportion)
                weights = w * v / w_sum
        return Evaluation(loss, grad, weights, curvature)

    def separation(self, delta):
        """(rows, columns) if moving along delta separates 0/1 responses of a binomial model
        with an increasing link, or drives to 0 the log-link mean of count responses that
        are 0 (Poisson, negative binomial, Tweedie with 1 <= power < 2: x~_i . d <= 0 where
        y_i = 0, = 0 where y_i > 0, < 0 for some row; e.g. a level whose responses are all 0):
        no MLE. Else None."""
        y = self.separation_response()
        if y is None or self._margin_witness(y, delta):
            return None
        rows = binary_certificate(self.X, y, delta, self.fit_intercept, self.sample_weight)
        if rows is None:
            return None
        return rows, involved_columns(self.X, delta[:self.n_features])

    def _margin_witness(self, y, delta):
        """``ngd.models.separation.margin_witness`` on this model's X and weights."""
        return margin_witness(self.X, y, delta, self.fit_intercept, self.sample_weight)

    def separation_response(self):
        """The responses of the separation check (None: no check): y for a binomial model
        with an increasing link; for counts with a log link whose likelihood of a 0 rises as
        the mean falls to 0, 0 where y = 0 and 0.5 (the "margin must be 0" rows) where y > 0;
        None with l2 > 0 (a penalised fit has an optimum)."""
        if self.l2 > 0:
            return None
        if self.family.name == "binomial" and self.link.name in ("logit", "probit", "cloglog"):
            return self.y
        if self.link.name == "log" and _zero_mean_at_infinity(self.family):
            return np.where(self.y > 0, 0.5, 0.0)
        return None

    def curvature_is_fixed(self, curvature):
        """True when the per-row weights of ``curvature`` do not depend on theta, so that the
        curvature matrix is the same at every iterate: Gaussian-identity (h' s = 1, and the
        observed Hessian's extra term (mu - y) s (h''/h' - s V') = 0) and the exact Fisher of
        Gamma-log (h'^2 / V = mu^2 / mu^2 = 1)."""
        pair = (self.family.name, self.link.name)
        return pair == ("gaussian", "identity") and curvature in ("exact", "observed") or \
            pair == ("gamma", "log") and curvature == "exact"

    def loss_is_quadratic(self, curvature):
        """True when L is quadratic in theta and ``curvature`` is its Hessian (Gaussian-identity,
        exact or observed): one undamped unit step with an exact solve lands on the
        minimiser."""
        return (self.family.name, self.link.name) == ("gaussian", "identity") and \
            curvature in ("exact", "observed")

    def as_glm(self):
        """This model (statistics helpers accept any model with ``as_glm``)."""
        return self

    def gradient_lipschitz(self):
        """Curvature scale for SGD's first step: lambda_max of the exact Fisher at the start."""
        return float(np.linalg.eigvalsh(self.exact_fisher(self.initial_theta()))[-1])

    # --- statistics ------------------------------------------------------------------
    def mean(self, theta, X=None, offset=None):
        """mu = h(eta)."""
        return self.link.inverse(self.linear_predictor(theta, X, offset))

    def scores(self, theta):
        """Per-row scores of the log-likelihood at phi = 1, w-free: m (y - mu) s [x_i, 1]
        (m = trials for binomial counts, y the proportion; else m = 1)."""
        eta = self.linear_predictor(theta, offset=self.offset)
        mu, _, s, _ = self._pointwise(self.y, eta)
        r = (self.y - mu) * s
        if self.trials is not None:
            r = r * self.trials
        cols = [scaled_rows(self.X, r)] + ([r[:, None]] if self.fit_intercept else [])
        return np.hstack(cols)

    def sample_response(self, theta, rng):
        """y ~ p(. | x, theta) at phi = 1 (proportions for binomial with trials)."""
        mu = self.mean(theta, offset=self.offset)
        return self.family.sample(mu, rng, self.trials)

    def mean_kl(self, theta_old, theta_new):
        """(1/sum w) sum_i w_i KL(p(. | mu_i(old)) || p(. | mu_i(new))) at phi = 1."""
        mu0 = self.mean(theta_old, offset=self.offset)
        mu1 = self.mean(theta_new, offset=self.offset)
        return float(np.sum(self.sample_weight * self.family.mean_kl(mu0, mu1))
                     / self.weight_sum)

    def deviance(self, theta):
        """2 sum_i w_i d(y_i, mu_i)/2 (w includes trials): from the fused pass's loss,
        2 sum w (L - l2/2 ||coef||^2), without a pass when the last evaluation was at theta."""
        loss, _ = self._remembered(theta)
        if loss is not None or self._kernel_codes is not None:
            coef, _ = self.split(theta)
            loss = self._loss(theta) - 0.5 * self.l2 * float(coef @ coef)
            return float(2 * self.weight_sum * loss)
        eta = self.linear_predictor(theta, offset=self.offset)
        _, nll, _, _ = self._pointwise(self.y, eta)
        return float(2 * np.sum(self.sample_weight * nll))

    def _row_blocks(self, theta):
        """(rows, mu) per block of STATISTICS_BLOCK_ROWS rows: per-row statistics without
        length-n temporaries; from the remembered eta of the last evaluation when it was at
        theta (X is then not read); CSR X: eta in one product (row blocks of CSR would copy
        X's rows)."""
        _, eta = self._remembered(theta)
        if eta is None and _sparse.is_sparse(self.X):
            eta = self.linear_predictor(theta, offset=self.offset)
        for start in range(0, self.n_samples, STATISTICS_BLOCK_ROWS):
            rows = slice(start, min(start + STATISTICS_BLOCK_ROWS, self.n_samples))
            if eta is not None:
                yield rows, self.link.inverse(eta[rows])
                continue
            offset = None if self.offset is None else self.offset[rows]
            yield rows, self.mean(theta, X=self.X[rows], offset=offset)

    def pearson_chi2(self, theta):
        """sum_i w_i (y_i - mu_i)^2 / V(mu_i); Gaussian (V = 1): the deviance, from the fit's
        last pass; the kernel families: ``_pearson_sum`` over the remembered eta."""
        if type(self.family) is _families.Gaussian:
            return self.deviance(theta)
        if self._kernel_codes is not None:        # one parallel kernel pass over eta
            _, eta = self._remembered(theta)
            if eta is None:
                eta = self.linear_predictor(theta, offset=self.offset)
            return _fused._pearson_sum(_as_f64(eta), _as_f64(self.y),
                                       _as_f64(self.sample_weight), *self._kernel_codes,
                                       n_threads=self.n_threads)
        return float(sum(np.sum(self.sample_weight[rows] * (self.y[rows] - mu) ** 2
                                / self.family.variance(mu))
                         for rows, mu in self._row_blocks(theta)))

    def null_deviance(self):
        """Deviance of the intercept-only model (with the offset), or of eta = offset; every
        pass is over y, the weights and the offset only (``_intercept_only``), never X."""
        null = self._intercept_only()
        if not self.fit_intercept:
            theta = np.zeros(1)
            return null.deviance(theta) if np.isfinite(null._loss(theta)) else np.nan
        closed_form = self.offset is None or (self.family.name == "poisson"
                                              and self.link.name == "log")
        if closed_form:
            # no offset: every row has the same mean, whose MLE is the mean of y; Poisson-log
            # with an offset: exp(b) = sum w y / sum w exp(offset) solves the score equation
            w = self.sample_weight
            ybar = float(np.sum(w * self.y) / self.weight_sum)
            if self.family.name == "binomial":
                ybar = min(max(ybar, 1e-10), 1 - 1e-10)
            with np.errstate(all="ignore"):
                b = float(self.link.link(np.array([ybar]))[0]) if self.offset is None \
                    else np.log(np.sum(w * self.y) / np.sum(w * np.exp(self.offset)))
            if np.isfinite(b) and np.isfinite(null._loss(np.array([b]))):
                return null.deviance(np.array([b]))        # the loss of the line above

        def at(b):
            theta = np.array([b])
            ev = null.evaluate(theta, "exact")
            if not np.isfinite(ev.loss):
                return np.inf, 0.0, 0.0, np.inf
            return ev.loss, ev.grad[-1], float(ev.weights.sum()), null.deviance(theta)
        return null_intercept_deviance(at, null.initial_theta()[-1])

    @property
    def has_dispersion(self):
        """True for families with a free scale phi."""
        return self.family.has_dispersion

    def log_likelihood(self, theta, phi):
        """Full log-likelihood at dispersion phi (Gaussian-identity: at the maximum-likelihood
        scale deviance / sum w, as statsmodels), from the deviance for Gaussian and for
        binomial with 0/1 responses (-deviance / 2), else in row blocks; nan where there is
        no closed form (then X is not read)."""
        if not self.family.closed_form_likelihood:
            return np.nan
        if self.family.name == "gaussian" and self.link.name == "identity":
            phi = self.deviance(theta) / self.weight_sum
        if type(self.family) is _families.Gaussian:
            # sum w (y - mu)^2 is the deviance D: llf = -(D / phi + sum w log(2 pi phi)) / 2
            # (numpy division: phi = 0, a perfect fit, gives nan as the row sum does)
            return float(-0.5 * (np.float64(self.deviance(theta)) / phi
                                 + self.weight_sum * np.log(2 * np.pi * phi)))
        if type(self.family) is _families.Binomial and self.trials is None and \
                self._binary_response(self.y):
            # 0/1 responses: log p(y_i | mu_i) = -d(y_i, mu_i) / 2 (no binomial coefficient,
            # no y log y terms), so llf = -deviance / 2, from the fit's last pass
            return -0.5 * self.deviance(theta)
        total = 0.0
        for rows, mu in self._row_blocks(theta):
            w = self.sample_weight[rows]
            trials = None if self.trials is None else self.trials[rows]
            total += self.family.log_likelihood(self.y[rows], mu,
                                                w if trials is None else w / trials, phi, trials)
        return float(total)
