"""The house's floor plan, checked against the real import graph.

Every ``import`` in ``vhuman/`` (module level or inside a function) is read with ``ast``;
the "must not know" table of ``docs/design.md`` must hold, and no two packages may import
each other, directly or round a circle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "vhuman"

#: package -> packages (ours) and top-level modules (others') it must not import.
MUST_NOT_KNOW: dict[str, set[str]] = {
    "core": {"api", "app", "avatar", "cli", "drivers", "engine", "fleet", "plugins", "render",
             "safety", "scenes", "speech", "stream", "studio", "chat"},
    "avatar": {"api", "app", "drivers", "engine", "render", "scenes", "speech", "stream",
               "studio", "chat", "moderngl", "websockets"},
    "speech": {"api", "app", "avatar", "drivers", "engine", "render", "scenes", "stream",
               "studio", "moderngl", "websockets"},
    "safety": {"api", "app", "avatar", "drivers", "engine", "render", "scenes", "speech",
               "stream", "studio", "moderngl"},
    "render": {"api", "app", "drivers", "engine", "scenes", "speech", "stream", "studio",
               "websockets", "mediapipe"},
    "drivers": {"api", "app", "engine", "render", "scenes", "stream", "studio", "moderngl",
                "websockets"},
    "engine": {"api", "app", "render", "scenes", "speech", "stream", "studio", "moderngl",
               "websockets", "av", "mediapipe"},
    "scenes": {"api", "app", "engine", "render", "speech", "stream", "studio", "moderngl",
               "websockets", "fleet"},
    "stream": {"api", "app", "avatar", "drivers", "engine", "render", "scenes", "speech",
               "studio", "mediapipe", "moderngl"},
    "studio": {"api", "app", "stream", "websockets"},
    "chat": {"api", "app", "engine", "render", "scenes", "stream", "studio", "moderngl"},
    "api": {"app", "engine", "render", "stream", "moderngl"},
}


def _package(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0][:-3] if len(rel) == 1 else rel[0]


def import_graph() -> dict[str, dict[str, set[str]]]:
    """package -> imported top name (``vhuman.X`` → ``X``, else the module's top) -> files."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PKG.rglob("*.py"):
        pkg = _package(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                top = parts[1] if parts[0] == "vhuman" and len(parts) > 1 else parts[0]
                if parts[0] == "vhuman" and top == pkg:
                    continue
                graph[pkg][top].add(str(path.relative_to(PKG.parent)))
    return graph


GRAPH = import_graph()


@pytest.mark.parametrize("pkg", sorted(MUST_NOT_KNOW))
def test_a_package_knows_nothing_it_must_not(pkg: str) -> None:
    bad = {name: sorted(files) for name, files in GRAPH[pkg].items()
           if name in MUST_NOT_KNOW[pkg]}
    assert not bad, f"vhuman/{pkg} imports what it must not know: {bad}"


def test_the_ground_floor_imports_only_the_standard_library_numpy_and_yaml() -> None:
    allowed = {"__future__", "abc", "re", "collections", "difflib", "pathlib", "yaml", "os", "stat", "dataclasses", "enum", "threading", "time", "math",
               "typing", "numpy", "itertools", "asyncio", "logging", "functools"}
    assert set(GRAPH["core"]) <= allowed, sorted(set(GRAPH["core"]) - allowed)


def test_no_package_cycles() -> None:
    ours = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    edges = {pkg: {t for t in targets if t in ours} for pkg, targets in GRAPH.items()}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in edges.get(node, ()):
            if nxt == path[0]:
                cycles.append(" -> ".join([*path, nxt]))
            elif nxt not in path and len(path) < len(ours):
                visit(nxt, [*path, nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert not cycles, cycles


def test_the_table_in_the_design_doc_is_this_one() -> None:
    """docs/design.md's "must not know" column names what this test enforces."""
    text = (PKG.parent / "docs" / "design.md").read_text(encoding="utf-8")
    for pkg in MUST_NOT_KNOW:
        assert f"| `{pkg}/` |" in text, f"docs/design.md has no row for {pkg}/"
