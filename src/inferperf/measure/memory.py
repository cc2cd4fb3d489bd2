"""Memory footprint per phase and per configuration, each configuration in a fresh worker.

The sweep covers what changes memory (performance hint, streams, batch,
model variant) and keeps each configuration's throughput next to its
memory, so the trade-off is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferperf.backends.base import Backend
from inferperf.config import RuntimeConfig
from inferperf.inputs.providers import check_inputs_fit
from inferperf.measure.target import StreamSpec
from inferperf.measure.worker import run_worker
from inferperf.model.info import ModelInfo, load_model_info
from inferperf.model.shapes import reconcile_batch, resolve_shapes


def sweep_configs(
    backend: Backend, base: RuntimeConfig, cores: int, batches: list[int]
) -> list[tuple[str, RuntimeConfig]]:
    """The configurations that change memory, asked of the backend's own knobs."""
    configs = backend.memory_variants(base, cores)
    for b in batches:
        if b != base.batch:
            configs.append((f"batch {b}", backend.configure(base.with_(batch=b), "throughput")))
    return configs


def _planned(
    model: ModelInfo,
    spec: dict[str | None, tuple[int, ...]],
    config: RuntimeConfig,
    largest: dict[str, tuple[int, ...]] | None,
) -> tuple[dict[str, tuple[int, ...]], RuntimeConfig]:
    """The shapes a worker feeds and the config with its batch reconciled to them."""
    if largest is not None:
        return largest, config
    shapes = resolve_shapes(model, spec, config.batch)
    check_inputs_fit(model, shapes, 1)
    return shapes, config.with_(batch=reconcile_batch(model, shapes, config.batch))


def run_memory(
    backend: Backend,
    models: list[ModelInfo],
    spec: dict[str | None, tuple[int, ...]],
    configs: list[tuple[str, RuntimeConfig]],
    *,
    steady_s: float,
    leak_iterations: int,
    timeout_s: float,
    progress: Callable[[str], None] | None = None,
    stream: tuple[StreamSpec, list[dict[str, tuple[int, ...]]]] | None = None,
) -> list[dict[str, Any]]:
    """One fresh worker per (model variant, configuration); failures are rows too.

    ``stream``: a ``--shapes`` spec for the worker, and each model's largest input shapes (the record's).
    """
    rows: list[dict[str, Any]] = []
    # Every (model, configuration) resolves its shapes before any worker starts: a batch that
    # conflicts with a given shape is a one-line refusal, not a failure after minutes of rows.
    planned = [
        [_planned(model, spec, config, stream[1][m] if stream else None) for _, config in configs]
        for m, model in enumerate(models)
    ]
    for m, model in enumerate(models):
        for c, (label, _) in enumerate(configs):
            shapes, config = planned[m][c]
            if progress is not None:
                progress(f"{model.path.name}: {label}")
            job = {
                **({"inputs": {"shapes": stream[0], "seed": 0}} if stream else {}),
                "task": "memory",
                "model": str(model.path),
                "model_info": model.to_dict(),
                "backend": backend.name,
                "config": config.to_dict(),
                "shapes": {k: list(v) for k, v in shapes.items()},
                "steady_s": steady_s,
                "leak_iterations": leak_iterations,
            }
            result = run_worker(job, timeout_s)
            rows.append(
                {
                    "model": str(model.path),
                    "weights_mb": _weights_mb(model),
                    "label": label,
                    "config": config.to_dict(),
                    "ok": result.ok,
                    "error": result.error,
                    **({k: v for k, v in result.data.items() if k != "worker_main_at"} if result.ok else {}),
                }
            )
    return rows


def _weights_mb(model: ModelInfo) -> float:
    return model.size_bytes / 2**20


def variants(paths: list[str]) -> list[ModelInfo]:
    """Model variants to compare (FP32 and INT8 files, say)."""
    return [load_model_info(p) for p in paths]
