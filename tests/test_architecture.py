"""Imports go one way, downwards: no import from a lower floor to a higher one and no cycles among
inferperf's modules (lazy imports inside functions included); see docs/architecture.md."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inferperf"

KNOWN: set[frozenset[str]] = set()  # no cycle is allowed

# The floors of docs/architecture.md's table, lowest first: a module may import its own floor and those below.
# Keys are module names below ``inferperf``; a module takes its own entry, else its closest package's, so a new
# module inside a package lands on the package's floor and a new top-level module must be placed here.
FLOOR_NAMES = {
    1: "plain data and rules",
    2: "results",
    3: "model knowledge",
    4: "runtimes",
    5: "measuring",
    6: "improving",
    7: "reports",
    8: "commands",
    9: "facades",
}
FLOORS = {
    "errors": 1,
    "config": 1,
    "stats": 1,
    "jsonform": 1,
    "model.specs": 1,
    "results": 2,  # the document's dataclasses and the history store: measuring returns the one, bench reads the other
    "model": 3,
    "inputs": 3,
    "backends": 4,
    "measure": 5,
    "optimize": 6,
    "report": 7,
    "commands": 8,
    "diagnose": 8,
    "suite": 8,
    "api": 9,
    "cli": 9,
    "__main__": 9,
    "inferperf": 9,  # the package root: lazy re-exports of api
}
KNOWN_UPWARD: set[str] = set()  # "a -> b" imports from a lower floor to a higher one; none is allowed


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
                names = [f"{node.module}.{a.name}" for a in node.names]
                # ``from pkg import submodule`` reaches pkg only as every submodule import does: not an edge to pkg
                targets = names if all(n in modules for n in names) else [node.module or "", *names]
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


def _floor(module: str) -> int | None:
    """The floor of ``module`` (``inferperf.x.y``): its own entry in FLOORS, else its closest package's."""
    if module == "inferperf":
        return FLOORS["inferperf"]
    parts = module.split(".")[1:]
    return next((FLOORS[k] for n in range(len(parts), 0, -1) if (k := ".".join(parts[:n])) in FLOORS), None)


def _edge(a: str, b: str) -> str:
    return f"{a.removeprefix('inferperf.')} -> {b.removeprefix('inferperf.')}"


def _upward(graph: dict[str, set[str]], floor: Callable[[str], int | None] = _floor) -> list[tuple[str, str]]:
    """Every import ``(a, b)`` from a lower floor to a higher one."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if (floor(b) or 0) > (floor(a) or 0))


def test_every_module_has_a_floor() -> None:
    unplaced = sorted(m for m in _module_graph() if _floor(m) is None)
    assert not unplaced, f"modules with no floor (place them in FLOORS and docs/architecture.md): {unplaced}"


def test_imports_go_down_the_floors_only() -> None:
    upward = [(a, b) for a, b in _upward(_module_graph()) if _edge(a, b) not in KNOWN_UPWARD]
    floor = {m: FLOOR_NAMES.get(_floor(m) or 0, "no floor") for edge in upward for m in edge}
    named = [f"{_edge(a, b)} ({floor[a]} -> {floor[b]})" for a, b in upward]
    assert not upward, "imports from a lower floor to a higher one: " + "; ".join(named)


def test_the_direction_checker_finds_an_upward_import() -> None:
    graph = {
        "inferperf.measure.bench": {"inferperf.results.history", "inferperf.commands.records", "inferperf.stats"},
        "inferperf.commands.records": {"inferperf.results.history"},
        "inferperf.results.history": set(),
        "inferperf.stats": set(),
    }
    assert [_edge(a, b) for a, b in _upward(graph)] == ["measure.bench -> commands.records"]
    assert _floor("inferperf.model.specs") == 1 and _floor("inferperf.model.zoo") == 3
    assert _floor("inferperf.newthing") is None and _floor("inferperf.measure.newthing") == 5


def _backend_names() -> set[str]:
    from inferperf.backends import _ALIASES, _REGISTRY

    return set(_REGISTRY) | set(_ALIASES)


# Comparisons with a backend's name string that are not about a backend (what the operand is, and why).
NOT_BACKENDS = {("model/zoo.py", "fmt")}  # the zoo's export format "openvino" (IR), not a runtime


def _named(node: ast.expr, names: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in names
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_named(e, names) for e in node.elts)
    return False


def _name_comparisons(source: str, rel: str, names: set[str]) -> list[str]:
    """``x == "openvino"``, ``x in ("onnxruntime", ...)``, ... in one module's source, with their operands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(_named(o, names) for o in operands):
            continue
        other = next(ast.unparse(o) for o in operands if not _named(o, names))
        if (rel, other) not in NOT_BACKENDS:
            found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_backend_name_comparisons_outside_backends() -> None:
    """Backend knowledge stays in backends/: elsewhere code asks a backend, it does not test its name."""
    names = _backend_names()
    found = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if "backends" not in path.relative_to(PACKAGE).parts
        for hit in _name_comparisons(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix(), names)
    ]
    assert not found, "backend names compared outside backends/: " + "; ".join(found)


def test_the_name_finder_finds_them() -> None:
    source = 'def f(b, fmt):\n    return b.name != "openvino" or b in ("ort", "x") or fmt == "openvino"\n'
    hits = _name_comparisons(source, "model/zoo.py", {"openvino", "ort"})
    assert [h.split(": ", 1)[1] for h in hits] == ["b.name != 'openvino'", "b in ('ort', 'x')"]
