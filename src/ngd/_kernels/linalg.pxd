# Dense solves with the Fisher: damped Cholesky with escalation, and triangular solves.

cdef int damped_cholesky(const double* F, Py_ssize_t p, double damping, double* factor,
                         double* damping_used, int max_escalations) noexcept nogil

cdef int cholesky_solve(const double* factor, Py_ssize_t p, double* b,
                        Py_ssize_t nrhs) noexcept nogil
