"""Exceptions and warnings raised by ngd."""


class NgdError(Exception):
    """Base class of ngd's own errors."""


class DataError(NgdError, ValueError):
    """Input data that cannot be fitted (a ValueError): unreadable, malformed, non-finite or
    out of the model's domain."""


class ConvergenceWarning(UserWarning):
    """Warned when a fit stops at max_iter, or its line search cannot make progress."""


class DampingWarning(UserWarning):
    """Warned when the curvature is not positive definite and the damping is raised."""


class MissingDependencyError(NgdError, ImportError):
    """An optional package that the requested feature needs is not installed (an ImportError);
    the message names the extra to install (``pip install 'ngd[arrow]'``)."""
