"""Console view of an ``inferperf scenario`` (MLPerf LoadGen) result document. Reads the document only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferperf.report.text import ci as _ci
from inferperf.report.text import interval

_PERCENTILES = ("p50", "p90", "p95", "p99", "p99.9")


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _metric(result: Mapping[str, Any]) -> str:
    metric = result["metric"]
    return f"{metric['name']}: {_num(metric['value'])} {metric['unit']}"


def _validity(result: Mapping[str, Any]) -> str:
    if result["valid"]:
        return "[green]VALID[/green]"
    return "[red]INVALID[/red]: " + escape("; ".join(result["why_invalid"]) or "no reason given")


def render_scenario(doc: Mapping[str, Any], console: Console) -> None:
    """Validity and why, the scenario's metric, latency percentiles, peak search, accuracy, log folder."""
    console.print(
        f"[bold]inferperf scenario[/bold] {doc['scenario']} on {escape(doc['backend'])}: "
        f"{escape(str(doc['model']['path']))}",
        highlight=False,
    )
    _config_line(doc, console)
    if doc.get("peak"):
        _render_peak(doc["peak"], console)
    result = doc.get("result")
    if result is None:
        console.print("[red]no arrival rate met the latency bound: no confirming run[/red]")
        return
    if doc.get("accuracy"):
        console.print(f"LoadGen accuracy mode: {result.get('accuracy_sample_count')} samples", highlight=False)
        _render_accuracy(doc["accuracy"], console)
    else:
        console.print(_validity(result), highlight=False)
        console.print(escape(_metric(result)), highlight=False)
        _latency_table(result, console)
        if result.get("ideal_queue"):
            console.print(escape(ideal_queue_line(result["ideal_queue"])), highlight=False)
        if result.get("per_group"):
            _groups_table(result["per_group"], console)
    for key, why in (doc.get("derived") or {}).items():
        console.print(f"[dim]{key}: {escape(why)}[/dim]")
    console.print(f"LoadGen logs: {escape(str(doc['out_dir']))}", highlight=False)


def _config_line(doc: Mapping[str, Any], console: Console) -> None:
    probe = doc["probe"]
    eff = doc.get("effective", {})
    settings = doc.get("settings") or {}
    target = ""
    if settings.get("server_target_qps"):
        target = f", target {settings['server_target_qps']:.2f} queries/s"
    if settings.get("server_target_latency_ns"):
        target += f", p99 bound {settings['server_target_latency_ns'] / 1e6:.1f} ms"
    console.print(
        f"{eff.get('requests_in_flight')} request(s) in flight{target}; warm-up: "
        f"{probe['throughput_fps']:.1f} FPS, median {probe['median_ms']:.2f} ms",
        highlight=False,
    )


def _latency_table(result: Mapping[str, Any], console: Console) -> None:
    table = Table(title="latency (ms, LoadGen)", title_justify="left")
    table.add_column("")
    for p in ("min", "mean", *_PERCENTILES, "max"):
        table.add_column(p, justify="right")
    rows = [("per sample", result["latency_ms"])]
    if result.get("query_latency_ms"):
        rows.append(("per query", result["query_latency_ms"]))
    for label, lat in rows:
        table.add_row(label, *(_num(lat.get(p)) for p in ("min", "mean", *_PERCENTILES, "max")))
    console.print(table)
    console.print(f"{result.get('query_count')} queries", highlight=False)


def _render_peak(peak: dict[str, Any], console: Console) -> None:
    table = Table(title=f"peak search (p99 bound {peak['bound_ms']:.1f} ms)", title_justify="left")
    for col in ("target queries/s", "completed/s", "p99 ms", "runs", "meets bound"):
        table.add_column(col, justify="right")
    for t in peak["trials"]:
        runs = "/".join("y" if d["meets_bound"] else "n" for d in t.get("draws") or [])
        table.add_row(
            _num(t["target_qps"]),
            _num(t["completed_qps"]),
            _num(t["p99_ms"]),
            runs or "1",
            "yes" if t["meets_bound"] else "no",
        )
    console.print(table)
    tries = peak.get("confirm_attempts") or []
    if len(tries) > 1:
        steps = ", ".join(f"{_num(a['target_qps'])} {a['validity']}" for a in tries)
        console.print(f"confirming runs (10% lower after each INVALID): {steps}", highlight=False)
    best = peak["peak_qps"]
    line = f"peak: {_num(best)} queries/s measured" if best is not None else "peak: none found"
    ideal = peak.get("ideal_queue")
    if ideal:
        reach = (
            f"meets the bound up to {_num(ideal['peak_qps'])} queries/s"
            if ideal["peak_qps"] is not None
            else "meets it at no rate (the service times alone exceed the bound)"
        )
        line += f"; the ideal {ideal['model']} queue of this hardware {reach} (capacity {_num(ideal['capacity_qps'])})"
    console.print(escape(line), highlight=False)


def _interval(ci95: list[float] | None, digits: int) -> str:
    return "" if ci95 is None else " " + interval({"ci95": ci95}, digits)


def ideal_queue_line(ideal: dict[str, Any]) -> str:
    """Measured p99 against the ideal M/G/c queue's, and the SUT's overhead ratio (or why there is none)."""
    servers = ideal["servers"]
    if not ideal["stable"]:
        return (
            f"the arrival rate exceeds what {servers} server(s) with these service times can serve "
            f"(utilisation {ideal['utilisation']:.2f}): the queue grows without bound"
        )
    over = ideal["overhead"]
    pct = f"p{over['percentile']:g}"
    line = (
        f"{pct} {over['measured_ms']:.1f} ms vs the ideal {ideal['model']} queue's {ideal['ideal_ms']:.1f} ms"
        f"{_interval(ideal['ci95'], 1)} (same arrival rate, utilisation {ideal['utilisation']:.2f}, "
        f"service times probed before the run): x{over['ratio']:.2f}{_interval(over['ci95'], 2)}"
    )
    return line + "; " + _in_run_part(ideal.get("in_run"))


def _in_run_part(in_run: dict[str, Any] | None) -> str:
    """The SUT's overhead alone: against the queue of the run's own service times."""
    if not in_run:
        return "no in-run service times"
    if in_run.get("stable") is None:
        return f"no in-run ideal queue: {in_run['why']}"
    if not in_run["stable"]:
        return f"with the run's own service times the ideal queue is unstable (utilisation {in_run['utilisation']:.2f})"
    over = in_run["overhead"]
    return (
        f"with the run's own service times ({in_run['service_from']}) ideal {in_run['ideal_ms']:.1f} ms: "
        f"SUT overhead x{over['ratio']:.2f}{_interval(over['ci95'], 2)}"
    )


def _render_accuracy(acc: dict[str, Any], console: Console) -> None:
    for key in ("top1", "top5"):
        fig = acc.get(key)
        if fig:
            lo, hi = fig["ci95"]
            console.print(
                f"{key}: {fig['value'] * 100:.2f}% [{lo * 100:.2f}, {hi * 100:.2f}] of {acc['count']} "
                f"({acc['ci_method']})",
                highlight=False,
            )


def _groups_table(groups: list[dict[str, Any]], console: Console) -> None:
    """Latency per shape group (the SUT's clock: from LoadGen's issue, or from the submit for Offline)."""
    since = groups[0]["measured_from"]
    title = f"latency per shape group (ms, SUT clock from {'LoadGen issue' if since == 'issue' else 'submit'})"
    table = Table(title=title, title_justify="left")
    for col in ("group", "samples", "median [95% CI]", "p90 [95% CI]", "p99"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for g in groups:
        lat = g["latency_ms"]
        if lat is None:
            table.add_row(escape(g["group"]), "0", "-", "-", "-")
            continue
        table.add_row(
            escape(g["group"]), str(g["samples"]), _ci(lat["median"]), _ci(lat["p90"]), _num(lat["p99"]["value"])
        )
    console.print(table)
