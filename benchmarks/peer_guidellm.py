"""inferperf and GuideLLM, the same load on the same server: TTFT and TPOT medians and p99s side by side,
with their ratio, at concurrency 1 and 16. The server is the golden mock (the known truth printed beside)
or, with ``--server transformers``, ``transformers serve`` on the built-in tiny LLM. Run alone:

    pip install guidellm torch==2.13.0   # in a venv of its own (GuideLLM pulls torch and transformers)
    python benchmarks/peer_guidellm.py --guidellm /path/to/venv/bin/guidellm [--requests 64]

Definitions line up as: inferperf TPOT (mean gap after the first token, per request) = GuideLLM's ITL;
GuideLLM's TPOT (latency / output tokens, TTFT included) = inferperf's e2e_per_token. Both count TTFT from
the moment the request is started (closed loop).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import start_server

from inferperf.backends.openai_http import OpenAIServingEngine
from inferperf.backends.openai_mock import Timing, spawned
from inferperf.measure.generate import Prompts, corpus_text
from inferperf.measure.serving import Load, ServeOptions, run_load
from inferperf.model.zoo import llm_folder

TIMING = Timing(ttft_ms=50.0, ttft_sigma=0.3, itl_ms=5.0, itl_sigma=0.3)
PROMPT, NEW = 32, 16


def ours(url: str, concurrency: int, requests: int, tokenizer: str) -> dict[str, float]:
    engine = OpenAIServingEngine(url, tokenizer=tokenizer)
    try:
        prompts = Prompts(engine.encode(corpus_text(None)[0]), 0)
        warm = ServeOptions(prompt_tokens=PROMPT, new_tokens=NEW, requests=max(4, concurrency))
        run_load(engine, prompts.draw, Load("concurrency", concurrency), warm)
        opts = ServeOptions(prompt_tokens=PROMPT, new_tokens=NEW, requests=requests)
        level = run_load(engine, prompts.draw, Load("concurrency", concurrency), opts)
    finally:
        engine.close()
    e2e_per_token = [r["e2e_ms"] / r["output_tokens"] for r in level["raw"]]
    return {
        "ttft_median": level["ttft_ms"]["median"]["value"],
        "ttft_p99": level["ttft_ms"]["p99"]["value"],
        "tpot_median": level["tpot_ms"]["median"]["value"],
        "tpot_p99": level["tpot_ms"]["p99"]["value"],
        "e2e_per_token_median": float(np.median(e2e_per_token)),
        "completed": float(level["requests"]),
    }


def guidellm(exe: str, url: str, model: str, concurrency: int, requests: int, tokenizer: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "guidellm.json"
        cmd = [
            exe, "run", "--backend", f"kind=openai_http,target={url.removesuffix('/v1')},model={model}",
            "--profile", f"kind=concurrent,streams={concurrency}",
            "--constraint", f"kind=max_requests,count={requests}",
            "--data", f"kind=synthetic_text,prompt_tokens={PROMPT},output_tokens={NEW}",
            "--tokenizer", f"kind=hf_auto,model={tokenizer}",
            "--output", f"kind=json,path={out}", "--disable-console",
        ]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=600, capture_output=True, cwd=tmp)
        doc = json.loads(out.read_text())
    bench = doc["benchmarks"][0]
    m = bench["metrics"]
    if not m["request_totals"]["successful"]:
        errored = bench["requests"].get("errored") or [{}]
        first = (errored[0].get("info") or {}).get("error", "?")
        return {"completed": 0.0, "error": str(first).splitlines()[0]}  # type: ignore[dict-item]

    def stat(key: str, which: str) -> float:
        s = m[key]["successful"]
        return float(s["median"] if which == "median" else s["percentiles"]["p99"])

    return {
        "ttft_median": stat("time_to_first_token_ms", "median"),
        "ttft_p99": stat("time_to_first_token_ms", "p99"),
        "tpot_median": stat("inter_token_latency_ms", "median"),  # GuideLLM's ITL = our TPOT
        "tpot_p99": stat("inter_token_latency_ms", "p99"),
        "e2e_per_token_median": stat("time_per_output_token_ms", "median"),  # GuideLLM's TPOT
        "completed": float(m["request_totals"]["successful"]),
    }


def report(name: str, a: dict[str, float], b: dict[str, float], truth: dict[str, Any] | None) -> None:
    print(f"\n== {name}: completed inferperf {a['completed']:.0f}, GuideLLM {b['completed']:.0f}")
    if not b["completed"]:
        print(f"GuideLLM completed no request: {b.get('error')}")
        print("inferperf: " + ", ".join(f"{k} {v:.3f}" for k, v in a.items() if k != "completed"))
        return
    print(f"{'ms':24} {'inferperf':>10} {'GuideLLM':>10} {'ratio':>7} {'truth':>8}")
    for key in ("ttft_median", "ttft_p99", "tpot_median", "tpot_p99", "e2e_per_token_median"):
        stat, _, which = key.partition("_")
        known = ""
        if truth is not None and stat in ("ttft", "tpot") and which in ("median", "p99"):
            known = f"{truth[f'{stat}_ms'][which]:8.3f}"
        print(f"{key:24} {a[key]:10.3f} {b[key]:10.3f} {a[key] / b[key]:7.3f} {known:>8}")
    if "drawn_ttft_median" in a:  # each tool against the draws of the very requests it was served
        for stat in ("ttft", "tpot"):
            over = [t[f"{stat}_median"] - t[f"drawn_{stat}_median"] for t in (a, b)]
            print(f"{stat}_median - the drawn median of its own requests: inferperf {over[0]:+.3f} ms, "
                  f"GuideLLM {over[1]:+.3f} ms")  # fmt: skip


def _pair(
    a: argparse.Namespace, url: str, model: str, concurrency: int, folder: str, first_ours: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Both tools at one concurrency, in the given order, with a pause after each: GuideLLM's worker
    processes take seconds to wind down, and a run started meanwhile measures them too."""
    out: dict[str, dict[str, float]] = {}
    for who in ("ours", "theirs") if first_ours else ("theirs", "ours"):
        before = set(_truth(url)) if a.server == "mock" else set()
        if who == "ours":
            out[who] = ours(url, concurrency, a.requests, folder)
        else:
            out[who] = guidellm(a.guidellm, url, model, concurrency, a.requests, folder)
        if a.server == "mock":  # the mock drew each request's timing: the medians of this run's own draws
            drawn = [v for k, v in _truth(url).items() if k not in before]
            out[who]["drawn_ttft_median"] = float(np.median([d["ttft_ms"] for d in drawn]))
            out[who]["drawn_tpot_median"] = float(np.median([np.mean(d["gaps_ms"]) for d in drawn]))
        time.sleep(5)
    return out["ours"], out["theirs"]


def _truth(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url.replace("/v1", "/mock/truth"), timeout=10) as resp:
        requests: dict[str, Any] = json.load(resp)["requests"]
    return requests


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--guidellm", default="guidellm", help="the guidellm executable")
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--server", choices=("mock", "transformers"), default="mock")
    p.add_argument("--rounds", type=int, default=2, help="each level this often, the order alternating")
    a = p.parse_args()
    folder = str(llm_folder("builtin")[0])
    levels = [int(c) for c in a.concurrency.split(",")]
    if a.server == "mock":
        t = TIMING
        args = ["--ttft-ms", str(t.ttft_ms), "--ttft-sigma", str(t.ttft_sigma), "--itl-ms", str(t.itl_ms)]
        with spawned(*args, "--itl-sigma", str(t.itl_sigma), "--max-seconds", "1800") as url:
            for c in levels:
                for r in range(a.rounds):
                    mine, theirs = _pair(a, url, "inferperf-mock", c, folder, first_ours=r % 2 == 0)
                    report(f"golden mock, concurrency {c}, round {r + 1}", mine, theirs, TIMING.truth(NEW))
        return 0
    server = start_server(Path(folder), 8139, batching=False)
    try:
        url = "http://127.0.0.1:8139/v1"
        for c in levels:
            for r in range(a.rounds):
                mine, theirs = _pair(a, url, folder, c, folder, first_ours=r % 2 == 0)
                report(f"transformers serve, concurrency {c}, round {r + 1}", mine, theirs, None)
    finally:
        server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
