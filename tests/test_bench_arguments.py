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


def test_seed_must_be_non_negative(capsys):
    from bench.__main__ import main
    with pytest.raises(SystemExit) as info:
        main(["--seed", "-1"])
    assert info.value.code == 2
    assert "'-1' is not >= 0" in capsys.readouterr().err


def test_seed_and_markdown_reach_the_suites(tmp_path, monkeypatch, capsys):
    import bench.__main__ as runner
    seen = {}

    class Suite:
        @staticmethod
        def run_suite(quick, log, seed=0):
            seen.update(quick=quick, seed=seed)
            return [dict(benchmark="fake", value=1.0)], []

        @staticmethod
        def markdown(records):
            return f"| fake | {len(records)} |"

    monkeypatch.setitem(runner.SUITES, "fake", "bench.fake")
    real_import = runner.importlib.import_module
    monkeypatch.setattr(runner.importlib, "import_module",
                        lambda name: Suite if name == "bench.fake" else real_import(name))
    monkeypatch.setattr(runner, "discover", lambda module: [])
    out = tmp_path / "tables.md"
    assert runner.main(["--only", "fake", "--quick", "--seed", "7", "--markdown", str(out),
                        "--quiet"]) == 0
    assert seen == {"quick": True, "seed": 7}
    assert out.read_text() == "| fake | 1 |\n"
