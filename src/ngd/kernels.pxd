# Public C API of ngd's kernels, for ``from ngd.kernels cimport ...`` in other packages.
#
# Conventions: sizes are Py_ssize_t; X is a pointer plus leading dimension ``ldx`` and a
# ``row_major`` flag (C order: ldx >= p; F order: ldx >= n); X may be float or double (fused:
# the specialisation follows the pointer type); every other array is float64; every function
# is ``noexcept nogil`` and returns 0 on success (negative: failure, -1 = out of memory; cg
# returns a CGStatus >= 0). Nothing is validated: these are what ngd.kernels calls after its
# checks.
#
# ``intercept`` means X1 = [X, 1]: vectors have pw = p + 1 entries, the intercept last. The
# multi-output kernels take K and per-row K x K weights V_i given as a RowWeights ``kind``
# with ``A`` (n rows, leading dimension lda) and ``w`` (per-row factor, NULL = 1):
# WEIGHTS_PACKED (A = packed upper triangles of V_i, K(K+1)/2 columns), WEIGHTS_SOFTMAX
# (A = probabilities, V_i = w_i (diag p_i - p_i p_i^T)), WEIGHTS_OUTER (A = residuals,
# V_i = w_i r_i r_i^T). Their parameters are class-major (k * pw + j).
#
# Threading contract. "Kind 1" kernels parallelise over row blocks with OpenMP (n_threads) and
# call BLAS from inside their parallel region: keep BLAS single-threaded around them
# (threadpoolctl, user_api="blas"). They are: logistic_pass, softmax_pass, weighted_gram,
# multi_output_gram, fisher_vector, multi_output_fisher_vector, fisher_diagonal,
# multi_output_fisher_diagonal, cg_solve, multi_output_cg_solve. "Kind 2" kernels make one large BLAS/LAPACK call and take
# no n_threads: damped_cholesky, cholesky_solve, woodbury_solve (BLAS threads are yours to
# set). The parameter updates (axpy_step, momentum_step, adam_step) are elementwise. The CSR
# kernels (csr_*) are OpenMP over row blocks and call no BLAS. Results do not depend on
# n_threads.
#
# CSR kernels: X is (data, indices, indptr) with n rows and p columns, data float or double
# and indices / indptr both int32_t or both int64_t (fused ``sparse_index``); indptr must run
# from 0 to nnz without decreasing, indices lie in [0, p), and for the Grams no column may
# repeat within a row (scipy's canonical format). Dense matrices (B, R, V, out) are row-major
# float64; see ngd/_kernels/sparse.pxd for each formula.
#
# Build against an editable install with cythonize(..., include_path=[ngd.get_include()]).
# NGD_CAPI_VERSION: 1 = logistic_pass, weighted_gram, damped_cholesky, cholesky_solve;
# 2 adds the multi-output, Fisher-vector, diagonal, CG, Woodbury and update kernels;
# 3 adds the CSR kernels csr_matvec, csr_matmat, csr_rmatvec, csr_rmatmat, csr_weighted_gram,
# csr_multi_output_gram, csr_fisher_vector, csr_fisher_diagonal,
# csr_multi_output_fisher_diagonal, the one-pass csr_logistic_pass (logistic_pass's arguments
# with X in CSR form) and their index type sparse_index (earlier signatures unchanged);
# 4 adds glm_pass, logistic_pass_resid and glm_pass_resid (the passes with the per-row residual
# d(w nll)/d eta written out) and the categorical-code kernels level_sums, level_cross_sums
# and gather_add (ngd/_kernels/categorical.pxd);
# 5 adds softmax_pass (ngd/_kernels/multiclass.pxd: softmax logits, loss, gradient and class
# probabilities in one pass over X, kind 1);
# 6 adds csr_cg_solve (PCG on ([X, 1]^T diag(v) [X, 1] + diag(shift)) x = g for a CSR X in
# one call, csr_fisher_vector's products; CSR_CG_DONE / CSR_CG_INDEFINITE).
from ngd._kernels.fused cimport (logistic_pass, logistic_pass_resid, glm_pass,
                                 glm_pass_resid, FisherKind, FISHER_NONE, FISHER_EXACT,
                                 FISHER_EMPIRICAL, axpy_step, momentum_step, adam_step)
from ngd._kernels.fisher cimport (weighted_gram, multi_output_gram, fisher_vector,
                                  multi_output_fisher_vector, fisher_diagonal,
                                  multi_output_fisher_diagonal, RowWeights, WEIGHTS_PACKED,
                                  WEIGHTS_SOFTMAX, WEIGHTS_OUTER)
from ngd._kernels.linalg cimport (damped_cholesky, cholesky_solve, cg_solve,
                                  multi_output_cg_solve, woodbury_solve, CGStatus,
                                  CG_CONVERGED, CG_MAX_ITER, CG_BREAKDOWN)
from ngd._kernels.sparse cimport (sparse_index, csr_matvec, csr_matmat, csr_rmatvec,
                                  csr_rmatmat, csr_weighted_gram, csr_multi_output_gram,
                                  csr_fisher_vector, csr_fisher_diagonal,
                                  csr_multi_output_fisher_diagonal, csr_cg_solve,
                                  CSRCGStatus, CSR_CG_DONE, CSR_CG_INDEFINITE)
from ngd._kernels.sparse_fused cimport csr_logistic_pass
from ngd._kernels.categorical cimport level_sums, level_cross_sums, gather_add
from ngd._kernels.multiclass cimport softmax_pass

cdef enum:
    NGD_CAPI_VERSION = 6
