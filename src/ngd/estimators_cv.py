"""scikit-learn compatible elastic-net estimators that choose alpha by cross-validation
(:func:`ngd.cross_validate`), then predict like :class:`ngd.LogisticRegression` and
:class:`ngd.GLMRegressor`.

    >>> from ngd import LogisticRegressionCV
    >>> clf = LogisticRegressionCV(l1_ratio=1.0, cv=5).fit(X, y)
    >>> clf.alpha_, clf.alpha_1se_, clf.coef_

The penalty is glum's alpha sum_j [(1 - l1_ratio)/2 beta_j^2 + l1_ratio |beta_j|] on the mean
weighted NLL: scikit-learn's ``LogisticRegressionCV`` with ``Cs`` = 1/(alpha n_train) and the
same ``l1_ratios`` optimises the same objective in each fold.
"""
import numpy as np

from ngd.cv import cross_validate
from ngd.estimators import (GLMRegressor, LogisticRegression, _check_weights, _check_X,
                            _check_y, _class_target, _seed)
from ngd.path import PATH_MAX_ITER


def _set_params(estimator, values):
    """Store the constructor arguments as attributes (scikit-learn's convention)."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class _CVFields:
    """The cross-validation parameters shared by both estimators and the fitted attributes
    they set from a CVResult."""

    def _cv_options(self):
        return dict(l1_ratio=self.l1_ratio, n_alphas=self.n_alphas,
                    alpha_min_ratio=self.alpha_min_ratio, alphas=self.alphas, cv=self.cv,
                    metric=self.metric, select=self.select, seed=_seed(self.random_state),
                    fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
                    curvature_reuse=self.curvature_reuse, n_jobs=self.n_jobs,
                    n_threads=self.n_threads)

    def _store(self, result, X, names):
        self.cv_result_ = result
        self.result_ = result.fit
        self.alpha_ = result.alpha
        self.alphas_ = result.alphas
        self.alpha_best_ = result.alpha_best
        self.alpha_1se_ = result.alpha_1se
        self.cv_mean_ = result.cv_mean
        self.cv_se_ = result.cv_se
        self.n_iter_ = int(result.path.n_iter.sum())     # the full-data path's iterations
        self.history_ = result.fit.history
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_


class LogisticRegressionCV(_CVFields, LogisticRegression):
    """Elastic-net logistic (two classes) or softmax (more) regression with alpha chosen by
    stratified K-fold cross-validation.

    Parameters
    ----------
    l1_ratio : float, default 1.0
        In [0, 1]; 1 the lasso.
    n_alphas : int, default 100
    alpha_min_ratio : float, default 1e-3
        Log grid from alpha_max (all coefficients zero) down to alpha_min_ratio * alpha_max.
    alphas : array-like or None, default None
        Explicit grid (overrides n_alphas and alpha_min_ratio).
    cv : int or array of fold indices, default 5
        As :func:`ngd.cross_validate`.
    metric : {"deviance", "mse", "mae", "misclassification"} or callable, default "deviance"
    select : {"best", "1se"}, default "best"
        The alpha of the final fit: the best mean CV score, or the one-standard-error rule.
    fit_intercept : bool, default True
    tol : float, default 1e-8
    max_iter : int, default PATH_MAX_ITER (100)
        Iterations per grid point.
    curvature_reuse : float, default 0.1
        As :func:`ngd.fit_path`.
    random_state : int, numpy RandomState or None, default None
        The folds' seed (None means 0).
    n_jobs : int or None, default None
        Folds in parallel threads (None: as the cores allow).
    n_threads : int or None, default None
        Kernel threads in all (None: all cores).

    Attributes
    ----------
    alpha_ : float
        The selected alpha (of ``select``).
    alpha_best_, alpha_1se_ : float
    alphas_, cv_mean_, cv_se_ : ndarray
        The grid and its mean CV scores and their standard errors.
    coef_, intercept_
        (1, p) or (K, p); (1,) or (K,).
    classes_ : ndarray
        (K,) the labels, sorted.
    n_iter_ : int
        Iterations of the path on all rows.
    history_ : ngd.History
    result_ : ngd.FitResult
        The final fit.
    cv_result_ : ngd.cv.CVResult
    n_features_in_ : int
    feature_names_in_ : ndarray
        When X had string column names.
    """

    def __init__(self, l1_ratio=1.0, n_alphas=100, alpha_min_ratio=1e-3, alphas=None, cv=5,
                 metric="deviance", select="best", fit_intercept=True, tol=1e-8,
                 max_iter=PATH_MAX_ITER,
                 curvature_reuse=0.1, random_state=None, n_jobs=None, n_threads=None):
        _set_params(self, locals())

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the path on X (n, p) and class labels y (n,); refit at the chosen
        alpha.

        Parameters
        ----------
        X : array or sparse matrix
            (n, p) finite inputs.
        y : array-like
            (n,) labels, at least two distinct.
        sample_weight : array-like or None, default None

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Malformed or non-finite X, y or sample_weight, or as :func:`ngd.cross_validate`.
        """
        X, names = _check_X(X, type(self).__name__)
        y = _check_y(y, X.shape[0])
        classes, codes = _class_target(y, type(self).__name__)
        w = _check_weights(sample_weight, X.shape[0])
        binary = classes.size == 2
        result = cross_validate(X, codes, model="logistic" if binary else "softmax",
                                sample_weight=w, **self._cv_options())
        self._store(result, X, names)
        self.classes_ = classes
        fit = result.fit
        self.coef_ = np.asarray(fit.coef, dtype=np.float64).reshape(-1, X.shape[1])
        self.intercept_ = (np.array([float(fit.intercept)]) if binary else
                           np.asarray(fit.intercept, dtype=np.float64).reshape(-1))
        return self


class GLMRegressorCV(_CVFields, GLMRegressor):
    """Elastic-net GLM (``model`` a family, with ``link`` and ``power``) with alpha chosen by
    K-fold cross-validation; ``score`` is D^2 as :class:`GLMRegressor`.

    Parameters
    ----------
    model : str, default "gaussian"
        The family, as :func:`ngd.fit`.
    link : str or None, default None
        None: the family's canonical link.
    power : float or None, default None
        The tweedie power.
    l1_ratio : float, default 1.0
        In [0, 1]; 1 the lasso.
    n_alphas : int, default 100
    alpha_min_ratio : float, default 1e-3
        Log grid from alpha_max (all coefficients zero) down to alpha_min_ratio * alpha_max.
    alphas : array-like or None, default None
        Explicit grid (overrides n_alphas and alpha_min_ratio).
    cv : int or array of fold indices, default 5
        As :func:`ngd.cross_validate`.
    metric : {"deviance", "mse", "mae", "misclassification"} or callable, default "deviance"
    select : {"best", "1se"}, default "best"
        The alpha of the final fit: the best mean CV score, or the one-standard-error rule.
    fit_intercept : bool, default True
    tol : float, default 1e-8
    max_iter : int, default PATH_MAX_ITER (100)
        Iterations per grid point.
    curvature_reuse : float, default 0.1
        As :func:`ngd.fit_path`.
    random_state : int, numpy RandomState or None, default None
        The folds' seed (None means 0).
    n_jobs : int or None, default None
        Folds in parallel threads (None: as the cores allow).
    n_threads : int or None, default None
        Kernel threads in all (None: all cores).

    Attributes
    ----------
    alpha_ : float
        The selected alpha (of ``select``).
    alpha_best_, alpha_1se_ : float
    alphas_, cv_mean_, cv_se_ : ndarray
        The grid and its mean CV scores and their standard errors.
    coef_, intercept_
        (p,); float.
    n_iter_ : int
        Iterations of the path on all rows.
    history_ : ngd.History
    result_ : ngd.FitResult
        The final fit.
    cv_result_ : ngd.cv.CVResult
    n_features_in_ : int
    feature_names_in_ : ndarray
        When X had string column names.
    """

    def __init__(self, model="gaussian", link=None, power=None, l1_ratio=1.0, n_alphas=100,
                 alpha_min_ratio=1e-3, alphas=None, cv=5, metric="deviance", select="best",
                 fit_intercept=True, tol=1e-8, max_iter=PATH_MAX_ITER, curvature_reuse=0.1,
                 random_state=None, n_jobs=None, n_threads=None):
        _set_params(self, locals())

    def fit(self, X, y, sample_weight=None, offset=None):
        """Cross-validate the path on X (n, p) and a numeric response y (n,); refit at the
        chosen alpha.

        Parameters
        ----------
        X : array or sparse matrix
            (n, p) finite inputs.
        y : array-like
            (n,) response in the family's domain.
        sample_weight : array-like or None, default None
        offset : array-like or None, default None

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Malformed or non-finite X, y or sample_weight, or as :func:`ngd.cross_validate`.
        """
        X, names = _check_X(X, type(self).__name__)
        y = np.asarray(_check_y(y, X.shape[0]), dtype=np.float64)
        w = _check_weights(sample_weight, X.shape[0])
        result = cross_validate(X, y, model=self.model, link=self.link, power=self.power,
                                sample_weight=w, offset=offset, **self._cv_options())
        self._store(result, X, names)
        self.coef_ = np.asarray(result.fit.coef, dtype=np.float64)
        self.intercept_ = float(result.fit.intercept)
        return self
