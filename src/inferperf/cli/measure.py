"""Commands that measure a model as it runs: bench, e2e, dynamic, profile (scenario: ``cli/scenario.py``).

Registered on the app in ``cli/__init__.py``.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import typer

from inferperf import api
from inferperf.cli.common import (
    Command,
    command,
    csv_list,
    out,
    percent,
    record_history,
    run_limits,
    runtime_config,
    shape_spec,
)
from inferperf.cli.groups import BenchKnobs, BenchRuntime, Image, ProfileKnobs, Runtime, Shapes
from inferperf.cli.options import (
    BackendOpt,
    BatchOpt,
    BenchBackendsOpt,
    BucketsOpt,
    CompareModelsOpt,
    ConfigModelArg,
    DecoderOpt,
    DeviceOpt,
    DynamicHistogramOpt,
    DynamicHtmlOpt,
    DynamicRequestsOpt,
    DynamicRoundsOpt,
    DynamicSeedOpt,
    DynamicShapesOpt,
    DynamicStreamOpt,
    ExecutionModeOpt,
    FuseOpt,
    GraphOptimizationOpt,
    ImageDataOpt,
    ImagesOpt,
    InputDataOpt,
    InputsOpt,
    InputValueOpt,
    InterOpThreadsOpt,
    IntRangeOpt,
    IterationsOpt,
    JsonOpt,
    MaxTimeOpt,
    ModelArg,
    ModelCacheOpt,
    ModeOpt,
    NamedShapeOpt,
    PinningOpt,
    PipelinedRequestsOpt,
    PipelinedSecondsOpt,
    PrepThreadsOpt,
    ProfileModelsArg,
    ProfileSecondsOpt,
    ProfileShapesOpt,
    QueueSizeOpt,
    RecordHistoryOpt,
    ReferenceSecondsOpt,
    RepeatsOpt,
    RequestsOpt,
    SaveFusedOpt,
    SeedOpt,
    SequentialSecondsOpt,
    ShapeOpt,
    ShapesDataOpt,
    StopPrecisionOpt,
    StrategiesOpt,
    TimeOpt,
    TopKOpt,
    TopOpt,
    WarmupOpt,
)
from inferperf.config import RunLimits, RuntimeConfig, load_config_file
from inferperf.errors import ConfigError
from inferperf.inputs import parse_input_values, parse_int_range
from inferperf.inputs.distribution import parse_buckets
from inferperf.report.console import render_bench


def bench(
    model: ConfigModelArg = None,
    backend: BenchBackendsOpt = None,
    mode: ModeOpt = "both",
    knobs: BenchKnobs = BenchKnobs(),
    requests: RequestsOpt = None,
    batch: BatchOpt = None,
    shape: NamedShapeOpt = None,
    shape_stream: Shapes = Shapes(),
    inter_op_threads: InterOpThreadsOpt = None,
    execution_mode: ExecutionModeOpt = None,
    graph_optimization: GraphOptimizationOpt = None,
    cache_dir: ModelCacheOpt = None,
    pinning: PinningOpt = None,
    device: DeviceOpt = None,
    time_s: TimeOpt = None,
    iterations: IterationsOpt = None,
    precision: StopPrecisionOpt = None,
    max_time: MaxTimeOpt = None,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    inputs: InputsOpt = None,
    data: InputDataOpt = None,
    int_range: IntRangeOpt = None,
    input_value: InputValueOpt = None,
    seed: SeedOpt = 0,
    flags: BenchRuntime = BenchRuntime(),
    json_path: JsonOpt = None,
    history: RecordHistoryOpt = True,
) -> None:
    """Latency and throughput with 95% confidence intervals, on OpenVINO, ONNX Runtime and/or PyTorch.

    With several backends, outputs are cross-checked and a table gives each one's ratios to the first.
    """
    with command(json_path) as cmd:
        low_high, values = parse_int_range(int_range), parse_input_values(input_value)  # before any bar is drawn
        config = flags.config
        file_runtime, file_limits = load_config_file(config) if config else ({}, {})
        # A tuned config names its backend and model: used unless the command line says otherwise.
        backends = csv_list(backend or file_runtime.get("backend") or "openvino")
        model = model or (_config_model(config) if config else None) or "builtin"
        runtime = (
            runtime_config(
                file_runtime,
                flags.precision_hint,
                flags.prop,
                file_backend=True,
                **knobs.given(),
                requests=requests,
                batch=batch,
                inter_op_threads=inter_op_threads,
                execution_mode=execution_mode,
                graph_optimization=graph_optimization,
                cache_dir=cache_dir,
                pinning=pinning,
                device=device,
            )
            or RuntimeConfig()
        )
        limits = run_limits(
            file_limits,
            time_s=time_s,
            iterations=iterations,
            precision=precision,
            max_time_s=max_time,
            warmup_s=warmup,
            repeats=repeats,
        )
        if shape_stream.shapes is not None:
            _bench_shapes(cmd, model, backends, mode, runtime, shape_stream, data, seed, repeats, low_high)
            return
        feed: api.Feed = {"shape": shape, "inputs": inputs, "int_range": low_high, "input_values": values, "seed": seed}
        _bench_run(cmd, model, backends, mode, (runtime, limits), feed, data, history)


def _config_model(path: Path) -> str | None:
    """The model a --config file names (a tuned config does), if any."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        return None  # load_config_file already reported what is wrong with the file
    return value if isinstance(value, str) else None


def _bench_run(
    cmd: Command,
    model: str,
    backends: list[str],
    mode: str,
    settings: tuple[RuntimeConfig, RunLimits],
    feed: api.Feed,
    data: str | None,
    history: bool,
) -> None:
    """bench on fixed shapes: the table (and --json), recorded in the history with --history; exit 3 if a run failed."""
    config, limits = settings
    with cmd.bars() as factory:
        result = api.bench(
            model, backends=backends, mode=mode, config=config, limits=limits, data=data, progress_factory=factory,
            **feed,
        )  # fmt: skip
    cmd.show(result.to_dict(), lambda _, console: render_bench(result, console))
    if history:
        record_history(result.to_dict(), "bench")
    if result.errors:
        raise typer.Exit(3)


def _bench_shapes(
    cmd: Command,
    model: str,
    backends: list[str],
    mode: str,
    runtime: RuntimeConfig,
    shape_stream: Shapes,
    data: str | None,
    seed: int,
    repeats: int | None,
    int_range: tuple[int, int] | None,
) -> None:
    """bench --shapes: the dynamic strategy alone on the seeded shape stream, results per shape group."""
    from inferperf.measure.dynamic import DynamicOptions
    from inferperf.report.dynamic_console import render_dynamic

    if len(backends) != 1:
        raise ConfigError("--shapes measures one backend at a time: give one --backend")
    if mode not in ("latency", "throughput", "both"):
        raise ConfigError(f"invalid mode {mode!r}: expected latency or throughput with --shapes")
    if mode == "both":
        out.print("--shapes measures one scenario: latency (use --mode throughput for the other)")
    requests = 1 if mode != "throughput" else (runtime.requests or os.cpu_count() or 1)
    options = DynamicOptions(
        strategies=("dynamic",), stream=shape_stream.stream, rounds=repeats or 3, requests=requests, seed=seed
    )
    with cmd.status("bench --shapes") as status:
        doc = api.dynamic(
            model,
            shape_stream.spec(data, seed) or str(shape_stream.shapes),
            backend=backends[0],
            options=options,
            config=runtime,
            int_range=int_range,
            progress=percent(status),
        )
    cmd.show(doc, render_dynamic, save_first=True)


def e2e(
    model: ModelArg = "builtin",
    images: ImagesOpt = None,
    data: ImageDataOpt = None,
    backend: BackendOpt = "openvino",
    decoder: DecoderOpt = "pillow",
    image: Image = Image(),
    seconds: SequentialSecondsOpt = 20.0,
    pipelined_seconds: PipelinedSecondsOpt = 10.0,
    prep_threads: PrepThreadsOpt = None,
    requests: PipelinedRequestsOpt = None,
    queue_size: QueueSizeOpt = None,
    top_k: TopKOpt = 5,
    fuse: FuseOpt = True,
    save_fused: SaveFusedOpt = None,
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Where end-to-end time goes: decode, pre-processing, copy, inference, post-processing; pipelined; fused."""
    from inferperf.measure.e2e import E2EOptions
    from inferperf.report.e2e_console import render_e2e

    with command(json_path) as cmd:
        pre = image.preprocess()
        options = E2EOptions(
            seconds=seconds,
            pipelined_seconds=pipelined_seconds,
            prep_threads=prep_threads,
            requests=requests,
            queue_size=queue_size,
            top_k=top_k,
        )
        with cmd.status("e2e", "compiling") as status:
            doc = api.e2e(
                model,
                images=images,
                data=data,
                backend=backend,
                decoder=decoder,
                preprocess=pre,
                options=options,
                fuse=fuse,
                save_fused=save_fused,
                progress=status,
                config=runtime.resolve(),
            )
        cmd.show(doc, render_e2e)


def dynamic(
    model: ModelArg = "builtin",
    shapes: DynamicShapesOpt = "",
    shape_histogram: DynamicHistogramOpt = None,
    data: ShapesDataOpt = None,
    backend: BackendOpt = "openvino",
    strategies: StrategiesOpt = "dynamic,buckets,largest,bounded",
    buckets: BucketsOpt = None,
    stream: DynamicStreamOpt = 100,
    rounds: DynamicRoundsOpt = 3,
    requests: DynamicRequestsOpt = 1,
    seed: DynamicSeedOpt = 0,
    int_range: IntRangeOpt = None,
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
    html: DynamicHtmlOpt = None,
) -> None:
    """Dynamic shapes: per-group latency on a seeded shape stream, and which way to compile for it wins."""
    from inferperf.measure.dynamic import DynamicOptions
    from inferperf.report.dynamic_console import render_dynamic

    with command(json_path) as cmd:
        parse_buckets(buckets)  # a bad --buckets fails now, not once the model is read (the API parses it again)
        low_high = parse_int_range(int_range)
        if not shapes.strip():
            raise ConfigError("--shapes is required, e.g. --shapes 'input_ids[1,16..512]'")
        strategy_names = tuple(csv_list(strategies))
        options = DynamicOptions(strategies=strategy_names, stream=stream, rounds=rounds, requests=requests, seed=seed)
        with cmd.status("dynamic") as status:
            doc = api.dynamic(
                model,
                shape_spec(shapes, shape_histogram, stream, data, seed) or shapes,
                backend=backend,
                buckets=buckets,
                options=options,
                int_range=low_high,
                progress=percent(status),
                config=runtime.resolve(),
            )
        cmd.show(doc, render_dynamic, save_first=True)
        if html:
            from inferperf.report.html import report_for

            out.print(f"wrote {report_for(doc, html)}")


def profile(
    models: ProfileModelsArg = None,
    compare: CompareModelsOpt = False,
    backend: BackendOpt = "openvino",
    top: TopOpt = 15,
    seconds: ProfileSecondsOpt = 5.0,
    reference: ReferenceSecondsOpt = 3.0,
    shape: ShapeOpt = None,
    shapes: ProfileShapesOpt = None,
    int_range: IntRangeOpt = None,
    batch: BatchOpt = None,
    knobs: ProfileKnobs = ProfileKnobs(),
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Per-layer time, kernel and precision; layer sum vs latency; findings on why it is not faster."""
    from inferperf.report.profile_console import render_profile, render_profile_compare, render_profile_shapes

    with command(json_path) as cmd:
        low_high = parse_int_range(int_range)  # a bad value fails now, with or without --shapes
        names = _profile_models(models, compare, shapes, shape)
        config = runtime.resolve(**knobs.given(), batch=batch)
        if shapes is not None:
            with cmd.status("profile") as status:
                groups = api.profile_shapes(
                    names[0],
                    shapes,
                    backend=backend,
                    config=config,
                    seconds=seconds,
                    int_range=low_high,
                    progress=status,
                )
            cmd.show(groups, partial(render_profile_shapes, top=top))
            return
        with cmd.status("profile") as status:
            doc = api.profile(
                names[0],
                compare_with=names[1] if compare else None,
                backend=backend,
                config=config,
                shape=shape,
                seconds=seconds,
                reference_s=reference,
                progress=status,
            )
        cmd.show(doc, partial(render_profile_compare if compare else render_profile, top=top))


def _profile_models(models: list[str] | None, compare: bool, shapes: str | None, shape: str | None) -> list[str]:
    """The models to profile: one, or two with --compare (none given: builtin)."""
    names = models or ["builtin"]
    if compare != (len(names) == 2) or len(names) > 2:
        raise ConfigError("give one model, or --compare with exactly two models (A B)")
    if shapes is not None and (compare or shape is not None):
        raise ConfigError("--shapes profiles one model at each of its groups: leave out --compare and --shape")
    return names
