"""formulaic's transform and encoder state <-> plain JSON values (for model.json).

The state of stateful transforms (``center``, ``scale``, ``poly``, ``bs``, ...) is nested
dicts and lists of numbers and numpy arrays; some dicts have integer keys. JSON keeps
str/int/float/bool/None, lists and string-keyed dicts; everything else is tagged:

- a non-finite float: ``{"__float__": "nan" | "inf" | "-inf"}``;
- a numpy array: ``{"__ndarray__": [flat values], "dtype": "<f8", "shape": [...]}``;
- a tuple: ``{"__tuple__": [...]}``;
- a dict with a non-string key (or a key starting with "__"): ``{"__items__": [[k, v], ...]}``.

Decoding inverts this exactly (numpy scalars come back as Python numbers, which formulaic's
transforms treat alike). A value of another type cannot be stored: a DataError naming it.
"""
import math
import numbers

import numpy as np

from ngd.exceptions import DataError

_TAGS = ("__float__", "__ndarray__", "__tuple__", "__items__")


def encode(value, where):
    """``value`` as JSON-ready data; ``where`` names it in the error for an unsupported type."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else {"__float__": repr(number)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise DataError(f"cannot store {where} in model.json: an array of {value.dtype}")
        return {"__ndarray__": [encode(v, where) for v in value.ravel().tolist()],
                "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, where) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v, where) for k, v in value.items()}
        return {"__items__": [[encode(k, where), encode(v, where)] for k, v in value.items()]}
    raise DataError(f"cannot store {where} in model.json: a value of type "
                    f"{type(value).__name__}")


def decode(value):
    """Inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = next((key for key in _TAGS if key in value), None)
    if tag == "__float__":
        return float(value["__float__"])
    if tag == "__ndarray__":
        flat = np.array([decode(v) for v in value["__ndarray__"]], dtype=value["dtype"])
        return flat.reshape(value["shape"])
    if tag == "__tuple__":
        return tuple(decode(v) for v in value["__tuple__"])
    if tag == "__items__":
        return {_hashable(decode(k)): decode(v) for k, v in value["__items__"]}
    return {k: decode(v) for k, v in value.items()}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key
