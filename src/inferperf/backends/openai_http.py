"""An OpenAI-compatible endpoint (``/v1/completions``, ``/v1/chat/completions``, streamed as server-sent
events) as a serving engine: what a client of the server sees.

aiohttp does the HTTP, on an event loop of its own thread; each streamed chunk is stamped there the moment
its line is read, before anything else is done with it. ``step`` (the driver's thread) turns the chunks into
token counts: with the model's tokenizer, the tokens the streamed text adds; without one, one token per
chunk, checked against the ``usage`` the server reports at the end. A request that times out, is refused,
gets an HTTP error or a stream that does not parse ends with its error kind, counted by the summary.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inferperf.backends.serving import ServingEngine, TokenEvent
from inferperf.errors import BackendError, BackendUnavailableError, ConfigError, InputSpecError, require

INSTALL_HINT = "pip install 'inferperf[http]' (aiohttp)"
APIS = ("completions", "chat")


def import_aiohttp() -> Any:
    """aiohttp, or a one-line error saying how to install it."""
    return require("aiohttp", "the HTTP client is not installed", INSTALL_HINT)


class _MalformedStreamError(Exception):
    """A stream that is not the OpenAI event stream."""


@dataclass
class _Stream:
    """What the driver thread knows of one request: each chunk's stamp and text, until it ends."""

    stamps: list[float] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)


class _Tokenizer:
    """The model's tokenizer: an OpenVINO tokenizer folder (``openvino_tokenizer.xml``, through OpenVINO
    GenAI) or a Hugging Face ``tokenizer.json`` (through ``tokenizers``)."""

    def __init__(self, path: Path) -> None:
        self._genai: Any = None
        self._hf: Any = None
        hf_file = path if path.is_file() else path / "tokenizer.json"
        if (
            path.is_dir()
            and (path / "openvino_tokenizer.xml").exists()
            and (_has("openvino_genai") or not hf_file.exists())
        ):
            from inferperf.backends.genai import import_genai

            self._genai = import_genai().Tokenizer(str(path))
        elif hf_file.exists():
            if not _has("tokenizers"):
                raise BackendUnavailableError(
                    "reading tokenizer.json needs the tokenizers package", hint="pip install tokenizers"
                )
            import tokenizers

            self._hf = tokenizers.Tokenizer.from_file(str(hf_file))
        else:
            raise InputSpecError(f"no tokenizer in {path}: expected openvino_tokenizer.xml or tokenizer.json")

    def encode(self, text: str) -> list[int]:
        if self._genai is not None:
            ids = self._genai.encode(text, add_special_tokens=False).input_ids.data
            return [int(i) for i in np.asarray(ids).ravel()]
        return list(self._hf.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        if self._genai is not None:
            return str(self._genai.decode(list(ids), skip_special_tokens=True))
        return str(self._hf.decode(list(ids)))


class OpenAIServingEngine(ServingEngine):
    """Requests streamed from an OpenAI-compatible server; ``base_url`` ends in ``/v1``."""

    name: ClassVar[str] = "openai-http"
    exact_lengths: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api: str = "completions",
        tokenizer: str | Path | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        if api not in APIS:
            raise ConfigError(f"invalid `api` {api!r}: choose from {', '.join(APIS)}")
        if timeout_s <= 0:
            raise ConfigError(f"invalid `timeout` {timeout_s}: must be > 0")
        self.aiohttp = import_aiohttp()
        self.base_url, self.api, self.timeout_s = base_url.rstrip("/"), api, timeout_s
        self._tok = _Tokenizer(Path(tokenizer)) if tokenizer is not None else None
        self.token_source = "tokenizer" if self._tok is not None else "chunks"  # (the server's usage first)
        self._words: list[str] = []
        self._raw: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._streams: dict[int, _Stream] = {}
        self._futures: dict[int, concurrent.futures.Future[None]] = {}
        self.usage_mismatches = 0  # requests whose usage.completion_tokens differs from the chunks' own count
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="inferperf-http", daemon=True)
        self._thread.start()
        t0 = time.perf_counter()
        try:
            self._session = self._call(self._open())
            self.model = model or self._call(self._served_model(None))
            if model is not None:
                self._call(self._served_model(model))
            self.length_control = self._call(self._length_control())
        except BaseException:
            self.close()
            raise
        self.load_ms = (time.perf_counter() - t0) * 1e3  # reaching the server and listing its models

    # ------------------------------------------------------------------ the driver's side

    def encode(self, text: str) -> list[int]:
        if self._tok is not None:
            return self._tok.encode(text)
        # No tokenizer: words stand for tokens; the server's usage says how many tokens it read.
        self._words = text.split()
        return list(range(len(self._words)))

    def decode(self, ids: Sequence[int]) -> str:
        if self._tok is not None:
            return self._tok.decode(ids)
        return " ".join(self._words[i] for i in ids)

    def submit(self, request_id: int, ids: Sequence[int], new_tokens: int) -> None:
        self._streams[request_id] = _Stream()
        body = self._body(self.decode(ids), new_tokens)
        self._futures[request_id] = asyncio.run_coroutine_threadsafe(self._request(request_id, body), self._loop)

    def step(self, timeout_s: float) -> list[TokenEvent]:
        try:
            items = [self._raw.get(timeout=max(0.0, timeout_s))]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._raw.get_nowait())
            except queue.Empty:
                break
        return [event for item in items for event in self._events(item)]

    def abandon(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        self._streams.clear()

    def describe(self) -> str:
        lengths = "" if self.length_control else "; the server refused ignore_eos/min_tokens: answers may end at EOS"
        return f"openai-http ({self.base_url}, model {self.model}, {self.api} API{lengths})"

    def versions(self) -> dict[str, str]:
        return {"aiohttp": str(self.aiohttp.__version__)}

    def tokens_counted_by(self) -> str:
        per_chunk = (
            "the tokens the model's tokenizer finds each chunk's text adding" if self._tok else "one token per chunk"
        )
        return (
            "the server's usage.completion_tokens where it reports them (else the per-chunk count), placed on the "
            f"chunks by {per_chunk}; {self.usage_mismatches} request(s) where the per-chunk count differed from "
            "the server's; prompt tokens as the server's usage reports them"
        )

    def close(self) -> None:
        self.abandon()
        if getattr(self, "_session", None) is not None:
            self._call(self._session.close())
            self._session = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _body(self, text: str, new_tokens: int) -> dict[str, Any]:
        """Greedy, exactly ``new_tokens`` where the server honours ``ignore_eos``/``min_tokens`` (vLLM, llama.cpp,
        SGLang do), usage in the last chunk."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": new_tokens,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.length_control:
            body |= {"min_tokens": new_tokens, "ignore_eos": True}
        if self.api == "chat":
            return body | {"messages": [{"role": "user", "content": text}]}
        return body | {"prompt": text}

    def _events(self, item: tuple[Any, ...]) -> list[TokenEvent]:
        """A raw chunk is kept; at a request's end its tokens are placed on its chunks' stamps (counted here,
        off the stamping thread) and handed over with the end."""
        kind, rid, stamp = item[0], item[1], item[2]
        stream = self._streams.get(rid)
        if stream is None:  # abandoned
            return []
        if kind == "piece":
            stream.stamps.append(stamp)
            stream.pieces.append(item[3])
            return []
        usage, error, detail = item[3], item[4], item[5]
        del self._streams[rid]
        self._futures.pop(rid, None)
        counts = self._placed(stream, usage)
        out = [TokenEvent(rid, n, t) for n, t in zip(counts, stream.stamps, strict=True) if n]
        return [*out, TokenEvent(rid, 0, stamp, finished=True, error=error, detail=detail, usage=usage)]

    def _placed(self, stream: _Stream, usage: dict[str, int] | None) -> list[int]:
        """Tokens per chunk. The total is the server's ``usage.completion_tokens`` where it reports it (what it
        generated: re-tokenizing the text need not give it back), else the tokenizer's count of the whole
        text, else one per chunk. A total equal to the chunks is one per chunk (no tokenizer call: none may
        hold the GIL from the stamping thread while requests are in flight); otherwise the total is shared
        out in proportion to what the tokenizer finds in each chunk's text, or, without one, the extra
        tokens go to the first chunk (servers batch the first tokens into it)."""
        chunks = len(stream.pieces)
        total = (usage or {}).get("completion_tokens")
        if total is None:
            total = len(self._tok.encode("".join(stream.pieces))) if self._tok is not None else chunks
        elif total != chunks:
            self.usage_mismatches += 1
        if total == chunks or not chunks:
            return [1] * chunks
        if self._tok is not None:
            return _allocate(total, [len(self._tok.encode(piece)) for piece in stream.pieces])
        if total > chunks:
            return [1 + total - chunks] + [1] * (chunks - 1)
        return [1] * total + [0] * (chunks - total)

    # ------------------------------------------------------------------ the event loop's side

    async def _open(self) -> Any:
        aiohttp = self.aiohttp
        timeout = aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=min(10.0, self.timeout_s))
        # No connection limit: the driver decides how many requests are in flight, not the pool.
        key = os.environ.get("OPENAI_API_KEY")  # the convention vLLM, SGLang and the OpenAI clients share
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0), headers=headers)

    async def _served_model(self, wanted: str | None) -> str:
        """The model to ask for: ``wanted`` checked against ``GET /models``, or the server's first."""
        aiohttp = self.aiohttp
        try:
            async with self._session.get(f"{self.base_url}/models") as resp:
                status, body = resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(f"cannot reach {self.base_url}: {_cause(exc)}") from exc
        if status in (401, 403):
            raise ConfigError(f"{self.base_url}/models answered HTTP {status}: set OPENAI_API_KEY to the server's key")
        listed = _listed_models(body) if status == 200 else None  # a server without /models: no check
        names = [str(m.get("id")) for m in listed or [] if isinstance(m, dict)]
        if wanted is None:
            if not names:
                raise ConfigError(f"{self.base_url}/models lists no model: name one with `model`")
            return names[0]
        if listed is not None and wanted not in names:
            raise ConfigError(f"{self.base_url} serves {', '.join(names) or 'no model'}, not {wanted!r}")
        return wanted

    async def _length_control(self) -> bool:
        """Whether the server takes ``ignore_eos`` and ``min_tokens`` (vLLM, llama.cpp, SGLang do; a strict
        server refuses unknown fields with a 4xx naming them): one short request tells."""
        self.length_control = True
        body = self._body("hello", 2) | {"stream": False}
        body.pop("stream_options")
        url = f"{self.base_url}/{'chat/completions' if self.api == 'chat' else 'completions'}"
        try:
            async with self._session.post(url, json=body) as resp:
                text = await resp.text()
        except TimeoutError:  # a slow server: the run's own requests will count their timeouts
            return True
        except self.aiohttp.ClientError as exc:
            raise BackendError(f"{url} did not answer a 2-token request: {_cause(exc)}") from exc
        if 400 <= resp.status < 500 and ("ignore_eos" in text or "min_tokens" in text):
            return False
        if resp.status >= 400:
            raise BackendError(f"{url} answered a 2-token request with HTTP {resp.status}: {text[:200].strip()}")
        return True

    async def _request(self, rid: int, body: dict[str, Any]) -> None:
        aiohttp = self.aiohttp
        url = f"{self.base_url}/{'chat/completions' if self.api == 'chat' else 'completions'}"
        error, detail, usage = None, "", None
        try:
            async with self._session.post(url, json=body, headers={"X-Request-Id": str(rid)}) as resp:
                if resp.status >= 400:
                    error, detail = f"http {resp.status}", (await resp.text())[:200].strip()
                else:
                    usage = await self._read_stream(rid, resp)
        except asyncio.CancelledError:
            return
        except TimeoutError:
            error, detail = "timeout", f"no answer within {self.timeout_s:g} s"
        except aiohttp.ClientConnectorError as exc:
            error, detail = "refused", _cause(exc)
        except aiohttp.ClientError as exc:
            error, detail = "connection", _cause(exc)
        except _MalformedStreamError as exc:
            error, detail = "malformed", str(exc)
        self._raw.put(("end", rid, time.perf_counter(), usage, error, detail))

    async def _read_stream(self, rid: int, resp: Any) -> dict[str, int] | None:
        """Every ``data:`` line of the event stream: each piece of text put with the time its line was read."""
        usage, finished = None, False
        async for raw in resp.content:
            stamp = time.perf_counter()
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith(":"):  # keep-alive or comment
                continue
            if not line.startswith("data:"):
                raise _MalformedStreamError(f"not an event-stream line: {line[:60]!r}")
            data = line[5:].strip()
            if data == "[DONE]":
                return usage
            try:
                chunk = json.loads(data)
            except ValueError:
                raise _MalformedStreamError(f"a data line that is not JSON: {data[:60]!r}") from None
            if not isinstance(chunk, dict):
                raise _MalformedStreamError(f"a data line that is not an object: {data[:60]!r}")
            usage = _usage(chunk) or usage
            finished = finished or usage is not None or _finish_reason(chunk) is not None
            piece = _piece(chunk)
            if piece:
                self._raw.put(("piece", rid, stamp, piece))
        if finished:  # some servers (transformers serve) end after the finish_reason without data: [DONE]
            return usage
        raise _MalformedStreamError("the stream ended before a finish_reason or data: [DONE]")


def _allocate(total: int, weights: list[int]) -> list[int]:
    """``total`` shared out in proportion to ``weights`` (largest remainders; equal shares if all are 0)."""
    w = np.asarray(weights, dtype=float)
    w = w if w.sum() > 0 else np.ones_like(w)
    exact = w / w.sum() * total
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts))[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _piece(chunk: dict[str, Any]) -> str:
    """The text a chunk adds (completions: ``text``; chat: ``delta.content``)."""
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    if "text" in first:
        return str(first.get("text") or "")
    return str((first.get("delta") or {}).get("content") or "")


def _listed_models(body: str) -> list[Any] | None:
    """The ``data`` list of a ``/models`` answer, None where it is not one."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    return data if isinstance(data, list) else None


def _finish_reason(chunk: dict[str, Any]) -> str | None:
    choices = chunk.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    reason = first.get("finish_reason")
    return str(reason) if reason else None


def _usage(chunk: dict[str, Any]) -> dict[str, int] | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    return {k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens") if isinstance(usage.get(k), int)}


def _cause(exc: BaseException) -> str:
    """An aiohttp error's own words (its OSError's where it wraps one)."""
    inner = getattr(exc, "os_error", None)
    return str(inner or exc) or type(exc).__name__
