"""Console report of ``inferperf generate``: one row per prompt length, medians with their intervals."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _ci(stat: dict[str, Any], digits: int = 2) -> str:
    """The value and the larger side of its interval, in percent (compact enough for 80 columns)."""
    value, (lo, hi) = stat["value"], stat["ci95"]
    half = max(value - lo, hi - value) / value * 100 if value else 0.0
    return f"{value:.{digits}f} ±{half:.0f}%"


def render_generate(doc: dict[str, Any], console: Console) -> None:
    """Model, load time, and per prompt length: TTFT, TPOT, ITL p99, end to end, tokens/s, the cross-check."""
    model = doc["model"]
    arch = model.get("architecture", {})
    console.print(
        f"[bold]inferperf generate[/bold] on {escape(doc['backend'])} ({escape(doc['device'])}): "
        f"{escape(model['path'])}"
        + (" [yellow](built-in tiny random-weight model)[/yellow]" if model["builtin"] else ""),
        highlight=False,
    )
    if arch:
        console.print("  " + ", ".join(f"{k}={v}" for k, v in arch.items()), highlight=False)
    opts = doc["options"]
    console.print(
        f"  {opts['new_tokens']} new tokens per request (EOS ignored), prompts from "
        f"{escape(doc['prompts']['source'])}; load {doc['load_ms']:.0f} ms",
        highlight=False,
    )
    table = Table(title="medians over requests ±95% CI, ms unless said", show_header=True)
    for col in ("prompt", "req", "TTFT", "TPOT", "ITL p99", "e2e", "prefill/s", "decode/s", "/GenAI"):
        table.add_column(col, justify="right")
    for level in doc["levels"]:
        agree = level["pipeline_perf_metrics"]
        table.add_row(
            str(level["prompt_tokens"]),
            str(level["requests"]),
            _ci(level["ttft_ms"]["median"]),
            _ci(level["tpot_ms"]["median"], 3),
            f"{level['itl_ms']['p99']['value']:.3f}",
            _ci(level["e2e_ms"]["median"], 1),
            f"{level['prefill_tokens_per_s']['median']['value']:.0f}",
            f"{level['decode_tokens_per_s']['median']['value']:.0f}",
            "/".join(f"{v:.2f}" for k, v in agree.items() if k.endswith("_over_pipeline")),
        )
    console.print(table)
    console.print(
        "[dim]TPOT: mean gap after the first token; prefill/decode in tokens/s; /GenAI: our TTFT/TPOT over the "
        "pipeline's own PerfMetrics for the same requests; TTFT with tokenization in the JSON[/dim]"
    )
