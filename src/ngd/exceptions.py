"""Exceptions and warnings raised by ngd."""


class NgdError(Exception):
    """Base class of ngd's own errors."""


class DataError(NgdError, ValueError):
    """Input data that cannot be fitted: unreadable, malformed, non-finite or out of domain."""


class ConvergenceWarning(UserWarning):
    """A fit stopped at max_iter, or its line search could not make progress."""


class DampingWarning(UserWarning):
    """The curvature was not positive definite and the damping had to be raised."""


class MissingDependencyError(NgdError, ImportError):
    """An optional package that the requested feature needs is not installed; the message
    names the extra to install (``pip install 'ngd[arrow]'``)."""
