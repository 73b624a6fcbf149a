"""One JSON document for programs, CSV text, output path checks and the model file (the
tables for people are ngd.report's)."""
import csv
import io
import json
import math
import os

import click
import numpy as np

import ngd


def plain(value):
    """JSON-ready value: arrays to lists, numpy scalars to Python, nan/inf to None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(document):
    """Write exactly one JSON document to stdout."""
    click.echo(json.dumps(plain(document), indent=2, allow_nan=False))


def check_writable(path, option):
    """Fail early (before any work) when ``path`` cannot be written as a file."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise click.BadParameter(f"{path} is a directory", param_hint=option)
    if not os.path.isdir(folder):
        raise click.BadParameter(f"folder {folder} does not exist", param_hint=option)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"folder {folder} is not writable", param_hint=option)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise click.BadParameter(f"{path} exists and is not writable", param_hint=option)


def csv_text(headers, rows):
    """CSV text (header row, then rows); floats in round-trip precision, nan as 'nan'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2 ** 53:
            return str(int(value))
        return repr(value)
    return value


def model_json(result, dataset):
    """The model file of ``result`` (ngd.save_model) with the names and roles of
    ``dataset``'s columns, as text."""
    buffer = io.StringIO()
    ngd.save_model(result, buffer, dataset.feature_names, columns=dataset.columns,
                   categories=dataset.categories, target=dataset.target_name,
                   weights=dataset.weights_name, offset=dataset.offset_name,
                   trials=dataset.trials_name, cluster=dataset.cluster_names)
    return buffer.getvalue()
