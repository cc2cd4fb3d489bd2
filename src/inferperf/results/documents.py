"""Typed result documents: one frozen dataclass per result kind, read from and written to JSON.

Every document shares an envelope (``schema``, ``kind``, ``created``, ``environment``, ``model``);
each kind's class names the top-level sections a document of that kind always has, with their types,
and keeps the rest in ``extra`` so a document reads back exactly as written (``to_dict(from_dict(d))
== d``). A missing section is a one-line ``ResultError`` naming the kind and the section, for a file
read from disk and for a document a command is about to write alike (``Command.show`` checks it).

A document is also a read-only ``Mapping`` over its JSON form, so ``doc["levels"]`` and
``doc.get("note")`` read any key, typed or not; ``to_dict()`` gives the plain dict (for ``json.dump``,
or to change it). The commands and the Python API return these types.

``parse(data)`` picks the class by ``kind``; a kind no class claims reads as the plain ``Document``
(a result of a newer inferperf still opens). ``SCHEMA`` (``inferperf.result/1``) is the layout's
version: a document with another major version is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from inferperf.errors import ResultError
from inferperf.results.schema import SCHEMA, BenchResult, read_object

_ENVELOPE = ("schema", "kind", "created", "environment", "model")
_NOT_SECTIONS = (*_ENVELOPE, "extra", "key_order")
D = TypeVar("D", bound="Document")


def _rows(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
        raise TypeError("expected a list of objects")
    return tuple(dict(v) for v in value)


def _optional_section(value: Any) -> dict[str, Any] | None:
    return None if value is None else _section(value)


def _section(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return dict(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


# How a section is read and written: ``field(metadata=TABLE)`` declares a kind's section.
TABLE: Mapping[str, Any] = {"load": _rows, "dump": list}  # a list of objects (runs, candidates, levels)
OBJECT: Mapping[str, Any] = {"load": _section, "dump": dict}  # one object (options, a summary)
OPTIONAL_OBJECT: Mapping[str, Any] = {"load": _optional_section, "dump": dict}  # one object, or null
TEXT: Mapping[str, Any] = {"load": _text}  # a string (a backend's name)


@dataclass(frozen=True)
class Document(Mapping[str, Any]):
    """The envelope every inferperf result has, and the sections of its kind this type does not name.

    Read as a mapping, it is its JSON form (``to_dict()``), built once: the fields are frozen.
    """

    kinds: ClassVar[tuple[str, ...]] = ()

    kind: str
    created: str
    environment: dict[str, Any] | None  # None: a document about other documents (compare)
    model: dict[str, Any] | str | None  # what was measured: its ModelInfo; optimize names it by its path
    extra: dict[str, Any]
    # The keys in the order they were read (or built): written back in it, so typing a document that a
    # command built never reorders its file. Not part of the value.
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False, kw_only=True)

    @classmethod
    def from_dict(cls: type[D], data: Mapping[str, Any]) -> D:
        """Read ``data``; a wrong schema tag or a missing section is a ResultError naming it."""
        _check_schema(data)
        kind = str(data.get("kind", ""))
        own = {f.name: f for f in fields(cls) if f.name not in _NOT_SECTIONS}
        values: dict[str, Any] = {}
        for name, f in own.items():
            if name not in data:
                raise ResultError(f"malformed {kind or 'result'} document: no {name!r}")
            load: Callable[[Any], Any] = f.metadata.get("load", lambda v: v)
            try:
                values[name] = load(data[name])
            except (TypeError, ValueError) as exc:
                raise ResultError(f"malformed {kind} document: {name!r}: {exc}") from None
        model = data.get("model")
        return cls(
            kind=kind,
            created=str(data.get("created", "")),
            environment=dict(env) if isinstance(env := data.get("environment"), dict) else None,
            model=dict(model) if isinstance(model, dict) else model if isinstance(model, str) else None,
            extra={k: v for k, v in data.items() if k not in _ENVELOPE and k not in own},
            key_order=tuple(data),
            **values,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the envelope, this kind's sections, then the rest as read."""
        out: dict[str, Any] = {"schema": SCHEMA, "kind": self.kind}
        if self.created:  # info and doctor describe the present: they carry no time
            out["created"] = self.created
        if self.environment is not None:
            out["environment"] = self.environment
        if self.model is not None:
            out["model"] = self.model
        for f in fields(self):
            if f.name in _NOT_SECTIONS:
                continue
            value = getattr(self, f.name)
            out[f.name] = f.metadata.get("dump", lambda v: v)(value) if value is not None else None
        out.update(self.extra)
        if not self.key_order:
            return out
        # The schema tag may be new (a document built before it had one); keys added since go last.
        return {k: out[k] for k in ("schema", *self.key_order, *out) if k in out}

    @cached_property
    def _json(self) -> dict[str, Any]:
        return self.to_dict()

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)

    @property
    def suite_cell(self) -> dict[str, Any] | None:
        """Where a suite measured this document (a bench or generate cell): its cell, key and node; else None."""
        cell = self.extra.get("suite_cell")
        return dict(cell) if isinstance(cell, dict) else None

    @property
    def model_name(self) -> str:
        """What the result was measured on: the served name at an endpoint, else the model file's name."""
        if isinstance(self.model, str):
            return Path(self.model).name
        model = self.model or {}
        if model.get("endpoint"):
            return f"{model.get('served_model')} at {model['endpoint']}"
        return Path(str(model.get("path", ""))).name


def _check_schema(data: Mapping[str, Any]) -> None:
    tag = str(data.get("schema", ""))
    if not tag.startswith("inferperf.result/"):
        raise ResultError("not an inferperf result (no 'schema': 'inferperf.result/N' tag)")
    if tag != SCHEMA:
        raise ResultError(f"result layout {tag} is not {SCHEMA}: written by another inferperf version")


# --- The kinds ----------------------------------------------------------------------------------------
# Each names the sections every document of its kind has (what its writer always writes); the rest,
# optional or kind-specific, stays in ``extra``.


@dataclass(frozen=True)
class BenchDocument(Document):
    """inferperf bench: runs per backend x scenario with raw samples (``bench()`` gives the full type)."""

    kinds: ClassVar[tuple[str, ...]] = ("bench",)
    runs: tuple[dict[str, Any], ...] = field(metadata=TABLE)

    def bench(self) -> BenchResult:
        """The typed bench result (runs as RunResult, with their samples)."""
        return BenchResult.from_dict(self.to_dict())


@dataclass(frozen=True)
class ScenarioDocument(Document):
    """inferperf scenario: a LoadGen scenario's settings, validity and latencies."""

    kinds: ClassVar[tuple[str, ...]] = ("scenario",)
    backend: str = field(metadata=TEXT)
    scenario: str = field(metadata=TEXT)
    result: dict[str, Any] | None = field(metadata=OPTIONAL_OBJECT)  # None: --find-peak found no passing rate


@dataclass(frozen=True)
class LlmScenarioDocument(Document):
    """inferperf scenario on a decoder LLM: LoadGen judging TTFT and TPOT."""

    kinds: ClassVar[tuple[str, ...]] = ("scenario-llm",)
    backend: str = field(metadata=TEXT)
    scenario: str = field(metadata=TEXT)
    result: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class LlmCompressDocument(Document):
    """inferperf llm-compress: weight formats and KV-cache types, their fidelity, speed and memory."""

    kinds: ClassVar[tuple[str, ...]] = ("llm-compress",)
    options: dict[str, Any] = field(metadata=OBJECT)
    variants: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class ServingDocument(Document):
    """inferperf generate under load (in process or at an endpoint): TTFT/TPOT/e2e per level."""

    kinds: ClassVar[tuple[str, ...]] = ("generate-serving",)
    backend: str = field(metadata=TEXT)
    options: dict[str, Any] = field(metadata=OBJECT)
    levels: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class GenerateDocument(Document):
    """inferperf generate, one request at a time: TTFT, TPOT, tokens/s per configuration."""

    kinds: ClassVar[tuple[str, ...]] = ("generate",)
    options: dict[str, Any] = field(metadata=OBJECT)
    results: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class E2EDocument(Document):
    """inferperf e2e: where end-to-end time goes, sequential and pipelined."""

    kinds: ClassVar[tuple[str, ...]] = ("e2e",)
    backend: str = field(metadata=TEXT)
    sequential: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class ColdstartDocument(Document):
    """inferperf coldstart: first-inference phases per variant in fresh processes."""

    kinds: ClassVar[tuple[str, ...]] = ("coldstart",)
    backend: str = field(metadata=TEXT)
    variants: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class MemoryDocument(Document):
    """inferperf memory: memory per phase per configuration."""

    kinds: ClassVar[tuple[str, ...]] = ("memory",)
    backend: str = field(metadata=TEXT)
    rows: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class ProfileDocument(Document):
    """inferperf profile: per-layer times and the findings."""

    kinds: ClassVar[tuple[str, ...]] = ("profile",)
    backend: str = field(metadata=TEXT)
    profile: dict[str, Any] = field(metadata=OBJECT)
    findings: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class ProfileShapesDocument(Document):
    """inferperf profile --shapes: a profile per fixed shape group and each op type's growth across them."""

    kinds: ClassVar[tuple[str, ...]] = ("profile-shapes",)
    backend: str = field(metadata=TEXT)
    groups: tuple[dict[str, Any], ...] = field(metadata=TABLE)
    scaling: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class ProfileCompareDocument(Document):
    """inferperf profile A B --compare: both profiles and where the time moved."""

    kinds: ClassVar[tuple[str, ...]] = ("profile-compare",)
    backend: str = field(metadata=TEXT)
    a: dict[str, Any] = field(metadata=OBJECT)
    b: dict[str, Any] = field(metadata=OBJECT)
    comparison: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class DynamicDocument(Document):
    """inferperf dynamic (and bench --shapes): per-group latency per compile strategy."""

    kinds: ClassVar[tuple[str, ...]] = ("dynamic",)
    backend: str = field(metadata=TEXT)
    strategies: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class GuardedDocument(Document):
    """quantize, prune, precision: candidates judged by the accuracy guard and measured side by side."""

    kinds: ClassVar[tuple[str, ...]] = ("quantize", "prune", "precision")
    backend: str = field(metadata=TEXT)
    candidates: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class TuneDocument(Document):
    """inferperf tune: the trials, the verified finalists and the recommendation."""

    kinds: ClassVar[tuple[str, ...]] = ("tune",)
    trials: tuple[dict[str, Any], ...] = field(metadata=TABLE)
    recommendation: dict[str, Any] | None = field(metadata=OPTIONAL_OBJECT)


@dataclass(frozen=True)
class CompareDocument(Document):
    """inferperf compare: a verdict per statistic, with which variance its interval covers."""

    kinds: ClassVar[tuple[str, ...]] = ("compare",)
    method: str = field(metadata=TEXT)
    rows: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class OptimizeDocument(Document):
    """inferperf optimize (on a decoder LLM: optimize-llm): the steps of the flow, each its own document in
    the output folder, and the headline."""

    kinds: ClassVar[tuple[str, ...]] = ("optimize", "optimize-llm")
    options: dict[str, Any] = field(metadata=OBJECT)
    steps: tuple[dict[str, Any], ...] = field(metadata=TABLE)
    headline: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class SuiteDocument(Document):
    """inferperf suite: the cells (model x variant x backend), each a bench document of its own."""

    kinds: ClassVar[tuple[str, ...]] = ("suite",)
    options: dict[str, Any] = field(metadata=OBJECT)
    cells: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class InfoDocument(Document):
    """inferperf info: the model's inputs, outputs and compute (FLOPs, parameters)."""

    kinds: ClassVar[tuple[str, ...]] = ("info",)
    compute: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class DoctorDocument(Document):
    """inferperf doctor: what is installed, the machine's load, each device's default precision."""

    kinds: ClassVar[tuple[str, ...]] = ("doctor",)
    installed: dict[str, Any] = field(metadata=OBJECT)
    load: dict[str, Any] = field(metadata=OBJECT)
    precisions: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class AccuracyDocument(Document):
    """inferperf accuracy: top-1 (top-5) over labelled data with exact intervals."""

    kinds: ClassVar[tuple[str, ...]] = ("accuracy",)
    backend: str = field(metadata=TEXT)
    data: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class SweepDocument(Document):
    """A step of optimize: throughput and latency of the winner per requests in flight (or batch)."""

    kinds: ClassVar[tuple[str, ...]] = ("sweep",)
    points: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class VerifyDocument(Document):
    """A step of optimize: baseline and winner measured side by side, the speed-up with its interval."""

    kinds: ClassVar[tuple[str, ...]] = ("verify",)
    candidates: tuple[dict[str, Any], ...] = field(metadata=TABLE)
    speedup: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class AccuracyCheckDocument(Document):
    """A step of optimize: the baseline's and the winner's accuracy on the same data, the drop."""

    kinds: ClassVar[tuple[str, ...]] = ("accuracy-check",)
    baseline: dict[str, Any] = field(metadata=OBJECT)
    winner: dict[str, Any] = field(metadata=OBJECT)


@dataclass(frozen=True)
class LlmCompressStepDocument(Document):
    """A step of optimize on an LLM: each weight format and KV-cache type against the fidelity guard."""

    kinds: ClassVar[tuple[str, ...]] = ("optimize-llm-compress",)
    weights: tuple[dict[str, Any], ...] = field(metadata=TABLE)
    kv_caches: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class LlmSearchDocument(Document):
    """A step of optimize on an LLM: the serving runtime's trials under the SLOs and their Pareto front."""

    kinds: ClassVar[tuple[str, ...]] = ("optimize-llm-search",)
    objective: str = field(metadata=TEXT)
    trials: tuple[dict[str, Any], ...] = field(metadata=TABLE)


@dataclass(frozen=True)
class LlmVerifyDocument(Document):
    """A step of optimize on an LLM: the finalists against the default, interleaved rounds."""

    kinds: ClassVar[tuple[str, ...]] = ("optimize-llm-verify",)
    candidates: dict[str, Any] = field(metadata=OBJECT)


def _registry() -> dict[str, type[Document]]:
    found: dict[str, type[Document]] = {}
    for cls in Document.__subclasses__():
        found.update(dict.fromkeys(cls.kinds, cls))
    return found


def parse(data: Mapping[str, Any]) -> Document:
    """The typed document of ``data``, by its kind (an unknown kind: the plain Document)."""
    cls = _registry().get(str(data.get("kind", "")), Document)
    return cls.from_dict(data)


def load(path: str | Path) -> Document:
    """Read a result file as its typed document; a bad file is one ResultError naming it."""
    p = Path(path)
    try:
        return parse(read_object(p))
    except ResultError as exc:
        raise ResultError(f"{p}: {exc}") from None
