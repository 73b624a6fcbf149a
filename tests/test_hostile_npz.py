"""Damaged NPZ archives (issue 17, class 4) and wide feature-name lists (class 3): a corrupt
deflate stream, a truncated file or a hostile sparse layout is a one-line DataError naming the
file, for data files and MDP files alike; the duplicate-name check is O(p) with a capped list."""
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from ngd import policy
from ngd.cli.main import cli
from ngd.exceptions import DataError
from ngd.io import read_npz


def _corrupt_deflate(path, member):
    """Flip bytes in the middle of the compressed data of ``member``."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 5, start + min(info.compress_size, 40)):
        raw[k] ^= 0x5A
    path.write_bytes(bytes(raw))


def _one_line(exc, path):
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    return text


@pytest.mark.parametrize("member", ["X.npy", "y.npy"])
def test_corrupt_deflate_in_a_data_npz(tmp_path, member):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, X=np.arange(2000.0).reshape(1000, 2), y=np.arange(1000) % 2)
    _corrupt_deflate(path, member)
    with pytest.raises(DataError) as exc:
        read_npz(path)
    assert "cannot load arrays" in _one_line(exc, path)
    result = CliRunner().invoke(cli, ["fit", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_corrupt_and_truncated_sparse_npz(tmp_path):
    X = sp.random(500, 5, density=0.5, format="csr", random_state=0)
    path = tmp_path / "s.npz"
    sp.save_npz(path, X, compressed=True)
    np.save(tmp_path / "s.y.npy", np.arange(500) % 2)
    _corrupt_deflate(path, "indices.npy")
    with pytest.raises(DataError) as exc:
        read_npz(path)
    _one_line(exc, path)
    sp.save_npz(path, X, compressed=True)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as exc:
        read_npz(path)
    _one_line(exc, path)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia"])
def test_every_save_npz_format_is_read_as_the_same_csr(tmp_path, fmt):
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((6, 4)) * (np.arange(24).reshape(6, 4) % 3 == 0)
    path = tmp_path / "f.npz"
    sp.save_npz(path, sp.csr_matrix(dense).asformat(fmt, copy=True) if fmt != "bsr"
                else sp.bsr_matrix(dense, blocksize=(2, 2)))
    np.save(tmp_path / "f.y.npy", np.arange(6) % 2)
    np.testing.assert_array_equal(read_npz(path).X.toarray(), dense)


@pytest.mark.parametrize("edit,match", [
    (dict(indices=np.array([0, 9])), r"X.indices must lie in \[0, 4\)"),
    (dict(indices=np.array([0, -1])), r"X.indices must lie in \[0, 4\)"),
    (dict(indices=np.array([0.0, 1.0])), "X.indices must be a 1-D integer array"),
    (dict(indptr=np.array([0, 2, 1, 2])), "never decrease"),
    (dict(indptr=np.array([0, 1, 1, 1])), "indptr ends at 1 but it stores 2 values"),
    (dict(shape=np.array([3.0, 4.0])), "invalid shape"),
    (dict(shape=np.array([3, -4])), "invalid shape"),
    (dict(shape=np.array([3, 2**40])), "more than"),
    (dict(format=np.array(b"xyz")), "array 'format' must name a sparse format"),
    (dict(data=np.array(["a", "b"])), "must be real and numeric"),
])
def test_hostile_sparse_arrays_in_a_file(tmp_path, edit, match):
    arrays = dict(format=np.array(b"csr"), shape=np.array([3, 4]), data=np.array([1.0, 2.0]),
                  indices=np.array([0, 3]), indptr=np.array([0, 1, 1, 2]))
    arrays.update(edit)
    path = tmp_path / "h.npz"
    np.savez(path, **arrays)
    np.save(tmp_path / "h.y.npy", np.array([0, 1, 1]))
    with pytest.raises(DataError, match=match) as exc:
        read_npz(path)
    _one_line(exc, path)


def test_corrupt_deflate_in_an_mdp_file(tmp_path):
    path = tmp_path / "m.npz"
    P = np.full((30, 2, 30), 1 / 30)
    np.savez_compressed(path, P=P, R=np.zeros((30, 2)), gamma=np.array(0.9),
                        rho=np.full(30, 1 / 30))
    _corrupt_deflate(path, "P.npy")
    with pytest.raises(ValueError, match="P: cannot load the array"):
        policy.load_mdp(path)
    result = CliRunner().invoke(cli, ["policy", "--env", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and str(path) in result.output


def test_duplicate_names_are_counted_in_linear_time_and_capped(tmp_path):
    p = 200_000
    names = np.array([f"c{j % (p - 15)}" for j in range(p)])      # 15 duplicated names
    path = tmp_path / "w.npz"
    np.savez(path, X=np.zeros((2, p), dtype=np.float32), y=np.array([0, 1]),
             feature_names=names)
    with pytest.raises(DataError, match=r"duplicate feature name\(s\): c0, c1, .* and 5 more$"):
        read_npz(path)
