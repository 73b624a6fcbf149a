"""Validated Python API of ngd's Cython kernels (the C API is ``ngd/kernels.pxd``).

Every function accepts X in float32 or float64, C or F order, accumulates in float64 and
returns float64. Arguments are checked once here (shape, dtype, layout, finiteness) and bad
ones raise ``ValueError`` (``ngd.DataError``) or ``TypeError`` naming the argument.

Threads: ``n_threads=None`` resolves through ``NGD_NUM_THREADS``, then
:func:`ngd.set_num_threads`, then all cores. Row-block kernels ("kind 1": Gram matrices,
Fisher-vector products, diagonals, CG, the fused pass) run OpenMP threads with BLAS kept
single-threaded inside; ``woodbury_solve`` and the Cholesky solves ("kind 2") are single
BLAS/LAPACK calls that use BLAS threads. Results do not depend on the thread count.

Scale convention: every Fisher here is an unnormalised sum over rows, sum_i v_i x_i x_i^T (or
sum_i V_i (x) x_i x_i^T for K outputs): pass v = w / sum(w) for the mean Fisher of the
objective. Multi-output parameters are class-major: index k * pw + j, pw = p (+ 1 with
``intercept=True``, the intercept of class k being entry k * pw + p).
"""
import numbers
import operator

import numpy as np

from ngd import _sparse
from ngd._kernels import categorical as _categorical
from ngd._kernels import fisher as _fisher
from ngd._kernels import fused as _fused
from ngd._kernels import linalg as _linalg
from ngd._kernels import multiclass as _multiclass
from ngd._threads import blas_threads, effective_n_threads, fit_threads, threads_for
from ngd._validation import as_matrix, as_square, as_vector
from ngd.exceptions import DataError

FISHER_KINDS = _fused.FISHER_KINDS
MAX_ESCALATIONS = 100

#: Per-row weight formats of the multi-output kernels (``fisher.RowWeights``).
WEIGHTS_PACKED = _fisher.ROW_WEIGHTS["packed"]
WEIGHTS_SOFTMAX = _fisher.ROW_WEIGHTS["softmax"]
WEIGHTS_OUTER = _fisher.ROW_WEIGHTS["outer"]

#: ``cg_solve`` status codes (``linalg.CGStatus``) and their meaning.
CG_STATUS = {code: name for name, code in _linalg.CG_STATUS_CODES.items()}
_CG_CONVERGED = _linalg.CG_STATUS_CODES["converged"]
_BLAS_INT_MAX = 2**31 - 1
_FLOAT64_MAX = float(np.finfo(np.float64).max)


def weighted_gram(X, v, *, intercept=False, n_threads=None, check_finite=True):
    """X^T diag(v) X as a (p, p) float64 matrix; with ``intercept=True`` the (p+1, p+1) Gram
    of [X, 1]: [[X^T V X, X^T v], [v^T X, sum v]]. ``check_finite=False`` skips the check
    of X for non-finite values (for callers that validated X once, as ``ngd.fit`` does).

    The check costs no pass of its own: a non-finite x_ij makes G_jj = sum_i v_i x_ij^2
    non-finite (0 * inf is NaN), so X is scanned, to name the entry, only when a diagonal
    entry is; a finite X whose Gram overflows is an error too."""
    X = as_matrix(X, check_finite=False)
    v = as_vector(v, X.shape[0], "v")
    n_threads = effective_n_threads(n_threads)
    p = X.shape[1]
    out = np.empty((p + intercept, p + intercept))
    gram = out if not intercept else np.empty((p, p))
    xv = np.empty(p) if intercept else None
    kernel_threads, limit = _gram_threads(X.shape[0], p, n_threads, multi=False)
    with limit:
        _fisher._weighted_gram(X, v, gram, xv, kernel_threads)
    if check_finite and not np.isfinite(np.diagonal(gram)).all():
        as_matrix(X)                      # raises at the first non-finite entry of X
        raise DataError("X^T diag(v) X overflows float64: X or v has entries too large")
    if intercept:
        out[:p, :p] = gram
        out[:p, p] = out[p, :p] = xv
        out[p, p] = v.sum()
    return out


def empirical_fisher(G, *, n_threads=None):
    """(1/n) G^T G = (1/n) sum_i g_i g_i^T for per-sample gradients G of shape (n, p)."""
    G = as_matrix(G, "G")
    return weighted_gram(G, np.full(G.shape[0], 1.0 / G.shape[0]), n_threads=n_threads)


def logistic_pass(X, coef, intercept, y, sample_weight=None, offset=None, *, fisher="exact",
                  n_threads=None):
    """One pass over X for the logistic loss at eta = X coef + intercept + offset.

    Returns (loss_sum, grad, weights): loss_sum = sum_i w_i nll_i, grad = [X^T r, sum r] with
    r_i = w_i (p_i - y_i), and per-row Fisher weights w_i p_i (1 - p_i) (exact) or
    w_i (p_i - y_i)^2 (empirical), or None (fisher="none"). Sums are not normalised.
    """
    X = as_matrix(X)
    n, p = X.shape
    coef = as_vector(coef, p, "coef")
    y = as_vector(y, n, "y")
    w = None if sample_weight is None else as_vector(sample_weight, n, "sample_weight")
    off = None if offset is None else as_vector(offset, n, "offset")
    if fisher not in FISHER_KINDS:
        raise ValueError(f"fisher must be one of {sorted(FISHER_KINDS)}, got {fisher!r}")
    kind = FISHER_KINDS[fisher]
    n_threads = effective_n_threads(n_threads)
    grad = np.empty(p + 1)
    weights = np.empty(n) if fisher != "none" else None
    with fit_threads(n_threads):
        loss = _fused._logistic_pass(X, coef, float(intercept), y, w, off, kind, grad, weights,
                                     n_threads)
    return loss, grad, weights


def softmax_pass(X, coef, intercept, codes, sample_weight=None, *, proba=True,
                 n_threads=None, check_finite=True):
    """One pass over X for the softmax loss at eta_i = W x_i + b (coef W (K, p), intercept
    b (K,), codes y_i in 0 .. K-1).

    Returns (loss_sum, grad, P): loss_sum = sum_i w_i [logsumexp(eta_i) - eta_{i, y_i}],
    grad (K, p + 1) with row k = [sum_i r_ik x_i, sum_i r_ik], r_ik = w_i (p_ik - [y_i = k]),
    and the class probabilities P (n, K) (None with ``proba=False``). Sums are not normalised.
    """
    X = as_matrix(X, check_finite=check_finite)
    n, p = X.shape
    coef = np.ascontiguousarray(_numeric(coef, "coef"), dtype=np.float64)
    if coef.ndim != 2 or coef.shape[1] != p or coef.shape[0] < 1:
        raise ValueError(f"coef must have shape (K, {p}), got {coef.shape}")
    K = coef.shape[0]
    b = as_vector(intercept, K, "intercept")
    codes = np.ascontiguousarray(codes, dtype=np.intp)
    if codes.shape != (n,):
        raise ValueError(f"codes must have shape ({n},), got {codes.shape}")
    if codes.min() < 0 or codes.max() >= K:
        raise ValueError(f"codes must lie in 0 .. {K - 1}")
    w = None if sample_weight is None else as_vector(sample_weight, n, "sample_weight")
    if not (np.isfinite(coef).all() and np.isfinite(b).all()):
        raise ValueError("coef and intercept must be finite")
    grad = np.zeros((K, p + 1))
    P = np.empty((n, K)) if proba else None
    row_major, ldx = _fused._layout(X.strides[0], X.strides[1], X.itemsize, n, p)
    n_threads = effective_n_threads(n_threads)
    with fit_threads(n_threads):
        loss = _multiclass._softmax_pass(X, coef, b, codes, w, grad, P, row_major, ldx,
                                         n_threads)
    return loss, grad, P


def _numeric(a, name):
    """a as an array of a real numeric dtype (TypeError otherwise: no silent complex cast)."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real and numeric, got dtype {a.dtype}")
    return a


def damped_cholesky(F, damping=0.0):
    """Factor F + lambda I (lambda >= damping, raised until positive definite).

    Returns (factor, damping_used, escalations); use :func:`cholesky_solve` with the factor.
    Raises numpy.linalg.LinAlgError if no lambda within 100 doublings works.
    """
    F = as_square(_numeric(F, "F"))
    damping = float(damping)
    if not np.isfinite(damping) or damping < 0:
        raise ValueError(f"damping must be a finite number >= 0, got {damping}")
    factor = np.empty_like(F)
    escalations, used = _linalg._damped_cholesky(F, damping, factor, MAX_ESCALATIONS)
    if escalations < 0:
        raise np.linalg.LinAlgError(
            f"F + lambda I is not positive definite even with lambda = {used:.3g}")
    return factor, used, escalations


def cholesky_solve(factor, b):
    """Solve (U^T U) x = b for the factor returned by :func:`damped_cholesky`.

    ``b`` is a vector (p,) or a matrix (p, nrhs) of right-hand sides, all solved with the one
    factorisation (LAPACK dpotrs); the result has b's shape.
    """
    factor = np.asarray(factor)
    if factor.dtype.kind not in "biuf":
        raise TypeError(f"factor must be numeric, got dtype {factor.dtype}")
    factor = np.ascontiguousarray(factor, dtype=np.float64)   # only its upper triangle is used
    if factor.ndim != 2 or factor.shape[0] != factor.shape[1] or factor.shape[0] < 1:
        raise DataError(f"factor must be a non-empty square matrix, got shape {factor.shape}")
    p = factor.shape[0]
    b = np.asarray(b)
    if b.dtype.kind not in "biuf":
        raise TypeError(f"b must be numeric, got dtype {b.dtype}")
    if b.ndim == 2 and b.shape[0] == p and b.shape[1] >= 1:
        x = np.array(b, dtype=np.float64, order="F", copy=True)
        if not np.isfinite(x).all():
            raise DataError("b has non-finite entries")
        _linalg._cholesky_solve_many(factor, x)
        return x
    if b.ndim > 2 or b.size != p:
        raise DataError(f"b must have shape ({p},) or ({p}, nrhs), got {b.shape}")
    x = np.array(b, dtype=np.float64, copy=True).ravel()
    if not np.isfinite(x).all():
        raise DataError("b has non-finite entries")
    _linalg._cholesky_solve(factor, x)
    return x


def damped_cholesky_solve(F, g, damping=0.0):
    """Solve (F + lambda I) d = g with the smallest lambda >= damping in the doubling sequence
    for which the Cholesky factorisation succeeds. Returns (d, damping_used)."""
    F = as_square(_numeric(F, "F"))
    g = as_vector(g, F.shape[0], "g")
    factor, used, _ = damped_cholesky(F, damping)
    return cholesky_solve(factor, g), used


# ------------------------------------------------------------------- argument helpers --

def _real(value, name, *, minimum=None, strict=False):
    """A finite Python float from a real scalar (bool excluded); TypeError / ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        sign = ">" if strict else ">="
        raise ValueError(f"{name} must be {sign} {minimum}, got {value}")
    return value


def _count(value, name, minimum=0):
    """A Python int >= minimum from an integer scalar (bool excluded)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _as_array(a, name, ndim, shape=None, check_finite=True):
    """a as a C-contiguous float64 array of the given ndim (and shape, None entries free)."""
    if hasattr(a, "toarray") and not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a dense array; sparse input is not supported")
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != ndim or (shape is not None and any(
            s is not None and s != t for s, t in zip(shape, a.shape))):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")" if shape \
            else f"{ndim}-D"
        raise DataError(f"{name} must have shape {want}, got {a.shape}")
    if check_finite and not np.isfinite(a).all():
        raise DataError(f"{name} has non-finite entries")
    return a


def _intercept_width(X, intercept):
    return X.shape[1] + _flag(intercept, "intercept")


def _row_weights(n, V, proba, resid, v):
    """(kind, A, w, K) for the multi-output kernels from exactly one of V (n, K, K) symmetric,
    proba (n, K) (softmax exact Fisher, V_i = v_i (diag p_i - p_i p_i^T)) or resid (n, K)
    (empirical Fisher, V_i = v_i r_i r_i^T); v (n,) is a per-row factor for proba / resid."""
    given = [name for name, a in (("V", V), ("proba", proba), ("resid", resid))
             if a is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of V, proba or resid"
                         + (f" (got {', '.join(given)})" if given else ""))
    if V is not None:
        if v is not None:
            raise ValueError("v multiplies proba or resid; fold it into V instead")
        V = _as_array(V, "V", 3, (n, None, None))
        K = V.shape[1]
        if K < 1 or V.shape[2] != K:
            raise DataError(f"V must have shape ({n}, K, K) with K >= 1, got {V.shape}")
        scale = np.abs(V).max()
        if np.abs(V - V.transpose(0, 2, 1)).max() > 1e-12 * scale:
            raise DataError("V must be symmetric in its last two axes (V[i] = V[i].T)")
        iu = np.triu_indices(K)
        return WEIGHTS_PACKED, np.ascontiguousarray(V[:, iu[0], iu[1]]), None, K
    name = given[0]
    A = _as_array(proba if name == "proba" else resid, name, 2, (n, None))
    K = A.shape[1]
    if K < 1:
        raise DataError(f"{name} must have at least one column, got shape {A.shape}")
    w = None if v is None else as_vector(v, n, "v")
    return (WEIGHTS_SOFTMAX if name == "proba" else WEIGHTS_OUTER), A, w, K


def _check_dim(dim, name):
    if dim > _BLAS_INT_MAX:
        raise DataError(f"{name} has more entries than BLAS can index ({dim})")


# ------------------------------------------------------------------- multi-output Gram --

def multi_output_gram(X, V=None, *, proba=None, resid=None, v=None, intercept=False,
                      n_threads=None, check_finite=True):
    """sum_i V_i (x) x_i x_i^T for K outputs: the (K pw, K pw) matrix whose block (k, l) is
    X1^T diag(V[:, k, l]) X1 (X1 = [X, 1] with ``intercept=True``), class-major.

    The per-row K x K weights come as exactly one of:

    - ``V`` (n, K, K), symmetric in its last two axes;
    - ``proba`` (n, K): the softmax exact Fisher, V_i = v_i (diag(p_i) - p_i p_i^T);
    - ``resid`` (n, K): the multi-output empirical Fisher, V_i = v_i r_i r_i^T (r_i = p_i - y_i
      gives the softmax scores' outer products).

    One pass over X: each row block is loaded once, then per class k one dsyrk (diagonal block)
    and one dgemm (blocks l > k) update the upper triangle; the rest is mirrored. Kind 1
    (OpenMP over row blocks); when the result is too large for per-thread accumulators it runs
    as one BLAS-threaded accumulation instead. ``check_finite=False`` skips the scan of X.
    """
    X = as_matrix(X, check_finite=check_finite)
    kind, A, w, K = _row_weights(X.shape[0], V, proba, resid, v)
    pw = _intercept_width(X, intercept)
    D = K * pw
    _check_dim(D, "the multi-output Gram")
    n_threads = effective_n_threads(n_threads)
    out = np.empty((D, D))
    kernel_threads, limit = _gram_threads(X.shape[0], D, n_threads)
    with limit:
        _fisher._multi_output_gram(X, bool(intercept), K, kind, A, w, out, kernel_threads)
    return out


def softmax_fisher(X, proba, v=None, *, intercept=False, n_threads=None):
    """Exact Fisher of softmax regression, sum_i v_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T,
    (K pw, K pw) class-major; ``v`` defaults to 1 (pass w / sum(w) for the mean Fisher)."""
    return multi_output_gram(X, proba=proba, v=v, intercept=intercept, n_threads=n_threads)


def multi_output_empirical_fisher(X, resid, v=None, *, intercept=False, n_threads=None):
    """Empirical Fisher sum_i v_i (r_i r_i^T) (x) x_i x_i^T of K-output scores r_i (x) x_i,
    (K pw, K pw) class-major; ``v`` defaults to 1."""
    return multi_output_gram(X, resid=resid, v=v, intercept=intercept, n_threads=n_threads)


def _gram_threads(n, width, n_threads, multi=True):
    """(kernel threads, BLAS limit): one thread for a small Gram (n width^2 below
    ngd._threads.SMALL_WORK), else OpenMP over row blocks when there are enough per-thread
    accumulators, otherwise a single accumulator with BLAS threads (kind 2)."""
    n_threads = threads_for(float(n) * width * width, n_threads)
    if n_threads > 1 and _fisher._gram_slots(n, width, multi) < 2:
        return 1, blas_threads(n_threads)
    return n_threads, fit_threads(n_threads)


# -------------------------------------------------------------- Fisher-vector products --

def fisher_vector(X, v, u, *, intercept=False, n_threads=None, check_finite=True):
    """X1^T (v * (X1 u)) without forming the Fisher (X1 = [X, 1] with ``intercept=True``;
    u has length p or p + 1). Each row block is read once; kind 1. ``check_finite=False``
    skips the scan of X (as in :func:`weighted_gram`)."""
    X = as_matrix(X, check_finite=check_finite)
    v = as_vector(v, X.shape[0], "v")
    pw = _intercept_width(X, intercept)
    u = as_vector(u, pw, "u")
    n_threads = effective_n_threads(n_threads)
    out = np.empty(pw)
    with fit_threads(n_threads):
        _fisher._fisher_vector(X, bool(intercept), v, u, out, n_threads)
    return out


def multi_output_fisher_vector(X, V=None, U=None, *, proba=None, resid=None, v=None,
                               intercept=False, n_threads=None, check_finite=True):
    """F U for the K-output Fisher of :func:`multi_output_gram` (same ``V`` / ``proba`` /
    ``resid`` / ``v`` arguments) without forming it. U is (K, pw) or flat (K pw,); the result
    has U's shape. Per row block: Z = X1 U^T, Y_i = V_i z_i, F U += Y^T X1; kind 1."""
    X = as_matrix(X, check_finite=check_finite)
    kind, A, w, K = _row_weights(X.shape[0], V, proba, resid, v)
    pw = _intercept_width(X, intercept)
    if U is None:
        raise TypeError("multi_output_fisher_vector() missing the direction U")
    U_in = np.asarray(U)
    if U_in.ndim == 1:
        Uc = _as_array(U_in, "U", 1, (K * pw,)).reshape(K, pw)
    else:
        Uc = _as_array(U_in, "U", 2, (K, pw))
    n_threads = effective_n_threads(n_threads)
    out = np.empty((K, pw))
    with fit_threads(n_threads):
        _fisher._multi_output_fisher_vector(X, bool(intercept), K, kind, A, w, Uc, out,
                                            n_threads)
    return out.reshape(U_in.shape)


def fisher_diagonal(X, v, *, intercept=False, n_threads=None, check_finite=True):
    """diag(X1^T diag(v) X1) = sum_i v_i x1_ij^2 in one pass (the Jacobi preconditioner, the
    exact diagonal Fisher); kind 1."""
    X = as_matrix(X, check_finite=check_finite)
    v = as_vector(v, X.shape[0], "v")
    pw = _intercept_width(X, intercept)
    n_threads = effective_n_threads(n_threads)
    out = np.empty(pw)
    with fit_threads(n_threads):
        _fisher._fisher_diagonal(X, bool(intercept), 0, WEIGHTS_PACKED, v.reshape(-1, 1),
                                 None, out, n_threads)
    return out


def multi_output_fisher_diagonal(X, V=None, *, proba=None, resid=None, v=None,
                                 intercept=False, n_threads=None, check_finite=True):
    """Diagonal of the K-output Fisher of :func:`multi_output_gram`, shape (K, pw)."""
    X = as_matrix(X, check_finite=check_finite)
    kind, A, w, K = _row_weights(X.shape[0], V, proba, resid, v)
    pw = _intercept_width(X, intercept)
    n_threads = effective_n_threads(n_threads)
    out = np.empty(K * pw)
    with fit_threads(n_threads):
        _fisher._fisher_diagonal(X, bool(intercept), K, kind, A, w, out, n_threads)
    return out.reshape(K, pw)


# ---------------------------------------------------------------- conjugate gradients --

def _cg_common(X, K, kind, A, w, g_in, dim, damping, tol, maxiter, intercept, preconditioner,
               x0, n_threads):
    g = _as_array(g_in, "g", np.ndim(g_in), None)
    if g.size != dim or g.ndim not in (1, 2):
        raise DataError(f"g must have {dim} entries (shape ({dim},)"
                        + (f" or ({K}, {dim // K})" if K else "") + f"), got {g.shape}")
    damping = _real(damping, "damping", minimum=0.0)
    tol = _real(tol, "tol", minimum=0.0)
    maxiter = min(10 * dim if maxiter is None else _count(maxiter, "maxiter"), 2**62)
    if preconditioner not in ("jacobi", None, "none"):
        raise ValueError(f"preconditioner must be 'jacobi' or None, got {preconditioner!r}")
    x = np.zeros(dim)
    warm = x0 is not None
    if warm:
        x0 = _as_array(x0, "x0", np.ndim(x0), None)
        if x0.size != dim:
            raise DataError(f"x0 must have {dim} entries like g, got shape {x0.shape}")
        x[:] = x0.ravel()
    n_threads = effective_n_threads(n_threads)
    with fit_threads(n_threads):
        status, n_iter, residual = _linalg._cg_solve(
            X, bool(intercept), K, kind, A, w, g.ravel(), damping, tol, maxiter,
            preconditioner == "jacobi", warm, x, n_threads)
    info = {"n_iter": int(n_iter), "residual": float(residual),
            "converged": status == _CG_CONVERGED, "status": CG_STATUS[status]}
    return x.reshape(g.shape), info


def cg_solve(X, v, g, damping, tol=1e-10, maxiter=None, *, intercept=False,
             preconditioner="jacobi", x0=None, n_threads=None):
    """Solve (X1^T diag(v) X1 + damping I) d = g by preconditioned conjugate gradients,
    matrix-free: the Fisher is applied through :func:`fisher_vector` products inside one C
    loop (no Python per iteration). X1 = [X, 1] with ``intercept=True`` (g of length p + 1;
    damping then applies to the intercept too).

    ``preconditioner="jacobi"`` uses M = diag(F) + damping (:func:`fisher_diagonal`), None the
    identity. Stops when ||r|| <= tol ||g||, after ``maxiter`` iterations (default 10 times
    the dimension), or when p^T A p <= 0 (an indefinite operator, e.g. negative v: the last
    iterate is returned). ``x0`` warm-starts. Same scale convention as :func:`weighted_gram`:
    v already holds any 1 / sum(w) factor.

    Returns (d, info), info = {"n_iter", "residual" (||r|| / ||g||), "converged", "status"
    ("converged", "maxiter" or "breakdown")}.
    """
    X = as_matrix(X)
    v = as_vector(v, X.shape[0], "v")
    pw = _intercept_width(X, intercept)
    return _cg_common(X, 0, WEIGHTS_PACKED, v.reshape(-1, 1), None, g, pw, damping, tol,
                      maxiter, intercept, preconditioner, x0, n_threads)


def multi_output_cg_solve(X, V=None, g=None, damping=0.0, tol=1e-10, maxiter=None, *,
                          proba=None, resid=None, v=None, intercept=False,
                          preconditioner="jacobi", x0=None, n_threads=None):
    """:func:`cg_solve` for the K-output Fisher of :func:`multi_output_gram` (weights as there);
    g is (K, pw) or flat (K pw,), and d has g's shape."""
    X = as_matrix(X)
    kind, A, w, K = _row_weights(X.shape[0], V, proba, resid, v)
    if g is None:
        raise TypeError("multi_output_cg_solve() missing the right-hand side g")
    pw = _intercept_width(X, intercept)
    return _cg_common(X, K, kind, A, w, g, K * pw, damping, tol, maxiter, intercept,
                      preconditioner, x0, n_threads)


# -------------------------------------------------------------------------- Woodbury --

def woodbury_solve(G, g, damping, *, n_threads=None):
    """(G^T G / n + damping I)^{-1} g for G of shape (n, p), through the n x n system
    G G^T + n damping I (Woodbury): O(n^2 p) work and O(n^2) memory, the way to go for a
    mini-batch Fisher with n < p. With g = G^T 1 / n (a mean gradient) the result is the
    natural gradient of the empirical Fisher. ``damping`` must be > 0. Kind 2: BLAS threads.
    """
    G = as_matrix(G, "G")
    g = as_vector(g, G.shape[1], "g")
    damping = _real(damping, "damping", minimum=0.0, strict=True)
    n_threads = effective_n_threads(n_threads)
    out = np.empty(G.shape[1])
    with blas_threads(n_threads):
        status = _linalg._woodbury_solve(G, g, damping, out)
    if status != 0:
        raise np.linalg.LinAlgError(
            f"G G^T + n damping I is not numerically positive definite (LAPACK info {status});"
            " increase damping")
    return out


# ------------------------------------------------------------------ parameter updates --

def _param(a, name, like=None):
    """An in-place parameter array: writeable, C-contiguous float32/float64 numpy array."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (updated in place), got "
                        f"{type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64 (updated in place), got {a.dtype}")
    if like is not None:
        if a.dtype != like.dtype:
            raise TypeError(f"{name} must have the dtype of theta ({like.dtype}), got "
                            f"{a.dtype}")
        if a.shape != like.shape:
            raise DataError(f"{name} must have the shape of theta {like.shape}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise DataError(f"{name} must be C-contiguous (it is updated in place)")
    if not a.flags.writeable:
        raise DataError(f"{name} is read-only (it is updated in place)")
    return a


def _step_input(a, name, theta, check_finite):
    """A read-only operand of an update: theta's dtype and shape, contiguous, finite."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape != theta.shape:
        raise DataError(f"{name} must have the shape of theta {theta.shape}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=theta.dtype)    # no copy when it already matches
    flat = arr.reshape(-1)
    if check_finite and not _fused._all_within(flat, _FLOAT64_MAX, 1):
        raise DataError(f"{name} has non-finite entries")
    return flat


def _flat(a):
    return a.reshape(-1)


def axpy_step(theta, d, alpha, *, check_finite=True, n_threads=None):
    """theta += alpha d in place (one pass, no temporary); returns theta."""
    theta = _param(theta, "theta")
    alpha = _real(alpha, "alpha")
    d = _step_input(d, "d", theta, check_finite)
    n_threads = effective_n_threads(n_threads)
    if theta.size:
        _fused._axpy_step(_flat(theta), d, alpha, n_threads)
    return theta


def momentum_step(theta, velocity, d, alpha, beta=0.9, *, nesterov=False, check_finite=True,
                  n_threads=None):
    """Heavy-ball step along the direction d, in place: velocity = beta velocity + d, then
    theta += alpha velocity (Nesterov: theta += alpha (d + beta velocity)); returns theta."""
    theta = _param(theta, "theta")
    velocity = _param(velocity, "velocity", theta)
    alpha = _real(alpha, "alpha")
    beta = _real(beta, "beta")
    nesterov = _flag(nesterov, "nesterov")
    d = _step_input(d, "d", theta, check_finite)
    n_threads = effective_n_threads(n_threads)
    if theta.size:
        _fused._momentum_step(_flat(theta), _flat(velocity), d, alpha, beta, nesterov,
                              n_threads)
    return theta


def adam_step(theta, m, s, grad, *, t, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              second=None, power=0.5, check_finite=True, n_threads=None):
    """Adam / RMSprop / diagonal-Fisher step in place (descent: theta decreases along grad).

    m = beta1 m + (1 - beta1) grad;  s = beta2 s + (1 - beta2) q, q = grad**2 (Adam, RMSprop
    with beta1 = 0) or ``second``, a diagonal Fisher estimate (e.g. :func:`fisher_diagonal`);
    theta -= alpha mhat / (shat**power + eps) with the bias corrections mhat = m / (1 -
    beta1**t), shat = s / (1 - beta2**t) at step ``t`` >= 1 (t = 0: none). ``power=1`` with
    beta1 = beta2 = 0 and eps = 0 is a diagonal natural-gradient step. Returns theta.
    """
    theta = _param(theta, "theta")
    m = _param(m, "m", theta)
    s = _param(s, "s", theta)
    t = min(_count(t, "t"), 2**62)
    alpha = _real(alpha, "alpha")
    beta1 = _real(beta1, "beta1", minimum=0.0)
    beta2 = _real(beta2, "beta2", minimum=0.0)
    if beta1 >= 1.0 or beta2 >= 1.0:
        raise ValueError(f"beta1 and beta2 must be < 1, got {beta1}, {beta2}")
    eps = _real(eps, "eps", minimum=0.0)
    power = _real(power, "power", minimum=0.0)
    grad = _step_input(grad, "grad", theta, check_finite)
    q = None if second is None else _step_input(second, "second", theta, check_finite)
    n_threads = effective_n_threads(n_threads)
    if theta.size:
        _fused._adam_step(_flat(theta), _flat(m), _flat(s), grad, q, alpha, beta1, beta2, eps,
                          power, t, n_threads)
    return theta


# ------------------------------------------------------------------ CSR (scipy.sparse) --
#
# X is any scipy.sparse matrix (CSR used as is, other formats converted); its structure is
# checked (indptr from 0 to nnz, never decreasing; indices in [0, p)) so that no kernel reads
# out of bounds. Results are float64 and independent of n_threads (kind 1, no BLAS).

def _sparse_input(X, check_finite):
    return _sparse.as_csr(X, "X", check_finite=check_finite)


def sparse_matvec(X, coef, *, n_threads=None, check_finite=True):
    """X coef for CSR X, float64 (n,)."""
    X = _sparse_input(X, check_finite)
    coef = as_vector(coef, X.shape[1], "coef")
    return _sparse.matvec(X, coef, n_threads=effective_n_threads(n_threads))


def sparse_rmatvec(X, r, *, intercept=False, n_threads=None, check_finite=True):
    """X^T r for CSR X (with ``intercept=True``: [X^T r, sum r]), float64."""
    X = _sparse_input(X, check_finite)
    r = as_vector(r, X.shape[0], "r")
    return _sparse.rmatvec(X, r, bool(intercept), effective_n_threads(n_threads))


def sparse_weighted_gram(X, v, *, intercept=False, n_threads=None, check_finite=True):
    """X1^T diag(v) X1 for CSR X (X1 = [X, 1] with ``intercept=True``) as a dense float64
    matrix: sum_i v_i x1_i x1_i^T over each row's non-zeros."""
    X = _sparse_input(X, check_finite)
    v = as_vector(v, X.shape[0], "v")
    return _sparse.weighted_gram(X, v, bool(intercept), effective_n_threads(n_threads))


def sparse_fisher_vector(X, v, u, *, intercept=False, n_threads=None, check_finite=True):
    """X1^T (v * (X1 u)) for CSR X without forming the Fisher (u of length p or p + 1)."""
    X = _sparse_input(X, check_finite)
    v = as_vector(v, X.shape[0], "v")
    u = as_vector(u, X.shape[1] + bool(intercept), "u")
    return _sparse.fisher_vector(X, v, u, bool(intercept), effective_n_threads(n_threads))


def sparse_fisher_diagonal(X, v, *, intercept=False, n_threads=None, check_finite=True):
    """sum_i v_i x1_ij^2 for CSR X (the Jacobi preconditioner of CG)."""
    X = _sparse_input(X, check_finite)
    v = as_vector(v, X.shape[0], "v")
    return _sparse.fisher_diagonal(X, v, bool(intercept), effective_n_threads(n_threads))


# ---------------------------------------------------------- categorical blocks (codes) --
#
# A categorical with L levels is an int32 code per row, -1 for the reference level (a row of
# zeros in its one-hot matrix Z, n x L). These give Z^T v, Z^T diag(v) X1 and X eta += Z gamma
# without forming Z; results do not depend on n_threads (see ngd/_kernels/categorical.pxd).

def as_codes(codes, n_levels, n=None, name="codes"):
    """codes as a C-contiguous int32 vector with values in [-1, n_levels) (and length n)."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer codes, got dtype {codes.dtype}")
    if codes.ndim != 1 or (n is not None and codes.shape[0] != n):
        want = f"({n},)" if n is not None else "1-D"
        raise DataError(f"{name} must have shape {want}, got {codes.shape}")
    n_levels = _count(n_levels, "n_levels")
    if codes.size and (codes.min() < -1 or codes.max() >= n_levels):
        raise DataError(f"{name} must lie in [-1, {n_levels - 1}] (-1: reference level), got "
                        f"values in [{codes.min()}, {codes.max()}]")
    return np.ascontiguousarray(codes, dtype=np.int32)


def level_sums(codes, n_levels, v=None, *, n_threads=None):
    """out[l] = sum_{i: codes_i = l} v_i (v = 1: the level counts), float64 (n_levels,)."""
    codes = as_codes(codes, n_levels)
    v = None if v is None else as_vector(v, codes.shape[0], "v")
    out = np.empty(n_levels)
    _categorical._level_sums(codes, v, out, effective_n_threads(n_threads))
    return out


def level_cross_sums(X, codes, n_levels, v=None, *, intercept=False, n_threads=None,
                     check_finite=True):
    """M[l, j] = sum_{i: codes_i = l} v_i X_ij, float64 (n_levels, p) (Z^T diag(v) X); with
    ``intercept=True`` a last column of level sums (Z^T diag(v) [X, 1]). p may be 0."""
    X = _dense_part(X, check_finite)
    codes = as_codes(codes, n_levels, X.shape[0])
    v = None if v is None else as_vector(v, X.shape[0], "v")
    out = np.empty((n_levels, X.shape[1] + _flag(intercept, "intercept")))
    _categorical._level_cross_sums(X, codes, v, bool(intercept), out,
                                   effective_n_threads(n_threads))
    return out


def gather_add(eta, codes, gamma, *, n_threads=None):
    """eta_i += sum_k gamma_k[codes_k[i]] in place (codes -1 add nothing), for one block
    (codes, gamma arrays) or several (lists); eta float64 C-contiguous. Returns eta."""
    eta = _param(eta, "eta")
    if eta.dtype != np.float64 or eta.ndim != 1:
        raise TypeError(f"eta must be a float64 vector, got {eta.dtype} of shape {eta.shape}")
    if isinstance(codes, np.ndarray):
        codes, gamma = [codes], [gamma]
    if len(codes) != len(gamma):
        raise ValueError(f"{len(codes)} code arrays for {len(gamma)} gamma vectors")
    gamma = [_as_array(g, f"gamma[{k}]", 1) for k, g in enumerate(gamma)]
    codes = [as_codes(c, g.shape[0], eta.shape[0], f"codes[{k}]")
             for k, (c, g) in enumerate(zip(codes, gamma))]
    _categorical._gather_add(eta, codes, gamma, effective_n_threads(n_threads))
    return eta


def contingency_table(codes_a, n_a, codes_b, n_b, v=None):
    """T[l, m] = sum_{i: a_i = l, b_i = m} v_i as a scipy CSR matrix (n_a, n_b) (Z_a^T diag(v)
    Z_b; rows with a -1 code are skipped); coo -> csr sums the duplicates in O(n)."""
    codes_a = as_codes(codes_a, n_a, name="codes_a")
    codes_b = as_codes(codes_b, n_b, codes_a.shape[0], "codes_b")
    v = np.ones(codes_a.shape[0]) if v is None else as_vector(v, codes_a.shape[0], "v")
    return _contingency(codes_a, n_a, codes_b, n_b, v)


def _contingency(codes_a, n_a, codes_b, n_b, v):
    import scipy.sparse as sp
    keep = (codes_a >= 0) & (codes_b >= 0)
    table = sp.coo_matrix((v[keep], (codes_a[keep], codes_b[keep])), shape=(n_a, n_b))
    return table.tocsr()


def _dense_part(X, check_finite):
    """X as a 2-D float32/float64 array with a unit stride, allowing 0 columns."""
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError("X must be a dense array")
    X = np.asarray(X)
    if X.ndim != 2:
        raise DataError(f"X must be 2-D, got shape {X.shape}")
    if X.shape[1] == 0:
        return np.empty(X.shape)
    return as_matrix(X, check_finite=check_finite)
