# Row blocks of the CSR kernels: fixed by n and nnz only, so that every reduction (partial
# results per slot, added in slot order) is independent of the thread count.
from ngd._kernels._rows cimport MAX_SLOTS

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
