"""Commands on results: compare, report, suite (a matrix of them), history.

The top-level commands are registered on the app in ``cli/__init__.py``; history's subcommands here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from inferperf import api
from inferperf.cli.common import command, csv_list, err, out, run_limits, runtime_config
from inferperf.cli.groups import CompareShapes
from inferperf.cli.options import (
    AgainstHistoryOpt,
    BatchOpt,
    CellTimeoutOpt,
    ExportFormatOpt,
    ExportKindOpt,
    ExportTargetArg,
    FailIfSlowerOpt,
    HistoryOpt,
    HtmlReportOpt,
    InterleaveIntRangeOpt,
    InterleaveModelOpt,
    InterleaveOpt,
    InterleaveRoundsOpt,
    InterleaveRoundTimeOpt,
    InterleaveScenarioOpt,
    IterationsOpt,
    JsonOpt,
    KindOpt,
    LimitOpt,
    MaxTimeOpt,
    ModelFilterOpt,
    ModelsOpt,
    ModesOpt,
    NodesOpt,
    NoHistoryOpt,
    QuantizerOpt,
    RayOpt,
    ReferenceColumnOpt,
    ResultAArg,
    ResultArg,
    ResultBArg,
    ResultIdArg,
    ResumeOpt,
    ShapeOpt,
    SuiteBackendsOpt,
    SuiteOutOpt,
    SuiteVariantsOpt,
    ThresholdOpt,
    TimeOpt,
    WarmupOpt,
)
from inferperf.config import RuntimeConfig, parse_fraction, parse_seconds
from inferperf.errors import ConfigError
from inferperf.inputs import parse_int_range
from inferperf.report.console import render_bench


def compare(
    a: ResultAArg,
    b: ResultBArg = None,
    against_history: AgainstHistoryOpt = False,
    history_path: HistoryOpt = None,
    interleave: InterleaveOpt = False,
    model: InterleaveModelOpt = None,
    scenario: InterleaveScenarioOpt = "throughput",
    rounds: InterleaveRoundsOpt = 8,
    round_time: InterleaveRoundTimeOpt = "3s",
    shape_stream: CompareShapes = CompareShapes(),
    int_range: InterleaveIntRangeOpt = None,
    threshold: ThresholdOpt = "2%",
    fail_if_slower: FailIfSlowerOpt = None,
    json_path: JsonOpt = None,
) -> None:
    """Is B really faster than A? Ratio B/A per metric with a 95% interval and a verdict."""
    from inferperf.report.compare import regressions
    from inferperf.report.tune_console import render_compare

    with command(json_path) as cmd:
        noise = parse_fraction(threshold, "--threshold")
        gate = parse_fraction(fail_if_slower, "--fail-if-slower") if fail_if_slower else None
        seconds = parse_seconds(round_time, "--round-time")  # parsed with or without --interleave
        low_high = parse_int_range(int_range)
        if shape_stream.shapes is not None and not interleave:
            raise ConfigError("--shapes needs --interleave: results already measured keep the shapes they had")
        if against_history:
            if b is not None or interleave:
                raise ConfigError("--against-history takes one result (the new one), without --interleave")
            doc = api.compare_against_history(a, history=history_path, threshold=noise)
        elif b is None:
            raise ConfigError("compare needs two results A B (or one with --against-history)")
        elif interleave:
            with cmd.status("interleaving A and B"):
                doc = api.compare_interleaved(
                    a,
                    b,
                    model=model,
                    scenario=scenario,
                    rounds=rounds,
                    seconds=seconds,
                    threshold=noise,
                    shapes=shape_stream.spec(),
                    int_range=low_high,
                )
        elif (group_a := _group(a)) or _group(b):
            # a glob or a folder on either side: each side several invocations, their spread the interval
            doc = api.compare_groups(group_a or [a], _group(b) or [b], threshold=noise)
        else:
            doc = api.compare(a, b, threshold=noise, history=history_path)
        cmd.show(doc, render_compare)
        if gate is not None and (bad := regressions(doc, gate)):
            worst = max(bad, key=lambda r: r["slowdown"])
            err.print(
                f"regression: {worst['metric']} ({worst['backend']} {worst['scenario']}) is "
                f"{worst['slowdown'] * 100:.1f}% slower, over the {gate * 100:g}% gate"
            )
            raise typer.Exit(1)


def _group(path: Path) -> list[Path]:
    """The result files a compare side names when it is a glob (``a*.json``) or a folder; [] for one file."""
    if path.is_dir():
        found = sorted(path.glob("*.json"))
    elif any(c in str(path) for c in "*?["):
        import glob

        found = sorted(Path(p) for p in glob.glob(str(path)))
    else:
        return []
    if not found:
        raise ConfigError(f"no result files match {path}")
    return found


def report(result: ResultArg, html_path: HtmlReportOpt = Path("report.html")) -> None:
    """Render a result as a self-contained HTML page (plotly embedded, no network needed to view it)."""
    from inferperf.report.html import report_for
    from inferperf.results import documents

    with command():
        written = report_for(documents.load(result), html_path)
        out.print(f"wrote {written}")


def suite(
    models: ModelsOpt = "builtin",
    backends: SuiteBackendsOpt = "openvino,onnxruntime",
    variants: SuiteVariantsOpt = "fp32",
    modes: ModesOpt = "latency,throughput",
    out_dir: SuiteOutOpt = Path("inferperf-suite"),
    resume: ResumeOpt = False,
    reference: ReferenceColumnOpt = None,
    quantizer: QuantizerOpt = "onnxruntime",
    time_s: TimeOpt = None,
    iterations: IterationsOpt = None,
    warmup: WarmupOpt = None,
    max_time: MaxTimeOpt = None,
    batch: BatchOpt = 1,
    shape: ShapeOpt = None,
    timeout: CellTimeoutOpt = 1800.0,
    history_path: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    ray_address: RayOpt = None,
    nodes: NodesOpt = None,
) -> None:
    """A benchmark matrix: models x variants x backends, one cell at a time; table, CSV, Markdown, HTML."""
    from inferperf.report.suite_report import render_console
    from inferperf.suite import SuiteOptions

    with command():
        options = SuiteOptions(
            models=tuple(csv_list(models)),
            backends=tuple(csv_list(backends)),
            variants=tuple(csv_list(variants)),
            modes=tuple(csv_list(modes)),
            out=out_dir,
            resume=resume,
            reference=reference,
            limits=run_limits({}, time_s=time_s, iterations=iterations, warmup_s=warmup, max_time_s=max_time),
            config=runtime_config(None, batch=batch) or RuntimeConfig(),
            shape=shape,
            quantizer=quantizer,
            record_history=not no_history,
            history=history_path,
            cell_timeout_s=timeout,
            ray_address=ray_address,
            nodes=tuple(csv_list(nodes)),
        )
        try:
            doc = api.suite(options, status=lambda m: err.print(escape(m), highlight=False))
        except KeyboardInterrupt:
            out.print(f"interrupted: finished cells, suite.json and the reports are in {out_dir}")
            raise
        render_console(doc, out)
        out.print("wrote " + ", ".join(doc["reports"].values()))
        if any(c["status"] == "failed" for c in doc["cells"]):
            raise typer.Exit(3)


history_app = typer.Typer(help="The local history of recorded results (SQLite).", no_args_is_help=True)


@history_app.command("list")
def history_list(
    history_path: HistoryOpt = None,
    kind: KindOpt = None,
    model: ModelFilterOpt = None,
    limit: LimitOpt = 30,
) -> None:
    """Recorded results, newest first."""
    from rich.table import Table

    with command():
        entries = api.history_list(history_path, kind=kind, model=model, limit=limit)
        table = Table(title="inferperf history (newest first)", title_justify="left")
        for col in ("id", "recorded", "kind", "model", "sha256", "machine", "runs", "source"):
            table.add_column(col)
        for e in entries:
            runs = e["summary"].get("runs") or []
            text = "; ".join(_run_text(r) for r in runs) or "-"
            table.add_row(
                str(e["id"]),
                str(e["recorded"]),
                str(e["kind"]),
                escape(Path(str(e["model_path"] or "-")).name),
                str(e["model_sha256"] or "-")[:12],
                str(e["machine"] or "-")[:8],
                escape(text),
                escape(str(e["source"] or "-")),
            )
        out.print(table)


def _run_text(run: dict[str, Any]) -> str:
    tput, lat = run.get("throughput_fps"), run.get("latency_median_ms")
    parts = [f"{run['backend']} {run['scenario']}"]
    if lat is not None:
        parts.append(f"{lat:.2f} ms")
    if tput is not None:
        parts.append(f"{tput:.1f} FPS")
    return " ".join(parts)


@history_app.command("show")
def history_show(result_id: ResultIdArg, history_path: HistoryOpt = None, json_path: JsonOpt = None) -> None:
    """Show one recorded result (bench results as the bench table); --json writes the whole document."""
    with command(json_path) as cmd:
        doc = api.history_show(result_id, history_path)
        cmd.show(doc, _render_recorded)


def _render_recorded(doc: dict[str, Any], console: Console) -> None:
    """A recorded result: bench results as the bench table, others as their JSON (environment left out)."""
    if doc.get("kind") == "bench":
        from inferperf.results.schema import BenchResult

        render_bench(BenchResult.from_dict(doc), console)
    else:
        console.print_json(data={k: v for k, v in doc.items() if k != "environment"})


@history_app.command("export")
def history_export(
    target: ExportTargetArg,
    history_path: HistoryOpt = None,
    fmt: ExportFormatOpt = "jsonl",
    kind: ExportKindOpt = None,
    model: ModelFilterOpt = None,
) -> None:
    """Export recorded results, oldest first."""
    with command():
        count = api.history_export(target, history_path, fmt=fmt, kind=kind, model=model)
        out.print(f"wrote {count} result(s) to {target}")
