"""The import graph of the ngd package and its cycles, read with ``ast`` (nothing is imported).

    python tools/module_graph.py [--longest N]

Prints each module's ngd imports, the strongly connected components with more than one module
(import cycles, Tarjan's algorithm), and the N longest functions (lines from ``def`` to the
end of the body). Imports inside functions count: they are the usual way a cycle is hidden.
"""
import argparse
import ast
import pathlib
import sys

ROOTS = {"ngd": pathlib.Path("src/ngd"), "ngd.cli": pathlib.Path("cli")}


def module_files(base=pathlib.Path(".")):
    """{module name: path} for every .py file of the package and the CLI (folders under
    ``base``, the source checkout)."""
    files = {}
    for package, root in ROOTS.items():
        for path in sorted((base / root).rglob("*.py")):
            parts = list(path.relative_to(base / root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join([package, *parts])] = path
    return files


def resolve(module, node, is_package, modules, bound):
    """The ngd modules an ``import`` / ``from ... import`` node depends on: ``from P import m``
    with m a submodule counts as m only (P's ``__init__`` runs for any submodule import, an
    edge every module would share), unless P's ``__init__`` binds the name m itself (then
    ``from P import m`` gets that object, e.g. ngd.chunked's ``fit`` function, not the
    submodule ngd.chunked.fit) and it counts as P; ``from P import name`` counts P.
    ``bound``: {package: names its ``__init__`` binds at top level}."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = node.module or ""
    if node.level:
        target = f"{base}.{target}" if target else base
    shadowed = bound.get(target, set())
    submodules = [f"{target}.{alias.name}" for alias in node.names
                  if f"{target}.{alias.name}" in modules and alias.name not in shadowed]
    return submodules + ([target] if len(submodules) < len(node.names) else [])


def top_level_names(tree):
    """Names a module binds at top level: imports, functions, classes and assignments."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def import_graph(files):
    """{module: sorted ngd modules it imports}."""
    trees = {module: ast.parse(path.read_text(), str(path)) for module, path in files.items()}
    bound = {module: top_level_names(trees[module]) for module, path in files.items()
             if path.name == "__init__.py"}
    graph = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(trees[module]):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(name for name in resolve(module, node, is_package, files, bound)
                               if name in files and name != module)
        graph[module] = sorted(targets)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def longest_functions(files, count):
    """The ``count`` longest function definitions as (lines, module, name)."""
    sizes = []
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes.append((node.end_lineno - node.lineno + 1, module, node.name))
    return sorted(sizes, reverse=True)[:count]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--longest", type=int, default=15, metavar="N")
    args = parser.parse_args(argv)
    files = module_files()
    graph = import_graph(files)
    print(f"{len(files)} modules, {sum(map(len, graph.values()))} internal imports")
    found = cycles(graph)
    print(f"{len(found)} import cycle(s)")
    for component in found:
        print(f"  {len(component)} modules: {', '.join(component)}")
    print(f"longest functions:")
    for lines, module, name in longest_functions(files, args.longest):
        print(f"  {lines:4d}  {module}.{name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
