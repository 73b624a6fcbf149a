# Kernels for categorical blocks held as integer codes (int32, one per row; -1 = the
# reference level, a row of zeros in the one-hot matrix, skipped by every sum):
#
#     level_sums:        out[l] = sum_{i: c_i = l} v_i                      (v NULL: counts)
#     level_cross_sums:  out[l, j] = sum_{i: c_i = l} v_i x_ij for j < p, and with
#                        ``intercept`` out[l, p] = level_sums (out is L x (p + intercept),
#                        row-major)
#     gather_add:        eta_i += sum_k gamma_k[c_ki]  over K blocks (c_ki = -1 adds nothing)
#
# X is float or double (fused), C or F order (ldx, row_major as in ngd/kernels.pxd); sums are
# float64. The sums are parallel over fixed row blocks with per-slot accumulators reduced in
# slot order (the slot count set by n and L only), so results do not depend on n_threads.
# gather_add is parallel over rows. Nothing is validated: codes must lie in [-1, L) (every
# gamma_k long enough for its codes). Return 0 (-1: out of memory).
from libc.stdint cimport int32_t
from cython cimport floating

cdef int level_sums(const int32_t* codes, Py_ssize_t n, const double* v, Py_ssize_t L,
                    double* out, int n_threads) noexcept nogil

cdef int level_cross_sums(const floating* X, Py_ssize_t n, Py_ssize_t p, Py_ssize_t ldx,
                          bint row_major, const int32_t* codes, const double* v,
                          Py_ssize_t L, bint intercept, double* out,
                          int n_threads) noexcept nogil

cdef int gather_add(Py_ssize_t n, Py_ssize_t K, const int32_t** codes, const double** gamma,
                    double* eta, int n_threads) noexcept nogil
