"""Optional dependencies: import on first use, or one error line naming the extra."""
import importlib

from ngd.exceptions import MissingDependencyError


def require(module, extra, purpose):
    """The imported ``module``, or MissingDependencyError "``purpose`` needs ``module``: pip
    install 'ngd[extra]'"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingDependencyError(f"{purpose} needs {top}: pip install 'ngd[{extra}]'") \
            from None
