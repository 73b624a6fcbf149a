"""The model interface, written down: what the optimisers (ngd.optim), the curvature solvers
(ngd.fisher), the statistics (ngd.statistics) and the fit (ngd.api, ngd.elastic_net,
ngd.chunked) call on a model object.

Every model -- LogisticModel, GLM, SoftmaxModel, CategoricalModel (a Design), the chunked
models (LocalChunkedModel, SourceChunkedModel) and DaskModel -- has the members of
:class:`Model`; its statistics view (:func:`statistics_view`: ``model.as_glm()`` where the
model has one, else the model) has those of :class:`StatisticsView`. Everything else is an
optional capability (:data:`CAPABILITIES`), detected today by hasattr/getattr at the call
sites; :func:`capabilities` names the ones a model has, :func:`missing_members` the required
members it lacks.

Objective (DESIGN.md): L(theta) = (1/sum w) sum_i w_i nll_i(theta) + (l2/2) ||coef||^2 with
coef = theta[penalty_mask], nll_i the negative log-likelihood of row i (GLMs: half the unit
deviance, phi = 1), the intercepts unpenalised. theta = [coef, intercept] for single-output
models (the intercept last), [dense coef, gamma_1, ..., gamma_K, intercept] on a Design, the
free entries of [vec(W) class-major, b] for softmax (the gauge's pinned entries removed).

``evaluate(theta, curvature)`` is one pass: off the family's domain (a mean outside it) loss
is inf, grad nan and weights None; an unknown curvature kind is a ValueError. Kinds:
logistic exact, empirical, observed, bohning; GLM exact, empirical, observed; softmax exact,
empirical, observed, kfac (no products, no diagonal); a Design and a chunked model those of
the model they wrap. ``weights`` is None without a curvature, else the token the curvature
accessors take: an ndarray (n,) of w_i v_i / sum w (single-output models, Designs), a tuple
(kind, P, P - onehot, w / sum w) (softmax), a ngd.chunked.ReducedCurvature (chunked: the
reduced Gram). The accessors' ``rows`` is None (all rows), a ngd.models.RowSample (the
curvature from those rows, times its scale) or the token of the model's ``subsample_type``.
"observed" is the Hessian of L; exact and empirical are PSD; all include l2 on penalty_mask.

Nothing here is called by the library yet; it states the contracts that the models meet
(tests/test_model_protocol.py checks them numerically).
"""
from typing import Protocol, runtime_checkable


@runtime_checkable
class Model(Protocol):
    """The members every model has (``isinstance(model, Model)`` checks presence only)."""

    @property
    def name(self):
        """Model name, one of ngd.models.MODEL_NAMES (a Design model: its inner model's)."""

    @property
    def n_samples(self):
        """Number of rows n."""

    @property
    def n_features(self):
        """Columns p of X (softmax: per class; a Design: dense plus level columns)."""

    @property
    def n_params(self):
        """len(theta): the free parameters the optimisers see (== len(initial_theta()))."""

    @property
    def fit_intercept(self):
        """bool: the model has an intercept (softmax: one per class)."""

    @property
    def l2(self):
        """float >= 0, L's ridge, read at each evaluation (a Design's dense part: inner.l2)."""

    @property
    def n_threads(self):
        """int >= 1: threads of the model's kernels."""

    @property
    def weight_sum(self):
        """float > 0: sum_i w_i over all rows, L's normaliser (binomial trials: sum w_i m_i)."""

    @property
    def penalty_mask(self):
        """bool (n_params,): True where l2 applies, False at every intercept entry."""

    def initial_theta(self):
        """float64 (n_params,): coef 0, intercepts at the null MLE (exact without an offset)."""

    def split(self, theta):
        """(coef, intercept): (n_features,) and float, softmax (K, p) and (K,); 0.0 if none."""

    def evaluate(self, theta, curvature=None):
        """Evaluation(loss=L(theta), grad=grad L (n_params,), weights, curvature=the kind)."""

    def loss(self, theta):
        """L(theta) as a float: evaluate(theta).loss."""

    def gradient(self, theta):
        """grad L(theta), float64 (n_params,): evaluate(theta).grad."""

    def curvature_matrix(self, weights, rows=None):
        """Symmetric (n_params, n_params) curvature of the weights' kind, l2 on penalty_mask."""

    def curvature_vector(self, weights, u, rows=None):
        """curvature_matrix(weights, rows) @ u, (n_params,), without forming C where it can."""

    def curvature_diagonal(self, weights, rows=None):
        """diag(curvature_matrix(weights, rows)), (n_params,)."""

    def exact_fisher(self, theta):
        """curvature_matrix(evaluate(theta, 'exact').weights): expected Fisher of L, PSD."""

    def empirical_fisher(self, theta):
        """(1/sum w) sum_i w_i s_i s_i^T + l2 on penalty_mask, s_i row i's score, PSD."""

    def separation(self, delta):
        """(rows, columns) when theta + t delta (t -> inf) shows that no MLE exists, else None."""


@runtime_checkable
class StatisticsView(Protocol):
    """What ngd.statistics reads on ``statistics_view(model)`` after a fit."""

    def deviance(self, theta):
        """2 sum_i w_i nll_i(theta) = 2 weight_sum (L(theta) - l2/2 ||theta[penalty_mask]||^2)."""

    def null_deviance(self):
        """Deviance at the intercept-only MLE, offset kept (no intercept: theta = 0)."""

    # softmax's null deviance is that of the class frequencies, with or without an intercept

    def log_likelihood(self, theta, phi):
        """sum_i w_i log p(y_i | theta, phi); nan without a closed form; labels: -deviance / 2."""


def _documented(protocol):
    """{member: its one-line contract} of a protocol class."""
    return {name: " ".join(member.__doc__.split()) for name, member in vars(protocol).items()
            if not name.startswith("_")}


REQUIRED = _documented(Model)
STATISTICS_REQUIRED = _documented(StatisticsView)
_METHODS = frozenset(name for name, member in {**vars(Model), **vars(StatisticsView)}.items()
                     if callable(member) and not name.startswith("_"))

CAPABILITIES = {
    "curvature_data": "single-output models: curvature_data(weights, rows=None) -> (X, v) with "
                      "C = [X, 1]^T diag(v) [X, 1] + l2 on penalty_mask (Woodbury solves, "
                      "solver='auto''s Woodbury choice, CG products)",
    "curvature_blocks": "Design models: curvature_blocks(weights, rows=None) -> CurvatureBlocks "
                        "(toarray() == curvature_matrix), n_levels and codes of the "
                        "categoricals (-1 the reference level), uses_block_covariance and "
                        "attach_block_covariance (Schur solver, block standard errors)",
    "subsample_type": "own curvature subsample: subsample_type(model, size, seed) with .rows "
                      "(the accessors' rows token), .size, .update(decrement, full_step) "
                      "(chunked: ChunkedSubsample; a Design: ValueError, none); absent: "
                      "ngd.fisher.RowSubsample, which needs 'in_memory' and RowSample rows",
    "free": "softmax layout: theta = expand(theta)[free], expand(theta) -> [vec(W) "
            "class-major, b] with the pinned entries 0, n_classes K (elastic-net factors)",
    "split_stderr": "split_stderr(cov) -> standard errors shaped as split(theta)'s coef from "
                    "the covariance of theta (softmax: through the gauge, pinned entries nan); "
                    "absent: split(sqrt(diag(cov)))",
    "report_matrix": "_report_matrix() -> R with concatenated split(theta) == R @ theta "
                     "(softmax, in memory and chunked: the reported gauge as a linear map)",
    "as_glm": "as_glm() -> the same objective as a GLM (a Design: with a GLM inside), the "
              "statistics view (deviance, pearson_chi2, log_likelihood, y, link)",
    "dispersion": "on the statistics view: has_dispersion (bool, a free scale phi, estimated "
                  "by pearson_chi2 / (n - k)) and pearson_chi2(theta) = sum_i w_i (y_i - "
                  "mu_i)^2 / V(mu_i), read only when has_dispersion (chunked models offer "
                  "pearson_chi2 only with a dispersion); absent: phi = 1",
    "evaluate_rows": "evaluate_rows(theta, rows) -> Evaluation of L on those rows, normalised "
                     "by their weight sum (mini-batch methods: sgd, sqn, adam, rmsprop)",
    "gradient_lipschitz": "gradient_lipschitz() -> float >= lambda_max of the exact Fisher at "
                          "initial_theta() (the step of sgd and sqn without learning_rate)",
    "hessian": "hessian(theta) -> observed Hessian of L, curvature_matrix of evaluate(theta, "
               "'observed') (ngd.check, negative-binomial joint information)",
    "scores": "scores(theta) -> (n, n_params) per-row log-likelihood scores without w "
              "(binomial counts: of the row's m trials): grad L = -(1/sum w) sum_i (w_i/m_i) "
              "s_i + l2 theta on penalty_mask (cluster covariance; a dense array, for CSR X "
              "too)",
    "sampling": "sample_response(theta, rng) -> a response drawn from the model (softmax: "
                "codes) and mean_kl(theta0, theta1) = (1/sum w) sum_i w_i KL(p_i(theta0) || "
                "p_i(theta1)) at phi = 1 (ngd.check; tweedie powers without a sampler, "
                "2 < p < 3 and p > 3: sample_response raises NotImplementedError)",
    "in_memory": "X (dense, CSR or a Design; n_samples rows) and sample_weight ((n,) or None; "
                 "binomial counts: w m) held in this process (row subsamples, cv, inference)",
    "response": "single-output response y (n,) (binomial counts: the proportion) and offset "
                "((n,) or None)",
    "class_codes": "softmax response: codes (n,) in 0..K-1, onehot (n, K), n_classes (a "
                   "Design model also has codes, with another meaning)",
    "trials": "trials: binomial counts m (n,) or None (GLM and GLM-Design models)",
    "family": "family and link objects of ngd.models.families / links (GLMs, GLM Designs, "
              "chunked GLMs)",
    "family_name": "family_name and link_name strings (logistic, softmax, Design and chunked "
                   "models; a GLM has only 'family')",
    "mean": "mean(theta, X=None, offset=None) -> mu = h(eta) (n,) (GLMs and GLM Designs)",
    "linear_predictor": "linear_predictor(theta, X=None, ...) -> eta, (n,) or softmax (n, K), "
                        "on this X or another",
    "loss_is_quadratic": "GLMs in memory: loss_is_quadratic(curvature) -> True when L is "
                         "quadratic in theta and that curvature is its Hessian "
                         "(Gaussian-identity, exact or observed): the optimiser stops after "
                         "one exact undamped unit step",
    "on_design": "single-output models in memory: on_design(X2) -> the same model (rows, "
                 "response, weights, offset, ridge) on the design X2 (n, q) (ngd.rowspace: "
                 "ridge fits with n < p in a basis of X's row space)",
    "chunked": "chunked and Dask models: n_passes (passes over the data so far), chunk_rows "
               "(rows per chunk), classes (labels or None), cov_type, spec (the chunk tasks' "
               "model description)",
}

CAPABILITY_MEMBERS = {
    "curvature_data": ("curvature_data", "X"),
    "curvature_blocks": ("curvature_blocks", "n_levels", "codes", "uses_block_covariance",
                         "attach_block_covariance"),
    "subsample_type": ("subsample_type",),
    "on_design": ("on_design",),
    "loss_is_quadratic": ("loss_is_quadratic",),
    "free": ("free", "expand", "n_classes"),
    "split_stderr": ("split_stderr",),
    "report_matrix": ("_report_matrix",),
    "as_glm": ("as_glm",),
    "dispersion": ("has_dispersion", "pearson_chi2"),
    "evaluate_rows": ("evaluate_rows",),
    "gradient_lipschitz": ("gradient_lipschitz",),
    "hessian": ("hessian",),
    "scores": ("scores",),
    "sampling": ("sample_response", "mean_kl"),
    "in_memory": ("X", "sample_weight"),
    "response": ("y", "offset"),
    "class_codes": ("codes", "onehot", "n_classes"),
    "trials": ("trials",),
    "family": ("family", "link"),
    "family_name": ("family_name", "link_name"),
    "mean": ("mean",),
    "linear_predictor": ("linear_predictor",),
    "chunked": ("n_passes", "chunk_rows", "classes", "cov_type", "spec"),
}

ON_STATISTICS_VIEW = frozenset({"dispersion"})    # looked up on statistics_view(model)


def statistics_view(model):
    """The object ngd.statistics reads deviances and likelihoods from: model.as_glm() where
    the model has one, else the model."""
    return model.as_glm() if hasattr(model, "as_glm") else model


def capabilities(model):
    """frozenset of the CAPABILITIES names whose members ``model`` (for ON_STATISTICS_VIEW:
    its statistics view) has."""
    view = None
    found = set()
    for name, members in CAPABILITY_MEMBERS.items():
        target = model
        if name in ON_STATISTICS_VIEW:
            view = statistics_view(model) if view is None else view
            target = view
        if all(hasattr(target, member) for member in members):
            found.add(name)
    return frozenset(found)


def _absent(target, names, prefix):
    """The members of ``names`` that ``target`` lacks (methods: or has but cannot call)."""
    out = []
    for name in names:
        if not hasattr(target, name):
            out.append(prefix + name)
        elif name in _METHODS and not callable(getattr(target, name)):
            out.append(f"{prefix}{name} (not callable)")
    return out


def missing_members(model):
    """Sorted names of the required members ``model`` lacks: REQUIRED on the model,
    STATISTICS_REQUIRED on its statistics view (named 'as_glm().NAME' when that is
    model.as_glm()), and pearson_chi2 when the view says it has a dispersion."""
    view = statistics_view(model)
    prefix = "" if view is model else "as_glm()."
    missing = _absent(model, REQUIRED, "") + _absent(view, STATISTICS_REQUIRED, prefix)
    if getattr(view, "has_dispersion", False) and not hasattr(view, "pearson_chi2"):
        missing.append(prefix + "pearson_chi2")
    return sorted(missing)
