"""ngd.cross_validate: seeded (stratified) folds, held-out scores equal to fits on the training
rows alone, scikit-learn's ElasticNetCV on the same folds and grid, the one-standard-error
rule, deterministic parallel folds, and the ...CV estimators."""
import numpy as np
import pytest

import ngd
from enet_reference import dataset
from ngd.cv import make_folds, one_standard_error


def test_stratified_folds_keep_every_class_share_and_are_reproducible():
    _, y = dataset("breast_cancer")
    folds = make_folds(y.size, 5, seed=3, labels=y)
    for label in (0.0, 1.0):
        counts = np.bincount(folds[y == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == y.size
    np.testing.assert_array_equal(folds, make_folds(y.size, 5, seed=3, labels=y))
    assert not np.array_equal(folds, make_folds(y.size, 5, seed=4, labels=y))
    plain = make_folds(y.size, 5, seed=3)
    assert np.ptp(np.bincount(plain)) <= 1
    with pytest.raises(ValueError, match="fewer than 2 rows"):
        make_folds(6, 2, labels=np.array([0, 0, 0, 1, 1, 2]))


def test_one_standard_error_rule_picks_the_largest_alpha_within_one_se():
    # alphas decrease with the index; best is index 3 (2.0 + 0.25 -> threshold 2.25)
    mean = np.array([5.0, 2.3, 2.2, 2.0, 2.1, 2.5])
    se = np.array([0.1, 0.1, 0.1, 0.25, 0.1, 0.1])
    assert one_standard_error(mean, se) == 2
    assert one_standard_error(mean, np.zeros(6)) == 3
    assert one_standard_error(mean, np.full(6, 0.35)) == 1


@pytest.fixture(scope="module")
def breast_cv():
    X, y = dataset("breast_cancer")
    return X, y, ngd.cross_validate(X, y, n_alphas=12, cv=3, seed=1)


def test_held_out_scores_equal_fits_on_the_training_rows_alone(breast_cv):
    X, y, cv = breast_cv
    assert cv.cv_scores.shape == (3, 12)
    for k, i in ((0, 4), (2, 9)):
        train, test = cv.folds != k, cv.folds == k
        alone = ngd.fit(X[train], y[train], alpha=cv.alphas[i], l1_ratio=1.0)
        eta = X[test] @ alone.coef + alone.intercept
        deviance = 2 * np.mean(np.logaddexp(0, eta) - y[test] * eta)
        assert cv.cv_scores[k, i] == pytest.approx(deviance, rel=1e-6)
    np.testing.assert_allclose(cv.cv_mean, cv.cv_scores.mean(0))
    np.testing.assert_allclose(cv.cv_se, cv.cv_scores.std(0, ddof=1) / np.sqrt(3))


def test_best_and_one_se_alphas_and_the_final_fit(breast_cv):
    X, y, cv = breast_cv
    assert cv.index_best == int(np.argmin(cv.cv_mean))
    assert cv.index_1se == one_standard_error(cv.cv_mean, cv.cv_se) <= cv.index_best
    assert cv.alpha_1se >= cv.alpha_best and cv.alpha == cv.alpha_best
    fit = cv.fit
    assert fit.alpha == cv.alpha_best and fit.converged and fit.kkt_violation <= 1e-8
    single = ngd.fit(X, y, alpha=cv.alpha_best, l1_ratio=1.0)
    np.testing.assert_allclose(fit.coef, single.coef, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(cv.n_nonzero, cv.path.n_nonzero)
    one_se = ngd.cross_validate(X, y, n_alphas=12, cv=cv.folds, select="1se")
    assert one_se.alpha == cv.alpha_1se and one_se.fit.alpha == cv.alpha_1se


def test_parallel_folds_are_deterministic_and_seeded(breast_cv):
    X, y, cv = breast_cv
    serial = ngd.cross_validate(X, y, n_alphas=12, cv=3, seed=1, n_jobs=1)
    np.testing.assert_array_equal(serial.folds, cv.folds)
    np.testing.assert_allclose(serial.cv_scores, cv.cv_scores, rtol=1e-12, atol=0)
    other = ngd.cross_validate(X, y, n_alphas=12, cv=3, seed=2)
    assert not np.array_equal(other.folds, cv.folds)


def test_same_folds_and_grid_as_scikit_learn_elastic_net_cv():
    from sklearn.linear_model import ElasticNetCV
    X, y = dataset("diabetes")
    cv = ngd.cross_validate(X, y, model="gaussian", l1_ratio=0.5, n_alphas=15, cv=4, seed=0)
    splits = [(np.flatnonzero(cv.folds != k), np.flatnonzero(cv.folds == k))
              for k in range(4)]
    sk = ElasticNetCV(l1_ratio=0.5, alphas=cv.alphas, cv=splits, tol=1e-14,
                      max_iter=100000).fit(X, y)
    # gaussian unit deviance = squared error: the fold scores are scikit-learn's mse_path_
    np.testing.assert_allclose(cv.cv_scores.T, sk.mse_path_, rtol=1e-6)
    assert sk.alpha_ == pytest.approx(cv.alpha_best, rel=1e-12)


def test_metrics():
    X, y = dataset("breast_cancer")
    folds = make_folds(y.size, 3, seed=0, labels=y)
    wrong = ngd.cross_validate(X, y, n_alphas=5, cv=folds, metric="misclassification")
    assert np.all((wrong.cv_scores >= 0) & (wrong.cv_scores <= 1))
    assert wrong.cv_mean[0] == pytest.approx(np.mean(y == 0), abs=0.01)   # all predict 1
    mse = ngd.cross_validate(X, y, n_alphas=5, cv=folds, metric="mse")
    custom = ngd.cross_validate(X, y, n_alphas=5, cv=folds,
                                metric=lambda t, mu, w: np.average((t - mu) ** 2, weights=w))
    np.testing.assert_allclose(custom.cv_scores, mse.cv_scores, rtol=1e-12)
    with pytest.raises(ValueError, match="metric"):
        ngd.cross_validate(X, y, metric="auc")
    with pytest.raises(ValueError, match="classification"):
        ngd.cross_validate(X, y, model="gaussian", metric="misclassification")


def test_cv_estimators(breast_cv):
    from sklearn.base import clone
    X, y, cv = breast_cv
    clf = ngd.LogisticRegressionCV(n_alphas=12, cv=3, random_state=1).fit(X, y)
    assert clf.alpha_ == cv.alpha and clf.alpha_1se_ == cv.alpha_1se
    np.testing.assert_allclose(clf.coef_[0], cv.fit.coef)
    assert clf.predict_proba(X).shape == (y.size, 2) and clf.score(X, y) > 0.95
    assert clone(clf).get_params()["n_alphas"] == 12
    Xp, yp = dataset("randhie")
    reg = ngd.GLMRegressorCV(model="poisson", n_alphas=8, cv=3).fit(Xp[:1500], yp[:1500])
    assert reg.alpha_ in reg.alphas_ and reg.coef_.shape == (Xp.shape[1],)
    assert 0 < reg.score(Xp[:1500], yp[:1500]) < 1


def test_folds_from_index_pairs_and_splitters_equal_the_fold_array(breast_cv):
    from sklearn.model_selection import PredefinedSplit
    X, y, cv = breast_cv
    pairs = [(np.flatnonzero(cv.folds != k), np.flatnonzero(cv.folds == k)) for k in range(3)]
    for spec in (pairs, PredefinedSplit(cv.folds)):
        again = ngd.cross_validate(X, y, n_alphas=12, cv=spec, seed=1)
        np.testing.assert_array_equal(again.folds, cv.folds)
        np.testing.assert_allclose(again.cv_scores, cv.cv_scores, rtol=1e-12)
    with pytest.raises(ValueError, match="overlap"):
        ngd.cross_validate(X, y, cv=[pairs[0], pairs[0]])
    with pytest.raises(ValueError, match="cannot split 4 sample"):
        ngd.cross_validate(X[:4], [0, 1, 0, 1], cv=5)


@pytest.mark.parametrize("seed, error, message", [
    (np.nan, TypeError, "seed must be an integer"),
    (-1, ValueError, "seed must be an integer >= 0"),
    ("1", TypeError, "seed must be an integer"),
])
def test_bad_seed_is_named(seed, error, message):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), rng.integers(0, 2, 60)
    with pytest.raises(error, match=message):
        ngd.cross_validate(X, y, model="logistic", cv=3, seed=seed)


@pytest.mark.parametrize("cv", ["x", b"3"])
def test_text_cv_is_named(cv):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), rng.integers(0, 2, 60)
    with pytest.raises(TypeError, match="cv must be a number of folds"):
        ngd.cross_validate(X, y, model="logistic", cv=cv)
