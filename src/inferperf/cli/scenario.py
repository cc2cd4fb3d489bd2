"""``scenario``: MLPerf LoadGen scenarios on a model or a decoder LLM.

Registered on the app in ``cli/__init__.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from inferperf import api
from inferperf.cli.common import (
    Render,
    command,
    warn,
)
from inferperf.cli.groups import Runtime, ScenarioKnobs, ScenarioShapes
from inferperf.cli.groups_llm import LlmLoad
from inferperf.cli.options import (
    AccuracyModeOpt,
    FindPeakOpt,
    InputDataOpt,
    IntRangeOpt,
    JsonOpt,
    MaxDurationOpt,
    MinDurationOpt,
    MinQueriesOpt,
    ModelArg,
    PeakRunOpt,
    PeakStepsOpt,
    SamplesPerQueryOpt,
    ScenarioBackendOpt,
    ScenarioBatchOpt,
    ScenarioNameOpt,
    ScenarioOutOpt,
    ScenarioP99MaxOpt,
    ScenarioRequestsOpt,
    ScenarioShapeOpt,
    ScenarioWarmupOpt,
    TargetQpsOpt,
    TraceOpt,
)
from inferperf.config import parse_milliseconds, parse_seconds
from inferperf.inputs import parse_int_range


def scenario(
    model: ModelArg = "builtin",
    scenario_name: ScenarioNameOpt = "offline",
    backend: ScenarioBackendOpt = "openvino",
    target_qps: TargetQpsOpt = None,
    p99_max: ScenarioP99MaxOpt = None,
    find_peak: FindPeakOpt = False,
    accuracy_mode: AccuracyModeOpt = False,
    min_duration: MinDurationOpt = "10s",
    min_queries: MinQueriesOpt = None,
    max_duration: MaxDurationOpt = None,
    samples_per_query: SamplesPerQueryOpt = 8,
    warmup: ScenarioWarmupOpt = 2.0,
    peak_steps: PeakStepsOpt = 6,
    peak_run: PeakRunOpt = "4s",
    knobs: ScenarioKnobs = ScenarioKnobs(),
    requests: ScenarioRequestsOpt = None,
    shape: ScenarioShapeOpt = None,
    shape_stream: ScenarioShapes = ScenarioShapes(),  # --stream: the QSL's samples
    int_range: IntRangeOpt = None,
    data: InputDataOpt = None,
    trace: TraceOpt = False,
    out_dir: ScenarioOutOpt = Path("inferperf-scenario"),
    runtime: Runtime = Runtime(),
    json_path: JsonOpt = None,
    llm: LlmLoad = LlmLoad(),
    batch: ScenarioBatchOpt = 1,
) -> None:
    """MLPerf LoadGen scenarios: validity, the scenario's metric and latency percentiles; logs kept.
    On a decoder LLM (an exported folder, zoo:tiny-llama...): Server or Offline with token latencies,
    LoadGen judging TTFT and TPOT (--ttft-max, --tpot-max)."""
    from inferperf.measure.loadgen import ScenarioOptions

    if api.is_generative(model):
        _llm_scenario(model, scenario_name, target_qps, min_duration, min_queries, llm, out_dir, json_path)
        return
    with command(json_path) as cmd:
        low_high = parse_int_range(int_range)  # before the status line is drawn
        llm.refuse(model)
        options = ScenarioOptions(
            scenario=scenario_name,
            target_qps=target_qps,
            p99_max_ms=parse_milliseconds(p99_max, "--p99-max") if p99_max else None,
            min_duration_s=parse_seconds(min_duration, "--min-duration"),
            min_query_count=min_queries,
            max_duration_s=parse_seconds(max_duration, "--max-duration") if max_duration else None,
            samples_per_query=samples_per_query,
            batch=batch,
            warmup_s=warmup,
            find_peak=find_peak,
            peak_steps=peak_steps,
            peak_run_s=parse_seconds(peak_run, "--peak-run"),
            accuracy=accuracy_mode,
            trace=trace,
        )
        config = runtime.resolve(**knobs.given(), requests=requests)
        with cmd.status(f"scenario {scenario_name}") as status:
            doc = api.scenario(
                model,
                backend=backend,
                options=options,
                config=config,
                shape=shape,
                data=data,
                out=out_dir,
                status=status,
                shapes=shape_stream.spec(data),
                int_range=low_high,
            )
        cmd.show(doc, _scenario_render(out_dir), announce=False)
        result = doc.get("result") or {}
        if result.get("valid") is False:
            # The run finished and its result is written; LoadGen's rules refused it: not exit 0.
            why = "; ".join(result.get("why_invalid") or []) or "see mlperf_log_summary.txt"
            warn(f"LoadGen judged the run INVALID ({why}): exit {EXIT_INVALID}")
            raise typer.Exit(EXIT_INVALID)


def _llm_scenario(
    model: str,
    name: str,
    target_qps: float | None,
    min_duration: str,
    min_queries: int | None,
    llm: LlmLoad,
    out_dir: Path,
    json_path: Path | None,
) -> None:
    """LoadGen with token latencies on a decoder LLM; exit 4 when LoadGen judges the run INVALID."""
    from inferperf.measure.loadgen_llm import LlmScenarioOptions
    from inferperf.report.generate_console import render_llm_scenario

    with command(json_path) as cmd:
        ttft, tpot = llm.ms()
        options = LlmScenarioOptions(
            scenario=name, target_qps=target_qps, min_duration_s=parse_seconds(min_duration, "--min-duration"),
            min_query_count=min_queries or 32, prompt_tokens=llm.prompt_tokens or 128,
            new_tokens=llm.new_tokens or 32, ttft_max_ms=ttft, tpot_max_ms=tpot,
        )  # fmt: skip
        with cmd.status(f"scenario {name} (LLM)") as status:
            doc = api.llm_scenario(model, options=options, out=out_dir, progress=status)
        cmd.show(doc, render_llm_scenario, announce=False)
        if doc["result"]["valid"] is False:
            why = "; ".join(doc["result"]["why_invalid"]) or "see mlperf_log_summary.txt"
            warn(f"LoadGen judged the run INVALID ({why}): exit {EXIT_INVALID}")
            raise typer.Exit(EXIT_INVALID)


# A LoadGen run that finished but that LoadGen's rules judged INVALID (its result file is written).
EXIT_INVALID = 4


def _scenario_render(out_dir: Path) -> Render:
    """The scenario's console report, then where LoadGen's logs and scenario.json are."""
    from inferperf.report.scenario_console import render_scenario

    def render(doc: dict[str, Any], console: Console) -> None:
        render_scenario(doc, console)
        console.print(f"wrote {out_dir / 'scenario.json'}")

    return render
