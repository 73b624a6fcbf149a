"""Cross-validated elastic-net logistic regression: ngd against glum and scikit-learn on one
grid and one set of folds.

    objective per fold: (1/n) sum_i nll_i + alpha [(1 - r)/2 ||beta||^2 + r ||beta||_1]
    grid: alpha_k = alpha_max RATIO^(k / (n_alphas - 1)), alpha_max from ngd on all rows;
    folds: ngd.cv.make_folds (stratified, seed 0); l1_ratio r = 0.5

Peers get the same alphas and folds: glum's ``GeneralizedLinearRegressorCV(family="binomial",
alphas=grid, l1_ratio=r, cv=folds)`` (the same objective), scikit-learn's
``LogisticRegressionCV(solver="saga", l1_ratios=[r], Cs=1/(alpha n_train), cv=folds,
scoring="neg_log_loss")``. The table gives the wall time, the selected alpha (index on the
grid) and ngd's mean held-out deviance at that alpha, so a peer that selects another alpha
shows how much worse it is; "ngd (reuse=0)" rebuilds the Fisher at every iteration, and the
Fisher-build counts measure what the curvature reuse saves. Peers are optional.
"""
import importlib
import importlib.util
import warnings

import numpy as np

import ngd
from bench.common import format_table, format_time, logistic_problem, parse_shape
from ngd.cv import make_folds

L1_RATIO = 0.5
RATIO = 1e-3
FOLDS = 5
TOL = 1e-6          # ngd: KKT violation; glum: gradient_tol
SAGA_TOL = 1e-4     # scikit-learn's default (saga stops on the coefficient change)
SAGA_MAX_ITER = 1000


def _grid(X, y, n_alphas):
    path = ngd.fit_path(X, y, l1_ratio=L1_RATIO, n_alphas=1)
    return path.alpha_max * RATIO ** np.linspace(0.0, 1.0, n_alphas)


def _ngd(reuse):
    def run(X, y, alphas, folds):
        cv = ngd.cross_validate(X, y, l1_ratio=L1_RATIO, alphas=alphas, cv=folds, tol=TOL,
                                curvature_reuse=reuse)
        builds = sum(cv.fold_n_gram) + cv.path.n_gram
        return dict(index=cv.index_best, cv=cv, note=f"{builds} Fisher builds")
    return run


def _glum(X, y, alphas, folds):
    from glum import GeneralizedLinearRegressorCV
    splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(FOLDS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GeneralizedLinearRegressorCV(family="binomial", alphas=alphas,
                                             l1_ratio=[L1_RATIO], cv=splits,
                                             gradient_tol=TOL).fit(X, y)
    return dict(index=int(np.argmin(np.abs(np.log(alphas / model.alpha_)))), note="")


def _sklearn(X, y, alphas, folds):
    from sklearn.linear_model import LogisticRegressionCV
    splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(FOLDS)]
    n_train = len(y) - len(y) // FOLDS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegressionCV(Cs=1.0 / (alphas * n_train), l1_ratios=[L1_RATIO],
                                     solver="saga", cv=splits, scoring="neg_log_loss",
                                     tol=SAGA_TOL, max_iter=SAGA_MAX_ITER).fit(X, y)
    alpha = 1.0 / (float(np.ravel(model.C_)[0]) * n_train)
    return dict(index=int(np.argmin(np.abs(np.log(alphas / alpha)))), note=f"tol={SAGA_TOL:g}")


PEER_IMPORTS = {"glum": "glum", "sklearn": "sklearn.linear_model"}

#: solver -> (adapter, module it needs or None)
SOLVERS = {"ngd": (_ngd(0.1), None), "ngd (reuse=0)": (_ngd(0.0), None),
           "glum": (_glum, "glum"), "sklearn-saga": (_sklearn, "sklearn")}


class LogisticPathCV:
    """Wall time of a 5-fold cross-validated elastic-net path and the alpha it selects."""
    params = [["200000x200"], [100], list(SOLVERS)]
    param_names = ["problem", "n_alphas", "solver"]
    quick_params = [["1000x10"], [3], list(SOLVERS)]
    repeat = 1
    warmup = 0
    timeout = 3600

    def setup(self, problem, n_alphas, solver):
        module = SOLVERS[solver][1]
        if module is not None and importlib.util.find_spec(module) is None:
            raise NotImplementedError(f"{module} is not installed")
        if module is not None:                    # import outside the timed region
            importlib.import_module(PEER_IMPORTS[module])
        n, d = parse_shape(problem)
        self.X, self.y = logistic_problem(n, d)
        self.alphas = _grid(self.X, self.y, n_alphas)
        self.folds = make_folds(n, FOLDS, seed=0, labels=self.y)
        self._record = None

    def time_cv(self, problem, n_alphas, solver):
        self._record = SOLVERS[solver][0](self.X, self.y, self.alphas, self.folds)

    _curves = {}        # (problem, n_alphas) -> ngd's CV deviance curve, shared by solvers

    def _ngd_curve(self, problem, n_alphas):
        """ngd's CV deviance curve on this grid (the yardstick for every solver's choice)."""
        key = (problem, n_alphas)
        if "cv" in self._record:
            self._curves[key] = self._record["cv"].cv_mean
        if key not in self._curves:
            self._curves[key] = SOLVERS["ngd"][0](self.X, self.y, self.alphas,
                                                  self.folds)["cv"].cv_mean
        return self._curves[key]

    def track_selected_index(self, problem, n_alphas, solver):
        return self._record["index"]

    def track_cv_deviance_at_selected(self, problem, n_alphas, solver):
        return float(self._ngd_curve(problem, n_alphas)[self._record["index"]])

    def track_note(self, problem, n_alphas, solver):
        return self._record["note"]


def summarize(records):
    """One table per problem: time, selected alpha, CV deviance there, speed-up of ngd."""
    groups = {}
    for rec in records:
        if rec["benchmark"] != "LogisticPathCV":
            continue
        p = rec["params"]
        entry = groups.setdefault((p["problem"], p["n_alphas"]), {}).setdefault(p["solver"],
                                                                                   {})
        entry.update({"skipped": rec["skipped"]} if rec.get("skipped") else
                     {rec["name"]: rec["value"]})
    tables = []
    for (problem, n_alphas), solvers in groups.items():
        ngd_time = solvers.get("ngd", {}).get("time_cv")
        rows, notes = [], []
        for name, s in solvers.items():
            if "skipped" in s:
                notes.append(f"  {name}: skipped ({s['skipped']})")
                continue
            t = s.get("time_cv")
            rows.append([name, format_time(t), s.get("track_selected_index"),
                         f"{s.get('track_cv_deviance_at_selected', np.nan):.6f}",
                         f"{t / ngd_time:.2f}" if t and ngd_time else "-",
                         s.get("track_note", "")])
        n, d = parse_shape(problem)
        title = (f"Elastic-net logistic CV: n={n}, d={d}, {n_alphas} alphas down to "
                 f"{RATIO:g} alpha_max, {FOLDS} stratified folds, l1_ratio={L1_RATIO}; "
                 f"CV deviance = ngd's mean held-out deviance at the selected alpha")
        text = format_table(["solver", "time", "alpha index", "CV deviance", "t/t_ngd",
                             "note"], rows)
        if notes:
            text += "\n" + "\n".join(notes)
        tables.append((title, text))
    return tables
