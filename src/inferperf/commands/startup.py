"""Start-up commands, each run in fresh processes: first inference (coldstart) and memory per phase."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from inferperf.config import RuntimeConfig
from inferperf.errors import ConfigError
from inferperf.inputs.providers import check_inputs_fit
from inferperf.measure.target import ShapeSpec, as_spec, header, plan_streams, resolve
from inferperf.model import load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.documents import ColdstartDocument, MemoryDocument


def coldstart(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    runs: int = 5,
    cache_dir: str | Path | None = None,
    shape: str | None = None,
    config: RuntimeConfig | None = None,
    timeout_s: float = 300.0,
    progress: Callable[[str], None] | None = None,
    shapes: ShapeSpec | str | None = None,
) -> ColdstartDocument:
    """First-inference latency in fresh processes, per start-up variant, as a result document.

    With ``shapes`` the engine keeps the varying dims open, and each run also meets one shape of
    every group for the first time: the first inference at each against the second.
    """
    from inferperf.measure.coldstart import build_variants, run_coldstart, speedups

    if runs < 1:
        raise ConfigError(f"invalid `runs` {runs}: must be at least 1")
    t = resolve(model, backend, config, "latency")
    plugin, info_, cfg = t.plugin, t.info, t.config
    inputs = record = None
    spec = as_spec(shapes)
    if spec is not None:
        if shape is not None:
            raise ConfigError("`shapes` and `shape` both set the shapes: give one")
        plans, record = plan_streams([info_], spec)
        fixed = plans[0].largest
        inputs = {"shapes": spec.to_dict(), "seed": spec.seed}
    else:
        fixed = resolve_shapes(info_, parse_shape_spec(shape), cfg.batch)
        check_inputs_fit(info_, fixed, 1)
    variants, lacks = build_variants(plugin, cfg, str(cache_dir) if cache_dir else None)
    run_coldstart(plugin, info_, fixed, variants, runs, timeout_s, progress, inputs)
    return ColdstartDocument.from_dict(
        {
            **header("coldstart", plugin),
            **({"shapes": record} if record else {}),
            "model": {**info_.to_dict(), "shapes": {k: list(v) for k, v in fixed.items()}},
            "backend": plugin.name,
            "runs_per_variant": runs,
            "variants": [v.summary() for v in variants],
            "cache_speedup": speedups(variants),
            "cache_speedup_other_routes": {
                v.cache_pair: speedups(variants, v.cache_pair) for v in variants if v.cache_pair not in ("", "memory")
            },
            "runtime_lacks": lacks,
            "ci_method": "order-statistic binomial interval of the median over runs; ratios by percentile bootstrap",
        }
    )


def memory(
    model: str | Path = "builtin",
    *,
    backend: str = "openvino",
    variants: Sequence[str | Path] = (),
    batches: Sequence[int] = (),
    shape: str | None = None,
    config: RuntimeConfig | None = None,
    steady_s: float = 3.0,
    leak_iterations: int = 1000,
    timeout_s: float = 600.0,
    progress: Callable[[str], None] | None = None,
    shapes: ShapeSpec | str | None = None,
) -> MemoryDocument:
    """Memory per phase for each configuration that changes it, each in a fresh process.

    With ``shapes`` every worker runs one open-dims engine over the seeded shape stream: a pass that
    meets each shape first, steady state over the stream, and the leak check cycling it.
    """
    import psutil

    from inferperf.measure.memory import run_memory, sweep_configs

    t = resolve(model, backend, config)
    plugin, base = t.plugin, t.config
    models = [t.info, *(load_model_info(v) for v in variants)]
    cores = psutil.cpu_count(logical=False) or 1
    stream = None
    record = None
    spec = as_spec(shapes)
    if spec is not None:
        if shape is not None or batches:
            raise ConfigError("`shapes` sets every input's shape: leave out `shape` and `batches`")
        plans, record = plan_streams(models, spec)
        stream = (spec.to_dict(), [p.largest for p in plans])
    configs = sweep_configs(plugin, base, cores, list(batches))
    rows = run_memory(
        plugin,
        models,
        parse_shape_spec(shape),
        configs,
        steady_s=steady_s,
        leak_iterations=leak_iterations,
        timeout_s=timeout_s,
        progress=progress,
        stream=stream,
    )
    return MemoryDocument.from_dict(
        {
            **header("memory", plugin),
            "model": models[0].to_dict(),
            "variants": [m.to_dict() for m in models[1:]],
            "backend": plugin.name,
            **({"shapes": record} if record else {}),
            "rows": rows,
            "method": (
                "VmRSS samples between phases; peaks from VmHWM reset via /proc/self/clear_refs before each phase"
            ),
        }
    )
