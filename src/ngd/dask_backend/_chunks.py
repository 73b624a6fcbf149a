"""Worker side of the Dask backend: the tasks that run on one row chunk with ngd's in-memory
models and kernels (loss sum, gradient sum, Gram; statistics; log-likelihood)."""
import numpy as np

from ngd.exceptions import DataError


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
    if spec["name"] == "logistic":
        y01 = (np.asarray(y) == spec["classes"][1]).astype(np.float64)
        model = get_model("logistic")(X, y01, sample_weight=w, offset=offset,
                                      fit_intercept=spec["fit_intercept"], l2=0.0, n_threads=1)
    else:
        t = None if trials is None else np.ascontiguousarray(trials, dtype=np.float64)
        model = get_model(spec["name"])(X, np.ascontiguousarray(y, dtype=np.float64),
                                        family=spec["name"], link=spec["link"],
                                        power=spec["power"], trials=t, sample_weight=w,
                                        offset=offset, fit_intercept=spec["fit_intercept"],
                                        l2=0.0, n_threads=1)
    model.chunk_weight_sum = model.weight_sum
    model.weight_sum = 1.0
    return model


def _chunk_summary(spec, start, X, y, w, offset, trials):
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
    if spec["name"] == "logistic":
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
        model = _chunk_model(spec, X, y, w, offset, trials)
        out["weight_sum"] = model.chunk_weight_sum
        out["wy"] = float(np.sum(model.sample_weight * model.y))
        wt = model.sample_weight
    out["woffset"] = 0.0 if offset is None else float(np.sum(wt * np.asarray(offset)))
    return out


def _chunk_pass(spec, theta, curvature, X, y, w, offset, trials):
    """(loss sum, gradient sum, curvature Gram sum or None, finite) of one chunk."""
    model = _chunk_model(spec, X, y, w, offset, trials)
    ev = model.evaluate(theta, curvature)
    if not (np.isfinite(ev.loss) and np.all(np.isfinite(ev.grad))):
        return (np.inf, np.zeros(model.n_params), None, False)
    gram = None if ev.weights is None else model.curvature_matrix(ev.weights)
    return (float(ev.loss), ev.grad, gram, True)


def _chunk_statistics(spec, theta, options, X, y, w, offset, trials):
    """Sums for the statistics at the final theta: exact (and empirical) Gram, deviance,
    Pearson chi^2, null-model deviance."""
    model = _chunk_model(spec, X, y, w, offset, trials)
    glm = model.as_glm()
    glm.weight_sum = 1.0
    out = {"fisher": model.curvature_matrix(model.evaluate(theta, "exact").weights),
           "deviance": glm.deviance(theta)}
    if options["robust"]:
        out["empirical"] = model.curvature_matrix(model.evaluate(theta, "empirical").weights)
    if glm.has_dispersion:
        out["pearson"] = glm.pearson_chi2(theta)
    null = options["null_eta"]
    if null == "zero":              # no intercept: the deviance at theta = 0
        zero = np.zeros_like(theta)
        out["null"] = glm.deviance(zero) if np.isfinite(glm.evaluate(zero).loss) else np.nan
    elif null is not None:          # intercept, no offset: every row has mean g^-1(null)
        terms = glm._pointwise(glm.y, np.full(glm.n_samples, null))
        out["null"] = np.nan if terms is None else float(2 * np.sum(glm.sample_weight
                                                                    * terms[1]))
    else:
        out["null"] = np.nan
    return out


def _chunk_log_likelihood(spec, theta, phi, X, y, w, offset, trials):
    """sum_i w_i log p(y_i | mu_i, phi) of one chunk (the family's closed form or nan)."""
    glm = _chunk_model(spec, X, y, w, offset, trials).as_glm()
    mu = glm.mean(theta, offset=glm.offset)
    wt = glm.sample_weight if glm.trials is None else glm.sample_weight / glm.trials
    return glm.family.log_likelihood(glm.y, mu, wt, phi, glm.trials)


def _add(*parts):
    """Sum of partial results: tuples (loss, grad, gram, finite), dicts or floats."""
    first = parts[0]
    if isinstance(first, tuple):
        loss = sum(p[0] for p in parts)
        grad = sum(p[1] for p in parts)
        grams = [p[2] for p in parts]
        gram = None if any(g is None for g in grams) else sum(grams)
        return (loss, grad, gram, all(p[3] for p in parts))
    if isinstance(first, dict):
        out = {}
        for key in first:
            if key == "labels":
                labels = {}
                for part in parts:
                    for label, s in part["labels"].items():
                        labels[label] = labels.get(label, 0.0) + s
                out[key] = labels
            else:
                out[key] = sum(part[key] for part in parts)
        return out
    return sum(parts)
