"""What a fit is asked to do, as two frozen dataclasses checked once where they are built:
:class:`ModelSpec` (the objective: model, link, power, intercept, penalty, softmax gauge,
negative-binomial alpha) and :class:`SolverOptions` (how it is minimised: method, curvature,
step, solver, subsample, tolerances, iteration limit, stochastic settings, statistics).

Why ``ngd.spec`` and two objects: the objective and the solver are separate questions (a
backend supports a model but not a method; a path refits one spec with new solver settings),
and "spec" is the name the chunked tasks and ``FitResult.input_spec`` already use for "what
to build". Every default lives here once: ``ngd.fit``, ``ngd.compare``, the backends and the
estimators read them from these classes (``SolverOptions.tol``, ...). The module sits low in
the layers: it imports validators, model names and the penalty, nothing that fits.
"""
import dataclasses
import numbers
from typing import Any, Callable, Optional

import numpy as np

from ngd import _validation
from ngd._threads import effective_n_threads
from ngd.fisher import SOLVERS
from ngd.models import normalise_model_name
from ngd.models.families import check_nb_alpha
from ngd.penalty import check_penalty
from ngd.statistics import COV_TYPES

METHODS = ("ngd", "newton", "sgd", "sqn", "adam", "rmsprop")
FISHERS = ("exact", "empirical", "observed", "kfac", "bohning",  # kfac: softmax; bohning: logistic
           "diagonal")
GAUGES = ("reference", "symmetric")
#: max_iter=None means this per-method limit (the elastic net runs method "ngd": 100)
DEFAULT_MAX_ITER = {"ngd": 100, "newton": 100, "sgd": 30, "sqn": 30, "adam": 30, "rmsprop": 30}
NB_SCOPE = ("model 'negative_binomial' is fitted in memory (backend='numpy') with l2 or alpha "
            "alone, not the chunked or Dask backends or the elastic net")


@dataclasses.dataclass(frozen=True, eq=False)
class ModelSpec:
    """The objective of a fit (see ``ngd.fit`` for each option's meaning).

    Parameters
    ----------
    model : str
        "logistic", "softmax", a GLM family name or "negative_binomial" ('-' or '_', aliases).
    link, power : str or None, float or None
        The GLM's link (None: the family's default) and the tweedie power.
    fit_intercept : bool
    l2 : float
        Ridge strength, >= 0 (the shorthand of alpha with l1_ratio = 0).
    alpha, l1_ratio, penalty_factor : float or None, float, array or None
        The elastic net (:mod:`ngd.penalty`); alpha None: no elastic net.
    nb_alpha : float or None
        Negative binomial: the fixed alpha (None: estimated).
    trials : bool
        Whether binomial trials are given (model "logistic" then means binomial-logit).
    gauge : {"reference", "symmetric"} or None
        Softmax only: None picks "symmetric" when the fit is penalised (l2 > 0 or an elastic
        net, which pin the shared shift), else "reference" (first class zero). "symmetric"
        without a penalty is for a penalty added later (an elastic-net path).

    Attributes set from them: ``name`` (canonical model name), ``kind`` ("logistic",
    "softmax" or "glm"), ``family`` (the GLM family or None), ``penalty`` (an
    :class:`ngd.penalty.Penalty` or None) and ``model_l2`` (the smooth objective's l2: alpha
    for a pure ridge alpha, 0 with an elastic-net penalty).

    Raises
    ------
    ValueError, TypeError
        One line naming the first invalid option.
    """

    model: str = "logistic"
    link: Optional[str] = None
    power: Optional[float] = None
    fit_intercept: bool = True
    l2: float = 0.0
    alpha: Optional[float] = None
    l1_ratio: float = 0.0
    penalty_factor: Any = None
    nb_alpha: Optional[float] = None
    trials: bool = False
    gauge: Optional[str] = None
    name: str = dataclasses.field(init=False)
    kind: str = dataclasses.field(init=False)
    family: Optional[str] = dataclasses.field(init=False)
    penalty: Any = dataclasses.field(init=False)
    model_l2: float = dataclasses.field(init=False)

    def __post_init__(self):
        name = normalise_model_name(self.model)
        model_l2, penalty = check_penalty(self.l2, self.alpha, self.l1_ratio,
                                          self.penalty_factor)
        _validation.check_real(model_l2, "l2", minimum=0.0, maximum=_validation.MAX_ABS)
        kind, family = _kind(name, self.link, self.power, self.trials, self.fit_intercept)
        if family == "negative_binomial" and penalty is not None:
            raise ValueError(NB_SCOPE)
        nb_alpha = self.nb_alpha
        if nb_alpha is not None:
            if family != "negative_binomial":
                raise ValueError(f"nb_alpha= applies to the negative_binomial model only, "
                                 f"not {name!r}")
            nb_alpha = _validation.check_real(check_nb_alpha(nb_alpha), "nb_alpha",
                                              maximum=_validation.MAX_ABS)
        gauge = self.gauge
        if gauge is not None and kind != "softmax":
            raise ValueError(f"gauge= applies to the softmax model only, not {name!r}")
        if kind == "softmax":
            gauge = _gauge(gauge, model_l2, penalty)
        for field, value in (("name", name), ("kind", kind), ("family", family),
                             ("penalty", penalty), ("model_l2", float(model_l2)),
                             ("nb_alpha", nb_alpha), ("gauge", gauge)):
            object.__setattr__(self, field, value)

    @property
    def negative_binomial(self):
        """Whether the model is the negative binomial (fitted by ngd.models.negbin)."""
        return self.family == "negative_binomial"


def _kind(name, link, power, trials, fit_intercept):
    """("logistic" | "softmax" | "glm", the GLM's family or None) after the model checks."""
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    if power is not None and name != "tweedie":
        raise ValueError(f"power= applies to the tweedie model only, not {name!r}")
    if power is not None:
        _validation.check_real(power, "power")     # its range: the family's check
    if name == "logistic" and not trials:
        if link not in (None, "logit"):
            raise ValueError(f"model 'logistic' uses the logit link, got link={link!r}; "
                             "use model='binomial' for other links")
        return "logistic", None
    if name == "softmax":
        if link is not None or trials:
            raise ValueError("model 'softmax' takes no link= or trials=")
        return "softmax", None
    return "glm", "binomial" if name == "logistic" else name


def _gauge(gauge, l2, penalty):
    """The softmax gauge: the given one, else symmetric when penalised, else reference."""
    if gauge is None:
        return "symmetric" if l2 > 0 or penalty is not None else "reference"
    if gauge not in GAUGES:
        raise ValueError(f"gauge must be one of {GAUGES}, got {gauge!r}")
    return gauge


@dataclasses.dataclass(frozen=True)
class SolverOptions:
    """How the objective is minimised (see ``ngd.fit`` for each option's meaning).

    Parameters
    ----------
    method : str
        One of METHODS.
    fisher : str
        The curvature of method "ngd": one of FISHERS.
    step, kl, damping : str, float, float
        Step rule ("armijo", "kl", "lm"), the KL budget (> 0) and the damping (>= 0).
    solver, subsample : str, str or int or float or None
        The linear solver (ngd.fisher) and the curvature's row subsample.
    tol, ftol : float
        Gradient / decrement and relative loss-change tolerances (>= 0).
    max_iter : int or None
        None: DEFAULT_MAX_ITER[method] (see :attr:`iterations`).
    batch_size, learning_rate, seed : int, float or None, int or None
        The stochastic methods' settings; seed also seeds the curvature subsample.
    stderr, cov_type : "auto" or bool, str
        Standard errors and their covariance (one of ngd.statistics.COV_TYPES).
    n_threads : int or None
        Kernel threads (None: the process default); ``threads`` is the resolved count.
    callback : callable or None
        Called after each iteration.

    Raises
    ------
    ValueError, TypeError
        One line naming the first invalid option.
    """

    method: str = "ngd"
    fisher: str = "exact"
    step: str = "armijo"
    kl: float = 0.01
    damping: float = 0.0
    solver: str = "auto"
    subsample: Any = "auto"
    tol: float = 1e-8
    ftol: float = 1e-12
    max_iter: Optional[int] = None
    batch_size: int = 256
    learning_rate: Optional[float] = None
    seed: Any = 0
    stderr: Any = "auto"
    cov_type: str = "model"
    n_threads: Optional[int] = None
    callback: Optional[Callable] = None
    threads: int = dataclasses.field(init=False, compare=False)

    def __post_init__(self):
        for name, value, allowed in (("method", self.method, METHODS),
                                     ("fisher", self.fisher, FISHERS),
                                     ("solver", self.solver, SOLVERS),
                                     ("cov_type", self.cov_type, COV_TYPES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.stderr not in ("auto", True, False):
            raise ValueError(f"stderr must be 'auto', True or False, got {self.stderr!r}")
        _validation.check_real(self.tol, "tol", minimum=0.0)
        _validation.check_real(self.ftol, "ftol", minimum=0.0)
        _validation.check_real(self.damping, "damping", minimum=0.0,
                               maximum=_validation.MAX_ABS)
        _validation.check_real(self.kl, "kl", positive=True)
        if self.learning_rate is not None:
            _validation.check_real(self.learning_rate, "learning_rate", positive=True,
                                   maximum=_validation.MAX_ABS)
        _validation.check_seed(self.seed)
        max_iter = self.max_iter
        if max_iter is not None and (isinstance(max_iter, bool) or
                                     not isinstance(max_iter, numbers.Integral) or max_iter < 0):
            raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
        _check_subsample(self.subsample)
        object.__setattr__(self, "threads", effective_n_threads(self.n_threads))

    @property
    def iterations(self):
        """max_iter, or the method's default DEFAULT_MAX_ITER[method] when None."""
        return DEFAULT_MAX_ITER[self.method] if self.max_iter is None else int(self.max_iter)

    def replace(self, **changes):
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)


def _check_subsample(subsample):
    """TypeError / ValueError unless subsample is "auto", None/False, an int >= 1 or a
    fraction in (0, 1]."""
    if subsample is None or subsample is False:
        return
    if isinstance(subsample, str):
        if subsample != "auto":
            raise ValueError(f"subsample must be 'auto', None, a row count or a fraction, "
                             f"got {subsample!r}")
        return
    if isinstance(subsample, bool) or not isinstance(subsample, numbers.Real):
        raise TypeError(f"subsample must be 'auto', None, a row count or a fraction, "
                        f"got {subsample!r}")
    if isinstance(subsample, numbers.Integral):
        if subsample < 1:
            raise ValueError(f"subsample must be >= 1 row, got {subsample!r}")
    elif not 0 < subsample <= 1:
        raise ValueError(f"a fractional subsample must lie in (0, 1], got {subsample!r}")


MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelSpec) if f.init)
SOLVER_FIELDS = tuple(f.name for f in dataclasses.fields(SolverOptions) if f.init)


def split_options(options):
    """(ModelSpec, SolverOptions) from ``fit``-style keyword ``options`` (each object's
    defaults for what is missing); TypeError naming an unknown keyword."""
    unknown = set(options) - set(MODEL_FIELDS) - set(SOLVER_FIELDS)
    if unknown:
        raise TypeError(f"unexpected options: {', '.join(sorted(unknown))}")
    model = {key: options[key] for key in MODEL_FIELDS if key in options}
    if "trials" in model and not isinstance(model["trials"], bool):
        model["trials"] = model["trials"] is not None
    return (ModelSpec(**model),
            SolverOptions(**{key: options[key] for key in SOLVER_FIELDS if key in options}))
