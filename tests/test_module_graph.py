"""The library's import graph (tools/module_graph.py, read with ast): no import cycle, and the
front door ``ngd.api`` is imported by no backend and by nothing it calls."""
import ast
import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

BELOW_API = ("ngd.chunked", "ngd.dask_backend", "ngd.elastic_net", "ngd.fitting")


def load_tool():
    spec = importlib.util.spec_from_file_location("module_graph", ROOT / "tools" / "module_graph.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope="module")
def tool():
    return load_tool()


@pytest.fixture(scope="module")
def graph(tool):
    return tool.import_graph(tool.module_files(ROOT))


def reachable(graph, start):
    """Modules reachable from ``start`` by one or more imports."""
    seen, todo = set(), list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_the_graph_covers_the_package_and_the_cli(graph):
    assert {"ngd", "ngd.api", "ngd.fitting", "ngd.chunked.fit", "ngd.cli.fit"} <= set(graph)
    assert "ngd.fitting" in graph["ngd.api"]


def test_no_import_cycle(tool, graph):
    assert tool.cycles(graph) == []


@pytest.mark.parametrize("package", BELOW_API)
def test_backends_and_the_shared_path_do_not_reach_api(graph, package):
    modules = [m for m in graph if m == package or m.startswith(package + ".")]
    assert modules
    for module in modules:
        assert "ngd.api" not in reachable(graph, module), module


def test_result_does_not_reach_check_or_api(graph):
    assert not {"ngd.check", "ngd.api"} & reachable(graph, "ngd.result")


def test_the_cycle_finder_finds_a_planted_cycle(tool):
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []}
    assert tool.cycles(graph) == [["a", "b", "c"]]


def test_from_package_import_submodule_is_an_edge_to_the_submodule(tool):
    modules = {"ngd": None, "ngd._sparse": None, "ngd.chunked": None, "ngd.chunked.fit": None}
    bound = {"ngd": {"fit"}, "ngd.chunked": {"fit"}}

    def edges(source):
        node = ast.parse(source).body[0]
        return tool.resolve("ngd.api", node, False, modules, bound)

    assert edges("from ngd import _sparse") == ["ngd._sparse"]
    assert edges("from ngd import fit") == ["ngd"]
    assert edges("from . import _sparse") == ["ngd._sparse"]
    # ngd.chunked's __init__ binds `fit` (a function): the import gets it, not the submodule
    assert edges("from ngd.chunked import fit") == ["ngd.chunked"]


def test_fit_result_check_is_registered_whichever_module_is_imported_first():
    # ngd.result imports no check code; importing any ngd module runs ngd/__init__, which
    # imports ngd.check, which registers FitResult.check's implementation
    code = ("import ngd.result, ngd.check; "
            "assert ngd.result._CHECKER['check_fit'] is ngd.check.check_fit")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
