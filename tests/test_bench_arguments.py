"""``python -m bench`` refuses a bad argument with one ``Error:`` line and exit status 2."""
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (ROOT / "bench" / "__main__.py").exists(),
                                reason="bench/ is not part of this checkout")
sys.path.insert(0, str(ROOT))


@pytest.mark.parametrize("argv, message", [
    (["--repeat", "0"], "'0' is not >= 1"),
    (["--repeat", "-3"], "'-3' is not >= 1"),
    (["--repeat", "x"], "'x' is not an integer"),
    (["--only", "nope"], "invalid choice: 'nope'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_argument_is_one_error_line(argv, message, capsys):
    from bench.__main__ import main
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err
    assert err.count("\n") == 1
