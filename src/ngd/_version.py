"""The installed distribution's version (``0+unknown`` in a source tree without metadata);
its own module so that ``ngd.serialize`` need not import the package ``ngd``."""
from importlib import metadata

try:
    __version__ = metadata.version("ngd")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
