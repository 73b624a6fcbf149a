"""Proximal natural gradient (IRLS-CD, as newGLMNET and glum's irls-cd) for the composite

    F(theta) = L(theta) + sum_j ridge_j / 2 theta_j^2 + sum_j l1_j |theta_j|,

L the model's smooth objective (its own l2 = 0), ridge_j and l1_j per parameter (0 for
intercepts and unpenalised features; l1_j = inf holds theta_j at 0, as in the null model of a
path).

One iteration at theta, with g the gradient of the smooth part L + ridge and C the curvature
(the model's exact Fisher, or empirical, plus diag(ridge)) on the working set S:

1. d = argmin_d g^T d + 1/2 d^T C d + sum_j l1_j |theta_j + d_j| over d supported on S, by
   cyclic coordinate descent with covariance updates (u = g + C d kept current), each full
   sweep followed by active-set iterations on the non-zero and unpenalised coordinates
   (Newton steps on that support with the signs fixed, cut at the first sign change), until
   the subproblem's KKT violation is <= max(tol / 10, min(kkt / 10, kkt^2));
2. a step t = 1, 1/2, ... until F(theta + t d) <= F(theta) + c t Delta with
   Delta = sum_j [g_j d_j + l1_j (|theta_j + d_j| - |theta_j|)] (the composite Armijo rule,
   summed per coordinate so that the cancellation near the optimum stays exact), or until F
   is unchanged to its rounding error (LOSS_NOISE |F|: F sums n rows) while the KKT
   violation falls.

Convergence is measured by the KKT violation, the inf-norm of the minimum-norm subgradient

    v_j = g_j + l1_j sign(theta_j)  (theta_j != 0),   v_j = max(|g_j| - l1_j, 0)  (theta_j = 0).

Working set: S starts as the unpenalised and non-zero coordinates, the screening set (the
sequential strong rule |g_j| >= 2 l1_j - l1_prev_j) and every coordinate violating the KKT
conditions; each iteration re-checks the coordinates outside S and adds those that violate
them (a single fit has no previous penalty: S starts from the KKT violators alone). For
single-output models with S at most half the coordinates the curvature is built on a copy of
the columns of S only (CSR X: a CSR copy, so no dense n x |S| block either).

Curvature reuse: C is rebuilt when S grows or when the curvature weights moved by more than
``reuse`` (relative L1 change) since the last build; otherwise the stored C is reused (a
proximal quasi-Newton step). After a step with a reused C that backtracks or cuts the KKT
violation by less than REUSE_CONTRACTION, C is rebuilt (and that step recomputed when it
backtracked or hardly changed F). ``reuse=0`` rebuilds every iteration (proximal Newton /
Fisher scoring).
"""
import numpy as np
from scipy import linalg

from ngd import _sparse
from ngd.models._common import SingleOutputModel, augmented_gram
from ngd.optim._loop import run
from ngd.optim.curvature import StepOutcome
from ngd.optim.steps import ARMIJO_C, MAX_HALVINGS

CURVATURES = ("exact", "empirical")
LOSS_NOISE = 64 * np.finfo(float).eps     # relative rounding error of L (a sum over rows)
MAX_CD_SWEEPS = 20000
SINGULAR = 1e-12
REUSE_CONTRACTION = 0.25
FLOOR = 1e3 * np.finfo(float).eps
SUBSET_FRACTION = 0.5


class CompositeEvaluation:
    """F, its minimum-norm subgradient (``grad``, so that ``grad_norm`` is the KKT
    violation), the smooth gradient and the curvature weights at one theta."""

    def __init__(self, loss, grad, smooth_grad, weights):
        self.loss = loss
        self.grad = grad
        self.smooth_grad = smooth_grad
        self.weights = weights

    @property
    def grad_norm(self):
        """KKT violation: max_j |v_j|."""
        return float(np.max(np.abs(self.grad))) if self.grad.size else 0.0


def l1_norm(l1, theta):
    """sum_j l1_j |theta_j| over theta_j != 0 (so that l1_j = inf at theta_j = 0 adds 0)."""
    nonzero = theta != 0
    return float(l1[nonzero] @ np.abs(theta[nonzero]))


def min_norm_subgradient(theta, grad, l1):
    """v_j = g_j + l1_j sign(theta_j) if theta_j != 0, else sign(g_j) max(|g_j| - l1_j, 0)."""
    at_zero = theta == 0
    shrunk = np.sign(grad) * np.maximum(np.abs(grad) - l1, 0.0)
    return np.where(at_zero, shrunk, grad + np.copysign(l1, theta))


class LastEvaluation:
    """The model's most recent evaluation with curvature weights, shared by the problems of a
    path so that each penalty starts from the previous solution without another pass."""

    def __init__(self):
        self.theta = None
        self.evaluation = None

    def get(self, model, theta, curvature):
        if self.theta is None or not np.array_equal(theta, self.theta):
            self.evaluation = model.evaluate(theta, curvature)
            self.theta = theta.copy()
        return self.evaluation


class CompositeProblem:
    """F(theta) on ``model`` (whose own l2 must be 0) with per-parameter l1 and ridge;
    ``memo`` (a LastEvaluation) may be shared between problems on the same model."""

    def __init__(self, model, l1, ridge, curvature="exact", memo=None):
        if model.l2 != 0:
            raise ValueError("the model's own l2 must be 0 (the ridge goes into `ridge`)")
        if curvature not in CURVATURES:
            raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}")
        self.model = model
        self.l1 = np.asarray(l1, dtype=np.float64)
        self.ridge = np.asarray(ridge, dtype=np.float64)
        self.curvature = curvature
        self.penalised = self.l1 > 0
        self.memo = LastEvaluation() if memo is None else memo

    def evaluate(self, theta):
        """Composite evaluation at theta, with the curvature weights."""
        ev = self.memo.get(self.model, theta, self.curvature)
        smooth_loss = ev.loss + 0.5 * float(self.ridge @ (theta * theta))
        grad = ev.grad + self.ridge * theta
        loss = smooth_loss + l1_norm(self.l1, theta)
        return CompositeEvaluation(loss, min_norm_subgradient(theta, grad, self.l1), grad,
                                   ev.weights)


def _weight_array(weights):
    """The per-row curvature weights as one array (softmax: p_ik * w_i / sum w; a chunked
    model's reduced curvature: its Gram)."""
    if isinstance(weights, tuple):
        _, proba, _, wn = weights
        return proba * wn[:, None]
    return getattr(weights, "gram", weights)


class CurvatureCache:
    """The curvature (without the ridge) on a coordinate set, rebuilt only when needed.

    ``n_builds`` counts Gram evaluations (one pass of X^T W X over the rows), ``n_reused``
    the iterations that reused the stored matrix.
    """

    def __init__(self, model, reuse=0.0):
        if not (np.isfinite(reuse) and reuse >= 0):
            raise ValueError(f"curvature reuse must be a finite number >= 0, got {reuse!r}")
        self.model = model
        self.reuse = float(reuse)
        self.n_builds = 0
        self.n_reused = 0
        self.n_cells = 0          # sum over builds of n_rows * size^2: the Gram work done
        self.expired = False      # set by the stepper when a reused C made poor progress
        self._coords = None
        self._matrix = None
        self._weights = None

    def matrix(self, weights, coords):
        """(C restricted to ``coords`` (sorted indices), fresh?)."""
        fresh = not (self._matrix is not None and self.reuse > 0 and not self.expired
                     and self._covers(coords) and self._moved(weights) <= self.reuse)
        if fresh:
            self._matrix, self._coords = self._build(weights, coords)
            self.expired = False
            self._weights = _weight_array(weights).copy() if self.reuse > 0 else None
            self.n_builds += 1
            self.n_cells += self.model.n_samples * self._coords.size ** 2
        else:
            self.n_reused += 1
        if coords.size == self._coords.size:
            return self._matrix, fresh
        at = np.searchsorted(self._coords, coords)
        return self._matrix[np.ix_(at, at)], fresh

    def _covers(self, coords):
        return coords.size <= self._coords.size and \
            bool(np.isin(coords, self._coords, assume_unique=True).all())

    def _moved(self, weights):
        new = _weight_array(weights)
        scale = float(np.abs(self._weights).sum())
        return float(np.abs(new - self._weights).sum()) / scale if scale > 0 else np.inf

    def _build(self, weights, coords):
        """(matrix, its coordinates): the Gram of the columns of ``coords`` (a copy of those
        columns) when they are at most SUBSET_FRACTION of a single-output model's, else the
        full curvature (kept whole, so a growing working set needs no rebuild)."""
        model = self.model
        if isinstance(model, SingleOutputModel) and \
                coords.size <= SUBSET_FRACTION * model.n_params:
            features = coords[coords < model.n_features]
            if features.size == 0:             # the intercept alone: [1^T diag(v) 1]
                return np.full((coords.size, coords.size), float(np.sum(weights))), \
                    coords.copy()
            return augmented_gram(column_subset(model.X, features), weights,
                                  model.fit_intercept, model.n_threads), coords.copy()
        return model.curvature_matrix(weights), np.arange(model.n_params)


def column_subset(X, features):
    """X[:, features]: a contiguous dense copy, or for CSR X a CSR of those columns (never
    a dense temporary)."""
    if _sparse.is_sparse(X):
        return _sparse.as_csr(X[:, features], check_finite=False)
    return np.ascontiguousarray(X[:, features])


def with_ridge(C, ridge):
    """C + diag(ridge) as a new matrix, or C itself when the ridge is 0 (no p x p copy)."""
    if not ridge.any():
        return C
    out = C.copy()
    out[np.diag_indices_from(out)] += ridge
    return out


def strong_set(grad, l1, l1_previous):
    """Sequential strong rule: keep j when |g_j| >= 2 l1_j - l1_previous_j (penalised j)."""
    return np.abs(grad) >= 2.0 * l1 - l1_previous


def _sweep(coords, rows, diag, l1, z, u):
    """One cyclic pass of coordinate descent over ``coords`` (z a list, u = g + C (z - theta)
    updated in place by the covariance update u += dz_j C_j)."""
    for j in coords:
        h = diag[j]
        if h <= 0.0:
            continue
        old = z[j]
        rho = h * old - u[j]
        lam = l1[j]
        if rho > lam:
            new = (rho - lam) / h
        elif rho < -lam:
            new = (rho + lam) / h
        else:
            new = 0.0
        if new != old:
            z[j] = new
            u += (new - old) * rows[j]


def _violation(z, u, l1):
    """KKT violation of the quadratic subproblem at z (u its smooth gradient)."""
    return float(np.max(np.abs(min_norm_subgradient(z, u, l1)), initial=0.0))


def _support_newton(C, z, u, l1, active):
    """Newton step on the support A: C_AA delta = -(u_A + l1_A sign(z_A)), the exact minimiser
    while no coordinate changes sign; otherwise taken up to the first zero crossing, which
    lands on 0 (the quadratic decreases all along the segment). Updates z and u in place;
    returns True for a full step, False for a partial one, None when C_AA is not safely
    positive definite (Cholesky fails, or the squared ratio of its smallest to largest pivot is
    below SINGULAR: the softmax gauge direction, more features than rows)."""
    z_a = z[active]
    sign = np.sign(z_a)
    try:
        factor = linalg.cho_factor(C[np.ix_(active, active)], check_finite=False)
    except np.linalg.LinAlgError:
        return None
    pivots = np.abs(np.diag(factor[0]))
    if not pivots.min() ** 2 > SINGULAR * pivots.max() ** 2:
        return None
    delta = linalg.cho_solve(factor, -(u[active] + l1[active] * sign), check_finite=False)
    crossing = (l1[active] > 0) & ((z_a + delta) * sign <= 0)
    step = delta
    if crossing.any():
        where = np.flatnonzero(crossing)
        hit = where[np.argmin(-z_a[where] / delta[where])]
        step = (-z_a[hit] / delta[hit]) * delta
        step[hit] = -z_a[hit]
    z[active] = z_a + step
    u += C[:, active] @ step
    return not crossing.any()


def coordinate_descent(C, g, theta, l1, tol):
    """argmin_d g^T d + 1/2 d^T C d + sum_j l1_j |theta_j + d_j| to KKT violation <= tol.

    Returns (d, C d, sweeps). Each round: one cyclic sweep over every coordinate (which also
    re-checks the zero ones), then active-set iterations on the non-zero and unpenalised
    coordinates: Newton steps on the support (:func:`_support_newton`) until one keeps every
    sign, or sweeps over them when their curvature block is singular.
    """
    m = g.size
    z = np.array(theta, dtype=np.float64)
    u = np.array(g, dtype=np.float64)
    diag = np.diag(C).tolist()
    l1_list = l1.tolist()
    rows = list(C)
    sweeps = 0
    while sweeps < MAX_CD_SWEEPS:
        z_list = z.tolist()
        _sweep(range(m), rows, diag, l1_list, z_list, u)
        sweeps += 1
        z = np.array(z_list)
        if _violation(z, u, l1) <= tol:
            break
        for _ in range(m + 1):
            active = np.flatnonzero((z != 0) | (l1 == 0))
            full = _support_newton(C, z, u, l1, active) if active.size else True
            if full is None:
                sweeps += _active_sweeps(active, rows, diag, l1, l1_list, z, u, tol, sweeps)
            if full is not False:
                break
    return z - theta, u - g, sweeps


def _active_sweeps(active, rows, diag, l1, l1_list, z, u, tol, done):
    """Sweeps over ``active`` until its KKT violation is <= tol; returns their number."""
    order = active.tolist()
    count = 0
    while done + count < MAX_CD_SWEEPS:
        z_list = z.tolist()
        _sweep(order, rows, diag, l1_list, z_list, u)
        z[:] = z_list
        count += 1
        if _violation(z[active], u[active], l1[active]) <= tol:
            break
    return count


class ProximalStepper:
    """One proximal natural-gradient step per iteration (see the module docstring).

    ``previous_l1``: the l1 weights of the previous penalty of a path, for the strong rule at
    the first step; None (a single fit) screens by the KKT conditions alone (the basic strong
    rule, previous = the penalty that zeroes everything, keeps every feature once alpha is
    below half of it, and the curvature would be the full p x p matrix).
    """

    def __init__(self, problem, cache, tol, previous_l1=None):
        self.problem = problem
        self.cache = cache
        self.curvature = problem.curvature
        self.tol = float(tol)
        self.previous_l1 = previous_l1
        self.working = None
        self.n_sweeps = 0

    def evaluate(self, theta):
        """Composite evaluation with curvature weights (the loop's ``current``)."""
        return self.problem.evaluate(theta)

    def _update_working_set(self, theta, current):
        l1 = self.problem.l1
        keep = (theta != 0) | ~self.problem.penalised | (np.abs(current.grad) > self.tol)
        if self.working is None:
            if self.previous_l1 is not None:
                with np.errstate(invalid="ignore"):
                    keep |= strong_set(current.smooth_grad, l1, self.previous_l1)
        else:
            keep |= self.working
        self.working = keep & np.isfinite(l1)

    def step(self, theta, current):
        """Solve the L1 quadratic model on the working set, then the composite line search.
        After a step from a reused curvature that backtracked or cut the KKT violation by
        less than REUSE_CONTRACTION the next step builds a fresh one; the step itself is
        recomputed when it backtracked or changed F by less than FLOOR |F| (where the loop
        would stop on the loss change)."""
        self._update_working_set(theta, current)
        coords = np.flatnonzero(self.working)
        outcome, fresh = self._attempt(theta, current, coords)
        if fresh or current.grad_norm <= self.tol:      # (only settling the last step)
            return outcome
        if outcome.failed or outcome.step_size < 1.0 or \
                outcome.evaluation.grad_norm > REUSE_CONTRACTION * current.grad_norm:
            self.cache.expired = True
            if outcome.failed or outcome.step_size < 1.0 or \
                    current.loss - outcome.evaluation.loss <= FLOOR * abs(current.loss):
                retry, _ = self._attempt(theta, current, coords)
                retry.n_linesearch += outcome.n_linesearch
                outcome = retry
        return outcome

    def _attempt(self, theta, current, coords):
        """(StepOutcome, whether the curvature was freshly built)."""
        problem = self.problem
        C, fresh = self.cache.matrix(current.weights, coords)
        C = with_ridge(C, problem.ridge[coords])
        g = current.smooth_grad[coords]
        kkt = current.grad_norm
        inner_tol = max(0.1 * self.tol, min(0.1 * kkt, kkt * kkt))
        d_s, Cd, sweeps = coordinate_descent(C, g, theta[coords], problem.l1[coords], inner_tol)
        self.n_sweeps += sweeps
        d = np.zeros_like(theta)
        d[coords] = d_s
        theta_s, l1_s = theta[coords], problem.l1[coords]     # l1 finite on S
        delta = float(np.sum(g * d_s + l1_s * (np.abs(theta_s + d_s) - np.abs(theta_s))))
        # dir_deriv stays nan: the shared loop would read sqrt(-Delta) as a Newton decrement
        # and stop on it; here only the KKT violation decides (status 0).
        outcome = StepOutcome(damping=0.0)
        if not np.any(d_s):
            return self._stay(theta, current, outcome), fresh
        t = 1.0
        for trial in range(1, MAX_HALVINGS + 1):
            candidate = problem.evaluate(theta + t * d)
            if np.isfinite(candidate.loss) and (
                    candidate.loss <= current.loss + ARMIJO_C * t * min(delta, 0.0)
                    or (candidate.loss - current.loss <= LOSS_NOISE * abs(current.loss)
                        and candidate.grad_norm < kkt)):
                outcome.theta = theta + t * d
                outcome.evaluation = candidate
                outcome.step_size = t
                outcome.n_linesearch = trial
                outcome.step_max = t * float(np.max(np.abs(d)))
                outcome.n_updates = 1
                if fresh and problem.curvature == "exact":
                    fisher = float(d_s @ Cd) - float(problem.ridge[coords] @ (d_s * d_s))
                    outcome.kl = 0.5 * t * t * max(fisher, 0.0)
                return outcome, fresh
            t *= 0.5
        outcome.n_linesearch = MAX_HALVINGS
        return self._stay(theta, current, outcome), fresh

    def _stay(self, theta, current, outcome):
        """No descent found: converged (a zero step) when the KKT conditions already hold to
        tol (rounding blocks further progress), else a failed line search."""
        if current.grad_norm <= self.tol:
            outcome.theta, outcome.evaluation, outcome.step_size = theta, current, 0.0
        else:
            outcome.failed = True
        return outcome


def minimise(problem, theta0, *, tol, ftol, max_iter, cache=None, previous_l1=None,
             method="ngd", callback=None):
    """Run the proximal stepper in the shared loop; the FitResult gains ``kkt_violation``
    (= grad_norm: the inf-norm of the minimum-norm subgradient), ``nll`` (the model's smooth
    objective L at the solution), ``n_gram`` (curvature builds), ``n_cd_sweeps`` and the KKT
    violation in its message."""
    cache = CurvatureCache(problem.model) if cache is None else cache
    builds = cache.n_builds
    stepper = ProximalStepper(problem, cache, tol, previous_l1=previous_l1)
    result = run(stepper, theta0, tol=tol, ftol=ftol, max_iter=max_iter, method=method,
                 callback=callback)
    result.kkt_violation = result.grad_norm
    theta = result.x
    result.nll = result.loss - 0.5 * float(problem.ridge @ (theta * theta)) \
        - l1_norm(problem.l1, theta)
    result.message += f" KKT violation {result.grad_norm:.2e} (tol {tol:.1e})."
    result.n_gram = cache.n_builds - builds
    result.n_cd_sweeps = stepper.n_sweeps
    return result
