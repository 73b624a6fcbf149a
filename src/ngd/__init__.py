"""ngd: natural-gradient fitting of logistic, softmax and generalized linear models.

    >>> import ngd
    >>> result = ngd.fit(X, y, model="logistic", method="ngd")
    >>> result.coef, result.stderr

The step is the natural gradient F^{-1} grad L, with F the Fisher information (exact or
empirical); Newton and SGD run on the same objective for comparison.
"""
from pathlib import Path as _Path

from ngd._version import __version__
from ngd.api import fit, compare, backend_supports, METHODS
from ngd.spec import ModelSpec, SolverOptions
from ngd.check import check_fit
from ngd.predict import predict
from ngd.exceptions import ConvergenceWarning, DataError, DampingWarning, NgdError
from ngd.result import FitResult, History
from ngd._threads import set_num_threads
from ngd.serialize import load_model, save_model
from ngd.estimators import GLMRegressor, LogisticRegression
from ngd.path import PathResult, fit_path
from ngd.cv import CVResult, cross_validate, fit_cv
from ngd.estimators_cv import GLMRegressorCV, LogisticRegressionCV
from ngd.inference import HypothesisTest, lr_test, wald_test

def build_info():
    """Build and threading facts: OpenMP on/off, omp_get_max_threads(), default thread count.

    Returns
    -------
    dict
        {"openmp": bool, "omp_max_threads": int, "default_threads": int}.

    Raises
    ------
    ValueError
        NGD_NUM_THREADS set but not an integer.
    """
    from ngd._kernels._openmp import omp_max_threads, openmp_enabled
    from ngd._threads import effective_n_threads

    return {"openmp": openmp_enabled(), "omp_max_threads": omp_max_threads(),
            "default_threads": effective_n_threads(None)}


def get_include():
    """Folder that contains the ``ngd`` package: add it to Cython's include_path to cimport
    ``ngd.kernels`` (needed with editable installs, harmless otherwise).

    Returns
    -------
    str
        The absolute path of the folder above the package.
    """
    return str(_Path(__file__).resolve().parent.parent)


__all__ = [
    "fit", "compare", "backend_supports", "ModelSpec", "SolverOptions", "predict", "METHODS",
    "FitResult", "History", "build_info", "get_include", "set_num_threads", "NgdError",
    "DataError", "ConvergenceWarning", "DampingWarning", "__version__",
    "save_model", "load_model", "LogisticRegression", "GLMRegressor",
    "fit_path", "PathResult", "cross_validate", "fit_cv", "CVResult", "LogisticRegressionCV",
    "GLMRegressorCV", "wald_test", "lr_test", "HypothesisTest", "check_fit",
]
