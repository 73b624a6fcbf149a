"""Thread counts: resolve once per fit, and keep OpenMP x BLAS threads within the cores."""
import contextlib
import functools
import os

import numpy as np
from threadpoolctl import ThreadpoolController

from ngd._kernels._openmp import omp_max_threads, openmp_enabled


#: Process-wide default set by :func:`set_num_threads` (None: not set).
_NUM_THREADS = None
#: Upper bound on any thread count (far above any core count; keeps C ints in range).
_MAX_THREADS = 4096


def _check_count(n_threads, name="n_threads"):
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"{name} must be an integer or None, got {n_threads!r}")
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError(f"{name} must not be 0 (use None or -1 for all cores)")
    return max(-_MAX_THREADS, min(n_threads, _MAX_THREADS))


def set_num_threads(n_threads):
    """Default number of kernel threads for this process, used whenever a function gets
    ``n_threads=None`` and the environment variable NGD_NUM_THREADS is not set.

    Parameters
    ----------
    n_threads : int or None
        Threads (>= 1), or counting back from all cores if negative (-1 = all); None
        restores the default (all cores). Clipped to +-4096.

    Returns
    -------
    int or None
        The previous setting (None: not set).

    Raises
    ------
    TypeError
        n_threads neither an integer nor None (bool included).
    ValueError
        n_threads 0.
    """
    global _NUM_THREADS
    previous = _NUM_THREADS
    _NUM_THREADS = None if n_threads is None else _check_count(n_threads)
    return previous


def get_num_threads():
    """The thread count a kernel call with ``n_threads=None`` uses now."""
    return effective_n_threads(None)


def effective_n_threads(n_threads=None):
    """Threads for the kernels: n_threads if >= 1; counts back from the maximum if negative
    (-1 = all); None reads NGD_NUM_THREADS, else the value of :func:`set_num_threads`, else
    min(omp_get_max_threads(), cpu count)."""
    if n_threads is None:
        env = os.environ.get("NGD_NUM_THREADS")
        if env:
            try:
                n_threads = int(env)
            except ValueError:
                raise ValueError(f"NGD_NUM_THREADS must be an integer, got {env!r}") from None
        elif _NUM_THREADS is not None:
            n_threads = _NUM_THREADS
    maximum = max(1, min(omp_max_threads(), os.cpu_count() or 1))
    if n_threads is None:
        return maximum
    n_threads = _check_count(n_threads)
    if n_threads < 0:
        return max(1, maximum + 1 + n_threads)
    return n_threads


@functools.lru_cache(maxsize=1)
def _controller():
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(n_threads):
    """Limit every loaded BLAS (numpy's and SciPy's copies alike) to n_threads."""
    with _controller().limit(limits=n_threads, user_api="blas"):
        yield


#: Multiply-adds below which a BLAS / OpenMP call runs on one thread (:func:`threads_for`).
SMALL_WORK = 1e8


def threads_for(work, n_threads):
    """n_threads, or 1 when ``work`` (multiply-adds) is below SMALL_WORK: a small call gains
    little from threads and, on a machine whose cores are busy, waits on them (a 200 x 200
    Cholesky took 0.3 ms on one OpenBLAS thread and 0.27 s on two with both cores taken)."""
    return 1 if work < SMALL_WORK else n_threads


def fit_threads(n_threads):
    """BLAS limit for a fit: 1 when the kernels parallelise with OpenMP (they call BLAS
    inside their parallel regions), else the fit's thread count."""
    return blas_threads(1 if openmp_enabled() else n_threads)
