"""An OpenAI-compatible endpoint as a serving engine, measured against the golden mock server (127.0.0.1 only,
bounded requests and time): its known TTFT and token-gap distributions are the truth the measured medians
and p99s must match, at concurrency 1 and 16; failures of every kind are counted, not hidden."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiohttp")

from inferperf.backends.openai_mock import Timing, spawned
from inferperf.backends.serving import EndpointOptions
from inferperf.errors import BackendError, ConfigError
from inferperf.measure.generate import Prompts, corpus_text
from inferperf.measure.serving import Load, ServeOptions, run_load

TIMING = Timing(ttft_ms=50.0, ttft_sigma=0.3, itl_ms=5.0, itl_sigma=0.3)
NEW_TOKENS = 12
REQUESTS = 48


def _mock(*args: str) -> Any:
    """A mock server of its own (bounded in time), killed at the end."""
    return spawned("--max-seconds", "120", *args)


@pytest.fixture(scope="module")
def golden() -> Iterator[str]:
    t = TIMING
    with _mock(
        "--ttft-ms", str(t.ttft_ms), "--ttft-sigma", str(t.ttft_sigma), "--itl-ms", str(t.itl_ms),
        "--itl-sigma", str(t.itl_sigma), "--max-requests", "400",
    ) as url:  # fmt: skip
        yield url


def _engine(url: str, **kwargs: object) -> object:
    from inferperf.backends.openai_http import OpenAIServingEngine

    return OpenAIServingEngine(url, **kwargs)  # type: ignore[arg-type]


def _level(engine: object, concurrency: int, requests: int = REQUESTS, **opts: object) -> dict[str, object]:
    prompts = Prompts(engine.encode(corpus_text(None)[0]), 0)  # type: ignore[attr-defined]
    options = ServeOptions(prompt_tokens=16, new_tokens=NEW_TOKENS, requests=requests, **opts)  # type: ignore[arg-type]
    return run_load(engine, prompts.draw, Load("concurrency", concurrency), options)  # type: ignore[arg-type]


def _sampling_range(stat: str, quantile: float, n: int, draws: int = 4000) -> tuple[float, float]:
    """Where the ``quantile`` of ``n`` requests drawn from the known distribution falls, 99.9 % of the time
    (by simulation, with the percentile rule the summaries use)."""
    rng = np.random.default_rng(7)
    if stat == "ttft_ms":
        values = rng.lognormal(np.log(TIMING.ttft_ms), TIMING.ttft_sigma, size=(draws, n))
    else:
        gaps = rng.lognormal(np.log(TIMING.itl_ms), TIMING.itl_sigma, size=(draws, n, NEW_TOKENS - 1))
        values = gaps.mean(axis=2)
    stats = np.percentile(values, quantile, axis=1)
    return float(np.percentile(stats, 0.05)), float(np.percentile(stats, 99.95))


@pytest.mark.parametrize("concurrency", [1, 16])
def test_measured_latencies_match_the_known_truth(golden: str, concurrency: int) -> None:
    engine = _engine(golden)
    try:
        _level(engine, concurrency, requests=max(4, concurrency))  # warm-up: every connection opened
        level = _level(engine, concurrency)
    finally:
        engine.close()  # type: ignore[attr-defined]
    assert level["errors"] == {"count": 0, "rate": 0.0, "by_kind": {}, "examples": []}
    assert level["requests"] == REQUESTS and level["lengths_short"] == 0
    # The harness's and loopback's own time, from the mock's record of what it drew for these very requests:
    # on a loaded machine it grows (most in the tail), so each statistic is judged after taking off the
    # harness's share at that statistic, and that share must stay a small part of the quantity itself.
    # The share is bounded both ways, and tightly for the medians (which load hardly moves): a client that
    # got the figures wrong (a halved TPOT, a denominator off by one: 6% at 16 tokens) fails there.
    drawn = _drawn(golden, level)
    truth = TIMING.truth(NEW_TOKENS)
    share = {
        ("ttft_ms", "median"): 0.2,
        ("tpot_ms", "median"): 0.04,
        ("ttft_ms", "p99"): 0.25,
        ("tpot_ms", "p99"): 0.25,
    }
    for stat in ("ttft_ms", "tpot_ms"):
        measured = level[stat]  # type: ignore[index]
        for key, q in (("median", 50), ("p99", 99)):
            shift = measured[key]["value"] - float(np.percentile(drawn[stat], q))
            assert abs(shift) < share[(stat, key)] * truth[stat][key], (stat, key, shift)
            lo, hi = _sampling_range(stat, q, REQUESTS)
            assert lo <= measured[key]["value"] - shift <= hi, (stat, key, measured[key]["value"], shift, (lo, hi))
        shift = measured["median"]["value"] - float(np.median(drawn[stat]))
        low, high = measured["median"]["ci95"]
        assert low - shift <= truth[stat]["median"] <= high - shift, (stat, measured["median"], shift, truth[stat])


def _drawn(url: str, level: dict[str, object]) -> dict[str, list[float]]:
    """The mock's drawn TTFT and TPOT (mean gap) of each of the level's requests (it keeps them by id)."""
    with urllib.request.urlopen(url.replace("/v1", "/mock/truth"), timeout=10) as resp:
        drawn = json.load(resp)["requests"]
    ids = [str(r["id"]) for r in level["raw"]]  # type: ignore[attr-defined]
    return {
        "ttft_ms": [drawn[i]["ttft_ms"] for i in ids],
        "tpot_ms": [float(np.mean(drawn[i]["gaps_ms"])) for i in ids],
    }


def test_open_loop_arrivals_against_an_endpoint(golden: str) -> None:
    engine = _engine(golden)
    try:
        prompts = Prompts(engine.encode(corpus_text(None)[0]), 0)  # type: ignore[attr-defined]
        opts = ServeOptions(prompt_tokens=16, new_tokens=NEW_TOKENS, requests=24, ttft_max_ms=500.0)
        level = run_load(engine, prompts.draw, Load("rate", 40.0), opts)  # type: ignore[arg-type]
    finally:
        engine.close()  # type: ignore[attr-defined]
    # 40 req/s of ~110 ms requests: about 4.4 in flight, which the mock serves without queueing
    assert level["requests"] == 24 and not level["overload"]["overloaded"]
    # the driver keeps to the schedule: no request submitted later than one mean arrival gap (1/40 s)
    assert level["slo"]["attainment"] == 1.0 and level["submit_delay_ms"]["max"] < 1e3 / 40.0


def test_the_server_keeps_what_it_drew_per_request_id(golden: str) -> None:
    engine = _engine(golden)
    try:
        level = _level(engine, 4, requests=8)
    finally:
        engine.close()  # type: ignore[attr-defined]
    with urllib.request.urlopen(golden.replace("/v1", "/mock/truth"), timeout=10) as resp:
        truth = json.load(resp)["requests"]
    for row in level["raw"]:  # type: ignore[attr-defined]
        drawn = truth[str(row["id"])]
        # measured TTFT = drawn TTFT + the harness's and loopback's time: never less, and a small part of it
        assert drawn["ttft_ms"] <= row["ttft_ms"] < 1.5 * drawn["ttft_ms"]
        assert len(drawn["sent_ms"]) == NEW_TOKENS


def test_chat_api_and_the_servers_usage(golden: str) -> None:
    engine = _engine(golden, api="chat")
    try:
        level = _level(engine, 2, requests=4)
        assert engine.usage_mismatches == 0  # type: ignore[attr-defined]
    finally:
        engine.close()  # type: ignore[attr-defined]
    assert level["requests"] == 4
    assert level["lengths"]["new_tokens"]["median"] == NEW_TOKENS  # type: ignore[index]


def test_tokens_counted_with_the_models_tokenizer(golden: str) -> None:
    pytest.importorskip("openvino_genai")
    from inferperf.model.zoo import llm_folder

    folder, _ = llm_folder("builtin")
    engine = _engine(golden, tokenizer=str(folder))
    try:
        assert engine.token_source == "tokenizer"  # type: ignore[attr-defined]
        level = _level(engine, 2, requests=4)
        assert len(engine._tok.encode(" tok" * NEW_TOKENS)) != NEW_TOKENS  # type: ignore[attr-defined]
    finally:
        engine.close()  # type: ignore[attr-defined]
    # the tokenizer finds other counts in the text than the server generated: the server's usage (one per
    # chunk here) is the count, so TPOT keeps its true denominator
    assert level["lengths"]["new_tokens"]["median"] == NEW_TOKENS  # type: ignore[index]
    assert engine.usage_mismatches == 0  # type: ignore[attr-defined]


def test_http_errors_and_malformed_streams_are_counted_per_request() -> None:
    with _mock("--ttft-ms", "5", "--itl-ms", "1", "--fail-every", "4", "--malformed-every", "6") as url:
        engine = _engine(url)
        try:
            level = _level(engine, 4, requests=24, max_error_rate=0.6)
            stopped = _level(engine, 4, requests=24, max_error_rate=0.05)
        finally:
            engine.close()  # type: ignore[attr-defined]
    errors = level["errors"]
    assert errors["by_kind"].get("http 500", 0) >= 4 and errors["by_kind"].get("malformed", 0) >= 2  # type: ignore[index]
    assert level["requests"] + errors["count"] == 24  # type: ignore[index,operator]
    assert not level.get("aborted")
    # a failed request meets no SLO: attainment counts it
    assert level["slo"]["attainment"] == pytest.approx(level["requests"] / 24)  # type: ignore[index,operator]
    assert "failed" in str(stopped["aborted"]) and stopped["errors"]["count"] >= 2  # type: ignore[index]


def test_a_strict_server_without_length_control_or_done_lines() -> None:
    with _mock("--ttft-ms", "5", "--itl-ms", "1", "--strict", "--max-requests", "50") as url:
        engine = _engine(url)
        try:
            assert engine.length_control is False  # type: ignore[attr-defined]
            assert "refused ignore_eos/min_tokens" in engine.describe()  # type: ignore[attr-defined]
            level = _level(engine, 2, requests=4)
        finally:
            engine.close()  # type: ignore[attr-defined]
    assert level["requests"] == 4 and level["errors"]["count"] == 0  # type: ignore[index]


def test_a_server_gone_mid_run_is_refused_requests_and_a_stopped_level() -> None:
    with _mock("--ttft-ms", "5", "--itl-ms", "1") as url:
        engine = _engine(url)
    try:  # the server is gone: every request is refused, and the level stops past the error limit
        level = _level(engine, 2, requests=20, max_error_rate=0.1)
    finally:
        engine.close()  # type: ignore[attr-defined]
    assert set(level["errors"]["by_kind"]) == {"refused"} and "failed" in str(level["aborted"])  # type: ignore[index]
    assert level["errors"]["count"] < 20  # type: ignore[index]  # stopped early, not after every request


def test_an_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with _mock("--ttft-ms", "5", "--itl-ms", "1", "--api-key", "sk-test", "--max-requests", "20") as url:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with pytest.raises(ConfigError, match="HTTP 401: set OPENAI_API_KEY"):
            _engine(url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        engine = _engine(url)
        try:
            level = _level(engine, 2, requests=2)
        finally:
            engine.close()  # type: ignore[attr-defined]
    assert level["requests"] == 2 and level["errors"]["count"] == 0  # type: ignore[index]


def test_a_request_that_outlives_its_timeout_is_a_timeout() -> None:
    with _mock("--ttft-ms", "3000", "--ttft-sigma", "0.01", "--max-requests", "20") as url:
        engine = _engine(url, timeout_s=0.3)
        try:
            level = _level(engine, 2, requests=2, max_error_rate=0.9)
        finally:
            engine.close()  # type: ignore[attr-defined]
    assert level["errors"]["by_kind"] == {"timeout": 2}  # type: ignore[index]
    assert "ttft_ms" not in level


def test_a_refused_connection_or_an_unknown_model_is_one_clear_error(golden: str) -> None:
    with pytest.raises(BackendError, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        _engine("http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match=r"serves inferperf-mock, not .gpt-x."):
        _engine(golden, model="gpt-x")


def test_generate_on_an_endpoint_from_the_command_line(golden: str, tmp_path: Path) -> None:
    out = tmp_path / "served.json"
    cmd = [sys.executable, "-m", "inferperf", "generate", golden, "--concurrency", "2", "--requests-per-level", "6"]
    cmd += ["--prompt-tokens", "16", "--new-tokens", "8", "--ttft-max", "2s", "--json", str(out), "--no-history"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert doc["kind"] == "generate-serving" and doc["model"]["served_model"] == "inferperf-mock"
    assert doc["backend"].startswith("openai-http") and "usage.completion_tokens" in doc["tokens_counted_by"]
    assert doc["levels"][0]["requests"] == 6 and doc["stopped"] is None
    compare = subprocess.run(
        [sys.executable, "-m", "inferperf", "compare", str(out), str(out)], capture_output=True, text=True, check=False
    )
    assert compare.returncode == 0, compare.stderr
    page = tmp_path / "served.html"
    report = [sys.executable, "-m", "inferperf", "report", str(out), "--html", str(page)]
    assert subprocess.run(report, capture_output=True, text=True, check=False).returncode == 0
    assert "inferperf-mock at http://127.0.0.1" in page.read_text()


def test_endpoint_flags_on_a_model_folder_are_refused() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "inferperf", "generate", "builtin", "--tokenizer", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "are for an http://HOST:PORT/v1 endpoint" in run.stderr
    from inferperf.commands.generate import serve

    with pytest.raises(ConfigError, match="not a model folder"):
        serve("builtin", endpoint=EndpointOptions())


def test_the_servers_usage_count_is_placed_on_the_chunks() -> None:
    from inferperf.backends.openai_http import OpenAIServingEngine, _Stream

    class Words:
        def encode(self, text: str) -> list[int]:
            return list(range(2 * len(text.split())))  # two tokens per word: a tokenizer that overcounts

    engine = object.__new__(OpenAIServingEngine)
    engine._tok, engine.usage_mismatches = None, 0
    stream = _Stream(stamps=[1.0, 2.0, 3.0], pieces=[" a a", " b", " c"])
    assert engine._placed(stream, None) == [1, 1, 1]  # no usage, no tokenizer: one per chunk
    assert engine._placed(stream, {"completion_tokens": 3}) == [1, 1, 1]  # as many as chunks: one each
    assert engine._placed(stream, {"completion_tokens": 4}) == [2, 1, 1]  # the first chunk carried two
    assert engine._placed(stream, {"completion_tokens": 2}) == [1, 1, 0]
    engine._tok = Words()
    assert engine._placed(stream, None) == [4, 2, 2]  # no usage: the tokenizer's count
    assert engine._placed(stream, {"completion_tokens": 3}) == [1, 1, 1]  # it overcounts, the chunks decide
    assert engine._placed(stream, {"completion_tokens": 8}) == [4, 2, 2]  # shared in proportion
    assert engine.usage_mismatches == 3
