"""Build-time facts about OpenMP, for ``ngd info`` and the thread-count resolution."""
from ngd._kernels._openmp cimport NGD_OPENMP, omp_get_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(NGD_OPENMP)


def omp_max_threads():
    """omp_get_max_threads() (1 without OpenMP)."""
    return omp_get_max_threads()
