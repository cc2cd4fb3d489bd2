"""First-inference latency in fresh processes: variants interleaved, cold and warm cache apart.

Variants run round-robin (A B C A B C ...) so drift on the machine hits
each. The cold-cache run of a round empties the cache folder first and so
fills it for the warm-cache run that follows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from inferperf.backends.base import Backend
from inferperf.config import RuntimeConfig
from inferperf.measure.worker import WorkerResult, run_worker
from inferperf.model.info import ModelInfo
from inferperf.stats import median_ci_small, ratio_of_medians_ci

# Errors a worker reports for a configuration (not a crash): same message every round.
_CONFIG_ERROR = "config: "
PHASES = (
    "python_start_ms",
    "import_ms",
    "read_ms",
    "compile_ms",
    "first_inference_ms",
    "second_inference_ms",
    "time_to_first_result_ms",
)


class VariantSummary(TypedDict):
    """One start-up configuration's runs: per phase the median with its interval and the samples."""

    label: str
    config: dict[str, Any]
    runs: int
    skipped: bool
    failures: list[str]
    phases: dict[str, dict[str, Any]]  # phase name -> median, ci95, samples
    effective: dict[str, Any] | None
    groups: NotRequired[list[dict[str, Any]]]


@dataclass
class Variant:
    """One start-up configuration and its runs."""

    label: str
    config: RuntimeConfig
    clear_cache: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: bool = False
    cache_pair: str = ""  # cold/warm variants of one compile route share a pair name

    def record(self, result: WorkerResult) -> None:
        if not result.ok:
            self.failures.append(result.error or "unknown failure")
            return
        data = dict(result.data)
        data["python_start_ms"] = (data.pop("worker_main_at") - result.started_at) * 1e3
        data["time_to_first_result_ms"] = (data.pop("first_result_at") - result.started_at) * 1e3
        self.runs.append(data)

    def summary(self) -> VariantSummary:
        """The variant's figures for the coldstart document."""
        phases: dict[str, dict[str, Any]] = {}
        for name in PHASES:
            values = [r[name] for r in self.runs if r.get(name) is not None]
            if values:
                phases[name] = {**median_ci_small(values).to_dict(), "samples": values}
        out: VariantSummary = {
            "label": self.label,
            "config": self.config.to_dict(),
            "runs": len(self.runs),
            "skipped": self.skipped,
            "failures": self.failures,
            "phases": phases,
            "effective": self.runs[-1].get("effective") if self.runs else None,
        }
        if self.runs and "groups" in self.runs[0]:
            out["groups"] = self._groups()
        return out

    def _groups(self) -> list[dict[str, Any]]:
        """--shapes: per shape group, the first inference at it (a new shape) against the second."""
        out = []
        for i, first in enumerate(self.runs[0]["groups"]):
            rows = [r["groups"][i] for r in self.runs]
            a, b = [g["first_ms"] for g in rows], [g["second_ms"] for g in rows]
            ratios = sorted(x / y for x, y in zip(a, b, strict=True) if y > 0)
            out.append(
                {
                    "group": first["group"],
                    "first_ms": {**median_ci_small(a).to_dict(), "samples": a},
                    "second_ms": {**median_ci_small(b).to_dict(), "samples": b},
                    "first_over_second": {**median_ci_small(ratios).to_dict(), "samples": ratios},
                }
            )
        return out


def build_variants(backend: Backend, config: RuntimeConfig, cache_dir: str | None) -> tuple[list[Variant], list[str]]:
    """Baseline, the backend's own start-up variants, and cold/warm cache when a folder is given.

    With a cache, a route that compiles straight from the file gets its own cold/warm pair:
    a warm cache can then skip reading the model at all, and its cache entry is keyed
    differently from the in-memory route's, so it must be primed by its own cold run.
    """
    extra, lacks = backend.coldstart_variants()
    variants = [Variant("baseline (read + compile in memory)", config.with_(cache_dir=None))]
    variants += [Variant(label, config.with_(cache_dir=None, **changes)) for label, changes in extra]
    if cache_dir:
        routes: list[tuple[str, dict[str, Any]]] = [("", {})] + [
            (f", {label}", ch) for label, ch in extra if ch.get("compile_from") == "path"
        ]
        for suffix, changes in routes:
            cfg = config.with_(cache_dir=cache_dir, **changes)
            pair = suffix.lstrip(", ") or "memory"
            variants.append(Variant(f"cache cold{suffix} (emptied before each run)", cfg, True, cache_pair=pair))
            variants.append(Variant(f"cache warm{suffix}", cfg, cache_pair=pair))
    return variants, lacks


def _clear(folder: str) -> None:
    path = Path(folder)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def run_coldstart(
    backend: Backend,
    model: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    variants: list[Variant],
    runs: int,
    timeout_s: float,
    progress: Callable[[str], None] | None = None,
    inputs: dict[str, Any] | None = None,
) -> None:
    """Run every variant ``runs`` times, interleaved, each in a fresh worker.

    ``inputs``: a ``--shapes`` stream for the worker (see ``coldstart_task``).
    """
    for round_ in range(runs):
        for v in variants:
            if v.skipped:
                continue
            if progress is not None:
                progress(f"round {round_ + 1}/{runs}: {v.label}")
            if v.clear_cache and v.config.cache_dir:
                _clear(v.config.cache_dir)
            job = {
                "task": "coldstart",
                "model": str(model.path),
                "model_info": model.to_dict(),
                "backend": backend.name,
                "config": v.config.to_dict(),
                "shapes": {k: list(s) for k, s in shapes.items()},
                **({"inputs": inputs} if inputs else {}),
            }
            v.record(run_worker(job, timeout_s))
            if not v.runs and v.failures and v.failures[-1].startswith(_CONFIG_ERROR):
                v.skipped = True  # a configuration the runtime refuses will refuse every round


def speedups(variants: list[Variant], pair: str = "memory") -> dict[str, dict[str, Any]]:
    """Cold / warm ratios of compile and time-to-first-result for one cache pair, with bootstrap intervals."""
    members = [v for v in variants if v.cache_pair == pair and v.runs]
    cold = next((v for v in members if v.clear_cache), None)
    warm = next((v for v in members if not v.clear_cache), None)
    if cold is None or warm is None:
        return {}
    out: dict[str, dict[str, Any]] = {}  # "compile", "time_to_first_result" -> the ratio
    for phase in ("compile_ms", "time_to_first_result_ms"):
        a = [r[phase] for r in cold.runs if r.get(phase) is not None]
        b = [r[phase] for r in warm.runs if r.get(phase) is not None]
        if a and b:
            iv = ratio_of_medians_ci(a, b)
            out[phase.removesuffix("_ms")] = {
                **iv.to_dict(),
                "method": iv.method,
                "significant": iv.low > 1.0 or iv.high < 1.0,
            }
    return out
