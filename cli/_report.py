"""The ``ngd fit`` document (``FitResult.to_dict()``, schema ngd.fit/1, with the data block and
the convergence comparison) and its per-iteration history CSV."""
import math

from ngd import report
from ngd.cli._output import csv_text


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
