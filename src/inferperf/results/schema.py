"""The ``inferperf.result/1`` document.

Layout (see docs/result-schema.md for every field)::

    {"schema": "inferperf.result/1", "kind": "bench", "created": ISO-8601,
     "model": {...ModelInfo...}, "environment": {...}, "limits": {...},
     "runs": [RunResult, ...]}

Numbers stay numbers; raw samples are kept so any statistic can be derived
again. Files are written to a temporary file in the same folder and renamed,
so a reader never sees half a document and a failed run never clobbers an
earlier good one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferperf.config import read_json_object
from inferperf.errors import ResultError

SCHEMA = "inferperf.result/1"


def items_per_inference(run: dict[str, Any]) -> float:
    """Mean items per inference of a run document (``items / count``; ``batch`` in older documents)."""
    items, count = run.get("items"), run.get("count")
    if items is not None and count:
        return float(items) / float(count)
    return float(run.get("batch", 1))


@dataclass(frozen=True)
class RunResult:
    """One backend x scenario measurement, with its raw samples."""

    backend: str
    scenario: str
    config: dict[str, Any]
    effective: dict[str, Any]
    phases_ms: dict[str, float | None]
    latency_ms: dict[str, Any]
    throughput_fps: dict[str, Any]
    count: int
    duration_s: float
    converged: bool | None
    stop_reason: str
    batch: int
    load: Mapping[str, Any]
    samples: dict[str, list[float]] = field(repr=False)
    compute: Mapping[str, Any] | None = None
    repeats: list[dict[str, Any]] | None = None
    # Items computed over the run (inferences x the fed tensors' batch dim) and the shapes fed;
    # None in documents written before they were recorded, where ``count * batch`` stands in.
    items: int | None = None
    fed_shapes: dict[str, list[int]] | None = None
    # How much of the wall time a request was in flight (see measure/runner.py harness_figures).
    harness: Mapping[str, Any] | None = None

    def items_counted(self) -> int:
        """Items this run computed: recorded, or (older documents) inferences x batch."""
        return self.items if self.items is not None else self.count * self.batch

    def items_per_inference(self) -> float:
        """Mean items per inference (constant unless a shape stream varies the batch dim)."""
        return self.items_counted() / self.count if self.count else float(self.batch)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "config": self.config,
            "effective": self.effective,
            "phases_ms": self.phases_ms,
            "latency_ms": self.latency_ms,
            "throughput_fps": self.throughput_fps,
            "count": self.count,
            "batch": self.batch,
            "items": self.items,
            "fed_shapes": self.fed_shapes,
            "harness": self.harness,
            "duration_s": self.duration_s,
            "converged": self.converged,
            "stop_reason": self.stop_reason,
            "load": self.load,
            "compute": self.compute,
            "repeats": self.repeats,
            "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Inverse of to_dict; a missing key is a ResultError."""
        try:
            return cls(
                backend=str(data["backend"]),
                scenario=str(data["scenario"]),
                config=dict(data["config"]),
                effective=dict(data["effective"]),
                phases_ms=dict(data["phases_ms"]),
                latency_ms=dict(data["latency_ms"]),
                throughput_fps=dict(data["throughput_fps"]),
                count=int(data["count"]),
                duration_s=float(data["duration_s"]),
                converged=data["converged"],
                stop_reason=str(data["stop_reason"]),
                batch=int(data.get("batch", 1)),
                load=dict(data.get("load", {})),
                samples={k: list(v) for k, v in data["samples"].items()},
                compute=data.get("compute"),
                repeats=data.get("repeats"),
                items=None if data.get("items") is None else int(data["items"]),
                harness=data.get("harness"),
                fed_shapes=data.get("fed_shapes"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultError(f"malformed run in result document: {exc!r}") from None


@dataclass(frozen=True)
class BenchResult:
    """A whole ``inferperf bench`` invocation."""

    model: dict[str, Any]
    environment: Mapping[str, Any]
    limits: dict[str, Any]
    runs: tuple[RunResult, ...]
    created: str
    errors: tuple[dict[str, str], ...] = ()
    kind: str = "bench"
    cross_check: Mapping[str, Any] | None = None  # several backends: do their outputs agree?
    comparison: list[dict[str, Any]] | None = None  # several backends: ratios against the first

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the schema tag first."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "created": self.created,
            "model": self.model,
            "environment": self.environment,
            "limits": self.limits,
            "runs": [r.to_dict() for r in self.runs],
            "errors": list(self.errors),
            "cross_check": self.cross_check,
            "comparison": self.comparison,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """Inverse of to_dict; checks the schema tag."""
        if data.get("schema") != SCHEMA:
            raise ResultError(f"not an {SCHEMA} document (schema={data.get('schema')!r})")
        try:
            return cls(
                model=dict(data["model"]),
                environment=dict(data["environment"]),
                limits=dict(data.get("limits", {})),
                runs=tuple(RunResult.from_dict(r) for r in data["runs"]),
                created=str(data.get("created", "")),
                errors=tuple(dict(e) for e in data.get("errors", [])),
                kind=str(data.get("kind", "bench")),
                cross_check=data.get("cross_check"),
                comparison=data.get("comparison"),
            )
        except (KeyError, TypeError) as exc:
            raise ResultError(f"malformed result document: missing {exc}") from None


def finite(obj: Any) -> Any:
    """``obj`` with every NaN/Infinity as None: JSON has neither; an unbounded interval end is null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):  # a dict, or a typed document read as its JSON form
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def save_json(document: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``document`` atomically (temp file in the same folder, fsync, rename)."""
    try:
        text = json.dumps(finite(document), indent=1, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResultError(f"cannot write {path}: {exc}") from None
    return atomic_write_text(text, path)


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` so that readers see the old file or the whole new one, never a half-written one."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ResultError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a result is meant to be shared
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ResultError(f"cannot write {target}: {exc.strerror}") from None
    return target


def read_object(p: Path) -> dict[str, Any]:
    """The JSON object of a result file (a missing or bad file: one ResultError naming it)."""
    return read_json_object(p, "result file", ResultError)


def load_result(path: str | Path) -> BenchResult:
    """Read and validate a result document."""
    return BenchResult.from_dict(read_object(Path(path)))


def load_document(path: str | Path) -> dict[str, Any]:
    """Read any inferperf result document as a dict, checking its schema tag (typed: results/documents.load)."""
    p = Path(path)
    data = read_object(p)
    if not str(data.get("schema", "")).startswith("inferperf.result/"):
        raise ResultError(f"{p} is not an inferperf result (no 'schema': 'inferperf.result/N' tag)")
    return data
