"""Typed result documents: every stored example of every kind reads as its type and writes back as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferperf.errors import ResultError
from inferperf.results import documents
from inferperf.results.documents import Document

EXAMPLES = Path(__file__).parent / "data" / "results"
FILES = sorted(EXAMPLES.glob("*.json"))


def _read(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_typed_kind_has_a_stored_example() -> None:
    stored = {str(_read(p)["kind"]) for p in FILES}
    typed = {kind for cls in Document.__subclasses__() for kind in cls.kinds}
    missing = typed - stored
    assert not missing, f"no stored example of {sorted(missing)}: run tests/data/results/make_examples.sh"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_stored_example_round_trips_as_its_type(path: Path) -> None:
    data = _read(path)
    doc = documents.load(path)
    assert type(doc) is not Document, f"kind {data['kind']!r} has no type"
    assert doc.kind == data["kind"] and doc.created == data.get("created", "")
    assert doc.to_dict() == data
    assert list(doc.to_dict()) == list(data), "a typed document must write its keys in the order it read them"
    assert documents.parse(json.loads(json.dumps(doc.to_dict()))) == doc


def test_a_document_reads_as_its_json_form_and_cannot_be_changed(tmp_path: Path) -> None:
    from inferperf.results.schema import save_json

    data = _read(EXAMPLES / "tune.json")
    doc = documents.load(EXAMPLES / "tune.json")
    assert dict(doc) == data and len(doc) == len(data) and list(doc) == list(data)
    assert doc["trials"] == data["trials"] and doc.get("kind") == "tune" and doc.get("absent", 7) == 7
    assert "recommendation" in doc and "absent" not in doc
    with pytest.raises(TypeError):
        doc["kind"] = "bench"  # type: ignore[index]
    save_json(doc, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text(encoding="utf-8") == json.dumps(data, indent=1)


def test_a_built_document_keeps_its_builders_key_order() -> None:
    built = {
        "schema": "inferperf.result/1",
        "kind": "memory",
        "created": "now",
        "model": {},
        "variants": [],
        "environment": {},
        "backend": "openvino",
        "rows": [],
        "method": "VmRSS",
    }
    doc = documents.parse(built)
    assert list(doc) == list(built)
    schema_last = {k: v for k, v in built.items() if k != "schema"} | {"schema": built["schema"]}
    assert next(iter(documents.parse(schema_last))) == "schema"


def test_typed_sections_are_typed() -> None:
    bench = documents.load(EXAMPLES / "bench.json")
    assert isinstance(bench, documents.BenchDocument)
    assert bench.bench().runs[0].count > 0 and bench.runs[0]["backend"] == "openvino"
    serving = documents.load(EXAMPLES / "generate-serving.json")
    assert isinstance(serving, documents.ServingDocument) and serving.levels and serving.model_name


def test_a_missing_section_is_one_line_naming_it(tmp_path: Path) -> None:
    data = _read(EXAMPLES / "memory.json")
    del data["rows"]
    path = tmp_path / "memory.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultError, match=r"memory.json: malformed memory document: no 'rows'"):
        documents.load(path)


def test_a_section_of_the_wrong_type_is_refused() -> None:
    data = _read(EXAMPLES / "coldstart.json")
    data["variants"] = {"not": "a list"}
    with pytest.raises(ResultError, match="'variants': expected a list of objects"):
        documents.parse(data)


def test_another_layout_version_is_refused_and_an_unknown_kind_still_reads() -> None:
    data = _read(EXAMPLES / "memory.json")
    with pytest.raises(ResultError, match=r"inferperf\.result/2 is not inferperf\.result/1"):
        documents.parse({**data, "schema": "inferperf.result/2"})
    with pytest.raises(ResultError, match="not an inferperf result"):
        documents.parse({"kind": "memory"})
    future = documents.parse({**data, "kind": "something-new"})
    assert type(future) is Document and future.get("rows") == data["rows"]


def test_the_api_returns_typed_results() -> None:
    """Every command of the Python API returns its kind's Document (bench: BenchResult), not a bare dict; the
    history's ``history_show`` is the one reader of stored documents of any inferperf version."""
    import types
    import typing

    from inferperf import api
    from inferperf.results.schema import BenchResult

    untyped = []
    for name in api.__all__:
        fn = getattr(api, name)
        if not isinstance(fn, types.FunctionType):
            continue
        returned = typing.get_type_hints(fn).get("return")
        kinds = typing.get_args(returned) if typing.get_origin(returned) in (typing.Union, types.UnionType) else ()
        results = [k for k in (kinds or (returned,)) if isinstance(k, type) and issubclass(k, Document | BenchResult)]
        if typing.get_origin(returned) is dict and not results:
            untyped.append(name)
    assert untyped == ["history_show"], f"API functions returning a bare dict: {untyped}"
