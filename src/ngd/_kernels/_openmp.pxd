# OpenMP shim: the same source builds with or without OpenMP.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define NGD_OPENMP 1
    #else
    #define NGD_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint NGD_OPENMP
    int omp_get_max_threads() noexcept nogil
