"""``ngd fit``'s output: the document (``FitResult.to_dict()``, schema ngd.fit/1, with the data
block and the convergence comparison) printed as text or JSON, the files written (model,
history CSV, plot), the notes and the warnings."""
import math
import os
import pathlib

import click

import ngd
from ngd import report
from ngd.cli._output import csv_text, emit_json, model_json
from ngd.cli._plot import convergence_png
from ngd.io import write_files_atomic
from ngd.messages import name_list


def finish(args, dataset, results, caught, backend, methods):
    """Write the requested files, then print the notes, the report (text, or the document
    with --json) and the warning lines; ``methods`` are those asked for (the backend may
    have skipped some)."""
    primary = results[args.method]
    document = fit_document(dataset, args.model, args.l2, primary, results)
    write_files_atomic(output_files(args, dataset, document, results))
    # after the fit: a failed run prints its one error line only
    skipped = [m for m in methods if m not in results]
    for line in [] if args.quiet else notes(args.data, dataset, backend, skipped):
        click.echo(line, err=True)
    document["outputs"] = {key: str(path) if path is not None else None
                           for key, path in args.outputs.items()}
    if args.as_json:
        emit_json(document)
    else:
        click.echo(report.render(document))
    for line in warning_lines(caught, document):
        click.echo(line, err=True)


def fit_document(dataset, model, l2, primary, results):
    """The JSON document of ``ngd fit``: the reported fit's ``to_dict()`` (named by
    ``dataset``'s features) with the data block, the cluster column names and every method's
    convergence row."""
    document = primary.to_dict(dataset.feature_names)
    document["model"] = document["model"] or model
    document["l2"] = l2
    document["inference"]["cluster"] = dataset.cluster_names or None
    rows, best = report.convergence_rows([r.to_dict() for r in results.values()])
    return {"schema": document.pop("schema"), "data": data_block(dataset, document["classes"]),
            **document, "convergence": rows, "best_loss": best}


def data_block(dataset, classes):
    """What was read: source, shape, the target (and its classes, label -> index) and the
    column roles."""
    return {"source": dataset.source, "n_samples": dataset.n_samples,
            "n_features": dataset.n_features, "target": dataset.target_name,
            "classes": None if classes is None
            else {report.class_label(c): i for i, c in enumerate(classes)},
            "weights": dataset.weights_name, "offset": dataset.offset_name,
            "trials": dataset.trials_name, "categorical": dataset.categories,
            "n_dropped": dataset.n_dropped}


def output_files(args, dataset, document, results):
    """[(path, content)] of --output (the model file), --history and --plot."""
    primary = results[args.method]
    files = []
    if args.output is not None:
        files.append((args.output, model_json(primary, dataset)))
    if args.history is not None:
        files.append((args.history, history_csv(results)))
    if args.plot is not None:
        title = (f"{document['model']} on {os.path.basename(str(args.data))}: "
                 f"{dataset.n_samples} rows, {dataset.n_features} features, "
                 f"l2 = {args.l2:g}")
        files.append((args.plot, convergence_png(results, title)))
    return files


def notes(data, dataset, backend, skipped):
    """The note lines: the methods ``backend`` did not run, the rows dropped for missing
    cells (CSV lines, else rows counted from 0)."""
    lines = []
    if skipped:
        lines.append(f"note: --backend {backend} runs methods ngd and newton only; not run: "
                     f"{', '.join(skipped)}")
    if dataset.n_dropped:
        shown = ", ".join(str(n) for n in dataset.dropped_lines)
        more = ", ..." if dataset.n_dropped > len(dataset.dropped_lines) else ""
        csv = pathlib.Path(data).suffix.lower() in (".csv", ".tsv", ".txt")
        where = f"line(s) {shown}{more}" if csv else f"row(s) {shown}{more}, counted from 0"
        lines.append(f"note: dropped {dataset.n_dropped} row(s) with missing cells ({where}); "
                     f"{dataset.n_samples} row(s) left")
    return lines


def warning_lines(caught, document):
    """The warning lines of a fit, each text once: the did-not-converge line of the reported
    method replaces the compared methods' warnings that give the same reason (e.g. the same
    separation, found by ngd and newton); then the features of a separation."""
    message = document["message"]
    lines = [f"warning: {' '.join(str(w.message).split())}" for w in caught
             if message in str(w.message) or issubclass(w.category, ngd.DampingWarning)]
    if not document["converged"]:
        lines.append(f"warning: {document['method']} did not converge: {message}")
        reason = message.split(". ")[0]         # e.g. the separation, per method
        lines = [line for line in lines[:-1] if reason not in line] + lines[-1:]
    lines = list(dict.fromkeys(lines))
    if document["separation"] is not None:
        lines.append("warning: the separation involves the features: "
                     f"{name_list(document['separation'])}")
    return lines


def history_csv(results):
    """One CSV: a ``method`` column, then the History columns, rows of every method."""
    columns = None
    rows = []
    for method, result in results.items():
        table = result.history.as_dict()
        if columns is None:
            columns = list(table)
        for i in range(len(result.history)):
            rows.append([method] + [table[c][i] if c in table else math.nan for c in columns])
    return csv_text(["method"] + (columns or []), rows)
