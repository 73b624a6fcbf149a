"""scikit-learn compatible estimators on top of :func:`ngd.fit`.

    >>> from ngd import LogisticRegression
    >>> clf = LogisticRegression(l2=1e-3).fit(X, y)
    >>> clf.predict_proba(X_new)[:, 1], clf.coef_, clf.result_.stderr

scikit-learn is not imported when ngd is imported; the estimators implement ``get_params`` /
``set_params`` from their constructor signatures and work without scikit-learn installed
(``clone``, pipelines, grid search and ``check_estimator`` work when it is).

The objective is DESIGN.md's: mean weighted NLL + l2/2 ||coef||^2, so
``LogisticRegression(l2=l2)`` matches scikit-learn's ``LogisticRegression(C=1/(l2 * sum w))``;
the default ``l2=0`` is unpenalised maximum likelihood (scikit-learn's default is C=1).

``LogisticRegression`` fits the binary logistic model for two classes and the softmax
(multinomial) model for more; ``GLMRegressor(model="poisson", link=..., power=...)`` fits the
GLM families, with ``score`` the fraction of deviance explained (D^2, as scikit-learn's GLMs).
"""
import inspect
import numbers
import warnings

import numpy as np

from ngd import _sparse, frames
from ngd._validation import check_seed
from ngd.api import fit as _fit
from ngd.predict import linear_predictor, predict as _predict
from ngd.spec import ModelSpec as _M, SolverOptions as _S   # the defaults


class _NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator (sklearn's NotFittedError when
    scikit-learn is installed)."""


def _not_fitted(estimator, method):
    try:
        from sklearn.exceptions import NotFittedError
    except ImportError:                                 # pragma: no cover
        NotFittedError = _NotFittedError
    return NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call "
                          f"'fit' with appropriate arguments before using {method}.")


class _Base:
    """get_params / set_params / repr from the constructor signature (as sklearn's
    BaseEstimator, without depending on it)."""

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(name for name, p in signature.parameters.items()
                      if name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Constructor parameters as a dict.

        Parameters
        ----------
        deep : bool, default True
            Accepted for scikit-learn; there are no nested estimators.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor parameters.

        Parameters
        ----------
        **params
            Constructor arguments by name.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            A name that is not a constructor parameter.
        """
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {valid!r}.")
            setattr(self, key, value)
        return self

    def __repr__(self):
        signature = inspect.signature(type(self).__init__)
        changed = []
        for name in self._param_names():
            default = signature.parameters[name].default
            value = getattr(self, name)
            if value is not default and not (isinstance(value, type(default))
                                             and value == default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self):
        return hasattr(self, "result_")

    def _check_fitted(self, method):
        if not hasattr(self, "result_"):
            raise _not_fitted(self, method)


class LogisticRegression(_Base):
    """Logistic regression (two classes) or softmax regression (more), fitted by natural
    gradient descent (or Newton / SGD).

    Parameters
    ----------
    l2 : float, default 0.0
        Ridge penalty: objective mean weighted NLL + l2/2 ||coef||^2 (intercept unpenalised).
    method : str, default "ngd"
        One of ngd.spec.METHODS ("ngd", "newton", "sgd", ...), as :func:`ngd.fit`.
    fisher : str, default "exact"
        Curvature of NGD, as :func:`ngd.fit`: "exact" Fisher (Fisher scoring), "empirical"
        (BHHH), ...
    fit_intercept : bool, default True
    tol : float, default 1e-8
        Convergence tolerance on max |gradient| (or the Newton decrement), as :func:`ngd.fit`.
    max_iter : int or None, default None
        Iteration limit (None: ngd's default, 100; 30 epochs for SGD).
    step : str, default "armijo"
        Step rule, as :func:`ngd.fit` ("armijo", "kl", "lm").
    damping : float, default 0.0
    random_state : int, numpy RandomState or None, default None
        Seed of SGD's shuffling (None means 0: fits are deterministic).
    n_threads : int or None, default None
        Kernel threads (None: all cores).

    Attributes
    ----------
    coef_ : ndarray
        (1, n_features), or (K, n_features) for K > 2 classes.
    intercept_ : ndarray
        (1,) or (K,).
    classes_ : ndarray
        (K,) the labels, sorted.
    n_iter_ : int
    history_ : ngd.History
    result_ : ngd.FitResult
        The full fit (stderr, loss, ...).
    n_features_in_ : int
        Input columns.
    feature_names_in_ : ndarray
        When X had string column names.
    feature_names_out_ : list of str
        One per coefficient column: a categorical column ``c`` of a DataFrame gives columns
        ``c=level``, its first level the reference.

    Notes
    -----
    X may be an array, a scipy sparse matrix, or a pandas / polars DataFrame or pyarrow Table
    (numeric, boolean, string and categorical columns; ngd.frames): predictions then take a
    table with the same columns.
    """

    _estimator_type = "classifier"

    def __init__(self, l2=_M.l2, method=_S.method, fisher=_S.fisher,
                 fit_intercept=_M.fit_intercept, tol=_S.tol, max_iter=_S.max_iter,
                 step=_S.step, damping=_S.damping, random_state=None, n_threads=_S.n_threads):
        self.l2 = l2
        self.method = method
        self.fisher = fisher
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.step = step
        self.damping = damping
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=True),
                    input_tags=InputTags(sparse=True))

    # --- fitting -------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit to X (n, p) and y (n,) holding two or more distinct labels.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, p) finite inputs.
        y : array-like
            (n,) labels: all strings or all integers, at least two distinct.
        sample_weight : array-like or None, default None
            (n,) finite, >= 0, with two classes among the positive ones.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Malformed or non-finite X, y or sample_weight, a continuous or one-class y, or an
            invalid option (as :func:`ngd.fit`).
        """
        X, names = _check_X(X, type(self).__name__)
        n_inputs = len(names) if frames.is_frame(X) else X.shape[1]
        y = _check_y(frames.as_array(y, "y"), X.shape[0])
        classes, codes = _class_target(y, type(self).__name__)
        w = _check_weights(sample_weight, X.shape[0])
        if w is not None and np.unique(codes[w > 0]).size < 2:
            raise ValueError("the samples with positive sample_weight hold only one class; "
                             "logistic regression needs two classes")
        binary = classes.size == 2
        result = _fit(X, codes, model="logistic" if binary else "softmax", method=self.method,
                      fisher=self.fisher, l2=self.l2, sample_weight=w,
                      fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
                      step=self.step, damping=self.damping, seed=_seed(self.random_state),
                      n_threads=self.n_threads)
        self.result_ = result
        self.classes_ = classes
        self.coef_ = np.asarray(result.coef, dtype=np.float64).reshape(
            -1, len(result.feature_names))
        self.feature_names_out_ = list(result.feature_names)
        self.intercept_ = (np.array([float(result.intercept)]) if binary else
                           np.asarray(result.intercept, dtype=np.float64).reshape(-1))
        self.n_iter_ = int(result.n_iter)
        self.history_ = result.history
        self.n_features_in_ = n_inputs
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    # --- prediction ----------------------------------------------------------------------
    def _X(self, X, method):
        self._check_fitted(method)
        X, names = _check_X(X, type(self).__name__)
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None:
            if len(names) != len(fitted_names) or (names != fitted_names).any():
                raise ValueError("The feature names should match those that were passed during "
                                 "fit.")
        elif names is not None:
            warnings.warn(f"X has feature names, but {type(self).__name__} was fitted without "
                          "feature names", UserWarning, stacklevel=3)
        elif fitted_names is not None:
            warnings.warn(f"X does not have valid feature names, but {type(self).__name__} was "
                          "fitted with feature names", UserWarning, stacklevel=3)
        n_inputs = len(names) if frames.is_frame(X) else X.shape[1]
        if n_inputs != self.n_features_in_:
            raise ValueError(f"X has {n_inputs} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return _table_X(self, X)

    def decision_function(self, X):
        """Linear predictor X coef_^T + intercept_.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.

        Returns
        -------
        ndarray
            (n,) for two classes (> 0 predicts classes_[1]), else (n, K).

        Raises
        ------
        NotFittedError
            Called before :meth:`fit` (sklearn's, a ValueError, when it is installed).
        ValueError
            X malformed, or with other columns (count or names) than the fit's.
        """
        X = self._X(X, "decision_function")
        eta = linear_predictor(self.coef_, self.intercept_, X)
        return eta[:, 0] if self.classes_.size == 2 else eta

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.

        Returns
        -------
        ndarray
            (n, K).

        Raises
        ------
        ValueError
            As :meth:`decision_function`.
        """
        X = self._X(X, "predict_proba")
        if self.classes_.size > 2:
            return _predict("softmax", self.coef_, self.intercept_, X)
        p = _predict("logistic", self.coef_[0], self.intercept_[0], X)
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.

        Returns
        -------
        ndarray
            (n, K); -inf where a probability underflows to 0.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The label of ``classes_`` with the largest probability.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.

        Returns
        -------
        ndarray
            (n,) labels.
        """
        decision = self.decision_function(X)
        if decision.ndim == 2:
            return self.classes_[np.argmax(decision, axis=1)]
        return self.classes_[(decision > 0).astype(np.intp)]

    def score(self, X, y, sample_weight=None):
        """Mean (weighted) accuracy.

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.
        y : array-like
            (n,) true labels.
        sample_weight : array-like or None, default None

        Returns
        -------
        float
        """
        y = _check_y(y, None)
        hit = (self.predict(X) == y).astype(np.float64)
        if sample_weight is None:
            return float(hit.mean())
        return float(np.average(hit, weights=np.asarray(sample_weight, dtype=np.float64)))


class GLMRegressor(_Base):
    """Generalized linear model (``model`` a family: gaussian, poisson, gamma,
    inverse_gaussian, tweedie with ``power``, binomial for proportions) fitted by natural
    gradient descent (Fisher scoring) or Newton / SGD.

    ``score`` is D^2 = 1 - deviance / null deviance.

    Parameters
    ----------
    model : str, default "gaussian"
        The family (aliases accepted, as :func:`ngd.fit`).
    link : str or None, default None
        None: the family's canonical link (tweedie: log).
    power : float or None, default None
        The tweedie power.
    l2 : float, default 0.0
        Ridge penalty: objective mean weighted NLL + l2/2 ||coef||^2 (intercept unpenalised).
    method : str, default "ngd"
        One of ngd.spec.METHODS ("ngd", "newton", "sgd", ...), as :func:`ngd.fit`.
    fisher : str, default "exact"
        Curvature of NGD, as :func:`ngd.fit`: "exact" Fisher (Fisher scoring), "empirical"
        (BHHH), ...
    fit_intercept : bool, default True
    tol : float, default 1e-8
        Convergence tolerance on max |gradient| (or the Newton decrement), as :func:`ngd.fit`.
    max_iter : int or None, default None
        Iteration limit (None: ngd's default, 100; 30 epochs for SGD).
    step : str, default "armijo"
        Step rule, as :func:`ngd.fit` ("armijo", "kl", "lm").
    damping : float, default 0.0
    random_state : int, numpy RandomState or None, default None
        Seed of SGD's shuffling (None means 0: fits are deterministic).
    n_threads : int or None, default None
        Kernel threads (None: all cores).
    nb_alpha : float or None, default None
        Model negative_binomial: None estimates it, a number fixes it.

    Attributes
    ----------
    coef_ : ndarray
        (n_features,).
    intercept_ : float
    n_iter_ : int
    history_ : ngd.History
    result_ : ngd.FitResult
        The full fit (stderr, loss, ...).
    n_features_in_ : int
        Input columns.
    feature_names_in_ : ndarray
        When X had string column names.
    feature_names_out_ : list of str
        One per coefficient column: a categorical column ``c`` of a DataFrame gives columns
        ``c=level``, its first level the reference.
    """

    _estimator_type = "regressor"

    def __init__(self, model="gaussian", link=_M.link, power=_M.power, l2=_M.l2,
                 method=_S.method, fisher=_S.fisher, fit_intercept=_M.fit_intercept,
                 tol=_S.tol, max_iter=_S.max_iter, step=_S.step, damping=_S.damping,
                 random_state=None, n_threads=_S.n_threads, nb_alpha=_M.nb_alpha):
        self.model = model
        self.link = link
        self.power = power
        self.nb_alpha = nb_alpha
        self.l2 = l2
        self.method = method
        self.fisher = fisher
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.step = step
        self.damping = damping
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True),
                    regressor_tags=RegressorTags(), input_tags=InputTags(sparse=True))

    def fit(self, X, y, sample_weight=None, offset=None):
        """Fit to X (n, p) and a numeric response y (n,).

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, p) finite inputs.
        y : array-like
            (n,) finite response in the family's domain.
        sample_weight : array-like or None, default None
            (n,) finite, >= 0, not all zero.
        offset : array-like or None, default None
            (n,) added to the linear predictor.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Malformed or non-finite X, y or sample_weight, or an invalid option or response
            (as :func:`ngd.fit`; ngd.DataError is a ValueError).
        """
        X, names = _check_X(X, type(self).__name__)
        n_inputs = len(names) if frames.is_frame(X) else X.shape[1]
        y = np.asarray(_check_y(frames.as_array(y, "y"), X.shape[0]), dtype=np.float64)
        w = _check_weights(sample_weight, X.shape[0])
        result = _fit(X, y, model=self.model, link=self.link, power=self.power,
                      nb_alpha=self.nb_alpha,
                      method=self.method, fisher=self.fisher, l2=self.l2, sample_weight=w,
                      offset=offset, fit_intercept=self.fit_intercept, tol=self.tol,
                      max_iter=self.max_iter, step=self.step, damping=self.damping,
                      seed=_seed(self.random_state), n_threads=self.n_threads)
        self.result_ = result
        self.coef_ = np.asarray(result.coef, dtype=np.float64)
        self.feature_names_out_ = list(result.feature_names)
        self.intercept_ = float(result.intercept)
        self.n_iter_ = int(result.n_iter)
        self.history_ = result.history
        self.n_features_in_ = n_inputs
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    _X = LogisticRegression._X

    def predict(self, X, offset=None):
        """Mean response h(x . coef + intercept + offset).

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.
        offset : array-like or None, default None

        Returns
        -------
        ndarray
            (n,).

        Raises
        ------
        NotFittedError
            Called before :meth:`fit` (sklearn's, a ValueError, when it is installed).
        ValueError
            X malformed or with other columns than the fit's, or a non-finite prediction.
        """
        X = self._X(X, "predict")
        return _predict(self.model, self.coef_, self.intercept_, X, offset,
                        link=self.result_.link, power=self.power)

    def score(self, X, y, sample_weight=None):
        """D^2: 1 - deviance(y, predict(X)) / deviance(y, weighted mean of y).

        Parameters
        ----------
        X : array, sparse matrix or table
            (n, n_features_in_), or a table with the fit's columns.
        y : array-like
            (n,) true response.
        sample_weight : array-like or None, default None

        Returns
        -------
        float
            nan when the null deviance is 0.
        """
        from ngd.models import get_family, get_link

        alpha = self.result_.get("nb_alpha")     # negative binomial: fixed or estimated
        family = get_family("poisson") if alpha == 0 else \
            get_family(self.model, self.power, alpha)
        link = get_link(self.result_.link)
        y = np.asarray(_check_y(y, None), dtype=np.float64)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
        mu = self.predict(X)
        null = np.full_like(y, np.average(y, weights=w))
        dev = np.sum(w * family.half_deviance(y, link.link(mu), mu, link))
        dev0 = np.sum(w * family.half_deviance(y, link.link(null), null, link))
        return float(1.0 - dev / dev0) if dev0 > 0 else float("nan")


def _check_X(X, owner):
    """X as a finite 2-D float array (float32 kept) or a validated CSR matrix, plus its string
    column names, if any."""
    names = None
    columns = getattr(X, "columns", None)
    if frames.is_frame(X) and frames._library(X) == "pyarrow":
        columns = X.column_names
    if columns is not None and not isinstance(X, np.ndarray):
        values = np.asarray(list(columns), dtype=object)
        if values.size and all(isinstance(c, str) for c in values):
            names = values
    if _sparse.is_sparse(X):                    # CSR kept (validated once), never densified
        return _sparse.as_csr(X, "X"), None
    if frames.is_frame(X):                      # converted by the estimator (ngd.frames)
        return X, np.asarray(frames.frame_names(X), dtype=object)
    if X is None:
        raise ValueError(f"{owner} needs X, got None")
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if X.dtype.kind in "OUSb" or X.dtype not in (np.float32, np.float64):
        X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead. Reshape your data "
                         "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a "
                         "single sample.")
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
                         "is required.")
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
                         "is required.")
    if not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X, names


def _table_X(estimator, X):
    """X for prediction: a table converted through the fit's input spec (ngd.frames: columns
    by name, the fit's levels); arrays pass through (refused when the fit was on a table with
    categorical columns)."""
    spec = getattr(estimator.result_, "input_spec", None)
    if frames.is_frame(X):
        if spec is None:
            return _check_X(np.asarray(frames.design_from_frame(X).X), "X")[0]
        return frames.design_from_frame(X, spec=frames.TableSpec.from_dict(spec)).X
    if spec is not None and any(kind == "categorical" for kind in spec["kinds"].values()):
        raise ValueError(f"{type(estimator).__name__} was fitted on a table with categorical "
                         "columns; pass a DataFrame with the same columns")
    return X


def _check_y(y, n):
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        try:
            from sklearn.exceptions import DataConversionWarning as category
        except ImportError:                             # pragma: no cover
            category = UserWarning
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples,), for example using ravel().",
                      category, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if n is not None and y.shape[0] != n:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{n}, {y.shape[0]}]")
    if y.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity.")
    return y


def _class_target(y, owner):
    """(classes, codes) for a class target; sklearn's messages for the other cases."""
    if y.dtype.kind == "f" and (y != np.floor(y)).any():
        raise ValueError("Unknown label type: continuous. Maybe you are trying to fit a "
                         "classifier, which expects discrete classes on a regression target "
                         "with continuous values.")
    if y.dtype.kind == "O":
        kinds = {type(v) for v in y.tolist()}
        if not (all(issubclass(k, str) for k in kinds)
                or all(issubclass(k, numbers.Integral) for k in kinds)):
            raise ValueError(f"Unknown label type: {sorted(k.__name__ for k in kinds)!r}; "
                             "labels must be all strings or all integers")
    classes, y01 = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{owner} needs samples of at least 2 classes in the data, but the "
                         f"data contains only one class: {classes[0]!r}")
    return classes, y01.astype(np.float64)


def _check_weights(sample_weight, n):
    """sample_weight as a finite non-negative float vector with a positive entry, or None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    if not (w > 0).any():
        raise ValueError("sample_weight is zero for every sample: no data to fit")
    return w


def _seed(random_state):
    """An integer seed from None (0), an int, or a numpy RandomState."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return check_seed(random_state, "random_state")
