"""The import graph: every module imports only its own layer or the layers below it (function-local imports
included), and no two modules import each other, directly or through others. The layer order is the one in
the README's design section and ../shared/DESIGN.md."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "simreal"

#: top to bottom; a package may import its own layer and every layer below it
LAYERS = [("cli",), ("experiments",), ("train", "refine"), ("teach",), ("tasks",), ("evaluate",),
          ("simulate", "stylize"), ("data",), ("utils",)]
RANK = {pkg: len(LAYERS) - i for i, layer in enumerate(LAYERS) for pkg in layer}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = ("simreal", *path.relative_to(SRC).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


MODULES = _modules()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``simreal`` import in ``path``, at any depth; ``from a import b`` gives ``a.b``
    when ``a.b`` is a module, else ``a``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("simreal")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("simreal"):
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            found += [(node.lineno, m) for m in subs or [node.module]]
    return found


def test_every_package_has_a_layer():
    packages = {p.relative_to(SRC).parts[0] for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK), packages - set(RANK)


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for name, path in MODULES.items():
        parts = name.split(".")
        if len(parts) < 2:
            continue  # simreal/__init__.py has no layer
        mine = RANK.get(parts[1])
        for line, target in _imports(path):
            theirs = RANK.get(target.split(".")[1]) if target.count(".") else None
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{path.relative_to(SRC)}:{line} imports {target}")
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycles():
    graph = {name: {t for _, t in _imports(path) if t in MODULES and t != name} for name, path in MODULES.items()}
    # a package's __init__ may import its own modules (simreal.cli registers its commands); that is the
    # package assembling itself, not a cycle, so edges from a module to its parent package are dropped
    graph = {name: {t for t in deps if not name.startswith(t + ".")} for name, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            raise AssertionError(" -> ".join(cycle))


def test_the_checks_see_function_local_imports():
    """The layer check reads imports inside functions too (a local import is still a dependency)."""
    cli_train = MODULES["simreal.cli.train"]
    assert any(t.startswith("simreal.experiments") for _, t in _imports(cli_train))
