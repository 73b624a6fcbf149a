"""The CSR Fisher-vector product on its slot plans: one slot written straight into out (p
larger than nnz / 2), two slots (p up to nnz / 2) and many slots reduced in column bands; each
against scipy and bit-identical across thread counts."""
import numpy as np
import pytest
import scipy.sparse as sp

from ngd import kernels


def _csr(n, p, per_row, seed):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, p, n * per_row)
    X = sp.csr_matrix((rng.standard_normal(n * per_row), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    return X


@pytest.mark.parametrize("n,p,per_row", [(6000, 100000, 10),    # one slot, 2 row blocks
                                         (6000, 20000, 20),     # two slots, 4 row blocks
                                         (60000, 5000, 10)])    # 19 slots, 2 column bands
@pytest.mark.parametrize("intercept", [False, True])
def test_fisher_vector_plans_match_scipy_and_threads(n, p, per_row, intercept):
    X = _csr(n, p, per_row, seed=n)
    rng = np.random.default_rng(1)
    v, u = rng.random(n), rng.standard_normal(p + intercept)
    A = sp.hstack([X, np.ones((n, 1))]).tocsr() if intercept else X
    expected = A.T @ (v * (A @ u))
    results = [kernels.sparse_fisher_vector(X, v, u, intercept=intercept, n_threads=t)
               for t in (1, 2, 3)]
    np.testing.assert_allclose(results[0], expected, rtol=1e-11, atol=1e-11)
    assert all(np.array_equal(results[0], r) for r in results[1:])
    rmatvec = [kernels.sparse_rmatvec(X, v, intercept=intercept, n_threads=t) for t in (1, 2)]
    np.testing.assert_allclose(rmatvec[0], A.T @ v, rtol=1e-11, atol=1e-11)
    assert np.array_equal(*rmatvec)
