"""summary.md and report.html of the generative optimize flow."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inferperf.report.text import ci
from inferperf.results.schema import atomic_write_text


def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}g}"


def _n(value: Any) -> str:
    """A measured figure: four significant digits, never in exponent form."""
    if value is None:
        return "-"
    v = float(value)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _ci(stat: dict[str, Any]) -> str:
    return ci(stat, prefix="x")


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """The summary a person reads first: the winner, its verified gains and fidelity, then every step."""
    head = doc["headline"]
    opts = doc["options"]
    serve = opts["serve"]
    lines = [
        f"# inferperf optimize (LLM): {Path(str(doc['model']['path'])).name}",
        "",
        f"Load: concurrency {opts['concurrency']}, {serve['requests']} requests of {serve['prompt_tokens']} prompt "
        f"and {serve['new_tokens']} new tokens; objective: {opts['objective']}; SLOs (p99): "
        + (", ".join(f"{k.removesuffix('_max_ms')} <= {v:g} ms" for k, v in head["slo"].items()) or "none"),
        "",
        f"**{head.get('verdict', '')}**",
        "",
    ]
    winner = head.get("winner")
    if winner:
        lines += [
            "| winner | value |",
            "|---|---|",
            f"| weights | {winner['weights']} |",
            f"| KV cache | {winner['kv_cache'] or 'device default'} |",
            f"| max_num_seqs | {winner['max_num_seqs']} |",
            f"| max_num_batched_tokens | {winner['max_num_batched_tokens'] or 'GenAI default (256)'} |",
            f"| dynamic_split_fuse | {_onoff(winner['dynamic_split_fuse'])} |",
            "",
        ]
        lines += _speed_lines(head) + _fidelity_lines(head.get("fidelity") or {})
    lines += [
        *_finalist_lines(doc),
        *_variant_lines(doc),
        *_trial_lines(doc),
        "",
        "| step | status | seconds | error |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']:.0f} | {s['error'] or ''} |" for s in doc["steps"]]
    return lines


def _onoff(value: bool | None) -> str:
    return "GenAI default (on)" if value is None else ("on" if value else "off")


def _speed_lines(head: dict[str, Any]) -> list[str]:
    lines = []
    speed = head.get("speedup")
    if speed:
        lines += [
            "Verified against the uncompressed default, interleaved rounds (paired 95% intervals):",
            f"- output tokens/s: {_ci(speed['output_tokens_per_s'])}",
            f"- goodput: {_ci(speed['goodput'])}",
            f"- TTFT median speed-up: {_ci(speed['ttft_median'])}",
            f"- TPOT median speed-up: {_ci(speed['tpot_median'])}",
            f"- winner meets the SLOs on its pooled verification requests: "
            f"{head.get('winner_meets_slo_in_verification')}",
            "",
        ]
    w, d = head.get("winner_figures") or {}, head.get("default_figures") or {}
    if w:
        lines += [
            "| search run | tokens/s | goodput req/s | TTFT p99 ms | TPOT p99 ms |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {_n(f.get('output_tokens_per_s'))} | {_n(f.get('goodput_requests_per_s'))} | "
                f"{_n(f.get('ttft_p99_ms'))} | {_n(f.get('tpot_p99_ms'))} |"
                for name, f in (("default", d), ("winner", w))
                if f
            ),
            "",
        ]
    return lines


def _finalist_lines(doc: Mapping[str, Any]) -> list[str]:
    """Every finalist of the verification, its paired gains and whether it held the SLOs."""
    verified = doc.get("verify") or {}
    speedups = verified.get("speedups") or {}
    if not speedups:
        return []
    lines = ["| finalist | configuration | tokens/s | TTFT | TPOT | meets SLOs |", "|---|---|---|---|---|---|"]
    for name, g in speedups.items():
        mark = " (winner)" if name == verified.get("winner") else ""
        lines.append(
            f"| {name}{mark} | {verified['candidates'][name]['label']} | {_ci(g['output_tokens_per_s'])} | "
            f"{_ci(g['ttft_median'])} | {_ci(g['tpot_median'])} | {verified['meets_slo'][name]} |"
        )
    return [*lines, ""]


def _fidelity_lines(fid: dict[str, Any]) -> list[str]:
    lines = []
    weights, kv = fid.get("weights"), fid.get("kv_cache")
    if weights:
        lines.append(
            f"Fidelity of the weights vs the original: next-token top-1 agreement "
            f"{weights['next_token_top1_agreement']:.0%}, logit cosine min {weights['logit_cosine_min']:.4f}, "
            f"greedy agreement {weights['greedy_token_agreement']:.0%} ({weights['prompts']} held-out prompts)"
        )
    if kv:
        lines.append(f"Fidelity of the KV cache type: greedy agreement {kv['greedy_token_agreement']:.0%}")
    return [*lines, ""] if lines else []


def _variant_lines(doc: Mapping[str, Any]) -> list[str]:
    """Every weight format and KV-cache type tried, its fidelity and whether it passed the floor."""
    compressed = doc.get("compress") or {}
    floor = compressed.get("min_agreement")
    lines = []
    for w in compressed.get("weights", [])[1:]:
        fid = w.get("fidelity") or {}
        if "error" in w:
            lines.append(f"| weights {w['mode']} | | | | failed: {w['error']} |")
            continue
        lines.append(
            f"| weights {w['mode']} | {w['weights_bytes'] / 2**20:,.1f} MiB | "
            f"{fid.get('next_token_top1_agreement', 0):.0%} | {fid.get('greedy_token_agreement', 0):.0%} | "
            f"{'kept' if w['passes'] else 'dropped'} |"
        )
    for k in compressed.get("kv_caches", []):
        lines.append(
            f"| KV cache {k['kv_cache']} | | | {k['fidelity']['greedy_token_agreement']:.0%} | "
            f"{'kept' if k['passes'] else 'dropped'} |"
        )
    if not lines:
        return []
    head = [f"Variants against the original (fidelity floor {floor:.0%}, held-out prompts):", ""]
    return [*head, "| variant | size | next-token top-1 | greedy | |", "|---|---|---|---|---|", *lines, ""]


def _trial_lines(doc: Mapping[str, Any]) -> list[str]:
    trials = (doc.get("search") or {}).get("trials") or []
    if not trials:
        return []
    front = set((doc.get("search") or {}).get("pareto") or [])
    lines = [
        "| # | configuration | tokens/s | TTFT p99 ms | TPOT p99 ms | meets SLOs | front |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in trials:
        f = t.get("figures") or {}
        lines.append(
            f"| {t['number']} | {t['candidate']['label']} | {_n(f.get('output_tokens_per_s'))} | "
            f"{_n(f.get('ttft_p99_ms'))} | {_n(f.get('tpot_p99_ms'))} | "
            f"{'failed: ' + str(t['error']) if t['status'] != 'ok' else t['feasible']} | "
            f"{'*' if t['number'] in front else ''} |"
        )
    return lines


def write_llm_reports(doc: Mapping[str, Any], out: Path) -> dict[str, str]:
    """summary.md and report.html into ``out``."""
    from inferperf.report.html import render_html

    lines = summary_lines(doc)
    md = atomic_write_text("\n".join(lines) + "\n", out / "summary.md")
    intro = "<pre class='note'>" + html.escape("\n".join(lines)) + "</pre>"
    page = render_html(
        f"inferperf optimize (LLM): {Path(str(doc['model']['path'])).name}",
        [("Search and verification", doc, "")],
        out / "report.html",
        intro,
    )
    return {"summary": str(md), "report": str(page)}
