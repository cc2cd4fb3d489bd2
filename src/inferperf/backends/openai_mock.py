"""A golden OpenAI-compatible server: streamed completions whose timing is drawn from known distributions.

Each request's time to first token is log-normal (median ``ttft_ms``, log-sd ``ttft_sigma``) and each gap
between tokens log-normal too (median ``itl_ms``, log-sd ``itl_sigma``), drawn from one seeded generator.
Tokens are sent at their scheduled offsets from the request's arrival (absolute times, so the loop's timer
lateness does not accumulate), and the server keeps, per ``X-Request-Id``, what it drew and when it really
wrote each token (``GET /mock/truth``): a client measured against it can be checked against the known truth
and its own overhead separated from the server's.

It listens on 127.0.0.1 only, and stops after ``max_requests`` requests or ``max_seconds``:

    python -m inferperf.backends.openai_mock --port 0 --ttft-ms 40 --itl-ms 8
    (prints ``listening on http://127.0.0.1:PORT/v1`` first)

``fail_every`` answers every n-th request with HTTP 500, ``malformed_every`` every n-th with a broken
stream: the client's error counting is tested against them. ``strict`` acts as a server that refuses
unknown fields (``ignore_eos``, ``min_tokens``) and ends its streams without ``data: [DONE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL = "inferperf-mock"
Z99 = 2.3263478740408408  # the standard normal's 0.99 quantile


@dataclass(frozen=True)
class Timing:
    """The distributions the server draws each request's timing from (milliseconds)."""

    ttft_ms: float = 40.0
    ttft_sigma: float = 0.3
    itl_ms: float = 8.0
    itl_sigma: float = 0.3

    def draw(self, rng: np.random.Generator, tokens: int) -> tuple[float, np.ndarray]:
        """One request's TTFT and its ``tokens - 1`` gaps."""
        ttft = float(rng.lognormal(math.log(self.ttft_ms), self.ttft_sigma))
        gaps = rng.lognormal(math.log(self.itl_ms), self.itl_sigma, size=max(0, tokens - 1))
        return ttft, gaps

    def truth(self, tokens: int, draws: int = 200_000, seed: int = 12345) -> dict[str, dict[str, float]]:
        """The true median and p99 of TTFT (closed form), TPOT (the mean of ``tokens - 1`` gaps: by
        simulation of ``draws`` requests) and ITL (closed form)."""
        rng = np.random.default_rng(seed)
        tpot = rng.lognormal(math.log(self.itl_ms), self.itl_sigma, size=(draws, tokens - 1)).mean(axis=1)
        return {
            "ttft_ms": {"median": self.ttft_ms, "p99": self.ttft_ms * math.exp(Z99 * self.ttft_sigma)},
            "tpot_ms": {"median": float(np.median(tpot)), "p99": float(np.percentile(tpot, 99))},
            "itl_ms": {"median": self.itl_ms, "p99": self.itl_ms * math.exp(Z99 * self.itl_sigma)},
        }


class MockServer:
    """The aiohttp application and what it recorded."""

    def __init__(
        self,
        timing: Timing,
        seed: int = 0,
        fail_every: int = 0,
        malformed_every: int = 0,
        max_requests: int = 10_000,
        strict: bool = False,
        api_key: str | None = None,
    ) -> None:
        self.timing, self.rng, self.strict, self.api_key = timing, np.random.default_rng(seed), strict, api_key
        self.fail_every, self.malformed_every, self.max_requests = fail_every, malformed_every, max_requests
        self.count = 0
        self.truth: dict[str, dict[str, Any]] = {}
        self.done = asyncio.Event()

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/completions", self.complete)
        app.router.add_post("/v1/chat/completions", self.complete)
        app.router.add_get("/mock/truth", self.report)
        app.router.add_get("/health", self.health)  # what vLLM and transformers serve answer; peers ask it
        return app

    @property
    def _auth(self) -> Any:
        """With ``api_key``: every /v1 route answers 401 without ``Authorization: Bearer KEY``."""
        from aiohttp import web

        @web.middleware
        async def check(request: Any, handler: Any) -> Any:
            wanted = f"Bearer {self.api_key}"
            if self.api_key and request.path.startswith("/v1") and request.headers.get("Authorization") != wanted:
                return web.json_response({"error": {"message": "invalid api key"}}, status=401)
            return await handler(request)

        return check

    async def models(self, _request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def health(self, _request: Any) -> Any:
        from aiohttp import web

        return web.Response(text="ok")

    async def report(self, _request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"timing": self.timing.__dict__, "requests": self.truth})

    async def complete(self, request: Any) -> Any:
        from aiohttp import web

        arrived = time.perf_counter()
        self.count += 1
        number = self.count
        if number >= self.max_requests:
            self.done.set()
        body = await request.json()
        rid = request.headers.get("X-Request-Id", str(number))
        unknown = {"ignore_eos", "min_tokens"} & set(body) if self.strict else set()
        if unknown:  # as a strict server (OpenAI's own, transformers serve) answers
            return web.json_response({"detail": f"Unexpected fields in the request: {sorted(unknown)}"}, status=422)
        if self.fail_every and number % self.fail_every == 0:
            return web.json_response({"error": {"message": "injected failure"}}, status=500)
        tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        chat = request.path.endswith("/chat/completions")
        ttft, gaps = self.timing.draw(self.rng, tokens)
        offsets = (ttft + np.concatenate([[0.0], np.cumsum(gaps)])) / 1e3
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        sent = []
        for k, offset in enumerate(offsets):
            await asyncio.sleep(max(0.0, arrived + float(offset) - time.perf_counter()))
            if self.malformed_every and number % self.malformed_every == 0 and k == 1:
                await resp.write(b"data: {not json\n\n")
                return resp
            await resp.write(_chunk(chat, " tok", None))
            sent.append((time.perf_counter() - arrived) * 1e3)
        usage = {"prompt_tokens": len(_prompt_text(body, chat).split()), "completion_tokens": tokens}
        await resp.write(_chunk(chat, None, usage))
        if not self.strict:  # a strict mock ends as transformers serve does: no [DONE] after the usage
            await resp.write(b"data: [DONE]\n\n")
        # perf_counter is the system's monotonic clock: a client on this machine can compare its own stamps
        self.truth[rid] = {"arrived_s": arrived, "ttft_ms": ttft, "gaps_ms": gaps.tolist(), "sent_ms": sent}
        await resp.write_eof()  # the chunked body's last chunk: a client reading to the end needs it
        return resp


def _prompt_text(body: dict[str, Any], chat: bool) -> str:
    """The prompt's text: ``prompt``, or the messages' contents (a string or a list of text parts)."""
    if not chat:
        prompt = body.get("prompt", "")
        return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    texts = []
    for message in body.get("messages", []):
        content = message.get("content", "")
        parts = content if isinstance(content, list) else [{"text": content}]
        texts += [str(p.get("text", "")) for p in parts if isinstance(p, dict)]
    return " ".join(texts)


def _chunk(chat: bool, text: str | None, usage: dict[str, int] | None) -> bytes:
    """One server-sent event in the OpenAI stream format (text, or the final usage with no choices)."""
    doc: dict[str, Any] = {"id": "cmpl-mock", "object": "chat.completion.chunk" if chat else "text_completion"}
    doc["model"] = MODEL
    if text is None:
        doc["choices"], doc["usage"] = [], usage
    elif chat:
        doc["choices"] = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    else:
        doc["choices"] = [{"index": 0, "text": text, "finish_reason": None}]
    return f"data: {json.dumps(doc)}\n\n".encode()


async def serve(server: MockServer, port: int, max_seconds: float) -> None:
    """Listen on 127.0.0.1:``port`` (0: any free port), print the URL, stop when done or out of time."""
    from aiohttp import web

    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening on http://127.0.0.1:{bound}/v1", flush=True)
    try:
        await asyncio.wait_for(server.done.wait(), timeout=max_seconds)
        await asyncio.sleep(1.0)  # let the last streams and a truth request finish
    except TimeoutError:
        pass
    finally:
        await runner.cleanup()


@contextmanager
def spawned(*args: str) -> Iterator[str]:
    """A mock server in a process of its own (``args``: its command line), its URL while it runs; killed at
    the end. Tests and benchmarks measure a client against it without sharing its event loop or its GIL."""
    proc = subprocess.Popen([sys.executable, "-m", __name__, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the mock server did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    """The command line: the distributions, the port and the bounds."""
    p = argparse.ArgumentParser(prog="python -m inferperf.backends.openai_mock", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft-ms", type=float, default=40.0)
    p.add_argument("--ttft-sigma", type=float, default=0.3)
    p.add_argument("--itl-ms", type=float, default=8.0)
    p.add_argument("--itl-sigma", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--malformed-every", type=int, default=0)
    p.add_argument("--max-requests", type=int, default=10_000)
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("--strict", action="store_true", help="refuse ignore_eos/min_tokens (422), end without [DONE]")
    p.add_argument("--api-key", help="answer 401 to requests without Authorization: Bearer KEY")
    a = p.parse_args(argv)
    timing = Timing(a.ttft_ms, a.ttft_sigma, a.itl_ms, a.itl_sigma)
    server = MockServer(timing, a.seed, a.fail_every, a.malformed_every, a.max_requests, a.strict, a.api_key)
    asyncio.run(serve(server, a.port, a.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
