"""``--plot``: convergence of every method (loss gap, log scale, vs iteration and vs time).

matplotlib is optional (``pip install 'ngd[plot]'``); it is imported only here, with the Agg
canvas (no display, no pyplot global state).
"""
import io
import math

import numpy as np

STYLE = {"ngd": ("tab:blue", "o", "-"), "newton": ("tab:orange", "s", "--"),
         "sgd": ("tab:green", "^", "-")}


def have_matplotlib():
    import importlib

    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return False
    return True


def convergence_png(results, title):
    """PNG bytes of the convergence figure for {method: FitResult}."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    finite = [r.loss for r in results.values() if math.isfinite(r.loss)]
    best = min(min(np.nanmin(r.history["loss"]) for r in results.values()), min(finite))
    floor = 1e-16 * max(1.0, abs(best))
    fig = Figure(figsize=(11, 4.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax_iter, ax_time = fig.subplots(1, 2, sharey=True)
    clipped = False
    for i, (method, result) in enumerate(results.items()):
        history = result.history
        gap = history["loss"] - best
        clipped |= bool((gap < floor).any())
        gap = np.where(np.isfinite(gap), np.maximum(gap, floor), np.nan)
        color, marker, line = STYLE.get(method, (f"C{i}", "o", "-"))
        every = max(1, len(gap) // 25)
        label = (f"{method}: {result.n_iter} {'epochs' if method == 'sgd' else 'iterations'}, "
                 f"{result.time:.3g} s, final gap {max(result.loss - best, 0.0):.1e}")
        for ax, x in ((ax_iter, history["iter"]), (ax_time, history["time"])):
            ax.plot(x, gap, color=color, marker=marker, markersize=5, markevery=every,
                    linestyle=line, linewidth=1.8, label=label,
                    markerfacecolor="none" if line == "--" else color)
    for ax in (ax_iter, ax_time):
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", axis="y", alpha=0.12)
    ax_iter.set_xlim(left=0)
    ax_time.set_xlim(left=0)
    ax_iter.set_xlabel("iteration (epoch for SGD)")
    ax_time.set_xlabel("wall time [s]")
    ax_iter.set_ylabel("loss gap  L - L*  (log scale)")
    ax_iter.set_title("gap vs iteration", fontsize=10)
    ax_time.set_title("gap vs wall time", fontsize=10)
    handles, labels = ax_iter.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)),
               frameon=False, fontsize=9)
    note = f"L* = {best:.10g} (best loss of the run)"
    if clipped:
        note += f"; gaps below {floor:.0e} drawn at {floor:.0e}"
    fig.suptitle(f"{title}\n{note}", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
