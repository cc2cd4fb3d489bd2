"""Imports go one way: no cycles among inferperf's modules (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inferperf"

KNOWN: set[frozenset[str]] = set()  # no cycle is allowed


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
