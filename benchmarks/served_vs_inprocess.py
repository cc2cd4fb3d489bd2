"""The built-in tiny LLM in process (transformers' generate, our ``--backend transformers``) and served by a
real OpenAI-compatible server on the same weights (``transformers serve``, from the registry), measured in
interleaved rounds, one request at a time: the difference attributed to the server per request (TTFT) and
per token (TPOT), with the HTTP client's own share taken from the golden mock.

Needs torch and transformers[serving] beside inferperf[http] (torch==2.13.0 pinned in the same install):

    pip install torch==2.13.0 'transformers[serving]' -e '.[http]'
    python benchmarks/served_vs_inprocess.py [--rounds 3] [--requests 24] [--continuous-batching]

The server listens on 127.0.0.1 only and is stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from typing import Any

import numpy as np
from _common import start_server

from inferperf.backends.generative import get_generative
from inferperf.backends.openai_http import OpenAIServingEngine
from inferperf.backends.openai_mock import spawned
from inferperf.measure.generate import GenerateOptions, Prompts, corpus_text, run_level
from inferperf.measure.serving import Load, ServeOptions, run_load
from inferperf.model.zoo import llm_folder

PROMPT, NEW = 32, 16


def golden_client_overhead(requests: int) -> dict[str, float]:
    """The HTTP client's own share at concurrency 1: measured - drawn TTFT and TPOT against the mock."""
    import json

    args = ["--ttft-ms", "10", "--itl-ms", "2", "--max-seconds", "300"]
    with spawned(*args) as url:
        engine = OpenAIServingEngine(url)
        try:
            prompts = Prompts(engine.encode(corpus_text(None)[0]), 0)
            opts = ServeOptions(prompt_tokens=PROMPT, new_tokens=NEW, requests=requests)
            level = run_load(engine, prompts.draw, Load("concurrency", 1), opts)
            with urllib.request.urlopen(url.replace("/v1", "/mock/truth"), timeout=10) as resp:
                truth = json.load(resp)["requests"]
        finally:
            engine.close()
    ttft = [r["ttft_ms"] - truth[str(r["id"])]["ttft_ms"] for r in level["raw"]]
    tpot = [r["tpot_ms"] - float(np.mean(truth[str(r["id"])]["gaps_ms"])) for r in level["raw"]]
    # the mock's own timer lateness is in these too: the client's share is at most this
    return {"ttft_ms": float(np.median(ttft)), "tpot_ms": float(np.median(tpot))}


def medians(level: dict[str, Any]) -> tuple[float, float]:
    return float(level["ttft_ms"]["median"]["value"]), float(level["tpot_ms"]["median"]["value"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=24)
    p.add_argument("--port", type=int, default=8137)
    p.add_argument("--continuous-batching", action="store_true")
    a = p.parse_args()
    folder, _ = llm_folder("builtin")
    client = golden_client_overhead(a.requests)
    server = start_server(folder, a.port, a.continuous_batching)
    try:
        pipe = get_generative("transformers", folder)
        engine = OpenAIServingEngine(f"http://127.0.0.1:{a.port}/v1", tokenizer=str(folder))
        text = corpus_text(None)[0]
        gen = GenerateOptions(prompt_tokens=(PROMPT,), new_tokens=NEW, min_requests=a.requests,
                              max_requests=a.requests, time_s=0.0, precision=0.0)  # fmt: skip
        serve = ServeOptions(prompt_tokens=PROMPT, new_tokens=NEW, requests=a.requests)
        run_load(engine, Prompts(engine.encode(text), 9).draw, Load("concurrency", 1), serve)  # warm-up
        rows = []
        for r in range(a.rounds):
            local = run_level(pipe, Prompts(pipe.encode(text), r), PROMPT, gen, pipe.decode)
            served = run_load(engine, Prompts(engine.encode(text), r).draw, Load("concurrency", 1), serve)
            rows.append((*medians(local), *medians(served), served["lengths_short"], served["errors"]["count"]))
            lt, lp, st, sp, short, failed = rows[-1]
            print(f"round {r + 1}: in process TTFT {lt:.2f} ms TPOT {lp:.3f} ms | served TTFT {st:.2f} ms "
                  f"TPOT {sp:.3f} ms | short answers {short}, failed {failed}")  # fmt: skip
        engine.close()
    finally:
        server.kill()
    arr = np.array(rows)
    d_ttft, d_tpot = arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]
    batching = " --continuous-batching" if a.continuous_batching else ""
    print(f"\nserver: transformers serve{batching}; {a.rounds} interleaved rounds x {a.requests} requests, "
          f"{PROMPT}-token prompts, {NEW} new tokens")  # fmt: skip
    print(f"in process: TTFT median {np.median(arr[:, 0]):.2f} ms, TPOT {np.median(arr[:, 1]):.3f} ms")
    print(f"served:     TTFT median {np.median(arr[:, 2]):.2f} ms, TPOT {np.median(arr[:, 3]):.3f} ms")
    print(f"served - in process, per round: TTFT {np.round(d_ttft, 2)} ms; TPOT {np.round(d_tpot, 3)} ms")
    print(
        f"HTTP client's own share (golden mock, c=1): TTFT {client['ttft_ms']:.2f} ms, TPOT {client['tpot_ms']:.3f} ms"
    )
    print(
        f"attributed to the server: per request {np.median(d_ttft) - client['ttft_ms']:.2f} ms of TTFT; "
        f"per token {np.median(d_tpot) - client['tpot_ms']:.3f} ms of TPOT "
        f"({(np.median(arr[:, 3]) / np.median(arr[:, 1]) - 1) * 100:+.0f}% over in process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
