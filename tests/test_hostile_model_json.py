"""Hand-edited model.json: every defect is one DataError line naming the file and the key;
a document that loads predicts finite values or refuses with one line (never another
exception type, a numpy warning or a nan)."""
import copy
import io
import json
import re
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ngd
from ngd.cli.main import cli
from ngd.serialize import dumps

SOURCE = "hand-edited.json"
DEEP = json.loads("[" * 60 + "]" * 60)
WRONG = [None, True, False, 0, 1, -1, 1.5, -1e300, "x", "", [], {}, [[1]], [1, 2, 3],
         {"a": 1}, 10**400, DEEP]
# keys whose checks look at one another: a defect in one may be reported under another
GROUPS = [{"coef", "intercept", "feature_names", "classes", "formula", "input"},
          {"model", "family", "link", "power", "nb_alpha", "format", "format_version"}]


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_model_json_is_a_one_line_data_error(depth):
    text = '{"format": "ngd.model", "coef": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ngd.DataError, match="nested too deeply") as info:
        ngd.load_model(io.StringIO(text))
    assert "\n" not in str(info.value)


class _Named(io.StringIO):
    name = SOURCE


def _load(document):
    return ngd.load_model(_Named(json.dumps(document)))


def _doc(result, **meta):
    return json.loads(dumps(result, **meta))


@pytest.fixture(scope="module")
def saved():
    """(document, X to predict on) of a real fit of each model kind."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    eta = X @ [0.5, -0.3, 0.2]
    labels = np.where(eta + rng.normal(size=120) > 0, "spam", "ham")
    three = np.digitize(eta + rng.normal(size=120), [-0.5, 0.5])
    counts = rng.poisson(np.exp(eta))
    overdispersed = rng.negative_binomial(2, 2 / (2 + np.exp(eta)))
    docs = {
        "logistic": _doc(ngd.fit(X, labels, l2=0.1), feature_names=["a", "b", "c"]),
        "softmax": _doc(ngd.fit(X, three, model="softmax", l2=0.1)),
        "poisson": _doc(ngd.fit(X, counts, model="poisson")),
        "negative_binomial": _doc(ngd.fit(X, overdispersed, model="negative_binomial")),
        "tweedie": _doc(ngd.fit(X, counts, model="tweedie", power=1.5)),
        "gamma": _doc(ngd.fit(X, counts + 1.0, model="gamma", link="log")),
    }
    assert docs["negative_binomial"]["nb_alpha"]["value"] > 0
    return {name: (doc, X[:20]) for name, doc in docs.items()}


@pytest.fixture(scope="module")
def saved_frame():
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    frame = pandas.DataFrame({"a": rng.normal(size=90), "c": rng.choice(["u", "v", "w"], 90)})
    y = (frame["a"] + (frame["c"] == "v") + rng.normal(size=90) > 0).astype(int)
    return _doc(ngd.fit(frame, y)), frame.head(12)


@pytest.fixture(scope="module")
def saved_formula():
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("formulaic")
    rng = np.random.default_rng(2)
    frame = pandas.DataFrame({"a": rng.normal(size=90), "c": rng.choice(["u", "v", "w"], 90)})
    frame["y"] = rng.poisson(np.exp(0.3 * frame["a"]))
    return _doc(ngd.fit("y ~ a + center(a) + C(c)", data=frame, model="poisson",
                        l2=0.01)), frame.head(12)


def _paths(value, prefix=()):
    """Every path into a JSON value (a list: its first two entries and its last)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i in sorted({0, 1, len(value) - 1} & set(range(len(value)))):
            yield from _paths(value[i], prefix + (i,))


def _mutations(document):
    """(path, mutated copy): each key or entry deleted, replaced by each wrong value, each
    list emptied and lengthened."""
    for path in _paths(document):
        if not path:
            continue
        *head, last = path
        parent = _at(document, head)
        edits = [("delete", None)] + [("set", v) for v in WRONG]
        if isinstance(parent[last], list) and parent[last]:
            edits += [("set", []), ("set", parent[last] + parent[last][-1:]),
                      ("set", parent[last][:-1])]
        for kind, value in edits:
            mutated = copy.deepcopy(document)
            holder = _at(mutated, head)
            if kind == "delete":
                del holder[last]
            else:
                holder[last] = copy.deepcopy(value)
            yield path, mutated


def _at(document, path):
    for key in path:
        document = document[key]
    return document


def _check_outcome(document, X, path=None):
    """Load and predict under warnings-as-errors: a one-line DataError naming the file (and,
    for a mutation at ``path``, a key of its group), or finite predictions / a one-line
    ValueError. Returns "refused", "predict-refused" or "ok"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            model = _load(document)
        except ngd.DataError as exc:
            text = str(exc)
            assert "\n" not in text and text.startswith(f"{SOURCE}: "), text
            if path is not None:
                group = next((g for g in GROUPS if path[0] in g), {path[0]})
                assert any(key in text for key in group), (path, text)
            return "refused"
        try:
            values = model.predict_proba(X) if model.classes else model.predict(X)
        except ValueError as exc:
            assert "\n" not in str(exc), str(exc)
            return "predict-refused"
    values = np.asarray(values, dtype=np.float64)
    assert values.shape[0] == len(X) and np.isfinite(values).all(), (path, values)
    if model.classes:
        np.testing.assert_allclose(values.sum(axis=1), 1.0)
    return "ok"


@pytest.mark.parametrize("kind", ["logistic", "softmax", "poisson", "negative_binomial",
                                  "tweedie", "gamma"])
def test_every_key_deleted_or_given_a_wrong_value(saved, kind):
    document, X = saved[kind]
    assert _check_outcome(document, X) == "ok"
    outcomes = [_check_outcome(mutated, X, path) for path, mutated in _mutations(document)]
    assert outcomes.count("refused") > len(outcomes) // 2       # the checks do refuse


def test_every_key_of_a_dataframe_model(saved_frame):
    document, frame = saved_frame
    assert "table" in document["input"]
    assert _check_outcome(document, frame) == "ok"
    for path, mutated in _mutations(document):
        _check_outcome(mutated, frame, path)


def test_every_key_of_a_formula_model(saved_formula):
    document, frame = saved_formula
    assert _check_outcome(document, frame) == "ok"
    for path, mutated in _mutations(document):
        if path[0] == "formula" and path[1:2] == ("formula",) and len(path) == 2:
            continue            # formulaic evaluates formula text as Python: not fuzzed
        _check_outcome(mutated, frame, path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**400, max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values_anywhere(saved, data):
    kind = data.draw(st.sampled_from(sorted(saved)))
    document, X = saved[kind]
    mutated = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([p for p in _paths(mutated) if p]))
        _at(mutated, path[:-1])[path[-1]] = data.draw(_json)
    _check_outcome(mutated, X)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("key", ["coef", "intercept", "l2", "loss", "value"])
def test_non_finite_numbers_are_refused_by_key(saved, literal, key):
    document, _ = saved["negative_binomial"]
    text = json.dumps(document)
    target = {"coef": '"coef": [', "intercept": '"intercept": ', "l2": '"l2": ',
              "loss": '"loss": ', "value": '"value": '}[key]
    head, tail = text.split(target, 1)
    number_end = next(i for i, ch in enumerate(tail) if ch in ",]}")
    bad = head + target + literal + tail[number_end:]
    with pytest.raises(ngd.DataError, match="finite numbers only") as info:
        ngd.load_model(_Named(bad))
    assert key in str(info.value)


@pytest.mark.parametrize("key, value, message", [
    (("objective", "l2"), True, "'objective.l2' must be a finite number >= 0, got true"),
    (("coef", 0), True, "'coef' and 'intercept' must be numbers: 'coef\\[0\\]' is true"),
    (("intercept",), False, "'intercept' must be a number"),
    (("coef", 1), 10**400, "'coef' and 'intercept' must be numbers: 'coef\\[1\\]' is 1000"),
    (("classes",), ["ham", "ham"], "'classes\\[1\\]' repeats"),
    (("classes",), ["ham", "spam", "eggs"], "'classes' of this logistic model must be a list "
                                            "of 2"),
    (("feature_names",), ["a", "a", "c"], "'feature_names\\[1\\]' repeats"),
    (("link",), "probit", "'link' of a logistic model must be 'logit' or null"),
    (("power",), 1.5, "'power' applies to the tweedie model only"),
    (("nb_alpha",), {"value": 1.0}, "'nb_alpha' applies to the negative_binomial model only"),
    (("input",), [], "'input' must be an object, got a list of 0"),
    (("input", "categories"), {"z": ["u"]}, "'input.categories.z' names a column not in"),
    (("fit", "n_iter"), -3, "'fit.n_iter' must be an integer >= 0"),
    (("objective", "tol"), 1e-8, "unknown key 'objective.tol'"),
    (("model",), "lasso", "'model': unknown model 'lasso'"),
    (("format_version",), True, "format_version true is not supported"),
])
def test_named_defects(saved, key, value, message):
    document = copy.deepcopy(saved["logistic"][0])
    _at(document, key[:-1])[key[-1]] = value
    with pytest.raises(ngd.DataError, match=f"^{SOURCE}: not a valid ngd model file: "
                                            f"{message}"):
        _load(document)


@pytest.mark.parametrize("text, message", [
    ('{"format": "ngd.model", "coef": [1], "coef": [2]}', 'the key "coef" appears twice'),
    ('{"format": "ngd.model", "coef": [' + "1" * 5000 + "]}", "not valid JSON: Exceeds"),
    ('{"format": "ngd.model", "format_version": 1, "model": "logistic", "feature_names": '
     '["\\ud800"], "coef": [1.0], "intercept": 0.0}', "'feature_names\\[0\\]' holds a "
                                                       "string that is not valid Unicode"),
])
def test_text_level_defects(text, message):
    with pytest.raises(ngd.DataError, match=f"^{SOURCE}: .*{message}") as info:
        ngd.load_model(_Named(text))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("state, message", [
    ({"__ndarray__": [1], "dtype": "S1000000000", "shape": [1]}, "numeric numpy dtype"),
    ({"__ndarray__": [1, 2], "dtype": "<f8", "shape": [3]}, "whose product"),
    ({"__ndarray__": [10**30], "dtype": "<i8", "shape": [1]}, "is not an array of <i8"),
    ({"__float__": "1e5"}, '"nan", "inf" or "-inf"'),
    ({"__items__": [[[[1]], 2]]}, r"list of \[key, value\] pairs"),
    (json.loads('{"a": ' + "[" * 80 + "]" * 80 + "}"), "nested too deeply"),
])
def test_formula_state_is_checked_on_load(saved_formula, state, message):
    document = copy.deepcopy(saved_formula[0])
    document["formula"]["transform_state"]["center(a)"]["center"] = state
    with pytest.raises(ngd.DataError, match="'formula.transform_state") as info:
        _load(document)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("edit", [
    lambda state: state.pop("center(a)"),
    lambda state: state.update({"center(a)": {}}),
])
def test_formula_transform_state_is_not_refitted_on_new_data(saved_formula, edit):
    document, frame = copy.deepcopy(saved_formula)
    edit(document["formula"]["transform_state"])
    model = _load(document)
    with pytest.raises(ngd.DataError, match=r"transform state of center\(a\) is missing"):
        model.predict(frame)


def test_formula_transform_dividing_by_zero_warns_not(saved_formula):
    document, frame = copy.deepcopy(saved_formula)
    document["formula"]["transform_state"]["center(a)"]["scale"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ngd.DataError, match="non-finite"):
            _load(document).predict(frame)


def test_softmax_classes_and_rows_agree(saved):
    document = copy.deepcopy(saved["softmax"][0])
    document["classes"] = document["classes"][:2]
    with pytest.raises(ngd.DataError, match="'classes' of this softmax model must be a list "
                                            "of 3 labels"):
        _load(document)
    document = copy.deepcopy(saved["softmax"][0])
    document["coef"][1] = document["coef"][1][:-1]
    with pytest.raises(ngd.DataError, match="one per coefficient column"):
        _load(document)


def test_regression_models_have_no_classes(saved):
    document = copy.deepcopy(saved["poisson"][0])
    document["classes"] = [0, 1]
    with pytest.raises(ngd.DataError, match="'classes' must be null for the poisson model"):
        _load(document)


@pytest.mark.parametrize("kind", ["poisson", "gamma", "tweedie", "negative_binomial"])
def test_overflowing_mean_is_a_value_error(saved, kind):
    document, X = copy.deepcopy(saved[kind])
    document["coef"] = [800.0, 0.0, 0.0]
    model = _load(document)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^the prediction overflows at row \d+ \(eta = "):
            model.predict(np.abs(X) + 1.0)


def test_inverse_link_outside_its_domain_is_a_value_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"undefined at row 1 \(eta = -1 is outside"):
            ngd.predict("gamma", [-1.0], 0.0, np.array([[-1.0], [1.0]]),
                        link="inverse_squared")
        with pytest.raises(ValueError, match=r"overflows at row 0 \(eta = 0\)"):
            ngd.predict("gamma", [0.0], 0.0, np.ones((2, 1)), link="inverse")


def test_classifiers_saturate_without_nan(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logistic, X = copy.deepcopy(saved["logistic"])
        logistic["coef"] = [1e300, -1e300, 0.0]
        p = _load(logistic).predict(X)
        np.testing.assert_array_equal(p, (X[:, 0] > X[:, 1]).astype(float))
        softmax, _ = copy.deepcopy(saved["softmax"])
        softmax["coef"] = [[1e300, 0, 0], [-1e300, 0, 0], [0, 1e300, 0]]
        proba = _load(softmax).predict_proba(X)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        scores = np.column_stack([X[:, 0], -X[:, 0], X[:, 1]])
        np.testing.assert_array_equal(proba.argmax(axis=1), scores.argmax(axis=1))
        softmax["coef"] = [[1.5e308, 1.5e308, 0]] * 3       # X coef overflows to inf
        with pytest.raises(ValueError, match="the linear predictor overflows at row"):
            _load(softmax).predict(np.ones((2, 3)))


def test_table_description_must_give_the_features(saved_frame):
    document, frame = copy.deepcopy(saved_frame)
    document["input"]["table"]["kinds"]["c"] = "numeric"
    with pytest.raises(ngd.DataError, match="'input.table' do not give the model's"):
        _load(document)
    document["input"]["table"]["kinds"] = ["a", "c"]
    with pytest.raises(ngd.DataError, match="'input.table': malformed table description: "
                                            "'kinds' must be an object, got list"):
        _load(document)


def _cli_files(tmp_path, saved):
    document, X = saved["poisson"]
    data = tmp_path / "data.csv"
    data.write_text("x0,x1,x2\n" + "\n".join(",".join(map(repr, row)) for row in X.tolist())
                    + "\n")
    return copy.deepcopy(document), data


@pytest.mark.parametrize("edit", [
    lambda d: d.update(classes={"a": 1}),
    lambda d: d.update(objective=[]),
    lambda d: d.update(input="x"),
    lambda d: d.update(coef=DEEP),
    lambda d: d.update(coef=[10**400, 0, 0]),
    lambda d: d["input"].update(columns=[1, 2, 3]),
    lambda d: d.update(link=7),
    lambda d: d.update(coef=[800.0, 0.0, 0.0], intercept=800.0),      # mean overflows
])
def test_cli_predict_with_a_damaged_model_exits_2_with_one_line(tmp_path, saved, edit):
    document, data = _cli_files(tmp_path, saved)
    edit(document)
    model = tmp_path / "model.json"
    model.write_text(json.dumps(document))
    result = CliRunner().invoke(cli, ["predict", str(model), str(data)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def test_cli_predict_with_the_undamaged_model(tmp_path, saved):
    document, data = _cli_files(tmp_path, saved)
    model = tmp_path / "model.json"
    model.write_text(json.dumps(document))
    result = CliRunner().invoke(cli, ["predict", str(model), str(data)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "prediction"
