"""Portable fitted models: a small JSON document that any language can read.

    >>> ngd.save_model(result, "model.json", feature_names=["age", "dose"])
    >>> model = ngd.load_model("model.json")
    >>> model.predict(X_new)            # mean response; P(y = classes[1]) for logistic
    >>> model.predict_class(X_new)      # labels, for classification models

The document (``"format": "ngd.model"``, ``"format_version": 1``) holds:

- ``model``, ``family``, ``link``, ``power``: as in the fit result (null when the result has
  none; logistic results carry no link: it is the logit);
- ``nb_alpha`` (negative-binomial models only; optional, absent from other documents):
  ``{"value": alpha, "stderr": its standard error or null, "estimated": true | false}``
  (alpha >= 0; 0 when the estimate is at the boundary, the Poisson fit);
- ``feature_names`` (one per column of X) and ``coef`` (a list, or a list of lists for
  models with a coefficient row per class), ``intercept`` (a number or a list), ``classes``
  (the labels in the order the fit used them, or null);
- ``objective``: ``l2`` and ``fit_intercept`` (L = mean weighted NLL + l2/2 ||coef||^2);
- ``fit``: ``loss``, ``n_iter``, ``converged``, ``status``, ``message``, ``method``,
  ``fisher`` of the fit that produced the coefficients;
- ``input``: how a table becomes X: ``columns`` (input columns, in order), ``categories``
  ({column: levels}, first level dropped, one-hot columns named ``column=level``), and the
  names of the ``target``, ``weights``, ``offset`` and ``trials`` columns (or null) and of
  the ``cluster`` columns of clustered standard errors (a list, maybe empty); for fits
  on DataFrames also ``table`` (optional: ngd.frames.TableSpec.to_dict(): columns, kinds,
  levels, drop_first), so ``predict`` takes a DataFrame and matches columns by name;
- ``formula`` (optional, fits of ``ngd.fit("y ~ ...", data=df)``): ngd.formula's spec (the
  formula, factor levels, transform state, native categorical blocks, column names), so
  ``predict`` rebuilds the same columns from a DataFrame; ``input.columns`` then lists the
  columns the formula reads and ``input.target`` its response (formulaic evaluates the
  formula's terms as Python: load only model files you trust);
- ``ngd_version``: the version that wrote it.

A reader must refuse a ``format_version`` it does not know. Non-finite numbers are not
allowed in the document (``loss`` may be null). :func:`load_model` checks every key against
this description (ngd._model_schema): an unknown or repeated key, a value of the wrong type,
size or range is a DataError naming the file and the key.
"""
import io
import json
import math
import os

import numpy as np

from ngd._model_schema import (FORMAT, FORMAT_VERSION, Invalid, RepeatedKey, check_document,
                               unique_object)
from ngd._version import __version__
from ngd.exceptions import DataError
from ngd.frames import TableSpec, design_from_frame, is_frame
from ngd.io.atomic import write_files_atomic
from ngd.messages import default_names
from ngd.predict import predict as _predict


def save_model(result, path, feature_names=None, *, columns=None, categories=None,
               target=None, weights=None, offset=None, trials=None, cluster=None):
    """Write the fitted ``result`` (a :class:`ngd.FitResult`) as JSON to ``path``.

    Parameters
    ----------
    result : FitResult
        A fit returned by :func:`ngd.fit`.
    path : str, path-like or text file object
        A file name (written atomically: a temporary file in the same folder, then a rename)
        or a writable text file object.
    feature_names : sequence of str or None, default None
        One name per coefficient column; None: ``result.feature_names``, else x0, x1, ...
    columns, categories, target, weights, offset, trials, cluster : default None
        The input table (see the module docstring), so that a command-line ``predict`` can
        rebuild X from a CSV file; None: taken from the fit's table or formula, if any.

    Raises
    ------
    ValueError
        A result without coef, intercept or model, non-finite coefficients, or
        feature_names of the wrong length.
    OSError
        The file cannot be written.
    """
    text = json.dumps(model_document(result, feature_names, columns=columns,
                                     categories=categories, target=target, weights=weights,
                                     offset=offset, trials=trials, cluster=cluster),
                      indent=2, allow_nan=False) + "\n"
    if hasattr(path, "write"):
        path.write(text)
        return
    write_files_atomic([(os.fspath(path), text)])


def model_document(result, feature_names=None, *, columns=None, categories=None, target=None,
                   weights=None, offset=None, trials=None, cluster=None):
    """The JSON-ready dict that :func:`save_model` writes."""
    for key in ("coef", "intercept", "model"):
        if key not in result:
            raise ValueError(f"result has no {key!r}: pass the FitResult returned by ngd.fit")
    coef = np.asarray(result["coef"], dtype=np.float64)
    intercept = np.asarray(result["intercept"], dtype=np.float64)
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("cannot save a model with non-finite coefficients")
    n_features = coef.shape[-1] if coef.ndim else 0
    spec = result.get("input_spec")
    formula = result.get("formula_spec")
    if formula is not None and columns is None and target is None:
        roles = formula.get("row_columns") or {}
        columns, target = formula["variables"], formula["response"]
        weights, offset, trials = (weights or roles.get("sample_weight"),
                                   offset or roles.get("offset"),
                                   trials or roles.get("trials"))
    if feature_names is None:
        feature_names = result.get("feature_names") or default_names(n_features)
    if spec is not None and columns is None and categories is None:
        columns, categories = spec["columns"], {name: spec["levels"][name]
                                                for name in spec["columns"]
                                                if spec["kinds"][name] == "categorical"}
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names but the model has "
                         f"{n_features} coefficients per row")
    classes = result.get("classes")
    nb_alpha = {} if result.get("nb_alpha") is None else {"nb_alpha": {
        "value": _number(result["nb_alpha"]), "stderr": _number(result.get("nb_alpha_stderr")),
        "estimated": bool(result.get("nb_alpha_estimated", False))}}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": result["model"], "family": result.get("family"), "link": result.get("link"),
        "power": _number(result.get("power")), **nb_alpha,
        "feature_names": feature_names, "coef": coef.tolist(), "intercept": intercept.tolist(),
        "classes": None if classes is None else [_python(c) for c in np.asarray(classes)],
        "objective": {"l2": float(result.get("l2", 0.0)),
                      "fit_intercept": bool(result.get("fit_intercept", True))},
        "fit": {"loss": _number(result.get("loss")), "n_iter": _int(result.get("n_iter")),
                "converged": bool(result.get("converged", False)),
                "status": _int(result.get("status")), "message": result.get("message"),
                "method": result.get("method"), "fisher": result.get("fisher")},
        "input": {"columns": list(columns) if columns is not None else list(feature_names),
                  "categories": {str(k): [str(v) for v in levels]
                                 for k, levels in (categories or {}).items()},
                  "target": target, "weights": weights, "offset": offset, "trials": trials,
                  "cluster": list(cluster or ()),
                  **({"table": spec} if spec is not None else {})},
        **({"formula": formula} if formula is not None else {}),
        "ngd_version": __version__,
    }


def load_model(path):
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str, path-like or text file object
        The model file.

    Returns
    -------
    LoadedModel
        Its coefficients and names, with ``predict``, ``predict_proba``, ``predict_class``.

    Raises
    ------
    ngd.DataError
        A missing or unreadable file, invalid JSON, or a document that does not match the
        format (an unknown or repeated key, a wrong type, size or range), naming the file.
    """
    name = getattr(path, "name", None) or str(path)
    try:
        if hasattr(path, "read"):
            document = json.load(path, object_pairs_hook=unique_object)
        else:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle, object_pairs_hook=unique_object)
    except RepeatedKey as exc:
        raise DataError(f"{name}: not a valid ngd model file: {exc}") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not a model file") from None
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read model file ({exc.strerror or exc})") from None
    except ValueError as exc:       # bad UTF-8, bad JSON, an integer of > 4300 digits
        raise DataError(f"{name}: not an ngd model file (not valid JSON: "
                        f"{' '.join(str(exc).split())})") from None
    except RecursionError:
        raise DataError(f"{name}: not an ngd model file (JSON nested too deeply)") from None
    return LoadedModel(document, source=name)


class LoadedModel:
    """A fitted model read from a file: coefficients, names, and ``predict``.

    Parameters
    ----------
    document : dict
        The parsed model document.
    source : str, default "<model>"
        The file name used in error messages.

    Attributes
    ----------
    model, family, link, power : str, str or None, str or None, float or None
        As in the fit result.
    nb_alpha : dict or None
        Negative binomial: {"value", "stderr", "estimated"}; else None.
    feature_names : list of str
    coef : ndarray
        (p,), or (K, p) for softmax.
    intercept : float or ndarray
    classes : list or None
        The labels of classification models.
    l2, fit_intercept : float, bool
        The objective.
    fit, input : dict
        The document's ``fit`` and ``input`` blocks.
    document : dict
        The raw document.

    Raises
    ------
    ngd.DataError
        A document that does not match the format.
    """

    def __init__(self, document, source="<model>"):
        try:
            checked = check_document(document)
        except Invalid as exc:
            raise DataError(f"{source}: not a valid ngd model file: {exc}") from None
        self.document = document
        self.source = source
        self.model = checked.model
        self.family, self.link, self.power = checked.family, checked.link, checked.power
        self.nb_alpha = checked.nb_alpha
        self.feature_names = checked.feature_names
        self.coef, self.intercept, self.classes = (checked.coef, checked.intercept,
                                                   checked.classes)
        self.l2, self.fit_intercept = checked.l2, checked.fit_intercept
        self.fit = checked.fit
        table = checked.input.pop("table")
        self.input = checked.input
        self.formula_spec = checked.formula
        self.table_spec = self._table_spec(table, source)

    def _table_spec(self, table, source):
        """How a table becomes X: the document's ``input.table``, else (models written from
        CSV input) its columns and categories with each categorical's first level dropped.
        Unless a formula builds X, the spec must give the model's features."""
        bad = f"{source}: not a valid ngd model file: "
        if table is not None:
            try:
                spec = TableSpec.from_dict(table)
            except DataError as exc:
                raise DataError(f"{bad}'input.table': {exc}") from None
        else:
            columns, categories = self.input["columns"], self.input["categories"]
            spec = TableSpec(columns, {c: "categorical" if c in categories else "numeric"
                                       for c in columns},
                             {c: list(v) for c, v in categories.items()},
                             {c: True for c in categories})
        features = _spec_features(spec)         # feature_names are distinct
        if self.formula_spec is None and (len(features) != len(self.feature_names)
                                          or set(features) != set(self.feature_names)):
            where = "'input.table'" if table is not None else \
                "'input.columns' and 'input.categories'"
            raise DataError(f"{bad}{where} do not give the model's 'feature_names'")
        return spec

    def _table_X(self, X):
        """X of a table through the model's input description, and the coefficients in the
        order of its columns (a table's design lists numeric columns first)."""
        table = design_from_frame(X, spec=self.table_spec)
        if table.feature_names == self.feature_names:
            return table.X, self.coef
        position = {name: j for j, name in enumerate(self.feature_names)}
        if sorted(position) != sorted(table.feature_names):
            raise DataError(f"{self.source}: the table's columns do not give the model's "
                            "features")
        order = [position[name] for name in table.feature_names]
        return table.X, self.coef[..., order]

    def _formula_X(self, data, offset):
        """(X, offset) of a table through the model's formula: its offset() terms, else the
        model's offset column when ``offset`` is not given."""
        from ngd.formula import as_pandas, design_matrix
        X, formula_offset = design_matrix(self.formula_spec, data)
        if formula_offset is not None:
            if offset is not None:
                raise ValueError("the model's formula has an offset() term: pass no offset=")
            return X, formula_offset
        column = self.input["offset"]
        if offset is None and column is not None:
            frame = as_pandas(data)
            if column not in frame.columns:
                raise DataError(f"the model was fitted with offset column {column!r}: the "
                                "data lack it (or pass offset=)")
            offset = frame[column].to_numpy(dtype=np.float64)
        return X, offset

    @property
    def n_features(self):
        return len(self.feature_names)

    def predict(self, X, offset=None):
        """Mean response E[y | x]; for logistic the probability of ``classes[1]``.

        Parameters
        ----------
        X : array, sparse matrix, Design, or table (pandas / polars / pyarrow)
            A table is matched by column name (or built by the model's formula).
        offset : array-like or None, default None
            Added to the linear predictor; None: the formula's offset() terms or the
            model's offset column, if any.

        Returns
        -------
        ndarray
            (n,), or (n, K) class probabilities for softmax.

        Raises
        ------
        ValueError
            As :func:`ngd.predict`, or an offset= with a formula that has offset() terms.
        ngd.DataError
            A table whose columns do not give the model's features, or that lacks the
            model's offset column.
        """
        options = {}
        if self.link is not None:
            options["link"] = self.link
        if self.power is not None:
            options["power"] = self.power
        coef = self.coef
        if self.formula_spec is not None and (is_frame(X) or isinstance(X, dict)):
            X, offset = self._formula_X(X, offset)
        elif is_frame(X):
            X, coef = self._table_X(X)
        return _predict(self.model, coef, self.intercept, X, offset, **options)

    def predict_proba(self, X, offset=None):
        """Class probabilities, one column per entry of ``classes`` (classification only).

        Parameters
        ----------
        X : array, sparse matrix, Design, or table (pandas / polars / pyarrow)
            A table is matched by column name (or built by the model's formula).
        offset : array-like or None, default None
            Added to the linear predictor; None: the formula's offset() terms or the
            model's offset column, if any.

        Returns
        -------
        ndarray
            (n, K).

        Raises
        ------
        ValueError
            A model without classes, or as :meth:`predict`.
        ngd.DataError
            As :meth:`predict`.
        """
        self._need_classes()
        mean = np.asarray(self.predict(X, offset))
        if mean.ndim == 1:
            return np.column_stack([1.0 - mean, mean])
        return mean

    def predict_class(self, X, offset=None):
        """The most probable label of ``classes`` for each row (classification only).

        Parameters
        ----------
        X : array, sparse matrix, Design, or table (pandas / polars / pyarrow)
            A table is matched by column name (or built by the model's formula).
        offset : array-like or None, default None
            Added to the linear predictor; None: the formula's offset() terms or the
            model's offset column, if any.

        Returns
        -------
        ndarray
            (n,) labels (dtype object).

        Raises
        ------
        ValueError
            A model without classes, or as :meth:`predict`.
        ngd.DataError
            As :meth:`predict`.
        """
        proba = self.predict_proba(X, offset)
        labels = np.asarray(self.classes, dtype=object)
        return labels[np.argmax(proba, axis=1)]

    def _need_classes(self):
        if not self.classes:
            raise ValueError(f"model {self.model!r} is not a classifier: it has no classes")

    def __repr__(self):
        return (f"LoadedModel(model={self.model!r}, n_features={self.n_features}, "
                f"classes={self.classes!r}, source={self.source!r})")


def dumps(result, feature_names=None, **meta):
    """The JSON text :func:`save_model` would write."""
    out = io.StringIO()
    save_model(result, out, feature_names, **meta)
    return out.getvalue()


def _spec_features(spec):
    """The feature names a TableSpec gives (ngd.frames' Design order): numeric columns, then
    ``column=level`` for each categorical's kept levels."""
    if not spec.levels:
        return list(spec.columns)
    numeric = [c for c in spec.columns if spec.kinds[c] == "numeric"]
    return numeric + [f"{c}={level}" for c in spec.columns if spec.kinds[c] == "categorical"
                      for level in spec.levels[c][int(spec.drop_first[c]):]]


def _python(value):
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _int(value):
    return None if value is None else int(value)
