"""Text rendering of fit documents (the ``ngd.fit/1`` schema of :meth:`FitResult.to_dict`).

One renderer for people: :meth:`ngd.FitResult.summary` and ``ngd fit`` both call
:func:`render`. It reads plain data only (no result objects), so it imports nothing of ngd.
"""
import math
import textwrap

STATISTIC_LABELS = {"dispersion": "dispersion", "deviance": "deviance",
                    "null_deviance": "null deviance", "df_resid": "df residual",
                    "llf": "log-likelihood", "aic": "AIC", "bic": "BIC"}
NAME_WIDTH = 24                 # coefficient names are cut to this when a width is given
CONVERGENCE_TITLE = "convergence on the same objective (gap = loss - best loss of this run)"


def format_table(headers, rows, align):
    """Fixed-width text table; align is a string of 'l'/'r' per column."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]
    lines = []
    for i, row in enumerate(cells):
        parts = [cell.ljust(w) if a == "l" else cell.rjust(w)
                 for cell, w, a in zip(row, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value, spec):
    """Format a number, or '-' for None/nan."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def class_label(value):
    """A class label as text: integral floats without the decimal point (2.0 -> '2')."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def convergence_rows(documents):
    """The convergence comparison of fits of one objective: one dict per fit document (method,
    fisher, step, n_iter, time, loss, gap = loss - the best finite loss, grad_norm, decrement,
    solver, converged, status, message), and that best loss (nan when none is finite)."""
    finite = [d["loss"] for d in documents if _is_finite(d["loss"])]
    best = min(finite) if finite else math.nan
    rows = [{"method": d["method"], "fisher": d["fisher"], "step": d["step_rule"],
             "n_iter": d["n_iter"], "time": d["time"], "loss": d["loss"],
             "gap": d["loss"] - best if _is_finite(d["loss"]) else None,
             "grad_norm": d["grad_norm"], "decrement": d["decrement"], "solver": d["solver"],
             "converged": bool(d["converged"]), "status": d["status"],
             "message": d["message"]} for d in documents]
    return rows, best


def render(document, width=None):
    """The text report of a fit document: header lines, the coefficient table, the fit
    statistics, the negative binomial's alpha, the convergence table (when the document has
    ``convergence`` rows) and the files written (``outputs``). With ``width``, header and
    statistics lines and the alpha line are wrapped to it and coefficient names cut to
    NAME_WIDTH."""
    lines = header_lines(document, width) + [""] + [coefficient_table(document, width)]
    lines += _wrapped_join(_statistics_parts(document), "; ", width)
    lines += _wrapped([_nb_alpha_line(document)], width) if document.get("nb_alpha") else []
    if document.get("convergence") is not None:
        lines += ["", CONVERGENCE_TITLE, convergence_table(document["convergence"])]
    written = [f"wrote {key} to {path}" for key, path in
               (document.get("outputs") or {}).items() if path]
    return "\n".join(lines + ([""] + written if written else []))


def header_lines(document, width=None):
    """What was fitted on what, by which method, and how the standard errors were computed."""
    method = (f"coefficients from {document['method']}"
              + (f" ({document['fisher']} curvature)" if document["fisher"] else "")
              + (f"; backend {document['backend']}, {document['n_passes']} passes over the data"
                 if document.get("n_passes") else ""))
    return _wrapped([_subject(document), method, inference_phrase(document)], width)


def coefficient_table(document, width=None):
    """The coefficient table: name, estimate, std. error, z or t, p-value and the interval."""
    label = document["inference"]["statistic"]
    level = document["inference"]["conf_level"]
    cut = NAME_WIDTH if width is not None else None
    rows = [[c["name"][:cut], fmt(c["estimate"], ".6g"), fmt(c["stderr"], ".4g"),
             fmt(c[label], ".3f"), fmt(c["pvalue"], ".3g"), fmt(c["ci_low"], ".6g"),
             fmt(c["ci_high"], ".6g")] for c in document["coefficients"]]
    headers = ["feature", "estimate", "std.err", label, f"P>|{label}|",
               f"[{(1 - level) / 2:g}", f"{1 - (1 - level) / 2:g}]"]
    return format_table(headers, rows, "lrrrrrr")


def convergence_table(rows):
    """The convergence table of :func:`convergence_rows`' rows."""
    cells = [[r["method"], r["fisher"] or "-", r["n_iter"], fmt(r["time"], ".4f"),
              fmt(r["loss"], ".12g"), fmt(r["gap"], ".2e"), fmt(r["grad_norm"], ".2e"),
              fmt(r["decrement"], ".2e"), "yes" if r["converged"] else "no"] for r in rows]
    return format_table(["method", "curvature", "iter", "time [s]", "final loss", "gap",
                         "grad norm", "decrement", "converged"], cells, "llrrrrrrl")


def inference_phrase(document):
    """How the standard errors were computed and the reference distribution."""
    inference, cov_type = document["inference"], document["cov_type"]
    if cov_type == "robust":
        phrase = "robust (sandwich) standard errors"
    elif cov_type == "cluster":
        names = inference["cluster"] or [""] * len(inference["n_groups"] or ())
        groups = " x ".join(f"{g} {name}".rstrip()
                            for g, name in zip(inference["n_groups"] or (), names))
        phrase = f"cluster-robust (CR1) standard errors, clusters: {groups}"
    elif (document.get("nb_alpha") or {}).get("estimated"):
        phrase = ("standard errors from the inverse joint observed information (coefficients "
                  "and alpha)")
    else:
        phrase = "standard errors from the inverse Fisher information"
    if inference["distribution"] == "t":
        return phrase + f"; t distribution, {inference['df']:.6g} df"
    return phrase + "; normal distribution"


def _subject(document):
    """The first header line: the model, the data (when the document has a ``data`` block)
    and the ridge strength."""
    what = f"{document['model']} regression" if document["model"] == "logistic" else \
        f"{document['model']} model" + (f" (link {document['link']})" if document["link"]
                                        else "")
    data = document.get("data")
    parts = [what]
    if data is not None:
        target = f"target {data['target']!r}"
        if data["classes"]:
            target += f" ({', '.join(f'{c} -> {i}' for c, i in data['classes'].items())})"
        parts = [f"{what} on {data['source']}: {data['n_samples']} rows, "
                 f"{data['n_features']} features", target]
        parts += [f"{key} {data[key]!r}" for key in ("weights", "offset", "trials") if data[key]]
    return "; ".join(parts + [f"l2 = {document['l2']:g}"])


def _statistics_parts(document):
    return [f"{STATISTIC_LABELS[key]} {value:.6g}"
            for key, value in document["statistics"].items() if value is not None]


def _nb_alpha_line(document):
    """The negative binomial's alpha line."""
    nb = document["nb_alpha"]
    if not nb["estimated"]:
        return f"NB2 alpha {nb['value']:.6g} (fixed; Var = mu + alpha mu^2)"
    stderr = "" if nb["stderr"] is None else f", std. err. {nb['stderr']:.4g}"
    return (f"NB2 alpha {nb['value']:.6g}{stderr} (maximum likelihood; Var = mu + alpha mu^2; "
            "standard errors from the joint observed information of the coefficients and "
            "alpha)")


def _wrapped(lines, width):
    """``lines`` wrapped to ``width`` characters (unchanged without a width)."""
    if width is None:
        return lines
    return [part for line in lines for part in textwrap.wrap(line, width)]


def _wrapped_join(parts, separator, width):
    """``parts`` joined by ``separator`` into lines of at most ``width`` characters (one line
    without a width; a part longer than the width gets a line of its own)."""
    lines = []
    for part in parts:
        if lines and (width is None or len(lines[-1]) + len(separator) + len(part) <= width):
            lines[-1] += separator + part
        else:
            lines.append(part)
    return lines


def _is_finite(value):
    return value is not None and math.isfinite(value)
