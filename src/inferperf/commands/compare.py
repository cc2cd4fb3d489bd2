"""Comparisons: two result files, two configs interleaved, a result against the history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferperf.config import RuntimeConfig
from inferperf.errors import BackendError, ConfigError
from inferperf.measure.target import ShapeSpec, as_spec, created, header, plan_streams, resolve
from inferperf.measure.trials import WorkerCandidate
from inferperf.model import ModelInfo
from inferperf.results.documents import CompareDocument, Document
from inferperf.results.schema import SCHEMA


def compare(
    a: str | Path, b: str | Path, *, threshold: float = 0.02, history: str | Path | None = None
) -> CompareDocument:
    """B against A, from two bench result files: per run and metric, ratio B/A, 95% interval, verdict.

    Reruns of either configuration recorded in the history (default store unless ``history``) give
    the machine's noise between invocations, which the intervals then cover.
    """
    from inferperf.report.compare import compare_docs
    from inferperf.results import documents

    doc_a, doc_b = documents.load(a), documents.load(b)
    body = compare_docs(doc_a, doc_b, threshold, _noise(doc_a, doc_b, history))
    return CompareDocument.from_dict(
        {
            "schema": SCHEMA,
            "kind": "compare",
            "created": created(),
            "a": {"path": str(a), "model": _model_path(doc_a), "created": doc_a.created},
            "b": {"path": str(b), "model": _model_path(doc_b), "created": doc_b.created},
            "threshold_given": threshold,
            **body,
        }
    )


def compare_groups(
    group_a: Sequence[str | Path], group_b: Sequence[str | Path], *, threshold: float = 0.02
) -> CompareDocument:
    """B against A, each side several separate invocations of its configuration (bench result files): per
    run and metric, the ratio of geometric means B/A with a Welch interval over the invocations."""
    from inferperf.report.compare import compare_groups as judge_groups
    from inferperf.results import documents

    docs_a, docs_b = [documents.load(p) for p in group_a], [documents.load(p) for p in group_b]
    return CompareDocument.from_dict(
        {
            "schema": SCHEMA,
            "kind": "compare",
            "created": created(),
            "a": {"paths": [str(p) for p in group_a], "model": _model_path(docs_a[0])},
            "b": {"paths": [str(p) for p in group_b], "model": _model_path(docs_b[0])},
            "threshold_given": threshold,
            **judge_groups(docs_a, docs_b, threshold),
        }
    )


def compare_interleaved(
    a: str | Path,
    b: str | Path,
    *,
    model: str | Path | None = None,
    scenario: str = "throughput",
    rounds: int = 8,
    seconds: float = 3.0,
    threshold: float = 0.02,
    timeout_s: float = 1800.0,
    shapes: ShapeSpec | str | None = None,
    int_range: tuple[int, int] | None = None,
) -> CompareDocument:
    """Two config files measured A B A B ... in one worker; per-round paired ratios B/A with verdicts.

    With ``shapes`` both run one engine with the varying dims open over the same seeded shape stream.
    """
    from inferperf.report.compare import compare_rounds

    if scenario not in ("latency", "throughput"):
        raise ConfigError(f"invalid `scenario` {scenario!r}: expected latency or throughput")
    if rounds < 2:
        raise ConfigError(f"invalid `rounds` {rounds}: at least 2 are needed for an interval")
    cands = [_config_candidate(p, model, scenario) for p in (a, b)]
    inputs: dict[str, Any] = {"seed": 0, "int_range": list(int_range) if int_range else None}
    record = None
    spec = as_spec(shapes)
    if spec is not None:
        infos = [ModelInfo.from_dict(c["model_info"]) for c in cands]
        record = plan_streams(infos, spec)[1]
        inputs["shapes"], inputs["seed"] = spec.to_dict(), spec.seed
    job = {"scenario": scenario, "rounds": rounds, "seconds": seconds, "inputs": inputs, "candidates": cands}
    per = _interleave(job, timeout_s)
    rounds_of = [
        {"throughput_fps": c["throughput_fps_per_round"], "latency_median_ms": c["median_ms_per_round"]} for c in per
    ]
    body = compare_rounds(rounds_of[0], rounds_of[1], threshold)
    return CompareDocument.from_dict(
        {
            **header("compare"),
            "a": {"config": str(a), **cands[0]["config"]},
            "b": {"config": str(b), **cands[1]["config"]},
            "model": cands[0]["model_info"],
            "rounds": rounds,
            "seconds_per_round": seconds,
            "threshold": threshold,
            **({"shapes": record} if record else {}),
            "raw": per,
            **body,
        }
    )


def _model_path(doc: Document) -> Any:
    return doc.model if isinstance(doc.model, str) else (doc.model or {}).get("path")


def _noise(a: Document, b: Document, history: str | Path | None) -> dict[tuple[str, str, str], Any]:
    """The machine's noise between invocations of A's and B's configurations, from recorded reruns
    (bench results only: they alone have runs that reruns can match)."""
    from inferperf.report.compare import invocation_noise
    from inferperf.results.documents import BenchDocument
    from inferperf.results.history import History

    if not isinstance(a, BenchDocument) or not isinstance(b, BenchDocument):
        return {}
    store = History(history)
    da, db = a.to_dict(), b.to_dict()  # the store matches reruns on the documents as recorded
    return invocation_noise(
        a, b, store.reruns(da), store.reruns(db), store.machine_reruns(da, exclude=(a.created, b.created))
    )


def _interleave(job: dict[str, Any], timeout_s: float) -> list[dict[str, Any]]:
    """Both candidates' per-round figures, measured A B A B ... in one fresh worker process."""
    from inferperf.measure.worker import run_worker

    result = run_worker({"task": "interleave", **job}, timeout_s)
    if not result.ok:
        raise BackendError(f"interleaved measurement failed: {result.error}")
    return list(result.data["candidates"])


def _config_candidate(path: str | Path, model: str | Path | None, scenario: str) -> WorkerCandidate:
    import json

    from inferperf.config import load_config_file

    runtime, _ = load_config_file(path)
    try:
        named = json.loads(Path(path).read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        named = None
    cfg = RuntimeConfig.from_dict(runtime)
    t = resolve(model or named or "builtin", cfg.backend)
    return {"backend": t.plugin.name, "model_info": t.info.to_dict(), "config": cfg.to_dict()}


def compare_against_history(
    result: str | Path, *, history: str | Path | None = None, threshold: float = 0.02
) -> CompareDocument:
    """A new bench result against the latest recorded one with the same model hash, config and machine.

    A is the recorded result, B the new one: ratios B/A, intervals and verdicts as ``compare``.
    """
    from inferperf.errors import ResultError
    from inferperf.report.compare import compare_docs
    from inferperf.results import documents
    from inferperf.results.history import History

    typed = documents.load(result)
    new = typed.to_dict()
    store = History(history)
    old = store.latest_matching(new)
    if old is None:
        raise ResultError(
            f"no earlier result in {store.path} matches {result} (same model hash, run config and machine)"
        )
    recorded = documents.parse(old)
    body = compare_docs(recorded, typed, threshold, _noise(recorded, typed, history))
    return CompareDocument.from_dict(
        {
            "schema": SCHEMA,
            "kind": "compare",
            "created": created(),
            "a": {
                "history_id": old["history"]["id"],
                "history": str(store.path),
                "model": old.get("model", {}).get("path"),
                "created": old.get("created"),
            },
            "b": {"path": str(result), "model": _model_path(typed), "created": typed.created},
            "threshold_given": threshold,
            **body,
        }
    )
