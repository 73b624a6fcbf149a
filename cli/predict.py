"""``ngd predict MODEL DATA``: predictions of a model written by ``ngd fit --output``."""
import pathlib

import click
import numpy as np

import ngd
from ngd.cli._data import load_for_model
from ngd.cli._formula import model_table
from ngd.cli._errors import InputError
from ngd.cli._options import delimiter_option, json_option
from ngd.cli._output import check_writable, csv_text, emit_json
from ngd.io import write_files_atomic

EPILOG = """\b
Examples:
  ngd fit examples/spector.csv --output model.json
  ngd predict model.json examples/spector.csv > classes.csv
  ngd predict model.json new.csv --proba --output proba.csv
  ngd predict model.json new.csv --json | python -m json.tool
"""

_existing_file = click.Path(exists=True, dir_okay=False, path_type=pathlib.Path)


@click.command("predict", epilog=EPILOG)
@click.argument("model_file", metavar="MODEL", type=_existing_file)
@click.argument("data", type=click.Path(exists=True, path_type=pathlib.Path))
@click.option("--proba", is_flag=True,
              help="Class probabilities (one column per class) instead of labels "
                   "(classification models only).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=pathlib.Path),
              default=None, help="Write the predictions as CSV here instead of stdout.")
@delimiter_option
@json_option
def predict_command(model_file, data, proba, output, delimiter, as_json):
    """Predict with MODEL (JSON from 'ngd fit --output') on DATA (CSV, NPZ, svmlight, or
    Parquet / Feather / Arrow IPC; a directory is a Parquet dataset).

    The columns of DATA must be the model's input columns (its target, weights and trials
    columns are ignored when present); Parquet / Arrow columns are matched by name, others
    are not read. Prints CSV: a 'prediction' column (the class label for
    classifiers, the mean response otherwise), or with --proba one 'p_<class>' column per
    class.
    """
    if output is not None:
        check_writable(output, "--output")
        if output.resolve() in (pathlib.Path(data).resolve(),
                                pathlib.Path(model_file).resolve()):
            raise InputError(f"--output {output} would overwrite an input file")
    model = ngd.load_model(model_file)
    if model.formula_spec is not None:      # the formula rebuilds X from the table
        X, offset = model_table(model, data, delimiter), None
    else:
        X, offset = load_for_model(model, data, delimiter)
    try:
        values, columns, kind = _predictions(model, X, offset, proba)
    except ngd.DataError as exc:            # e.g. a level the fit did not see
        raise ngd.DataError(f"{data}: {exc}") from None
    values = np.asarray(values)
    rows = values.tolist() if values.ndim == 2 else [[v] for v in values.tolist()]
    if output is not None:
        write_files_atomic([(output, csv_text(columns, rows))])
    if as_json:
        emit_json({"schema": "ngd.predict/1", "model": str(model_file), "data": str(data),
                   "model_name": model.model, "kind": kind, "n_samples": len(rows),
                   "columns": columns, "classes": model.classes,
                   "predictions": [row if len(row) > 1 else row[0] for row in rows],
                   "output": str(output) if output is not None else None})
    elif output is None:
        click.echo(csv_text(columns, rows), nl=False)


def _predictions(model, X, offset, proba):
    """(values, column names, kind) of the predictions of ``model`` at X."""
    if model.classes:
        if proba:
            return (model.predict_proba(X, offset), [f"p_{_text(c)}" for c in model.classes],
                    "proba")
        return model.predict_class(X, offset), ["prediction"], "class"
    if proba:
        raise InputError(f"--proba applies to classification models; {model.model!r} "
                         "predicts a mean response (drop --proba)")
    return model.predict(X, offset), ["prediction"], "mean"


def _text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
