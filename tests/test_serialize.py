"""ngd.save_model / ngd.load_model: a portable JSON model that predicts like the fit."""
import io
import json
import pathlib

import numpy as np
import pytest

import ngd
from ngd.io import read_data
from ngd.serialize import FORMAT_VERSION, LoadedModel, dumps

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPECTOR = ROOT / "examples" / "spector.csv"


@pytest.fixture(scope="module")
def spector():
    data = read_data(SPECTOR, target="GRADE")
    return data, ngd.fit(data.X, data.y)


def test_round_trip_predicts_like_the_fit(tmp_path, spector):
    data, result = spector
    path = tmp_path / "model.json"
    ngd.save_model(result, path, data.feature_names, target="GRADE")
    model = ngd.load_model(path)
    assert model.model == "logistic" and model.feature_names == ["GPA", "TUCE", "PSI"]
    np.testing.assert_array_equal(model.coef, result.coef)
    assert model.intercept == result.intercept
    expected = ngd.predict("logistic", result.coef, result.intercept, data.X)
    np.testing.assert_array_equal(model.predict(data.X), expected)
    np.testing.assert_array_equal(model.predict_class(data.X), (expected > 0.5).astype(float))
    proba = model.predict_proba(data.X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    offset = np.linspace(-1, 1, data.n_samples)
    np.testing.assert_allclose(model.predict(data.X, offset=offset),
                               ngd.predict("logistic", result.coef, result.intercept, data.X,
                                           offset))
    assert not list(tmp_path.glob(".ngd-*"))             # no temporary file left


def test_document_keys_are_stable(spector):
    data, result = spector
    doc = json.loads(dumps(result, data.feature_names, target="GRADE"))
    assert doc["format"] == "ngd.model" and doc["format_version"] == FORMAT_VERSION
    assert set(doc) == {"format", "format_version", "model", "family", "link", "power",
                        "feature_names", "coef", "intercept", "classes", "objective", "fit",
                        "input", "ngd_version"}
    assert doc["objective"] == {"l2": 0.0, "fit_intercept": True}
    assert set(doc["fit"]) == {"loss", "n_iter", "converged", "status", "message", "method",
                               "fisher"}
    assert doc["fit"]["converged"] is True and doc["fit"]["method"] == "ngd"
    assert doc["classes"] == [0.0, 1.0]
    assert doc["input"]["target"] == "GRADE" and doc["input"]["columns"] == data.feature_names
    assert doc["ngd_version"] == ngd.__version__


def test_string_classes_and_file_objects():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = np.where(X[:, 0] + rng.normal(size=60) > 0, "spam", "ham")
    result = ngd.fit(X, y, l2=0.1)
    buffer = io.StringIO()
    ngd.save_model(result, buffer, ["a", "b"])
    buffer.seek(0)
    model = ngd.load_model(buffer)
    assert model.classes == ["ham", "spam"]
    labels = model.predict_class(X)
    assert set(labels) <= {"ham", "spam"}
    p = model.predict(X)
    np.testing.assert_array_equal(labels == "spam", p > 0.5)


def test_save_refuses_wrong_names_and_non_finite(spector):
    data, result = spector
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        dumps(result, ["a", "b"])
    broken = ngd.FitResult(dict(result))
    broken["coef"] = np.array([np.nan, 1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        dumps(broken, data.feature_names)
    with pytest.raises(ValueError, match="FitResult"):
        dumps({"coef": [1.0]}, ["a"])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="other"), "'format' is not 'ngd.model'"),
    (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
    (lambda d: d.pop("coef"), "missing 'coef'"),
    (lambda d: d.update(coef=["a", 1, 2]), "must be numbers"),
    (lambda d: d.update(feature_names=["a"]), "one per coefficient column"),
    (lambda d: d.update(intercept=[1.0, 2.0]), "'intercept' must be a number"),
])
def test_load_rejects_invalid_documents(tmp_path, spector, mutate, message):
    data, result = spector
    doc = json.loads(dumps(result, data.feature_names))
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ngd.DataError, match=message):
        ngd.load_model(path)


def test_load_unreadable_files(tmp_path):
    with pytest.raises(ngd.DataError, match="no such file"):
        ngd.load_model(tmp_path / "absent.json")
    with pytest.raises(ngd.DataError, match="is a directory"):
        ngd.load_model(tmp_path)
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ngd.DataError, match="not valid JSON"):
        ngd.load_model(tmp_path / "text.json")


def test_non_classifier_has_no_classes():
    model = LoadedModel({"format": "ngd.model", "format_version": 1, "model": "logistic",
                         "feature_names": ["a"], "coef": [1.0], "intercept": 0.0,
                         "classes": None})
    with pytest.raises(ValueError, match="not a classifier"):
        model.predict_class(np.ones((2, 1)))
    np.testing.assert_allclose(model.predict(np.zeros((2, 1))), 0.5)
