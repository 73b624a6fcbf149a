"""The tasks that run on one row chunk with ngd's in-memory models and kernels: validation
sums, (loss, gradient, Gram) sums, statistics, the null model and the log-likelihood.

Every task has the signature ``task(spec, args, start, X, y, w, offset, trials)``: ``spec``
describes the model (a plain dict, so that it travels to Dask workers), ``args`` the task's
parameters, ``start`` the chunk's first global row, and the arrays are the chunk's rows (X
may be None for tasks that do not read it). Tasks return sums that :func:`add` combines, in
any grouping: the local executor adds chunk after chunk, Dask by a tree.
"""
import numpy as np

from ngd.exceptions import DataError
from ngd.models import RowSample
from ngd.models.separation import binary_margins

LABEL_MODELS = ("logistic", "softmax")      # y holds class labels (of any kind)


def _chunk_model(spec, X, y, w, offset, trials):
    """An in-memory ngd model on one chunk's rows, l2 = 0 and weight_sum = 1, so that its
    ``evaluate`` returns plain sums: loss sum_i w_i nll_i, gradient sum_i w_i r_i [x_i, 1],
    curvature weights w_i v_i."""
    from ngd.models import get_model
    X = np.asarray(X)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    offset = None if offset is None else np.ascontiguousarray(offset, dtype=np.float64)
    common = dict(sample_weight=w, offset=offset, fit_intercept=spec["fit_intercept"], l2=0.0,
                  n_threads=spec.get("n_threads", 1))
    if spec["name"] == "logistic":
        y01 = (np.asarray(y) == spec["classes"][1]).astype(np.float64)
        model = get_model("logistic")(X, y01, **common)
    elif spec["name"] == "softmax":
        # the fit's gauge, without the penalty, which the chunked model adds once
        y = np.asarray(y)
        codes = np.searchsorted(np.asarray(spec["classes"]),
                                y.astype(str) if y.dtype.kind == "O" else y)
        common.update(offset=None, gauge=spec["gauge"])
        model = get_model("softmax")(X, codes, n_classes=len(spec["classes"]), **common)
    else:
        t = None if trials is None else np.ascontiguousarray(trials, dtype=np.float64)
        model = get_model(spec["name"])(X, np.ascontiguousarray(y, dtype=np.float64),
                                        family=spec["name"], link=spec["link"],
                                        power=spec["power"], trials=t, **common)
    model.chunk_weight_sum = model.weight_sum
    model.weight_sum = 1.0
    return model


def _null_model(spec, y, w, offset, trials):
    """The chunk's intercept-only model: one all-zero column, theta = [0, b]."""
    return _chunk_model(dict(spec, fit_intercept=True), np.zeros((len(y), 1)), y, w, offset,
                        trials)


def summary(spec, args, start, X, y, w, offset, trials):
    """Validation and the sums the starting point needs (the first pass)."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(f"X has a non-finite value ({X[i, j]}) at row {start + i}, "
                        f"column {j}")
    for name, vector in (("sample_weight", w), ("offset", offset), ("trials", trials)):
        if vector is not None and not np.all(np.isfinite(vector)):
            i = int(np.flatnonzero(~np.isfinite(vector))[0])
            raise DataError(f"{name} has a non-finite value at row {start + i}")
    if w is not None and np.any(np.asarray(w) < 0):
        raise DataError("sample_weight must be >= 0")
    wt = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    out = {"n": X.shape[0]}
    if spec["name"] in LABEL_MODELS:
        y = np.asarray(y)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise DataError(f"y has a non-finite value ({y[i]}) at index {start + i}")
        if y.dtype.kind == "O":
            y = y.astype(str)
        labels, codes = np.unique(y, return_inverse=True)
        out["labels"] = {label: float(s) for label, s in
                         zip(labels.tolist(), np.bincount(codes, wt, labels.size))}
        out["weight_sum"] = float(wt.sum())
    else:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"y must be numeric for the {spec['name']} family, got dtype "
                            f"{y.dtype}")
        if not np.all(np.isfinite(y)):
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise DataError(f"y has a non-finite value ({y[i]}) at index {start + i}")
        model = _chunk_model(spec, X, y, w, offset, trials)
        out["weight_sum"] = model.chunk_weight_sum
        out["wy"] = float(np.sum(model.sample_weight * model.y))
        wt = model.sample_weight
    out["woffset"] = 0.0 if offset is None else float(np.sum(wt * np.asarray(offset)))
    return out


def sample_rows(sample, start, n_rows):
    """The chunk's rows in the curvature subsample ``sample`` = (fraction, seed, draw): row
    i is in it when u_i < fraction, u_i uniform from a generator keyed by (seed, draw, start),
    so the subsample does not depend on how chunks are scheduled."""
    fraction, seed, draw = sample
    u = np.random.default_rng([seed, draw, start]).random(n_rows)
    return np.flatnonzero(u < fraction)


def evaluation(spec, args, start, X, y, w, offset, trials):
    """(loss sum, gradient sum, Gram sum or None, curvature weight sum, finite) of one
    chunk at theta, args = (theta, curvature, sample): the Gram sum_i w_i v_i x~_i x~_i^T over
    the chunk's rows, or over its rows in the subsample ``sample`` (see :func:`sample_rows`)
    when that is not None; the weight sum is sum_i w_i over the same rows."""
    theta, curvature, sample = args
    model = _chunk_model(spec, X, y, w, offset, trials)
    ev = model.evaluate(theta, curvature)
    if not (np.isfinite(ev.loss) and np.all(np.isfinite(ev.grad))):
        return (np.inf, np.zeros(model.n_params), None, 0.0, False)
    if ev.weights is None:
        return (float(ev.loss), ev.grad, None, 0.0, True)
    if sample is None:
        return (float(ev.loss), ev.grad, model.curvature_matrix(ev.weights),
                model.chunk_weight_sum, True)
    index = sample_rows(sample, start, model.n_samples)
    w = model.sample_weight
    weight = float(index.size if w is None else w[index].sum())
    gram = np.zeros((model.n_params, model.n_params))
    if index.size:
        gram = model.curvature_matrix(ev.weights, RowSample(model, index, scale=1.0))
    return (float(ev.loss), ev.grad, gram, weight, True)


def statistics(spec, args, start, X, y, w, offset, trials):
    """Sums for the statistics at the final theta, args = (theta, robust): exact (and with
    ``robust`` empirical) Gram, deviance and, for families with a dispersion, Pearson's
    chi^2 (the null deviance has passes of its own: :func:`null_evaluation`)."""
    theta, robust = args
    model = _chunk_model(spec, X, y, w, offset, trials)
    exact = model.evaluate(theta, "exact")
    out = {"fisher": model.curvature_matrix(exact.weights)}
    if robust:
        out["empirical"] = model.curvature_matrix(model.evaluate(theta, "empirical").weights)
    if spec["name"] in LABEL_MODELS:     # class labels: the unit deviance is 2 nll
        out["deviance"] = 2 * exact.loss
        return out
    glm = model.as_glm()
    glm.weight_sum = 1.0
    out["deviance"] = glm.deviance(theta)
    if glm.has_dispersion:
        out["pearson"] = glm.pearson_chi2(theta)
    return out


def null_evaluation(spec, args, start, X, y, w, offset, trials):
    """(loss sum, score sum, Fisher sum, deviance sum) of the intercept-only model
    eta_i = offset_i + b at args = (b,), X unused."""
    (b,) = args
    model = _null_model(spec, y, w, offset, trials)
    theta = np.array([0.0, b])
    ev = model.evaluate(theta, "exact")
    if not np.isfinite(ev.loss):
        return (np.inf, 0.0, 0.0, np.inf)
    glm = model.as_glm()
    glm.weight_sum = 1.0
    return (float(ev.loss), float(ev.grad[-1]), float(np.sum(ev.weights)),
            float(glm.deviance(theta)))


def separation(spec, args, start, X, y, w, offset, trials):
    """The chunk's part of the binary separation check along args = (delta,)
    (``ngd.models.separation.binary_margins``): consistent, its strictly separated rows (global
    indices), and the row count, column sums and sums of squares for the columns' spread."""
    (delta,) = args
    model = _chunk_model(spec, X, y, w, offset, trials)
    weights = np.ones(model.n_samples) if model.sample_weight is None else model.sample_weight
    consistent, strict = binary_margins(model.X, model.y, delta, model.fit_intercept, weights)
    X = np.asarray(model.X, dtype=np.float64)
    return {"consistent": consistent, "rows": strict + start, "n": X.shape[0],
            "sum": X.sum(axis=0), "squares": np.einsum("ij,ij->j", X, X)}


def log_likelihood(spec, args, start, X, y, w, offset, trials):
    """sum_i w_i log p(y_i | mu_i, phi) of one chunk at args = (theta, phi) (the family's
    closed form or nan)."""
    theta, phi = args
    glm = _chunk_model(spec, X, y, w, offset, trials).as_glm()
    mu = glm.mean(theta, offset=glm.offset)
    wt = glm.sample_weight if glm.trials is None else glm.sample_weight / glm.trials
    return glm.family.log_likelihood(glm.y, mu, wt, phi, glm.trials)


def add(*parts):
    """Sum of partial results: tuples and dicts entry-wise (None when any is None, ``and``
    for booleans; label counts merged, row indices concatenated) or numbers."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_add_entries([part[k] for part in parts]) for k in range(len(first)))
    if isinstance(first, dict):
        out = {}
        for key in first:
            values = [part[key] for part in parts]
            if key == "labels":
                labels = {}
                for counts in values:
                    for label, s in counts.items():
                        labels[label] = labels.get(label, 0.0) + s
                out[key] = labels
            elif key == "rows":
                out[key] = np.concatenate(values)
            else:
                out[key] = _add_entries(values)
        return out
    return sum(parts)


def _add_entries(values):
    if any(v is None for v in values):
        return None
    if isinstance(values[0], (bool, np.bool_)):
        return all(values)
    return sum(values)
