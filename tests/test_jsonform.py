"""JsonRecord: a dataclass's JSON form is its fields, in order, converted as the JSON writer would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from inferperf.jsonform import NOT_IN_JSON, JsonRecord, json_key


@dataclass(frozen=True)
class _Inner(JsonRecord):
    where: Path
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class _Plain:
    a: int = 1


@dataclass(frozen=True)
class _Outer(JsonRecord):
    name: str
    speed: float = field(metadata=json_key("speed_fps"))
    inner: _Inner
    plain: _Plain = field(default_factory=_Plain)
    table: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"x": (3,)})
    raw: tuple[float, ...] = field(default=(9.0,), metadata=NOT_IN_JSON)


def test_fields_in_order_renamed_and_left_out() -> None:
    doc = _Outer("m", 2.5, _Inner(Path("/a/b"))).to_dict()
    assert list(doc) == ["name", "speed_fps", "inner", "plain", "table"]
    assert doc == {
        "name": "m",
        "speed_fps": 2.5,
        "inner": {"where": "/a/b", "sizes": [1, 2]},
        "plain": {"a": 1},
        "table": {"x": [3]},
    }
    assert json.loads(json.dumps(doc)) == doc  # already JSON data: nothing left for the writer to convert


def test_product_records_keep_their_file_names() -> None:
    from inferperf.measure.loadgen import Probe
    from inferperf.optimize.findings import Finding

    assert Probe(10.0, 1.0, 2.0, 5, (1.0,)).to_dict() == {
        "throughput_fps": 10.0,
        "median_ms": 1.0,
        "p99_ms": 2.0,
        "count": 5,
    }
    assert Finding("c", "warn", "t", "e", "do x", ("l",)).to_dict()["try"] == "do x"


def test_shared_keywords_stay_as_strict_as_named_parameters() -> None:
    """bench, tune, quantize, prune and precision take shared keywords as ``**kwargs: Unpack[TypedDict]``: a
    misspelt one is still a TypeError (before any model is loaded), not silently dropped."""
    from inferperf import api

    for call in (
        lambda: api.bench("builtin", shap="1,3,32,32"),
        lambda: api.tune("builtin", sed=1),
        lambda: api.quantize("builtin", max_dorp=0.02),
        lambda: api.prune("builtin", secnds=1.0),
        lambda: api.precision("builtin", backnd="openvino"),
    ):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            call()
