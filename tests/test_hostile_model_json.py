"""Hand-edited model.json: a deeply nested document is one DataError line, not a RecursionError."""
import io

import pytest

import ngd


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_model_json_is_a_one_line_data_error(depth):
    text = '{"format": "ngd.model", "coef": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ngd.DataError, match="nested too deeply") as info:
        ngd.load_model(io.StringIO(text))
    assert "\n" not in str(info.value)
