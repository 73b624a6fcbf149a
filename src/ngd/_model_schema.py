"""model.json checked against its documented format (ngd.serialize's module docstring).

:func:`check_document` checks every key of a parsed document, one section at a time, and
returns the normalised values a :class:`ngd.serialize.LoadedModel` keeps; the first defect is
an :class:`Invalid` whose message names the key (``objective.l2``, ``coef[1][3]``, ...).
"""
import json
import math
import sys
from dataclasses import dataclass

import numpy as np

from ngd.models.families import FAMILIES, FAMILY_ALIASES, check_link, get_family
from ngd.models.links import get_link
from ngd.models.registry import normalise_model_name

FORMAT = "ngd.model"
FORMAT_VERSION = 1
TOP_KEYS = ("format", "format_version", "model", "family", "link", "power", "nb_alpha",
            "feature_names", "coef", "intercept", "classes", "objective", "fit", "input",
            "formula", "ngd_version")
NB_ALPHA_KEYS = ("value", "stderr", "estimated")
OBJECTIVE_KEYS = ("l2", "fit_intercept")
FIT_KEYS = {"loss": "number", "n_iter": "count", "converged": "bool", "status": "int",
            "message": "str", "method": "str", "fisher": "str"}
INPUT_KEYS = ("columns", "categories", "target", "weights", "offset", "trials", "cluster",
              "table")
ROLE_KEYS = ("target", "weights", "offset", "trials")
MAX_STATE_DEPTH = 64            # formula transform / encoder state: nesting kept by decode
_FLOAT_MAX = sys.float_info.max         # a Python float: compared with ints exactly
_CLASSIFIER = {"logistic": ("binomial", "logit"), "softmax": ("multinomial", "softmax")}


class Invalid(ValueError):
    """A defect of the document; the message names the key."""


class RepeatedKey(Invalid):
    """A JSON object names one key twice (json.load would keep the last silently)."""


def unique_object(pairs):
    """json.load's object_pairs_hook: the dict of ``pairs``, RepeatedKey for a repeated key."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise RepeatedKey(f"the key {shown(key)} appears twice in one object")
    return document


@dataclass
class Checked:
    """The document's values as a LoadedModel keeps them."""

    model: str
    family: object
    link: object
    power: object
    nb_alpha: object
    feature_names: list
    coef: np.ndarray
    intercept: object
    classes: object
    l2: float
    fit_intercept: bool
    fit: dict
    input: dict
    formula: object


def check_document(document):
    """The :class:`Checked` values of a parsed model.json; :class:`Invalid` at the first
    defect."""
    if not isinstance(document, dict):
        raise Invalid(f"the document is {shown(document)}, not a JSON object")
    check_format(document)
    known_keys(document, TOP_KEYS, "")
    check_json_values(document)
    for key in ("model", "feature_names", "coef", "intercept"):
        if key not in document:
            raise Invalid(f"missing {key!r}")
    of_type(document.get("ngd_version"), "ngd_version", "str")
    model, family, link, power = check_model(document)
    nb_alpha = check_nb_alpha(document, model)
    names = check_feature_names(document["feature_names"], "feature_names")
    coef, intercept = check_coefficients(document, model, len(names))
    classes = check_classes(document.get("classes"), model, coef)
    l2, fit_intercept = check_objective(document.get("objective"))
    return Checked(document["model"], family, link, power, nb_alpha, names, coef, intercept,
                   classes, l2, fit_intercept, check_fit(document.get("fit")),
                   check_input(document.get("input"), names),
                   check_formula(document.get("formula"), len(names)))


# ------------------------------------------------------------------------------ values --
def shown(value):
    """A short one-line rendering of a JSON value for a message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    try:
        text = json.dumps(value)
    except ValueError:                      # an int too long to print
        text = "a very long integer"
    return text if len(text) <= 40 else text[:37] + "..."


def child(path, key):
    """The name of ``path``'s entry ``key`` (a list index or an object key)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier() and len(key) <= 40:
        return f"{path}.{key}" if path else key
    return f"{path}[{shown(key)}]"


def is_number(value):
    """A JSON number as a float64 holds it: int (not bool) in range, or a finite float."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    return isinstance(value, float) and math.isfinite(value)


def number(value, path, low=None):
    """``value`` as a float; Invalid unless a finite number (>= ``low`` when given)."""
    if not is_number(value) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low:g}"
        raise Invalid(f"{path!r} must be a finite number{bound}, got {shown(value)}")
    return float(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


_KINDS = {"str": ("a string", lambda v: isinstance(v, str)),
          "bool": ("true or false", lambda v: isinstance(v, bool)),
          "int": ("an integer", _is_int),
          "count": ("an integer >= 0", lambda v: _is_int(v) and v >= 0),
          "number": ("a finite number", is_number)}


def of_type(value, path, kind, nullable=True):
    """``value`` itself; Invalid unless of ``kind`` (a key of _KINDS), or null when
    ``nullable``."""
    if value is None and nullable:
        return None
    words, check = _KINDS[kind]
    if not check(value):
        raise Invalid(f"{path!r} must be {words}{' or null' if nullable else ''}, got "
                      f"{shown(value)}")
    return value


def known_keys(section, allowed, path):
    """Invalid for a key of ``section`` that the format does not define."""
    for key in section:
        if key not in allowed:
            raise Invalid(f"unknown key {child(path, key)!r} (format_version "
                          f"{FORMAT_VERSION} defines: {', '.join(allowed)})")


def object_or_none(value, path):
    """``value`` ({} for null or absent); Invalid unless a JSON object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{path!r} must be an object, got {shown(value)}")
    return value


def string_list(value, path):
    """``value`` as a list of distinct strings."""
    if not isinstance(value, list):
        raise Invalid(f"{path!r} must be a list of strings, got {shown(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise Invalid(f"{child(path, i)!r} must be a string, got {shown(item)}")
    distinct(value, path)
    return list(value)


def distinct(items, path, key=None):
    """Invalid when two entries of ``items`` are equal (by ``key``); O(n) with a set."""
    keys = list(items) if key is None else [key(item) for item in items]
    if len(set(keys)) == len(keys):
        return
    seen = set()
    for i, k in enumerate(keys):
        if k in seen:
            raise Invalid(f"{child(path, i)!r} repeats an earlier entry ({shown(items[i])})")
        seen.add(k)


def check_json_values(document):
    """Invalid for a non-finite number (NaN, Infinity, 1e999) or a string that is not valid
    Unicode anywhere in the document (iterative: no recursion on deep documents). A list's
    scalars are checked at once; paths are built only for containers and defects."""
    stack = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                text_ok(key, path)
                stack.append((child(path, key), item))
        elif isinstance(value, list):
            types = set(map(type, value))
            scalars_ok(value, path, types)
            if list in types or dict in types:
                stack.extend((child(path, i), item) for i, item in enumerate(value)
                             if isinstance(item, (list, dict)))
        else:
            scalars_ok([value], path, {type(value)}, alone=True)


def scalars_ok(values, path, types, alone=False):
    """Invalid for a non-finite float or a string with an unpaired surrogate among
    ``values`` (the scalars of one list, or one value when ``alone``; ``types``: the types
    present)."""
    floats = values if types == {float} else [v for v in values if type(v) is float] \
        if float in types else []
    if floats and not np.isfinite(floats).all():
        bad = next(i for i, v in enumerate(values) if type(v) is float and not math.isfinite(v))
        where = path if alone else child(path, bad)
        raise Invalid(f"{where!r} is {shown(values[bad])}: the format allows finite numbers "
                      "only")
    if str not in types:
        return
    texts = values if types == {str} else [v for v in values if type(v) is str]
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(i for i, v in enumerate(values) if type(v) is str and not encodes(v))
        text_ok(values[bad], path if alone else child(path, bad))


def encodes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_ok(text, path):
    if not encodes(text):
        raise Invalid(f"{path or 'a key'!r} holds a string that is not valid Unicode (an "
                      "unpaired surrogate)")


# -------------------------------------------------------------------------- sections --
def check_format(document):
    """format and format_version."""
    if document.get("format") != FORMAT:
        raise Invalid(f"'format' is not {FORMAT!r}")
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise Invalid(f"format_version {shown(version)} is not supported by this ngd (it "
                      f"reads version {FORMAT_VERSION}); upgrade ngd")


def check_model(document):
    """(canonical model name, family, link, power): the registries' names, a link the family
    allows, power for tweedie only."""
    model = document["model"]
    try:
        name = normalise_model_name(model)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"'model': {exc}") from None
    family = of_type(document.get("family"), "family", "str")
    link = of_type(document.get("link"), "link", "str")
    power = document.get("power")
    if name in _CLASSIFIER:
        expected_family, expected_link = _CLASSIFIER[name]
        for key, value, expected in (("family", family, expected_family),
                                     ("link", link, expected_link)):
            if value is not None and value != expected:
                raise Invalid(f"{key!r} of a {name} model must be {expected!r} or null, got "
                              f"{shown(value)}")
    else:
        check_glm_family(name, family)
        check_glm_link(name, link)
    if name == "tweedie":
        power = number(power, "power")
        try:
            get_family("tweedie", power)
        except ValueError as exc:
            raise Invalid(f"'power': {exc}") from None
    elif power is not None:
        raise Invalid(f"'power' applies to the tweedie model only; it must be null for "
                      f"{name!r}, got {shown(power)}")
    return name, family, link, power


def check_glm_family(name, family):
    if family is None:
        return
    key = family.strip().lower().replace("-", "_")
    if FAMILY_ALIASES.get(key, key) != name:
        raise Invalid(f"'family' {shown(family)} does not match the model {name!r}")


def check_glm_link(name, link):
    if link is None:
        return
    try:
        check_link(FAMILIES[name], get_link(link))
    except ValueError as exc:
        raise Invalid(f"'link': {exc}") from None


def check_nb_alpha(document, model):
    """nb_alpha's value (or None): negative binomial only, an object with value >= 0 (0: the
    boundary fit), stderr a number or null, estimated true or false."""
    raw = document.get("nb_alpha")
    if raw is None:
        return None
    if model != "negative_binomial":
        raise Invalid(f"'nb_alpha' applies to the negative_binomial model only, not "
                      f"{model!r}")
    if not isinstance(raw, dict):
        raise Invalid(f"'nb_alpha' must be an object with a number 'value' >= 0, got "
                      f"{shown(raw)}")
    known_keys(raw, NB_ALPHA_KEYS, "nb_alpha")
    if "value" not in raw:
        raise Invalid("missing 'nb_alpha.value'")
    value = number(raw["value"], "nb_alpha.value", low=0)
    of_type(raw.get("stderr"), "nb_alpha.stderr", "number")
    if raw.get("stderr") is not None and raw["stderr"] < 0:
        raise Invalid(f"'nb_alpha.stderr' must be >= 0, got {shown(raw['stderr'])}")
    if "estimated" in raw:
        of_type(raw["estimated"], "nb_alpha.estimated", "bool", nullable=False)
    return value


def check_feature_names(names, path):
    if not isinstance(names, list) or not set(map(type, names)) <= {str}:
        raise Invalid(f"{path!r} must be a list of strings, one per coefficient column")
    distinct(names, path)
    return list(names)


def number_row(row, path):
    """``row`` (a list of JSON numbers) as a float64 array."""
    if not isinstance(row, list):
        raise Invalid(f"{path!r} must be a list of numbers, got {shown(row)}")
    types = set(map(type, row))
    if types <= {float, int}:
        try:
            values = np.array(row, dtype=np.float64)
        except OverflowError:           # an int beyond the float range
            values = None
        if values is not None and np.isfinite(values).all():
            return values
    bad = next(i for i, value in enumerate(row) if not is_number(value))
    raise Invalid(f"'coef' and 'intercept' must be numbers: {child(path, bad)!r} is "
                  f"{shown(row[bad])}")


def check_coefficients(document, model, n_features):
    """(coef, intercept): coef (p,) and a number intercept for single-output models, coef
    (K, p) rectangular and K intercepts for softmax; p = len(feature_names)."""
    raw, raw_intercept = document["coef"], document["intercept"]
    if model == "softmax":
        if not isinstance(raw, list) or not raw:
            raise Invalid(f"'coef' of a softmax model must be a non-empty list of rows (one "
                          f"per class), got {shown(raw)}")
        rows = [number_row(row, child("coef", k)) for k, row in enumerate(raw)]
        if any(len(row) != n_features for row in rows):
            raise Invalid("'feature_names' must be a list of strings, one per coefficient "
                          "column (every 'coef' row has one number per feature)")
        coef = np.array(rows).reshape(len(rows), n_features)
        if not isinstance(raw_intercept, list) or len(raw_intercept) != len(rows):
            raise Invalid(f"'intercept' must be a number per coefficient row ({len(rows)} "
                          f"of them), got {shown(raw_intercept)}")
        return coef, number_row(raw_intercept, "intercept")
    coef = number_row(raw, "coef")
    if len(coef) != n_features:
        raise Invalid(f"'feature_names' must be a list of strings, one per coefficient column "
                      f"({len(raw)} coefficients, {n_features} names)")
    if not is_number(raw_intercept):
        raise Invalid(f"'intercept' must be a number for the {model} model, got "
                      f"{shown(raw_intercept)}")
    return coef, float(raw_intercept)


def check_classes(classes, model, coef):
    """classes: null, or distinct labels (strings, numbers, booleans), two for logistic and
    one per coefficient row for softmax; null for the other models."""
    if classes is None:
        return None
    if model not in _CLASSIFIER:
        raise Invalid(f"'classes' must be null for the {model} model (not a classifier), got "
                      f"{shown(classes)}")
    expected = 2 if model == "logistic" else coef.shape[0]
    if not isinstance(classes, list) or len(classes) != expected:
        raise Invalid(f"'classes' of this {model} model must be a list of {expected} labels "
                      f"or null, got {shown(classes)}")
    for i, label in enumerate(classes):
        if not (isinstance(label, (str, bool)) or is_number(label)):
            raise Invalid(f"{child('classes', i)!r} must be a string, number or boolean, got "
                          f"{shown(label)}")
    distinct(classes, "classes", key=lambda label: (isinstance(label, bool), label))
    return list(classes)


def check_objective(raw):
    """(l2, fit_intercept): l2 a finite number >= 0, fit_intercept true or false."""
    objective = object_or_none(raw, "objective")
    known_keys(objective, OBJECTIVE_KEYS, "objective")
    l2 = number(objective.get("l2", 0.0), "objective.l2", low=0)
    fit_intercept = of_type(objective.get("fit_intercept", True), "objective.fit_intercept",
                            "bool", nullable=False)
    return l2, fit_intercept


def check_fit(raw):
    """The fit section: each key of its type (or null; converged true or false)."""
    fit = object_or_none(raw, "fit")
    known_keys(fit, tuple(FIT_KEYS), "fit")
    for key, kind in FIT_KEYS.items():
        if key in fit:
            of_type(fit[key], f"fit.{key}", kind, nullable=key != "converged")
    return dict(fit)


def check_input(raw, names):
    """The input section with its defaults (columns: the feature names); table checked by
    TableSpec.from_dict in serialize."""
    section = object_or_none(raw, "input")
    known_keys(section, INPUT_KEYS, "input")
    columns = section.get("columns")
    columns = (None if columns is None else string_list(columns, "input.columns")) or names
    categories = object_or_none(section.get("categories"), "input.categories")
    known = set(columns)
    for column, levels in categories.items():
        path = child("input.categories", column)
        if column not in known:
            raise Invalid(f"{path!r} names a column not in 'input.columns'")
        if not string_list(levels, path):
            raise Invalid(f"{path!r} must list at least one level")
    roles = {key: of_type(section.get(key), f"input.{key}", "str") for key in ROLE_KEYS}
    cluster = section.get("cluster")
    cluster = [] if cluster is None else string_list(cluster, "input.cluster")
    table = section.get("table")
    if table is not None and not isinstance(table, dict):
        raise Invalid(f"'input.table' must be an object, got {shown(table)}")
    return {"columns": list(columns), "categories": dict(categories), **roles,
            "cluster": cluster, "table": table}


# --------------------------------------------------------------------------- formula --
def check_formula(raw, n_features):
    """The formula spec's structure (ngd.formula.design_matrix rebuilds X from it)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Invalid(f"'formula' must be an object, got {shown(raw)}")
    for key in ("formula", "variables", "columns", "native", "encoder_state",
                "transform_state"):
        if key not in raw:
            raise Invalid(f"missing {child('formula', key)!r}")
    of_type(raw["formula"], "formula.formula", "str", nullable=False)
    for key in ("formulaic_version", "response"):
        of_type(raw.get(key), f"formula.{key}", "str")
    of_type(raw.get("intercept", False), "formula.intercept", "bool", nullable=False)
    string_list(raw["variables"], "formula.variables")
    string_list(raw["columns"], "formula.columns")
    if "feature_names" in raw and len(string_list(raw["feature_names"],
                                                 "formula.feature_names")) != n_features:
        raise Invalid("'formula.feature_names' must have one name per coefficient column")
    check_natives(raw["native"], set(raw["variables"]))
    check_encoder_state(raw["encoder_state"])
    if not isinstance(raw["transform_state"], dict):
        raise Invalid(f"'formula.transform_state' must be an object, got "
                      f"{shown(raw['transform_state'])}")
    check_state(raw["transform_state"], "formula.transform_state")
    check_terms(raw.get("terms"), n_features)
    row_columns = object_or_none(raw.get("row_columns"), "formula.row_columns")
    for key, value in row_columns.items():
        of_type(value, child("formula.row_columns", key), "str", nullable=False)
    return raw


def check_natives(natives, variables):
    """formula.native: objects with a position, term, variable (one of the formula's
    variables), levels and drop_first."""
    if not isinstance(natives, list):
        raise Invalid(f"'formula.native' must be a list, got {shown(natives)}")
    for i, item in enumerate(natives):
        path = child("formula.native", i)
        if not isinstance(item, dict):
            raise Invalid(f"{path!r} must be an object, got {shown(item)}")
        for key, kind in (("position", "count"), ("term", "str"), ("variable", "str"),
                          ("drop_first", "bool")):
            if key not in item:
                raise Invalid(f"missing {child(path, key)!r}")
            of_type(item[key], child(path, key), kind, nullable=False)
        if item["variable"] not in variables:
            raise Invalid(f"{child(path, 'variable')!r} is not one of 'formula.variables'")
        if not scalar_list(item.get("levels")):
            raise Invalid(f"{child(path, 'levels')!r} must be a list of distinct levels "
                          f"(strings, numbers, booleans), got {shown(item.get('levels'))}")
        check_state(item["levels"], child(path, "levels"))


def check_encoder_state(encoder):
    if not isinstance(encoder, dict):
        raise Invalid(f"'formula.encoder_state' must be an object, got {shown(encoder)}")
    for expr, item in encoder.items():
        path = child("formula.encoder_state", expr)
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str) \
                or not isinstance(item.get("state"), dict) \
                or not scalar_list(item["state"].get("categories", [])):
            raise Invalid(f"{path!r} must be an object with a string 'kind' and a 'state' "
                          "object (its 'categories' a list)")
        check_state(item["state"], child(path, "state"))


def scalar_list(levels):
    """True for a list of distinct JSON scalars (levels of a categorical)."""
    return isinstance(levels, list) and not any(isinstance(v, (list, dict)) for v in levels) \
        and len(set(levels)) == len(levels)


def check_terms(terms, n_features):
    if terms is None:
        return
    if not isinstance(terms, dict):
        raise Invalid(f"'formula.terms' must be an object, got {shown(terms)}")
    for name, columns in terms.items():
        path = child("formula.terms", name)
        if not isinstance(columns, list) or not all(
                _is_int(j) and 0 <= j < n_features for j in columns):
            raise Invalid(f"{path!r} must be a list of coefficient columns in [0, "
                          f"{n_features})")


def check_state(value, path):
    """An encoded transform state (ngd._formula_state): every tag well formed, arrays of
    numbers with a numeric dtype and a shape that fits, nesting at most MAX_STATE_DEPTH."""
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_STATE_DEPTH:
            raise Invalid(f"{path!r} is nested too deeply")
        if isinstance(item, list):
            stack.extend((v, child(where, i), depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            stack.extend((v, w, depth + 1) for v, w in tagged_parts(item, where))


def tagged_parts(item, where):
    """The (value, path) parts of one encoded object, after checking its tag."""
    if "__float__" in item:
        if item["__float__"] not in ("nan", "inf", "-inf"):
            raise Invalid(f"{child(where, '__float__')!r} must be \"nan\", \"inf\" or "
                          f"\"-inf\", got {shown(item['__float__'])}")
        return []
    if "__ndarray__" in item:
        check_array(item, where)
        return [(v, child(child(where, "__ndarray__"), i))
                for i, v in enumerate(item["__ndarray__"])]
    if "__tuple__" in item:
        if not isinstance(item["__tuple__"], list):
            raise Invalid(f"{child(where, '__tuple__')!r} must be a list")
        return [(item["__tuple__"], child(where, "__tuple__"))]
    if "__items__" in item:
        pairs = item["__items__"]
        if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and hashable_key(p[0]) for p in pairs):
            raise Invalid(f"{child(where, '__items__')!r} must be a list of [key, value] "
                          "pairs")
        return [(pairs, child(where, "__items__"))]
    return [(v, child(where, k)) for k, v in item.items()]


def check_array(item, where):
    """An encoded ndarray: a numeric dtype and a shape holding exactly its values."""
    flat, dtype, shape = item["__ndarray__"], item.get("dtype"), item.get("shape")
    try:
        kind = np.dtype(dtype).kind if isinstance(dtype, str) else None
    except TypeError:
        kind = None
    if kind is None or kind not in "biuf":
        raise Invalid(f"{child(where, 'dtype')!r} must be a numeric numpy dtype, got "
                      f"{shown(dtype)}")
    if not isinstance(flat, list) or not isinstance(shape, list) or not all(
            _is_int(n) and n >= 0 for n in shape) \
            or math.prod(shape) != len(flat):
        raise Invalid(f"{where!r} must hold a list of values and a 'shape' of sizes >= 0 "
                      "whose product is their number")
    for i, v in enumerate(flat):
        if not (isinstance(v, bool) or is_number(v) or isinstance(v, dict)
                and "__float__" in v):
            raise Invalid(f"{child(child(where, '__ndarray__'), i)!r} must be a number, got "
                          f"{shown(v)}")
    values = [float(v["__float__"]) if isinstance(v, dict) else v for v in flat]
    try:
        with np.errstate(all="raise"):
            np.array(values, dtype=dtype).reshape(shape)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise Invalid(f"{where!r} is not an array of {dtype}: {exc}") from None


def hashable_key(key):
    """True for an encoded dict key that decodes to a hashable value: a scalar or a list of
    scalars."""
    if isinstance(key, list):
        return not any(isinstance(k, (list, dict)) for k in key)
    return not isinstance(key, dict)
