"""Elastic net (glum's convention) with per-feature penalty factors, and ``ngd.fit``'s entry.

    F(theta) = L(theta) + alpha sum_j f_j [(1 - r)/2 beta_j^2 + r |beta_j|]

L = (1/sum w) sum_i w_i nll_i as in DESIGN.md, r = l1_ratio in [0, 1], f_j >= 0 the penalty
factor of feature j (default 1; 0 leaves it unpenalised; it scales both parts, as glmnet's
penalty.factor, and is not rescaled). Intercepts are never penalised. ``l2=`` stays the ridge
shorthand: alpha = l2, r = 0, which the smooth solvers fit; any r > 0 (or any factors) goes to
the proximal natural-gradient solver of ``ngd.optim.proximal``. X may be CSR for logistic and
the GLM families (kept sparse throughout: no column is scaled, no dense X is formed); softmax
needs dense X here.

The same objective elsewhere (unit weights, n rows): scikit-learn ``ElasticNet(alpha, l1_ratio)``
and ``Lasso(alpha)`` for gaussian (they use 1/(2n) ||y - X beta||^2, which is our L);
``LogisticRegression(l1_ratio=r, C=1/(alpha n))`` (its C multiplies the summed NLL); glum's
``alpha``/``l1_ratio``; glmnet's lambda = alpha with alpha_glmnet = r (standardize=FALSE).

Softmax: elementwise L1 on every class's coefficients (glmnet's type.multinomial =
"ungrouped") in the symmetric parametrisation (all K coefficient rows free, the first intercept
pinned), so the penalty does not depend on the order of the classes; the coefficients of
features with factor 0 are reported centred over the classes (they are identified only up to a
shared shift).
"""
import dataclasses
import numbers

import numpy as np

from ngd import _sparse, frames
from ngd._validation import MAX_ABS, check_real  # noqa: F401 (MAX_ABS: cli)
from ngd._threads import effective_n_threads, fit_threads
from ngd.fitting import FitData, build_model, model_fields
from ngd.optim.proximal import CompositeProblem, CurvatureCache, minimise
from ngd.spec import DEFAULT_MAX_ITER, ModelSpec, SolverOptions
from ngd.penalty import (Penalty, check_penalty, parameter_factors,  # noqa: F401 (re-exported)
                         path_penalty)


def centre_unpenalised(model, theta, factor):
    """Softmax: the coefficients of a feature with penalty factor 0 are identified only up to
    a shift shared by all classes (the probabilities and the penalty do not change); return
    theta with those columns centred over the classes (other models: theta)."""
    if not hasattr(model, "free") or factor is None or np.all(factor > 0):
        return theta
    K, p = model.n_classes, model.n_features
    full = model.expand(theta)
    W = full[:K * p].reshape(K, p)
    free = factor == 0
    W[:, free] -= W[:, free].mean(axis=0)
    return full[model.free]


def prepare(X, y, *, model, link, power, trials, sample_weight, offset, fit_intercept,
            n_threads, backend="numpy"):
    """The validated model of ``ngd.fit`` with its own l2 = 0 (the penalty is handled here;
    softmax in the symmetric gauge, which the penalty pins). CSR X stays sparse for the
    single-output models (TypeError for softmax); a DataFrame is converted by ngd.frames."""
    X, _ = frames.fit_design(X, fit_intercept)
    y, trials, sample_weight, offset = frames.per_row_arrays(y, trials, sample_weight, offset)
    spec = ModelSpec(model=model, link=link, power=power, trials=trials is not None,
                     fit_intercept=fit_intercept)
    if spec.kind == "softmax":
        spec = dataclasses.replace(spec, gauge="symmetric")
    return _prepare(spec, FitData(X, y, sample_weight, offset, trials),
                    effective_n_threads(n_threads), backend)


def _prepare(spec, data, threads, backend):
    """:func:`ngd.fitting.build_model` for a penalised ``spec`` (l2 = 0; softmax symmetric),
    after the check that softmax X is dense."""
    if spec.kind == "softmax" and _sparse.is_sparse(data.X):
        raise TypeError("L1 / elastic-net fits of model='softmax' need dense X "
                        "(X.toarray()); sparse X is fitted by logistic and the GLM families")
    return build_model(spec, data, backend, threads)


def check_solver(tol, max_iter, ftol=0.0):
    """tol and ftol finite >= 0, max_iter an integer >= 0 (ValueError otherwise)."""
    for value, name in ((tol, "tol"), (ftol, "ftol")):
        check_real(value, name, 0.0)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")


def check_curvature(method, fisher):
    """The proximal solver's curvature from ``fit``'s method and fisher arguments."""
    if method != "ngd" or fisher not in ("exact", "empirical"):
        raise ValueError("L1 penalties are fitted by proximal natural gradient: method='ngd' "
                         f"with fisher='exact' or 'empirical' (got method={method!r}, "
                         f"fisher={fisher!r})")
    return fisher


def fit_elastic_net(spec, data, options, backend="numpy"):
    """``ngd.fit`` with the elastic-net penalty of ``spec`` (a :class:`ngd.spec.ModelSpec`
    with ``spec.penalty``) on ``data`` (an ``ngd.fitting.FitData``) by ``options`` (a
    :class:`ngd.spec.SolverOptions`; see the module docstring)."""
    curvature = check_curvature(options.method, options.fisher)
    prepared = _prepare(spec, data, options.threads, backend)
    return fit_prepared(prepared, spec.penalty, curvature=curvature, tol=options.tol,
                        max_iter=options.iterations, ftol=options.ftol,
                        callback=options.callback)


def fit_prepared(prepared, penalty, *, curvature="exact", tol=SolverOptions.tol,
                 max_iter=DEFAULT_MAX_ITER["ngd"], ftol=SolverOptions.ftol,
                 callback=None, theta0=None, cache=None, previous_l1=None):
    """Proximal NGD on a prepared model (from :func:`prepare`); a FitResult with coef,
    intercept, kkt_violation, n_nonzero, deviance and null_deviance (no standard errors)."""
    check_solver(tol, max_iter, ftol)
    model = prepared.model
    l1, ridge = penalty.vectors(model)
    problem = CompositeProblem(model, l1, ridge, curvature)
    theta0 = model.initial_theta() if theta0 is None else theta0
    with fit_threads(prepared.n_threads):
        result = minimise(problem, theta0, tol=float(tol), ftol=float(ftol),
                          max_iter=int(max_iter), cache=cache or CurvatureCache(model),
                          previous_l1=previous_l1, callback=callback)
        stats = model.as_glm() if hasattr(model, "as_glm") else model
        null_deviance = stats.null_deviance()
    result.x = centre_unpenalised(model, result.x, penalty.factor)
    coef, intercept = model.split(result.x)
    result.message += " Standard errors are not reported for L1-penalised fits."
    result.update(coef=coef, intercept=intercept, stderr=None, intercept_stderr=None, cov=None,
                  cov_type=None, dispersion=None, deviance=2.0 * model.weight_sum * result.nll,
                  null_deviance=null_deviance, n_nonzero=int(np.count_nonzero(coef)),
                  alpha=penalty.alpha, l1_ratio=penalty.l1_ratio,
                  penalty_factor=penalty.factor, fisher=curvature, step_rule="armijo",
                  n_threads=prepared.n_threads, dtype=prepared.dtype, classes=prepared.classes,
                  tol=float(tol), max_iter=int(max_iter), **model_fields(model),
                  l2=penalty.alpha * (1.0 - penalty.l1_ratio),
                  fit_intercept=model.fit_intercept, damping=0.0)
    result.update(fun=result.loss, jac=result.grad, nit=result.n_iter, nfev=result.n_fev,
                  success=result.converged)
    return result
