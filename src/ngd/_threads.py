"""Thread counts: resolve once per fit, and keep OpenMP x BLAS threads within the cores."""
import contextlib
import functools
import os

from threadpoolctl import ThreadpoolController

from ngd._kernels._openmp import omp_max_threads, openmp_enabled


def effective_n_threads(n_threads=None):
    """Threads for the kernels: n_threads if >= 1; counts back from the maximum if negative
    (-1 = all); None reads NGD_NUM_THREADS, else min(omp_get_max_threads(), cpu count)."""
    if n_threads is None:
        env = os.environ.get("NGD_NUM_THREADS")
        if env:
            try:
                n_threads = int(env)
            except ValueError:
                raise ValueError(f"NGD_NUM_THREADS must be an integer, got {env!r}") from None
    maximum = max(1, min(omp_max_threads(), os.cpu_count() or 1))
    if n_threads is None:
        return maximum
    if isinstance(n_threads, bool) or not isinstance(n_threads, int):
        raise TypeError(f"n_threads must be an integer or None, got {n_threads!r}")
    if n_threads == 0:
        raise ValueError("n_threads must not be 0 (use None or -1 for all cores)")
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


def fit_threads(n_threads):
    """BLAS limit for a fit: 1 when the kernels parallelise with OpenMP (they call BLAS
    inside their parallel regions), else the fit's thread count."""
    return blas_threads(1 if openmp_enabled() else n_threads)
