"""The HTTP client against the golden mock server: measured TTFT/TPOT/ITL beside the known truth, and where
the difference goes (the client's send, the server's timer, the delivery of each token), at two
concurrencies. Run alone on the machine:

    python benchmarks/openai_http_check.py [--requests 96] [--concurrency 1,16]

Per request the mock reports (GET /mock/truth, by X-Request-Id) what it drew, when the request arrived and
when it wrote each token, on the system's monotonic clock that the client's stamps use too; so:
- client -> server: submit to the server's arrival (the client's send, loopback, the server's parse);
- server timer: the mock's own lateness (write time - drawn time; the event loop's millisecond timer);
- delivery per token: the client's stamp - the server's write (loopback, the client's loop, the GIL);
- TTFT overhead: measured TTFT - drawn TTFT (the three together); TPOT overhead likewise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from typing import Any

import numpy as np

from inferperf.backends.openai_http import OpenAIServingEngine
from inferperf.backends.openai_mock import Timing, spawned
from inferperf.backends.serving import TokenEvent
from inferperf.measure.generate import Prompts, corpus_text
from inferperf.measure.serving import Load, ServeOptions, run_load

TIMING = Timing(ttft_ms=50.0, ttft_sigma=0.3, itl_ms=5.0, itl_sigma=0.3)
NEW_TOKENS = 16


class Recording(OpenAIServingEngine):
    """The engine, keeping every submit time and token stamp for the decomposition."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.submitted: dict[int, float] = {}
        self.stamps: dict[int, list[float]] = {}

    def submit(self, request_id: int, ids: Any, new_tokens: int) -> None:
        self.submitted[request_id] = time.perf_counter()
        super().submit(request_id, ids, new_tokens)

    def step(self, timeout_s: float) -> list[TokenEvent]:
        events = super().step(timeout_s)
        for e in events:
            self.stamps.setdefault(e.request_id, []).extend([e.stamp] * e.tokens)
        return events


def _pct(values: list[float]) -> str:
    a = np.asarray(values)
    return f"median {np.median(a):7.3f}  p90 {np.percentile(a, 90):7.3f}  p99 {np.percentile(a, 99):7.3f}"


def level_report(engine: Recording, url: str, concurrency: int, requests: int) -> None:
    prompts = Prompts(engine.encode(corpus_text(None)[0]), 0)
    opts = ServeOptions(prompt_tokens=32, new_tokens=NEW_TOKENS, requests=requests)
    warm = ServeOptions(new_tokens=NEW_TOKENS, requests=max(4, concurrency))  # every connection opened
    run_load(engine, prompts.draw, Load("concurrency", concurrency), warm)
    level = run_load(engine, prompts.draw, Load("concurrency", concurrency), opts)
    with urllib.request.urlopen(url.replace("/v1", "/mock/truth"), timeout=10) as resp:
        truth = json.load(resp)["requests"]
    known = TIMING.truth(NEW_TOKENS)
    print(f"\n== concurrency {concurrency}: {level['requests']} requests, {level['errors']['count']} failed")
    print(f"{'':6} {'measured median [95% CI]':>30} {'truth':>8} {'measured p99 [95% CI]':>30} {'truth':>8}")
    for key in ("ttft_ms", "tpot_ms", "itl_ms"):
        m, p = level[key]["median"], level[key]["p99"]
        print(
            f"{key[:4]:6} {m['value']:9.3f} [{m['ci95'][0]:8.3f}, {m['ci95'][1]:8.3f}] {known[key]['median']:8.3f} "
            f"{p['value']:9.3f} [{p['ci95'][0]:8.3f}, {p['ci95'][1]:8.3f}] {known[key]['p99']:8.3f}"
        )
    send, late, deliver, ttft_over, tpot_over = [], [], [], [], []
    for row in level["raw"]:
        rid, t = row["id"], truth[str(row["id"])]
        send.append((t["arrived_s"] - engine.submitted[rid]) * 1e3)
        scheduled = np.concatenate([[t["ttft_ms"]], t["ttft_ms"] + np.cumsum(t["gaps_ms"])])
        late.extend(np.asarray(t["sent_ms"]) - scheduled)
        written = t["arrived_s"] + np.asarray(t["sent_ms"]) / 1e3
        deliver.extend((np.asarray(engine.stamps[rid]) - written) * 1e3)
        ttft_over.append(row["ttft_ms"] - t["ttft_ms"])
        tpot_over.append(row["tpot_ms"] - float(np.mean(t["gaps_ms"])))
    print("ms, per request or per token:")
    print(f"  client -> server (per request)   {_pct(send)}")
    print(f"  server timer lateness (per token){_pct(late)}")
    print(f"  delivery to the stamp (per token){_pct(deliver)}")
    print(f"  TTFT measured - drawn            {_pct(ttft_over)}")
    print(f"  TPOT measured - drawn            {_pct(tpot_over)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=96)
    p.add_argument("--concurrency", default="1,16")
    a = p.parse_args()
    t = TIMING
    args = ["--ttft-ms", str(t.ttft_ms), "--ttft-sigma", str(t.ttft_sigma), "--itl-ms", str(t.itl_ms)]
    args += ["--itl-sigma", str(t.itl_sigma), "--max-seconds", "600"]
    with spawned(*args) as url:
        engine = Recording(url)
        try:
            print(f"golden mock at {url}: TTFT lognormal(median {t.ttft_ms} ms, sigma {t.ttft_sigma}), "
                  f"gaps lognormal(median {t.itl_ms} ms, sigma {t.itl_sigma}), {NEW_TOKENS} tokens")  # fmt: skip
            for c in (int(x) for x in a.concurrency.split(",")):
                level_report(engine, url, c, a.requests)
        finally:
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
