"""The packages of `app` and `ui` import each other without loops.

Nodes are packages (a directory: `app.xr`, `app.remoting`, `app.remoting.builtin`,
`ui`, ...) and the top-level modules of `app` (`app.errors`, `app.cli`, ...). An edge
is any import, including one inside a function. A cycle between nodes fails the test
and names its path, so a new import that closes a loop is found where it is written.
The layer rules of docs/architecture.md are checked beside it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.reference import REPO_ROOT


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _node(module: str) -> str | None:
    """The package a module belongs to, or the module itself if it sits at app's top."""
    parts = module.split(".")
    if parts[0] not in ("app", "ui"):
        return None
    while len(parts) > 1 and not REPO_ROOT.joinpath(*parts).is_dir():
        parts.pop()
    if parts == ["app"] and module != "app":
        return ".".join(module.split(".")[:2])
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = REPO_ROOT.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def _imported(tree: ast.AST) -> Iterator[str]:
    """Every module an import statement names: `from a import b` is `a.b` when b is a
    module (else `a`, the module that defines b)."""
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            yield from (alias.name for alias in item.names)
        elif isinstance(item, ast.ImportFrom) and item.module and item.level == 0:
            for alias in item.names:
                candidate = f"{item.module}.{alias.name}"
                yield candidate if _is_module(candidate) else item.module


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for top in ("app", "ui"):
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            source = _node(_module_name(path))
            assert source is not None
            targets = graph.setdefault(source, set())
            for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
                target = _node(name)
                if target is not None and target != source:
                    targets.add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `a -> b -> ... -> a`, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_the_packages() -> None:
    graph = package_graph()
    assert {"app.xr", "app.security", "app.remoting", "app.endpoint", "ui"} <= set(graph)
    assert "app.remoting.builtin" in graph and "app.remoting.openxr" in graph
    assert "app.xr" in graph["app.security"]


# Who may import whom. A package missing here may import nothing of app or ui.
LEAVES = {"app.errors", "app.defaults"}  # import nothing of the app; anyone may use them
ALLOWED = {
    "app.errors": set(),
    "app.defaults": set(),
    "app.xr": LEAVES,
    "app.security": LEAVES | {"app.xr"},
    "app.remoting": LEAVES | {"app.xr"},
    "app.remoting.builtin": LEAVES | {"app.xr", "app.security", "app.remoting"},
    "app.remoting.openxr": LEAVES | {"app.xr", "app.remoting"},
}


def test_lower_layers_import_only_what_is_below_them() -> None:
    graph = package_graph()
    for package, allowed in ALLOWED.items():
        assert graph.get(package, set()) <= allowed, (
            f"{package} imports {sorted(graph[package] - allowed)}"
        )


def test_security_takes_only_values_from_the_abi() -> None:
    """app.security may read app.xr's values, never its structs, trampolines or calls."""
    values = {"app.xr.values", "app.xr.validation_result", "app.xr.records", "app.xr.masking"}
    values |= {"app.xr.callback_types", "app.xr.limits"}
    for path in sorted((REPO_ROOT / "app" / "security").rglob("*.py")):
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if name.startswith("app.xr"):
                assert name in values, f"{path.name} imports {name}"


def test_ctypes_and_pyopenxr_stay_in_the_abi_and_the_runtimes() -> None:
    """The session, providers, commands, security and UI never touch ctypes or pyopenxr."""
    for folder in ("app/endpoint", "app/commands", "app/security", "ui"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            names = set(_imported(ast.parse(path.read_text(encoding="utf-8"))))
            assert not names & {"ctypes", "xr"}, (
                f"{path} imports {sorted(names & {'ctypes', 'xr'})}"
            )
