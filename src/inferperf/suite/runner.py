"""The suite itself: plan the matrix, make variants, run cells one at a time, keep every finished cell.

Each finished cell is written to ``OUT/cells/NAME.json`` (a bench result with a
``suite_cell`` block) and recorded in the history as soon as it comes back, and
``OUT/suite.json`` is rewritten after every cell, so a Ctrl-C, a crash or a lost
node never costs a finished measurement. ``--resume`` reuses a cell whose file
has the same key (model hash, variant, backend, config, limits) and was measured
in the same environment (machine and library versions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferperf.backends import get_backend
from inferperf.errors import InferperfError
from inferperf.jsonform import NOT_IN_JSON, JsonRecord
from inferperf.measure.environment import collect_environment
from inferperf.model import ModelInfo, load_model_info
from inferperf.results import documents
from inferperf.results.documents import BenchDocument, Document, GenerateDocument, SuiteDocument
from inferperf.results.history import History, environment_fingerprint
from inferperf.results.schema import SCHEMA, save_json
from inferperf.stats import Estimate, is_estimate
from inferperf.suite.cell import current_fingerprints, run_cell
from inferperf.suite.llm import BACKEND as LLM_BACKEND
from inferperf.suite.llm import CellSummary, llm_job, llm_summary, make_llm_variant
from inferperf.suite.plan import Cell, Job, SuiteOptions, cell_job, cell_key, cells, quantizer_of, reference_of
from inferperf.suite.variants import Variant, make_variant

Status = Callable[[str], None]


@dataclass(frozen=True)
class CellEnd:
    """What became of one cell, as its executor reports it: the document or the error, and the node.

    An executor that retries a cell elsewhere says how many ``attempts`` it took in all and
    which nodes died under it (``lost_nodes``); without them each report counts as one attempt.
    """

    cell: Cell
    doc: dict[str, Any] | None
    error: str | None
    node: dict[str, Any] | None = None
    attempts: int | None = None
    lost_nodes: list[dict[str, Any]] | None = None


Finish = Callable[[CellEnd], None]
"""Called once per cell, as it ends."""


# (cell, job) pairs in, and for each one call of finish
Executor = Callable[[list[tuple[Cell, Job]], Finish], None]


@dataclass
class Outcome(JsonRecord):
    """What became of one cell: in the file, the cell's own fields first, then these."""

    cell: Cell = field(metadata=NOT_IN_JSON)
    status: str  # ok | failed | unsupported | reused | pending
    file: str | None = None
    error: str | None = None
    node: dict[str, Any] | None = None
    attempts: int = 0
    summary: CellSummary | None = None
    lost_nodes: list[dict[str, Any]] = field(default_factory=list)  # nodes that died while it ran there

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.cell.to_dict(), **super().to_dict()}


def _stat(run: dict[str, Any] | None, *path: str) -> Estimate | None:
    value: Any = run
    for key in path:
        value = (value or {}).get(key)
    return value if is_estimate(value) else None


def cell_summary(document: Document) -> CellSummary:
    """Headline numbers of a cell: latency from its latency run, throughput from its throughput run
    (an LLM cell's: TTFT, TPOT and decode tokens/s)."""
    doc = document.to_dict()
    if isinstance(document, GenerateDocument):
        return llm_summary(doc)
    runs = document.runs if isinstance(document, BenchDocument) else ()
    by = {r["scenario"]: r for r in runs}
    lat = by.get("latency") or by.get("throughput")
    thr = by.get("throughput") or by.get("latency")
    compute = (thr or {}).get("compute") or {}
    return {
        "latency_median_ms": _stat(lat, "latency_ms", "median"),
        "latency_p99_ms": _stat(lat, "latency_ms", "p99"),
        "latency_from": (lat or {}).get("scenario"),
        "throughput_fps": _stat(thr, "throughput_fps"),
        "throughput_from": (thr or {}).get("scenario"),
        "effective_gflops": compute.get("effective_gflops"),
        "fraction_of_peak": compute.get("fraction_of_peak"),
        "fraction_of_int8_peak": compute.get("fraction_of_int8_peak"),
        "converged": all(r.get("converged") is not False for r in runs),
        "run_errors": doc.get("errors") or [],
    }


@dataclass
class Suite:
    """One suite invocation; ``run`` returns the suite document."""

    options: SuiteOptions
    status: Status = field(default=lambda _msg: None)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    variants: dict[tuple[str, str], Variant] = field(default_factory=dict)
    llm_variants: dict[tuple[str, str], Variant] = field(default_factory=dict)
    interrupted: bool = False
    executor_name: str = "local"
    nodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cells_dir(self) -> Path:
        """Where cell result files go."""
        return self.options.out / "cells"

    def run(self, executor: Executor | None = None, fingerprints: dict[str, set[str]] | None = None) -> SuiteDocument:
        """Measure every pending cell with ``executor`` (default: here, one after another)."""
        for name in self.options.backends:
            get_backend(name)  # unknown or missing runtimes fail before minutes of work
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        try:
            pending = self._plan(fingerprints)
            self._checkpoint()
            (executor or _local_executor(self.status))(pending, self._finish)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        finally:
            doc = self.finish_document()
        return doc

    def finish_document(self) -> SuiteDocument:
        """The final suite document, with ratios against the reference and the reports written beside it."""
        from inferperf.report.suite_report import add_ratios, write_reports

        doc = self.document()
        add_ratios(doc)
        doc["reports"] = write_reports(doc, self.options.out)
        save_json(doc, self.options.out / "suite.json")
        return SuiteDocument.from_dict(doc)

    # ------------------------------------------------------------------ planning

    def _plan(self, fingerprints: dict[str, set[str]] | None) -> list[tuple[Cell, Job]]:
        if fingerprints is None:
            fingerprints = {k: {v} for k, v in current_fingerprints(list(self.options.backends)).items()}
        pending = []
        for cell in cells(self.options):
            if cell.backend == LLM_BACKEND:
                job = self._classify_llm(cell, fingerprints)
                if job is not None:
                    pending.append((cell, job))
                continue
            variant = self._variant(cell)
            job = self._classify(cell, variant, fingerprints)
            if job is not None:
                pending.append((cell, job))
        return pending

    def _variant(self, cell: Cell) -> Variant:
        key = (cell.model, cell.variant)
        if key not in self.variants:
            self.status(f"preparing {cell.model} {cell.variant}")
            self.variants[key] = self._make(cell.model, cell.variant)
        return self.variants[key]

    def _make(self, model: str, name: str) -> Variant:
        fp32 = self.variants.get((model, "fp32"))
        try:
            info = fp32.info if fp32 and fp32.info else load_model_info(model)
        except InferperfError as exc:
            return Variant(model, name, None, f"cannot load {model}: {exc.one_line()}")
        return make_variant(model, name, info, self.options)

    def _classify(self, cell: Cell, variant: Variant, fingerprints: dict[str, set[str]]) -> Job | None:
        """Record cells that cannot or need not run; the job for one that must."""
        outcome = self.outcomes[cell.name] = Outcome(cell, "pending")
        if variant.info is None:
            outcome.status, outcome.error = "failed", variant.error
            return None
        unsupported = _unsupported(cell, variant.info, self.options)
        if unsupported:
            outcome.status, outcome.error = "unsupported", unsupported
            return None
        key = cell_key(cell, variant.info.sha256, self.options)
        if self.options.resume and self._reuse(outcome, key, fingerprints.get(cell.backend, set())):
            return None
        job = cell_job(cell, str(variant.info.path), self.options)
        job["suite_key"] = key
        job["files"] = [str(f) for f in variant.info.files]
        job["sha256"] = variant.info.sha256
        return job

    def _classify_llm(self, cell: Cell, fingerprints: dict[str, set[str]]) -> Job | None:
        """The generate job of an LLM cell, or the reason it has none (its variant failed, or it is reused)."""
        outcome = self.outcomes[cell.name] = Outcome(cell, "pending")
        key_ = (cell.model, cell.variant)
        if key_ not in self.llm_variants:
            self.status(f"preparing {cell.model} {cell.variant}")
            self.llm_variants[key_] = make_llm_variant(cell.model, cell.variant, self.options)
        variant = self.llm_variants[key_]
        if variant.path is None or variant.sha256 is None:
            outcome.status, outcome.error = "failed", variant.error
            return None
        key = cell_key(cell, variant.sha256, self.options)
        if self.options.resume and self._reuse(outcome, key, fingerprints.get(cell.backend, set())):
            return None
        files = sorted(str(f) for f in variant.path.iterdir() if f.is_file())  # what a Ray node without it gets
        return {**llm_job(variant, self.options), "suite_key": key, "files": files, "sha256": variant.sha256}

    def _reuse(self, outcome: Outcome, key: str, fingerprints: set[str]) -> bool:
        path = self.cells_dir / f"{outcome.cell.name}.json"
        if not path.is_file():
            return False
        try:
            doc = documents.load(path)
        except InferperfError:
            return False  # unreadable: measure it again
        meta = doc.suite_cell or {}
        if meta.get("key") != key or environment_fingerprint(doc.environment or {}) not in fingerprints:
            return False
        outcome.status, outcome.file, outcome.node = "reused", str(path), meta.get("node")
        outcome.summary = cell_summary(doc)
        self.status(f"{outcome.cell.label()}: reused {path.name}")
        return True

    # ------------------------------------------------------------------ results

    def _finish(self, end: CellEnd) -> None:
        cell, outcome = end.cell, self.outcomes[end.cell.name]
        outcome.attempts = end.attempts if end.attempts is not None else outcome.attempts + 1
        if end.lost_nodes is not None:
            outcome.lost_nodes = list(end.lost_nodes)
        outcome.node = end.node
        if end.doc is None:
            outcome.status, outcome.error = "failed", end.error
            self.status(f"{cell.label()}: failed: {end.error}")
        else:
            self._keep(cell, outcome, end.doc, end.node)
        self._checkpoint()

    def _keep(self, cell: Cell, outcome: Outcome, doc: dict[str, Any], node: dict[str, Any] | None) -> None:
        doc.pop("worker_main_at", None)
        job_key = cell_key(cell, str(doc["model"].get("sha256")), self.options)
        doc["suite_cell"] = {
            **cell.to_dict(),
            "key": job_key,
            "node": node,
            "attempts": outcome.attempts,
            "lost_nodes": outcome.lost_nodes,
        }
        path = save_json(doc, self.cells_dir / f"{cell.name}.json")
        outcome.status, outcome.file, outcome.summary = "ok", str(path), cell_summary(documents.parse(doc))
        outcome.error = "; ".join(e["error"] for e in doc.get("errors") or []) or None
        if self.options.record_history:
            History(self.options.history).record(doc, source=f"suite {self.options.out}")
        self.status(f"{cell.label()}: done ({_brief(outcome.summary)})")

    def _checkpoint(self) -> None:
        save_json(self.document(), self.options.out / "suite.json")

    def document(self) -> dict[str, Any]:
        """The suite result: options, variants, every cell's outcome and headline numbers."""
        backend, variant = reference_of(self.options)
        return {
            "schema": SCHEMA,
            "kind": "suite",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "environment": collect_environment(),
            "options": self.options.to_dict(),
            "executor": self.executor_name,
            "nodes": self.nodes,
            "reference": {"backend": backend, "variant": variant},
            "variants": [v.to_dict() for v in self.variants.values()]
            + [v.to_dict() for v in self.llm_variants.values()],
            "cells": [o.to_dict() for o in self.outcomes.values()],
            "interrupted": self.interrupted,
            "history": str(History(self.options.history).path) if self.options.record_history else None,
        }


def _unsupported(cell: Cell, info: ModelInfo, options: SuiteOptions) -> str | None:
    plugin = get_backend(cell.backend)
    if plugin.supports_format(info.format):
        return None
    maker = quantizer_of(cell.variant, options.quantizer)
    made = f" (the {cell.variant} variant was made by {maker}; try --variants int8-{cell.backend})" if maker else ""
    return f"{cell.backend} cannot load {info.format} models{made}"


def _brief(summary: CellSummary | None) -> str:
    if not summary:
        return "-"
    if summary.get("generative"):
        return f"TTFT {summary['ttft_median_ms']['value']:.1f} ms, TPOT {summary['tpot_median_ms']['value']:.2f} ms"
    lat, thr = summary.get("latency_median_ms"), summary.get("throughput_fps")
    parts = []
    if lat:
        parts.append(f"median {lat['value']:.2f} ms")
    if thr:
        parts.append(f"{thr['value']:.1f} FPS")
    return ", ".join(parts) or "-"


def _local_executor(status: Status) -> Executor:
    """Cells one after another on this machine, each in a fresh worker process."""

    def execute(pending: list[tuple[Cell, Job]], finish: Finish) -> None:
        for i, (cell, job) in enumerate(pending, 1):
            status(f"[{i}/{len(pending)}] measuring {cell.label()}")
            doc, error = run_cell(job)
            finish(CellEnd(cell, doc, error))

    return execute
