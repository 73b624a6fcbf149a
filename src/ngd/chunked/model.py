""":class:`ChunkedModel`: the model interface of the shared optimiser loop over data held in
row chunks, one pass over the chunks per evaluation; subclasses say how a pass runs
(:class:`ngd.chunked.local.LocalChunkedModel`: on a thread pool in this process;
:class:`ngd.dask_backend.DaskModel`: on Dask's workers)."""
import math

import numpy as np

from ngd.chunked import tasks
from ngd.exceptions import DataError
from ngd.fisher import RowSubsample
from ngd.models._common import Evaluation
from ngd.models.glm import null_intercept_deviance
from ngd.models.separation import columns_by_movement


class ReducedCurvature:
    """The curvature of one evaluation, reduced over all chunks: G = sum_S w_i v_i x~_i x~_i^T
    / sum_S w_i over the rows S it was formed on (all rows, or the subsample), without the L2
    term."""

    def __init__(self, gram):
        self.gram = gram


class SampleSize:
    """The ``rows`` token of a chunked subsample: the nominal number of rows m."""

    def __init__(self, size):
        self.size = size


class ChunkedSubsample(RowSubsample):
    """:class:`ngd.fisher.RowSubsample`'s growth rule on a chunked model: the Gram of each pass
    is formed on the rows whose seeded uniform draw is below m / n (``tasks.sample_rows``),
    a fresh draw each time m doubles, all rows once m > n / 4. The pass that follows a change
    is the first to use it (the Gram comes with the loss and gradient of the same pass)."""

    def __init__(self, model, size, seed=0):
        self.seed = int(seed)
        self.draws = 0
        super().__init__(model, size, seed)

    def _draw(self, size):
        n = self.model.n_samples
        if size is None or 4 * size > n:
            self.rows = None
            self.model.sample = None
            return
        self.draws += 1
        self.rows = SampleSize(int(size))
        self.model.sample = (size / n, self.seed, self.draws)


class ChunkedModel:
    """Logistic, softmax or GLM objective on data in row chunks (see the package docstring).

    Subclasses set ``chunk_rows`` and implement ``_map_reduce(task, args, label, use_X)``,
    which applies a task of :mod:`ngd.chunked.tasks` to every chunk and returns the sum, then
    call ``ChunkedModel.__init__``."""

    subsample_type = ChunkedSubsample
    cov_type = "model"

    def __init__(self, spec, n_samples, n_features, has_offset, l2):
        self.spec = spec
        self.name = spec["name"]
        self.fit_intercept = spec["fit_intercept"]
        self.l2 = float(l2)
        self.n_threads = spec.get("n_threads", 1)
        self.n_samples, self.n_features = int(n_samples), int(n_features)
        self.n_params = self.n_features + self.fit_intercept
        self.penalty_mask = np.arange(self.n_params) < self.n_features
        self.has_offset = has_offset
        self.sample = None              # (fraction, seed, draw) of a curvature subsample
        self.n_passes = 0
        self._stats = None
        self._null = None               # the null deviance, once computed
        self._last_null = None          # (b, _null_pass(b)) of the last intercept-only pass
        self._softmax = None            # softmax: the parameter layout (see _summarise)
        if self.name == "softmax":
            if has_offset:
                raise ValueError("offset= is not supported by the softmax model")
            # the chunks' models use spec's gauge (none given: symmetric when l2 > 0)
            spec["gauge"] = spec.get("gauge") or ("reference" if self.l2 == 0 else "symmetric")
            self.family_name, self.link_name = "multinomial", "softmax"
        elif self.name != "logistic":
            from ngd.models.families import check_link, get_family
            from ngd.models.links import get_link
            self.family = get_family(spec["name"], spec["power"])
            self.link = get_link(spec["link"] if spec["link"] is not None
                                 else self.family.canonical_link)
            check_link(self.family, self.link)
            self.family_name, self.link_name = self.family.name, self.link.name
        else:
            self.family_name, self.link_name = "binomial", "logit"
        if self.has_dispersion:          # the statistics pass sums Pearson's chi^2 only then
            self.pearson_chi2 = self._pearson_chi2
        self._summarise()

    def _map_reduce(self, task, args, label="pass", use_X=True):
        raise NotImplementedError

    def _summarise(self):
        summary = self._map_reduce(tasks.summary, (), label="summary")
        self.weight_sum = float(summary["weight_sum"])
        if not self.weight_sum > 0:
            raise DataError("sample_weight must have a positive sum")
        if self.name in tasks.LABEL_MODELS:
            labels = summary["labels"]
            if self.name == "logistic" and len(labels) != 2:
                what = "only one class" if len(labels) == 1 else f"{len(labels)} distinct values"
                raise DataError(f"logistic regression needs exactly two classes in y, found "
                                f"{what}; use model='softmax' for more")
            if len(labels) < 2:
                raise DataError("y has only one class; at least two are needed")
            classes = np.array(sorted(labels))
            self.spec["classes"] = classes.tolist()
            self.classes = classes
            self._wy = labels[classes[-1].item()]
            if self.name == "softmax":
                self._set_softmax_layout([labels[c.item()] for c in classes])
        else:
            self.classes = None
            self._wy = summary["wy"]
        self._woffset = summary["woffset"]

    def _set_softmax_layout(self, class_weights):
        """The parameters of a softmax fit are those of an in-memory SoftmaxModel with the same
        classes, intercept and gauge; built on one row per class weighted by the class's weight
        sum, it also gives the start (log class frequencies) and the null deviance."""
        from ngd.models.softmax import SoftmaxModel
        K = len(class_weights)
        self._softmax = SoftmaxModel(np.zeros((K, self.n_features)), np.arange(K), K,
                                     sample_weight=np.asarray(class_weights, dtype=np.float64),
                                     fit_intercept=self.fit_intercept, l2=self.l2,
                                     gauge=self.spec["gauge"])
        self.n_params = self._softmax.n_params
        self.penalty_mask = self._softmax.penalty_mask
        self.n_classes = K                   # the softmax layout, as ngd.elastic_net reads it
        self.free = self._softmax.free
        self.expand = self._softmax.expand
        self._report_matrix = self._softmax._report_matrix      # cov_params' reported gauge

    # --- the model interface --------------------------------------------------------
    def split(self, theta):
        """(coef, intercept) from theta = [coef, intercept] (softmax: its reported gauge)."""
        if self._softmax is not None:
            return self._softmax.split(theta)
        return theta[:self.n_features], (float(theta[-1]) if self.fit_intercept else 0.0)

    def split_stderr(self, cov):
        """Standard errors of split(theta) from the covariance of theta."""
        if self._softmax is not None:
            return self._softmax.split_stderr(cov)
        return self.split(np.sqrt(np.diag(cov)))

    def _ybar(self):
        ybar = self._wy / self.weight_sum
        if self.family_name == "binomial":
            ybar = min(max(ybar, 1e-10), 1 - 1e-10)
        return ybar

    def _null_intercept(self):
        """g(weighted mean of y) - weighted mean offset: the intercept of the start."""
        ybar = self._ybar()
        if self.spec["name"] == "logistic":
            return math.log(ybar / (1 - ybar))
        with np.errstate(all="ignore"):
            return float(self.link.link(np.array([ybar]))[0]) - self._woffset / self.weight_sum

    def initial_theta(self):
        """coef = 0, intercept = g(weighted mean of y) - weighted mean offset (as the in-memory
        models); a GLM whose mean leaves the family's domain there has no chunked start."""
        if self._softmax is not None:
            return self._softmax.initial_theta()
        theta = np.zeros(self.n_params)
        if self.fit_intercept:
            theta[-1] = self._null_intercept()
        # the loss at coef = 0 is the intercept-only model's: a pass over y, w and the offset
        if not np.isfinite(self._null_pass(theta[-1] if self.fit_intercept else 0.0)[0]):
            cause = ("offset: " if self.has_offset else "")
            raise DataError(f"{cause}no valid starting point for the {self.name} model out of "
                            "core (the mean leaves the family's domain at coef = 0"
                            + ("; the offset is on the linear predictor's scale: pass "
                               "log(exposure) for a log link" if self.has_offset else "") + ")")
        return theta

    def evaluate(self, theta, curvature=None):
        """Loss, gradient and (with a curvature) its reduced Gram, in one pass."""
        theta = np.asarray(theta, dtype=np.float64)
        sample = self.sample if curvature is not None else None
        loss, grad, gram, gram_weight, finite = self._map_reduce(
            tasks.evaluation, (theta, curvature, sample))
        if not finite:
            return Evaluation(np.inf, np.full(self.n_params, np.nan), None, curvature)
        if gram is not None and not gram_weight > 0:        # no weight among the sampled rows
            self.sample = None
            return self.evaluate(theta, curvature)
        penalised = theta[self.penalty_mask]
        loss = loss / self.weight_sum + 0.5 * self.l2 * float(penalised @ penalised)
        grad = grad / self.weight_sum
        grad[self.penalty_mask] += self.l2 * penalised
        weights = None if gram is None else ReducedCurvature(gram / gram_weight)
        return Evaluation(float(loss), grad, weights, curvature)

    def loss(self, theta):
        """L(theta) (one pass)."""
        return self.evaluate(theta).loss

    def gradient(self, theta):
        """grad L(theta) (one pass)."""
        return self.evaluate(theta).grad

    def curvature_matrix(self, weights, rows=None):
        """The reduced Gram + l2 on the coef diagonal (intercept unpenalised); ``rows`` is the
        subsample token, already applied by the pass that formed the Gram."""
        out = np.array(weights.gram, dtype=np.float64)
        penalised = np.flatnonzero(self.penalty_mask)
        out[penalised, penalised] += self.l2
        return out

    def curvature_vector(self, weights, u, rows=None):
        """C u from the reduced Gram."""
        return self.curvature_matrix(weights, rows) @ u

    def curvature_diagonal(self, weights, rows=None):
        """diag(C) from the reduced Gram."""
        return np.diag(self.curvature_matrix(weights, rows)).copy()

    def separation(self, delta):
        """(rows, columns) if moving along delta separates the 0/1 responses of a logistic or
        binomial logit/probit/cloglog model without a penalty (no MLE), else None; one pass
        (``ngd.models.separation``; softmax: not checked)."""
        binary = self.name == "logistic" or (
            self.family_name == "binomial" and self.link_name in ("logit", "probit", "cloglog"))
        if self.l2 > 0 or not binary:
            return None
        sums = self._map_reduce(tasks.separation, (np.asarray(delta, np.float64),),
                                label="separation")
        if not (sums["consistent"] and sums["rows"].size):
            return None
        mean = sums["sum"] / sums["n"]
        sd = np.sqrt(np.maximum(sums["squares"] / sums["n"] - mean * mean, 0.0))
        return sums["rows"], columns_by_movement(sd, delta[:self.n_features])

    # --- statistics (used by ngd.statistics.attach_statistics) ----------------------
    @property
    def has_dispersion(self):
        """True for families with a free scale phi."""
        return self.name not in tasks.LABEL_MODELS and self.family.has_dispersion

    def _statistics(self, theta):
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if self._stats is None or self._stats[0] != key:
            args = (np.asarray(theta, dtype=np.float64), self.cov_type == "robust")
            self._stats = (key, self._map_reduce(tasks.statistics, args, label="stats"))
        return self._stats[1]

    def exact_fisher(self, theta):
        """Exact Fisher of the objective at theta (from the statistics pass)."""
        stats = self._statistics(theta)
        return self.curvature_matrix(ReducedCurvature(stats["fisher"] / self.weight_sum))

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T + l2 on the coef (cov_type='robust')."""
        sums = self._statistics(theta)
        if "empirical" not in sums:
            self._stats = None
            self.cov_type = "robust"
            sums = self._statistics(theta)
        return self.curvature_matrix(ReducedCurvature(sums["empirical"] / self.weight_sum))

    def deviance(self, theta):
        """2 sum_i w_i d(y_i, mu_i)/2."""
        return float(self._statistics(theta)["deviance"])

    def _pearson_chi2(self, theta):
        """sum_i w_i (y_i - mu_i)^2 / V(mu_i) (offered as ``pearson_chi2`` by families with a
        dispersion)."""
        return float(self._statistics(theta)["pearson"])

    def null_deviance(self):
        """Deviance of the intercept-only model eta_i = offset_i + b at its MLE (no intercept:
        of eta = offset); softmax: of the class frequencies. Passes over y, w and the offset,
        not X (``ngd.models.glm.null_intercept_deviance``; without an offset the start is
        the MLE and one pass suffices)."""
        if self._softmax is not None:
            return self._softmax.null_deviance()
        if self._null is None:
            if self.fit_intercept:
                self._null = null_intercept_deviance(self._null_pass, self._null_intercept())
            else:
                self._null = self._null_pass(0.0)[3]
            if not np.isfinite(self._null):
                self._null = np.nan
        return self._null

    def _null_pass(self, b):
        """(loss, score, Fisher, deviance) sums of the intercept-only model at b; the last
        one is kept, so that the null deviance at the start's intercept (no offset: its MLE)
        reuses the start check's pass."""
        if self._last_null is None or self._last_null[0] != b:
            self._last_null = (b, self._map_reduce(tasks.null_evaluation, (b,), label="null",
                                                   use_X=False))
        return self._last_null[1]

    def log_likelihood(self, theta, phi):
        """Full log-likelihood at dispersion phi (one more pass; Gaussian-identity at the
        maximum-likelihood scale deviance / sum w, as the in-memory GLM); logistic, whose
        or softmax (class labels): -deviance / 2, no pass."""
        if self.name in tasks.LABEL_MODELS:
            return -0.5 * self.deviance(theta)
        if self.family_name == "gaussian" and self.link_name == "identity":
            phi = self.deviance(theta) / self.weight_sum
        return float(self._map_reduce(tasks.log_likelihood,
                                      (np.asarray(theta, np.float64), float(phi)), label="llf"))
