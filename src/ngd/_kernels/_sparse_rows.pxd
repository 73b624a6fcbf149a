# Row blocks of the CSR kernels: fixed by n and nnz only, so that every reduction (partial
# results per slot, added in slot order) is independent of the thread count.
from cython cimport floating

from ngd._kernels._rows cimport MAX_SLOTS
from ngd._kernels.sparse cimport sparse_index

cdef enum:
    CHUNK_NONZEROS = 32768          # non-zeros per row block, roughly


cdef struct Plan:
    Py_ssize_t rows                 # rows per block
    Py_ssize_t n_chunks
    Py_ssize_t n_slots


cdef inline Plan csr_plan(Py_ssize_t n, Py_ssize_t nnz, Py_ssize_t max_slots) noexcept nogil:
    """Blocks of about CHUNK_NONZEROS non-zeros (16 to 4096 rows) and min(blocks, MAX_SLOTS,
    max_slots) slots (at least 1)."""
    cdef Plan plan
    cdef Py_ssize_t rows = 4096
    if nnz > 0:
        rows = <Py_ssize_t> ((<double> CHUNK_NONZEROS) * n / nnz)
    if rows < 16:
        rows = 16
    if rows > 4096:
        rows = 4096
    plan.rows = rows
    plan.n_chunks = (n + rows - 1) // rows
    plan.n_slots = plan.n_chunks
    if plan.n_slots > MAX_SLOTS:
        plan.n_slots = MAX_SLOTS
    if plan.n_slots > max_slots:
        plan.n_slots = max_slots if max_slots > 1 else 1
    return plan


cdef inline double row_dot(const floating* data, const sparse_index* indices, Py_ssize_t a,
                           Py_ssize_t b, const double* u) noexcept nogil:
    """sum over the row's non-zeros k in [a, b) of data[k] u[indices[k]], in four partial sums
    (k = a + 4 m + q into sum q, the tail into sum 0) added as (s0 + s1) + (s2 + s3): the
    gathers of u do not wait on one chain of additions."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t k = a
    while k + 4 <= b:
        s0 += data[k] * u[indices[k]]
        s1 += data[k + 1] * u[indices[k + 1]]
        s2 += data[k + 2] * u[indices[k + 2]]
        s3 += data[k + 3] * u[indices[k + 3]]
        k = k + 4
    while k < b:
        s0 += data[k] * u[indices[k]]
        k = k + 1
    return (s0 + s1) + (s2 + s3)
