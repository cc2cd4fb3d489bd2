"""Imports go one way: no cycles among inferperf's modules (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inferperf"

# The one cycle left (issue 23): the API calls the optimize flow and the suite, which call the API back.
# It goes when bench's measuring core moves below the command layer; nothing may join or add to it.
KNOWN = {
    frozenset(
        {
            "inferperf.api",
            "inferperf.optimize.pipeline",
            "inferperf.suite",
            "inferperf.suite.cell",
            "inferperf.suite.ray_runner",
            "inferperf.suite.runner",
        }
    )
}


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("inferperf"):
                targets = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Groups of modules that import each other, directly or around a loop (each reaches every other)."""
    reach = {m: _reachable(graph, m) for m in graph}
    groups = {frozenset({m, *(o for o in reach[m] if m in reach[o])}) for m in graph if m in reach[m]}
    return sorted(groups, key=sorted)


def test_no_import_cycles_beyond_the_known_one() -> None:
    new = [sorted(c) for c in _cycles(_module_graph()) if c not in KNOWN]
    assert not new, f"import cycles: {new}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
