"""Malformed sparse structures (issue 17, class 1): every entry (ngd.fit, ngd.predict, the
estimators, the NPZ reader and the CLI commands) refuses them with one line before any kernel,
scipy conversion or toarray reads them; well-formed but non-canonical input fits as before."""
import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import ngd
from ngd import _sparse
from ngd.cli.main import cli

N, P = 12, 4


def _good(seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(N, P, density=0.5, format="csr", random_state=seed)
    X.data = rng.standard_normal(X.nnz)
    return X, (rng.random(N) < 0.5).astype(float)


def _malformed(kind, value):
    """A CSR matrix of shape (N, P) with one structural defect of the given kind."""
    X, _ = _good()
    data, indices, indptr = X.data.copy(), X.indices.astype(np.int64), X.indptr.astype(np.int64)
    if kind == "index":                        # negative, == P, huge
        indices[value % len(indices)] = [-1, P, 2**62, -2**62][value % 4]
    elif kind == "decreasing":
        indptr[1 + value % (N - 1)] = indptr[-1] + 1
    elif kind == "indptr_length":
        indptr = indptr[:-1 - value % 3] if value % 2 else np.append(indptr, indptr[-1])
    elif kind == "last":
        indptr[-1] += 1 + value % 5
    elif kind == "start":
        indptr[0] = -1 - value % 3
    elif kind == "data_length":
        data = data[:-1 - value % 3]
    elif kind == "float_indices":
        indices = indices + 0.5
    X.data, X.indices, X.indptr = data, indices, indptr
    return X


KINDS = ["index", "decreasing", "indptr_length", "last", "start", "data_length",
         "float_indices"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), value=st.integers(0, 10**6),
       fmt=st.sampled_from(["csr", "csc", "coo"]))
def test_library_refuses_malformed_structures(kind, value, fmt):
    assume(fmt != "coo" or kind in ("index", "data_length", "float_indices"))  # no indptr
    X = _malformed(kind, value)
    if fmt != "csr":                # the same defect in the CSC arrays / COO coordinates
        X = _as_bad_format(X, fmt)
    y = np.arange(N) % 2
    fitted = ngd.fit(_good()[0], y)
    for call in (lambda: ngd.fit(X, y), lambda: ngd.predict("logistic", fitted.coef,
                                                            fitted.intercept, X),
                 lambda: ngd.LogisticRegression().fit(X, y), lambda: _sparse.as_csr(X)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert "\n" not in str(info.value) and str(info.value).startswith("X")


def _as_bad_format(X, fmt):
    """The malformed CSR arrays of X reinterpreted as a CSC matrix of shape (N, P) (indptr
    over columns), or as the column coordinates of a COO matrix."""
    if fmt == "csc":
        Y = sp.csc_matrix((N, P))
        Y.data, Y.indices, Y.indptr = X.data, X.indices, X.indptr
        return Y
    Y = sp.coo_matrix((N, P))
    Y.data, Y.coords = X.data, (np.zeros(len(X.indices), dtype=np.int64), X.indices)
    return Y


def test_coo_csc_bsr_lil_dok_defects_named():
    X, _ = _good()
    coo = X.tocoo()
    coo.coords = (coo.row, np.where(np.arange(coo.nnz) == 0, 10**9, coo.col))
    csc = X.tocsc()
    csc.indices = csc.indices.copy()
    csc.indices[0] = N
    bsr = sp.bsr_matrix(X.toarray(), blocksize=(2, 2))
    bsr.indices = bsr.indices.copy()
    bsr.indices[0] = -3
    lil = X.tolil()
    lil.rows[0] = lil.rows[0] + [P + 5]
    lil.data[0] = lil.data[0] + [1.0]
    dok = X.todok()
    dok._dict[(0, P + 7)] = 1.0                   # past the bounds check of dok[i, j]
    for bad, match in ((coo, "X.col must lie in"), (csc, r"X.indices must lie in \[0, 12\)"),
                       (bsr, "X.indices must lie in"), (lil, "X.rows must lie in"),
                       (dok, r"X.keys \(columns\) must lie in"),
                       (sp.csr_array(X), None)):
        if match is None:
            assert _sparse.as_csr(bad).shape == (N, P)
            continue
        with pytest.raises(ValueError, match=match):
            _sparse.as_csr(bad)


@pytest.mark.parametrize("transform", [
    lambda X: _unsorted(X), lambda X: _duplicated(X), lambda X: X.tocsc(), lambda X: X.tocoo(),
    lambda X: sp.csr_array(X), lambda X: X.tolil(), lambda X: X.todok(),
])
def test_valid_non_canonical_inputs_fit_as_the_canonical_matrix(transform):
    X, y = _good(1)
    X[3] = 0                                                      # an empty row
    X.eliminate_zeros()
    reference = ngd.fit(X, y, l2=1e-3)
    changed = transform(X)
    np.testing.assert_array_equal(sp.csr_matrix(changed).toarray(), X.toarray())
    result = ngd.fit(changed, y, l2=1e-3)
    np.testing.assert_allclose(result.coef, reference.coef, rtol=1e-10, atol=1e-12)


def _unsorted(X):
    Y = X.copy()
    for i in range(N):
        start, stop = Y.indptr[i], Y.indptr[i + 1]
        Y.indices[start:stop] = Y.indices[start:stop][::-1]
        Y.data[start:stop] = Y.data[start:stop][::-1]
    Y.has_sorted_indices = False
    return Y


def _duplicated(X):
    """Each stored value split in two halves at the same column (COO -> CSR sums them, so
    the CSR is built from the arrays directly)."""
    counts = np.diff(X.indptr)
    order = np.argsort(np.concatenate([np.repeat(np.arange(N), counts)] * 2), kind="stable")
    return sp.csr_matrix((np.concatenate([X.data / 2] * 2)[order],
                          np.concatenate([X.indices] * 2)[order], 2 * X.indptr), shape=X.shape)


def test_zero_nnz_matrix_fits_the_intercept():
    y = np.arange(N) % 2
    result = ngd.fit(sp.csr_matrix((N, P)), y)
    np.testing.assert_array_equal(result.coef, np.zeros(P))


# ------------------------------------------------------------------------ the CLI --

def _saved(tmp_path, X, y, name):
    path = tmp_path / f"{name}.npz"
    sp.save_npz(path, X, compressed=False)
    np.save(tmp_path / f"{name}.y.npy", y)
    return path


def _one_line_exit_2(result):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].lower().startswith("error:"), result.output
    assert "Traceback" not in result.output


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([k for k in KINDS]), value=st.integers(0, 10**6))
def test_every_command_refuses_a_malformed_npz(tmp_path_factory, kind, value):
    tmp = tmp_path_factory.mktemp("npz")
    X, y = _good()
    y3 = np.arange(N) % 3
    good = _saved(tmp, X, y, "good")
    model = tmp / "model.json"
    runner = CliRunner()
    assert runner.invoke(cli, ["fit", str(good), "--output", str(model)]).exit_code == 0
    bad = _saved(tmp, _malformed(kind, value), y3, "bad")
    for args in (["fit", str(bad)], ["fit", str(bad), "--model", "softmax"],
                 ["fit", str(bad), "--model", "softmax", "--alpha", "0.01", "--l1-ratio", "1"],
                 ["check", str(bad), "--model", "softmax"],
                 ["predict", str(model), str(bad)]):
        _one_line_exit_2(runner.invoke(cli, args))


# ------------------------------------------------------- claimed shapes (class 5) --

def _claimed(tmp_path, format, rows, y_rows=N, name="huge"):
    """An NPZ in scipy's save_npz layout whose 'shape' claims ``rows`` rows while storing
    the few entries of a (N, P) matrix (COO coordinates or CSC columns: no per-row array)."""
    X, _ = _good()
    X = X.tocoo() if format == "coo" else X.tocsc()
    arrays = dict(row=X.row, col=X.col) if format == "coo" else \
        dict(indices=X.indices, indptr=X.indptr)
    path = tmp_path / f"{name}.npz"
    np.savez(path, format=np.array(format), shape=np.array([rows, P]), data=X.data, **arrays)
    np.save(tmp_path / f"{name}.y.npy", np.arange(y_rows) % 2)
    return path


def _peak_bytes(call):
    import tracemalloc
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("rows", [2**31, 2**40, 2**62])
@pytest.mark.parametrize("format", ["coo", "csc"])
def test_a_huge_claimed_row_count_is_refused_before_allocation(tmp_path, format, rows):
    from ngd.io.npz import read_npz
    path = _claimed(tmp_path, format, rows)

    def read():
        with pytest.raises(ngd.exceptions.DataError, match="claims shape") as info:
            read_npz(path)
        assert "\n" not in str(info.value)
    assert _peak_bytes(read) < 4 << 20
    _one_line_exit_2(CliRunner().invoke(cli, ["fit", str(path)]))


@pytest.mark.parametrize("format", ["coo", "csc"])
def test_rows_not_matching_the_target_are_refused_before_allocation(tmp_path, format):
    from ngd.io.npz import read_npz
    path = _claimed(tmp_path, format, 10**8)        # a CSR indptr of 800 MB

    def read():
        with pytest.raises(ngd.exceptions.DataError, match="claims 100000000 rows"):
            read_npz(path)
    assert _peak_bytes(read) < 4 << 20


@pytest.mark.parametrize("rows", [2**31, 2**40])
def test_the_library_refuses_a_huge_claimed_shape(rows):
    X, y = _good()
    X = X.tocoo()
    huge = sp.coo_matrix((X.data, (X.row.astype(np.int64), X.col.astype(np.int64))),
                         shape=(rows, P))
    with pytest.raises(ngd.exceptions.DataError, match="claims shape"):
        ngd.fit(huge, y)


def test_the_dask_dataset_checks_a_sparse_structure_before_toarray():
    pytest.importorskip("dask")
    from ngd.dask_backend import as_dask_dataset
    from ngd.io.dataset import Dataset
    bad = _malformed("index", 2)            # a column index of 2**62
    dataset = Dataset(X=bad, y=np.arange(N) % 2.0, feature_names=[f"x{j}" for j in range(P)],
                      target_name="y")
    with pytest.raises(ngd.exceptions.DataError, match="indices"):
        as_dask_dataset(dataset)


def test_float32_npz_arrays_are_read_without_numpy_warnings(tmp_path):
    import warnings
    from ngd.io.npz import read_npz
    X, y = _good()
    sparse = _saved(tmp_path, X.astype(np.float32), y.astype(np.float32), "s32")
    np.save(tmp_path / "s32.w.npy", np.ones(N, np.float32))
    dense = tmp_path / "d32.npz"
    np.savez(dense, X=X.toarray().astype(np.float32), y=y, offset=np.zeros(N, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_npz(sparse).sample_weight.shape == (N,)
        assert read_npz(dense).offset.shape == (N,)
