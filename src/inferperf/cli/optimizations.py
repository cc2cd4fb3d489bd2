"""Commands that make a model or its configuration faster: quantize, prune, precision, tune, optimize.

Registered on the app in ``cli/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer

from inferperf import api
from inferperf.cli.common import BarFactory, Update, command, csv_list, out, warn
from inferperf.cli.groups import CalibrationGuard, Guard, OptimizeShapes, Properties, Runtime, TuneShapes
from inferperf.cli.groups_llm import LlmSearch
from inferperf.cli.options import (
    AccuracyControlOpt,
    ActivationsOpt,
    BackendOpt,
    FinalistsOpt,
    FrontOpt,
    IgnoreOpt,
    InputsOpt,
    Int8OutOpt,
    IntRangeOpt,
    JsonOpt,
    MaxTrialsOpt,
    MemoryMaxOpt,
    MethodOpt,
    ModelArg,
    NamedShapeOpt,
    ObjectiveOpt,
    OptimizeBackendsOpt,
    OptimizeBudgetOpt,
    OptimizeDataOpt,
    OptimizeMaxDropOpt,
    OptimizeOutOpt,
    P99MaxOpt,
    PrecisionBackendOpt,
    PrecisionRoundsOpt,
    PrecisionsOpt,
    PresetOpt,
    PruneRoundsOpt,
    QuantizeBackendOpt,
    QuantizeRoundsOpt,
    SaveConfigOpt,
    ShapesDataPathOpt,
    SparseOutOpt,
    SparsityOpt,
    SubsetSizeOpt,
    TimeScaleOpt,
    TransformerOpt,
    TrialTimeOpt,
    TuneBackendsOpt,
    TuneBudgetOpt,
    TuneSeedOpt,
    TuneVariantsOpt,
    VerifyRoundTimeOpt,
)
from inferperf.config import (
    OptimizeOptions,
    QuantizeOptions,
    TuneOptions,
    parse_fraction,
    parse_megabytes,
    parse_milliseconds,
    parse_seconds,
)
from inferperf.inputs import parse_int_range
from inferperf.report.console import render_quantize
from inferperf.results.documents import GuardedDocument, TuneDocument
from inferperf.results.schema import save_json


def quantize(
    model: ModelArg = "builtin",
    backend: QuantizeBackendOpt = "openvino",
    guard: CalibrationGuard = CalibrationGuard(),
    out_path: Int8OutOpt = None,
    method: MethodOpt = "auto",
    preset: PresetOpt = "performance",
    subset_size: SubsetSizeOpt = 300,
    transformer: TransformerOpt = False,
    ignore: IgnoreOpt = None,
    activations: ActivationsOpt = "auto",
    accuracy_control: AccuracyControlOpt = True,
    rounds: QuantizeRoundsOpt = 3,
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """INT8 quantization with an accuracy guard, measured side by side against FP32."""
    with command(json_path) as cmd:
        options = _quantize_options(method, preset, subset_size, transformer, ignore, activations, accuracy_control)
        with cmd.status("quantize", "calibrating, scoring and measuring"):
            judged = guard.given(backend, rounds, runtime.resolve())
            doc = api.quantize(model, out=out_path, options=options, **judged)
        cmd.show(doc, render_quantize, also=_models_written(doc))
        if doc["winner"] is None:
            raise typer.Exit(3)


def _quantize_options(
    method: str,
    preset: str,
    subset_size: int,
    transformer: bool,
    ignore: list[str] | None,
    activations: str,
    accuracy_control: bool,
) -> QuantizeOptions:
    return QuantizeOptions(
        method=method,
        preset=preset,
        subset_size=subset_size,
        transformer=transformer,
        ignored=tuple(ignore or ()),
        activation_type=activations,
        accuracy_control=accuracy_control,
    )


def _models_written(doc: GuardedDocument) -> list[Path]:
    """The result also goes next to each optimized model that was written, as MODEL.json."""
    return [Path(c["written_to"]).with_suffix(".json") for c in doc.candidates if c.get("written_to")]


def prune(
    model: ModelArg = "builtin",
    sparsity: SparsityOpt = 0.5,
    backend: BackendOpt = "openvino",
    guard: Guard = Guard(),
    out_path: SparseOutOpt = None,
    rounds: PruneRoundsOpt = 3,
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Magnitude sparsity on weights, with its accuracy and a side-by-side speed check."""
    with command(json_path) as cmd:
        with cmd.status("prune", "pruning, scoring and measuring"):
            doc = api.prune(model, sparsity=sparsity, out=out_path, **guard.given(backend, rounds, runtime.resolve()))
        cmd.show(doc, render_quantize, also=_models_written(doc))


def precision(
    model: ModelArg = "builtin",
    precisions: PrecisionsOpt = "bf16,f16",
    backend: PrecisionBackendOpt = "openvino",
    guard: Guard = Guard(),
    rounds: PrecisionRoundsOpt = 3,
    runtime: Properties = Properties(),
    json_path: JsonOpt = None,
) -> None:
    """Inference-precision hints against f32: accuracy, speed, and whether this CPU runs them natively."""
    with command(json_path) as cmd:
        with cmd.status("precision", "scoring and measuring"):
            # --precision sweeps the precision itself: the runtime flags hold only properties
            judged = guard.given(backend, rounds, runtime.resolve())
            doc = api.precision(model, precisions=csv_list(precisions), **judged)
        cmd.show(doc, render_quantize, announce=False)


def tune(
    model: ModelArg = "builtin",
    backend: TuneBackendsOpt = "openvino",
    objective: ObjectiveOpt = "throughput",
    p99_max: P99MaxOpt = None,
    memory_max: MemoryMaxOpt = None,
    budget: TuneBudgetOpt = "5m",
    trial_time: TrialTimeOpt = "2s",
    round_time: VerifyRoundTimeOpt = None,
    variants: TuneVariantsOpt = None,
    front: FrontOpt = False,
    finalists: FinalistsOpt = 3,
    max_trials: MaxTrialsOpt = None,
    shape: NamedShapeOpt = None,
    shape_stream: TuneShapes = TuneShapes(),
    data: ShapesDataPathOpt = None,
    inputs: InputsOpt = None,
    int_range: IntRangeOpt = None,
    seed: TuneSeedOpt = 0,
    save_config: SaveConfigOpt = Path("tuned-config.json"),
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
) -> None:
    """Search runtime knobs and model variants under latency/memory budgets; verify the winner side by side."""
    from inferperf.report.tune_console import render_tune

    with command(json_path) as cmd:
        feed: api.Feed = {"shape": shape, "inputs": inputs, "int_range": parse_int_range(int_range), "seed": seed}
        options = _tune_options(
            objective, p99_max, memory_max, budget, trial_time, round_time, front, seed, finalists, max_trials
        )
        with cmd.bars() as factory:
            doc = api.tune(
                model,
                backends=csv_list(backend),
                variants=csv_list(variants),
                options=options,
                progress=factory("tuning"),
                checkpoint=cmd.checkpoint,  # every finished trial survives a Ctrl-C or a crash
                shapes=shape_stream.spec(data, seed),
                config=runtime.resolve(),
                **feed,
            )
        cmd.show(doc, render_tune)
        saved = _save_tuned_config(doc, save_config)
        if doc.get("interrupted"):
            raise typer.Exit(130)
        if not saved:
            raise typer.Exit(3)


def _tune_options(
    objective: str,
    p99_max: str | None,
    memory_max: str | None,
    budget: str,
    trial_time: str,
    round_time: str | None,
    front: bool,
    seed: int,
    finalists: int,
    max_trials: int | None,
) -> TuneOptions:
    return TuneOptions(
        objective=objective,
        p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
        memory_max_mb=parse_megabytes(memory_max, "--memory-max") if memory_max else None,
        budget_s=parse_seconds(budget, "--budget"),
        trial_s=parse_seconds(trial_time, "--trial-time"),
        round_s=parse_seconds(round_time, "--round-time") if round_time else None,
        front=front,
        seed=seed,
        finalists=finalists,
        max_trials=max_trials,
    )


def _save_tuned_config(doc: TuneDocument, path: Path) -> bool:
    """Write tune's recommendation as a config bench --config reads back; False if there is none."""
    rec = doc.recommendation
    if not rec:
        return False
    tuned = {
        "runtime": rec["runtime"],
        "limits": {},
        "model": rec["model"],
        "scenario": rec["scenario"],
        "source": "inferperf tune",
        "verified": rec["verified"],
        "meets_constraints": rec["meets_constraints"],
    }
    again = ""
    if doc.get("shapes"):
        tuned["shapes"] = doc["shapes"]["spec"]  # the distribution it was tuned for
        again = f" --shapes '{doc['shapes']['spec']}'"
    save_json(tuned, path)
    out.print(f"wrote {path}: inferperf bench {tuned['model']}{again} --config {path}")
    return True


def optimize(
    model: ModelArg = "builtin",
    data: OptimizeDataOpt = None,
    p99_max: P99MaxOpt = None,
    memory_max: MemoryMaxOpt = None,
    max_drop: OptimizeMaxDropOpt = "1%",
    budget: OptimizeBudgetOpt = "10m",
    backend: OptimizeBackendsOpt = "openvino,onnxruntime",
    out_dir: OptimizeOutOpt = Path("inferperf-optimize"),
    time_scale: TimeScaleOpt = 1.0,
    shape_stream: OptimizeShapes = OptimizeShapes(),
    llm: LlmSearch = LlmSearch(),
) -> None:
    """The whole flow: doctor, baseline, bench, cold start, memory, INT8, tuning, verification, report.
    On a decoder LLM (an exported folder, zoo:tiny-llama...): weight formats and KV-cache types behind a
    fidelity guard, the continuous-batching runtime searched under TTFT/TPOT SLOs, the winner verified."""
    if api.is_generative(model):
        _optimize_llm(model, llm, budget, out_dir)
        return
    with command() as cmd:
        llm.refuse(model)
        options = _optimize_options(data, p99_max, memory_max, max_drop, budget, backend, time_scale, shape_stream)
        try:
            with cmd.bars() as factory:
                doc = api.optimize(model, options=options, out=out_dir, status=_step_bars(factory))
        except KeyboardInterrupt:
            out.print(f"interrupted: partial results, summary.md and report.html are in {out_dir}")
            raise
        _show_flow(doc, out_dir)
        if "speedup" not in doc["headline"]:
            raise typer.Exit(3)


def _optimize_options(
    data: str | None,
    p99_max: str | None,
    memory_max: str | None,
    max_drop: str,
    budget: str,
    backend: str,
    time_scale: float,
    shape_stream: OptimizeShapes,
) -> OptimizeOptions:
    return OptimizeOptions(
        data=data,
        p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
        memory_max_mb=parse_megabytes(memory_max, "--memory-max") if memory_max else None,
        max_drop=parse_fraction(max_drop, "--max-drop"),
        budget_s=parse_seconds(budget, "--budget"),
        backends=tuple(csv_list(backend)),
        time_scale=time_scale,
        shapes=shape_stream.shapes,
        shape_histogram=str(shape_stream.shape_histogram) if shape_stream.shape_histogram else None,
        stream=shape_stream.stream,
    )


def _step_bars(factory: BarFactory) -> Callable[[str, str], None]:
    """optimize's status(step, text): a bar per step, full once the step is done."""
    bars: dict[str, Update] = {}

    def status(title: str, text: str) -> None:
        if title not in bars:
            bars[title] = factory(title)
        done = 1.0 if text in ("ok", "skipped") or text.startswith("failed") else 0.0
        bars[title](done, text[:60])

    return status


def _optimize_llm(model: str, llm: LlmSearch, budget: str, out_dir: Path) -> None:
    """The generative flow: its options from the LLM flags, its summary printed, exit 3 without a winner."""
    with command() as cmd:
        options = llm.options(parse_seconds(budget, "--budget"))
        try:
            with cmd.status("optimize (LLM)") as status:
                doc = api.optimize_llm(model, options=options, out=out_dir, progress=status)
        except KeyboardInterrupt:
            out.print(f"interrupted: partial results, summary.md and report.html are in {out_dir}")
            raise
        _show_flow(doc, out_dir)
        if "winner" not in doc["headline"]:
            raise typer.Exit(3)


def _show_flow(doc: Mapping[str, Any], out_dir: Path) -> None:
    """An optimize flow's summary, where its files are, and which steps failed (the flow went on past them)."""
    out.print((out_dir / "summary.md").read_text(encoding="utf-8"))
    out.print(f"wrote {out_dir}/ (report.html, summary.md, optimize.json, one JSON per step)")
    failed = [s for s in doc["steps"] if s["status"] == "failed"]
    if failed:
        warn(f"{len(failed)} step(s) failed: " + ", ".join(s["name"] for s in failed))
