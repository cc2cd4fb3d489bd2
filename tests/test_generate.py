"""generate: per-token figures from timestamps, exact prompt and output lengths, one-line errors."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import BackendError, ConfigError
from inferperf.measure.generate import GenerateOptions, Prompts, Request, _check, summarize_level
from inferperf.results import documents
from inferperf.results.documents import parse

runner = CliRunner()


def _request(prompt: int, start: float, first: float, gap: float, n: int, end_pad: float = 0.001) -> Request:
    times = [start + first + i * gap for i in range(n)]
    return Request(prompt, start, times, times[-1] + end_pad, 0.5, {"ttft_ms": first * 1e3, "tpot_ms": gap * 1e3})


def test_request_figures_follow_the_definitions() -> None:
    r = _request(100, 10.0, 0.050, 0.010, 5)
    f = r.figures()
    assert f["ttft_ms"] == pytest.approx(50.0)
    assert f["tpot_ms"] == pytest.approx(10.0)  # first token excluded
    assert f["e2e_ms"] == pytest.approx(50 + 40 + 1)
    assert f["e2e_per_token_ms"] == pytest.approx(91 / 5)  # the other definition, named apart
    assert f["prefill_tokens_per_s"] == pytest.approx(100 / 0.05)
    assert f["decode_tokens_per_s"] == pytest.approx(4 / 0.04)
    assert f["ttft_with_tokenization_ms"] == pytest.approx(50.5)
    assert r.gaps_ms() == pytest.approx([10.0] * 4)


def test_level_summary_pools_every_gap_and_cross_checks() -> None:
    requests = [_request(64, float(i), 0.02 + 0.001 * i, 0.005, 8) for i in range(6)]
    level = summarize_level(requests, 64, "test")
    assert level["itl_ms"]["count"] == 6 * 7
    assert (
        level["ttft_ms"]["median"]["ci95"][0]
        <= level["ttft_ms"]["median"]["value"]
        <= level["ttft_ms"]["median"]["ci95"][1]
    )
    assert level["pipeline_perf_metrics"]["ttft_ms_ours_over_pipeline"] == pytest.approx(1.0)
    assert level["tpot_ms"]["median"]["value"] == pytest.approx(5.0)
    assert len(level["raw"]) == 6


def test_a_short_output_is_refused() -> None:
    with pytest.raises(BackendError, match="exactly 8 new tokens"):
        _check(_request(16, 0.0, 0.01, 0.01, 5), 16, 8)
    with pytest.raises(BackendError, match="17-token prompt, 16 were given"):
        r = _request(16, 0.0, 0.01, 0.01, 8)
        r.pipeline["input_tokens"] = 17.0
        _check(r, 16, 8)


def test_prompts_have_exact_lengths_and_wrap() -> None:
    prompts = Prompts(list(range(40)), seed=3)
    for n in (1, 16, 40, 100):
        ids = prompts.draw(n)
        assert len(ids) == n
        assert all((b - a) % 40 == 1 for a, b in itertools.pairwise(ids))  # consecutive text


@pytest.mark.parametrize(
    "kwargs",
    [{"prompt_tokens": ()}, {"prompt_tokens": (0,)}, {"new_tokens": 1}, {"min_requests": 1}],
)
def test_bad_options_are_one_line(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        GenerateOptions(**kwargs)  # type: ignore[arg-type]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--backend", "tensorflow"])
    assert result.exit_code == 2 and "unknown generate backend" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["generate", "--new-tokens", "1"])
    assert result.exit_code == 2 and "--new-tokens" in result.output
    result = runner.invoke(app, ["generate", "--prompt-tokens", "4090", "--new-tokens", "8"])
    assert result.exit_code == 2 and "need 4098 positions; the model has 4096" in result.output
    assert "--prompt-tokens" in result.output
    pytest.importorskip("openvino_genai")
    result = runner.invoke(app, ["generate", str(tmp_path), "--json", str(tmp_path / "g.json")])
    assert result.exit_code == 2 and "folder with its config.json" in result.output
    (tmp_path / "config.json").write_text("{}")
    result = runner.invoke(app, ["generate", str(tmp_path), "--json", str(tmp_path / "g.json")])
    assert result.exit_code == 2 and "lacks openvino_model.xml" in result.output
    assert not (tmp_path / "g.json").exists()


def test_generate_on_the_builtin_model(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    opts = GenerateOptions(prompt_tokens=(16, 200), new_tokens=8, min_requests=3, time_s=0.2)
    doc = api.generate("builtin", options=opts)
    assert [lv["prompt_tokens"] for lv in doc["results"][0]["levels"]] == [16, 200]
    for level in doc["results"][0]["levels"]:
        assert level["requests"] >= 3
        assert level["itl_ms"]["count"] == level["requests"] * 7
        assert level["ttft_ms"]["median"]["value"] < level["e2e_ms"]["median"]["value"]
        for raw in level["raw"]:
            assert raw["output_tokens"] == 8 and raw["pipeline"]["input_tokens"] == level["prompt_tokens"]
        ratio = level["pipeline_perf_metrics"]["ttft_ms_ours_over_pipeline"]
        assert 0.5 < ratio < 2.0  # both clocks see the same prefill
    out = tmp_path / "g.json"
    from inferperf.report.compare import compare_docs

    same = compare_docs(parse(doc), parse(doc))
    assert len(same["rows"]) == 2 * 4 and {r["verdict"] for r in same["rows"]} == {"no significant difference"}
    other = {**doc, "options": {**doc["options"], "new_tokens": 9}}
    with pytest.raises(ConfigError, match="not comparable"):
        compare_docs(parse(doc), parse(other))
    result = runner.invoke(
        app,
        [
            "generate",
            "--prompt-tokens",
            "16",
            "--new-tokens",
            "4",
            "--min-requests",
            "2",
            "--time",
            "0.1",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["kind"] == "generate" and "TTFT" in result.output
    from inferperf.report.html import figures_for, report_for

    assert len(figures_for(doc)) == 3  # TTFT and TPOT CDFs, TTFT against prompt length (no memory traced)
    page = report_for(doc, tmp_path / "g.html").read_text()
    assert "TTFT against prompt length" in page and "TPOT per request" in page


def test_both_backends_compute_the_same_model() -> None:
    pytest.importorskip("openvino_genai")
    pytest.importorskip("transformers")
    opts = GenerateOptions(prompt_tokens=(24,), new_tokens=6, min_requests=2, time_s=0.1)
    doc = api.generate("builtin", backends=("openvino-genai", "transformers"), options=opts)
    assert [r["backend"] for r in doc["results"]] == ["openvino-genai", "transformers"]
    hf = doc["results"][1]["levels"][0]
    assert hf["itl_ms"]["count"] == hf["requests"] * 5 and "pipeline_perf_metrics" not in hf
    cross = doc["cross_check"]["against"]["transformers"]
    assert cross["prefill_logits_cosine_min"] > 0.9999  # same weights, f32 on both
    assert cross["greedy_token_agreement"] == 1.0


@pytest.mark.parametrize(("name", "family"), [("zoo:tiny-qwen2", "qwen2"), ("zoo:tiny-phi3", "phi3")])
def test_every_zoo_family_runs_on_both_backends(name: str, family: str) -> None:
    import importlib.util

    pytest.importorskip("openvino_genai")
    # transformers is the torch extra's: without it (CI's dev install) GenAI runs the family alone.
    both = importlib.util.find_spec("transformers") is not None and importlib.util.find_spec("torch") is not None
    backends = ("openvino-genai", "transformers") if both else ("openvino-genai",)
    opts = GenerateOptions(prompt_tokens=(20,), new_tokens=4, min_requests=2, time_s=0.1)
    doc = api.generate(name, backends=backends, options=opts)
    assert doc["model"]["builtin"] and doc["model"]["architecture"]["model_type"] == family
    assert doc["results"][0]["levels"][0]["itl_ms"]["count"] == doc["results"][0]["levels"][0]["requests"] * 3
    if both:
        cross = doc["cross_check"]["against"]["transformers"]
        assert cross["prefill_logits_cosine_min"] > 0.9999 and cross["greedy_token_agreement"] == 1.0


def test_an_unknown_zoo_llm_is_one_line() -> None:
    result = runner.invoke(app, ["generate", "zoo:tiny-mistral"])
    assert result.exit_code == 2 and "zoo:tiny-qwen2" in result.output and "Traceback" not in result.output


# -- serving under load ------------------------------------------------------------------------------


def test_arrival_processes_are_seeded_and_have_the_asked_rate() -> None:
    from inferperf.measure.serving import arrival_times

    assert arrival_times(4.0, 5, "constant", 0).tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    poisson = arrival_times(10.0, 4000, "poisson", 1)
    assert poisson[0] == 0.0 and np.all(np.diff(poisson) >= 0)
    assert np.mean(np.diff(poisson)) == pytest.approx(0.1, rel=0.05)
    bursty = np.diff(arrival_times(10.0, 4000, "gamma:0.25", 1))
    assert np.std(bursty) / np.mean(bursty) == pytest.approx(2.0, rel=0.1)  # CV = 1/sqrt(shape)
    assert arrival_times(10.0, 50, "poisson", 7).tolist() == arrival_times(10.0, 50, "poisson", 7).tolist()
    for bad in ("gamma:0", "gamma:x", "uniform"):
        with pytest.raises(ConfigError, match="arrivals"):
            arrival_times(1.0, 3, bad, 0)


def test_slo_attainment_and_goodput_count_requests_meeting_every_bound() -> None:
    from inferperf.measure.serving import Load, Served, ServeOptions, summarize_load

    fast = [Served(_request(64, float(i), 0.010, 0.002, 8), float(i)) for i in range(3)]
    slow = [Served(_request(64, float(i), 0.050, 0.002, 8), float(i)) for i in range(3, 4)]
    opts = ServeOptions(loads=(Load("concurrency", 2),), new_tokens=8, requests=4, ttft_max_ms=20.0)
    level = summarize_load([*fast, *slow], Load("concurrency", 2), 2.0, opts)
    assert level["slo"]["attainment"] == 0.75
    assert level["slo"]["goodput_requests_per_s"] == pytest.approx(1.5)
    assert level["requests_per_s"] == pytest.approx(2.0) and level["itl_ms"]["count"] == 4 * 7


def test_serving_runs_every_level_to_the_end() -> None:
    pytest.importorskip("openvino_genai")
    loads = (api.Load("concurrency", 1), api.Load("concurrency", 3), api.Load("rate", 200.0))
    opts = api.ServeOptions(loads=loads, prompt_tokens=32, new_tokens=6, requests=9, tpot_max_ms=1e6)
    doc = api.serve("builtin", options=opts)
    assert [lv["load"]["label"] for lv in doc["levels"]] == ["concurrency 1", "concurrency 3", "200 req/s"]
    from inferperf.report.html import figures_for

    assert len(figures_for(doc)) == 2 and doc["levels"][2]["overload"]["offered_requests_per_s"] == 200.0
    for level in doc["levels"]:
        assert level["requests"] == 9 and level["itl_ms"]["count"] == 9 * 5 and len(level["raw"]) == 9
        assert level["ttft_ms"]["median"]["value"] <= level["e2e_ms"]["median"]["value"]
        assert level["slo"]["attainment"] == 1.0 and level["slo"]["attainment_ci95"][1] == 1.0
        low, high = level["slo"]["goodput_ci95"]
        assert low <= level["slo"]["goodput_requests_per_s"] <= high
        q = level["queueing"]  # TTFT beyond the request's own prefill: never negative, at most all of TTFT
        assert 0 <= q["ttft_beyond_prefill_ms"]["median"] <= q["ttft_beyond_prefill_ms"]["p99"]
        assert 0 <= q["share_of_ttft"] <= 1 and q["tpot_over_unloaded"] > 0
        cache = level["engine_cache"]  # what the level's sequences held at once, within the allocation
        assert 0 < cache["level_peak_used_mib"] <= cache["allocated_mib"]
    peaks = [lv["engine_cache"]["level_peak_used_mib"] for lv in doc["levels"]]
    assert peaks[1] > peaks[0]  # three sequences in flight hold more cache than one
    assert doc["unloaded"]["requests"] == 4 and doc["unloaded"]["ttft_per_prompt_token_ms"] > 0
    from inferperf.report.compare import compare_docs

    same = compare_docs(parse(doc), parse(doc))  # per load level: TTFT and TPOT median and p99, end to end
    assert len(same["rows"]) == 3 * 5 and {r["verdict"] for r in same["rows"]} == {"no significant difference"}
    assert {r["metric"] for r in same["rows"]} >= {"ttft_ms p99", "tpot_ms p99"}
    with pytest.raises(ConfigError, match="not comparable"):
        compare_docs(parse(doc), parse({**doc, "options": {**doc["options"], "prompt_tokens": 64}}))
    with pytest.raises(ConfigError, match="not comparable"):
        compare_docs(parse(doc), documents.load(Path(__file__).parent / "data" / "results" / "generate.json"))
    result = runner.invoke(app, ["generate", "--concurrency", "2", "--prompt-tokens", "16,32"])
    assert result.exit_code == 2 and "--prompt-tokens" in result.output
    result = runner.invoke(app, ["generate", "--concurrency", "2", "--prompt-tokens", "16", "--prompt-tokens-max", "8"])
    assert result.exit_code == 2 and "--prompt-tokens-max" in result.output


def test_serving_lengths_drawn_from_a_range() -> None:
    pytest.importorskip("openvino_genai")
    from inferperf.measure.serving import request_lengths

    opts = api.ServeOptions(
        loads=(api.Load("concurrency", 4),), prompt_tokens=8, prompt_tokens_max=40, new_tokens=3,
        new_tokens_max=9, requests=12,
    )  # fmt: skip
    drawn = request_lengths(opts, 0)
    assert drawn == request_lengths(opts, 0) and len({p for p, _ in drawn}) > 3
    assert all(8 <= p <= 40 and 3 <= o <= 9 for p, o in drawn)
    level = api.serve("builtin", options=opts)["levels"][0]
    assert level["itl_ms"]["count"] == sum(o - 1 for _, o in drawn)  # every request got its own length
    assert level["lengths"]["new_tokens"]["min"] == min(o for _, o in drawn)


def test_peak_search_needs_an_slo_and_converges_below_capacity() -> None:
    pytest.importorskip("openvino_genai")
    opts = api.ServeOptions(loads=(), prompt_tokens=16, new_tokens=4, requests=6)
    with pytest.raises(ConfigError, match="needs an SLO"):
        api.serve("builtin", options=opts, find_peak=True)
    loose = api.ServeOptions(loads=(), prompt_tokens=16, new_tokens=4, requests=6, e2e_max_ms=1e6)
    peak = api.serve("builtin", options=loose, find_peak=True)["peak"]
    assert all(t["met"] for t in peak["trials"])  # nothing can miss a bound of 1000 s
    assert peak["capacity_requests_per_s"] * 0.95 < peak["rate"] < peak["capacity_requests_per_s"]
    assert peak["confirmed"] and peak["confirm"]["requests"] == 12
    assert peak["confirmed_rate"] == peak["rate"] and len(peak["confirm_attempts"]) == 1


def test_a_peak_that_a_longer_run_does_not_hold_steps_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferperf.measure import serving

    def fake_run(engine: object, prompts: object, load: serving.Load, opts: serving.ServeOptions) -> dict[str, object]:
        p99 = 100.0 if load.value <= 8.5 else 1000.0  # the engine holds 8.5 req/s, not the 9.0 bisected
        stat = {"p99": {"value": p99}}
        return {"ttft_ms": stat, "tpot_ms": {"p99": {"value": 1.0}}, "e2e_ms": stat, "requests": opts.requests}

    monkeypatch.setattr(serving, "run_load", fake_run)
    opts = api.ServeOptions(loads=(), requests=6, ttft_max_ms=200.0)
    out = serving._confirm(None, None, opts, 10.0, None)  # type: ignore[arg-type]
    assert [round(a["rate"], 2) for a in out["confirm_attempts"]] == [10.0, 9.0, 8.1]
    assert out["confirmed"] and out["confirmed_rate"] == pytest.approx(8.1)
    out = serving._confirm(None, None, opts, 20.0, None)  # type: ignore[arg-type]
    assert not out["confirmed"] and out["confirmed_rate"] is None and len(out["confirm_attempts"]) == 3


# -- weight compression ------------------------------------------------------------------------------


@pytest.mark.slow
def test_weight_compression_is_judged_and_measured(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    opts = GenerateOptions(prompt_tokens=(32,), new_tokens=6, min_requests=3, time_s=0.1)
    doc = api.compress_llm(
        "builtin", modes=("int8", "int4_sym"), kv_caches=("f32",), group_size=32, out=tmp_path, options=opts, rounds=2
    )
    fp32, int8, int4, kv = doc["variants"]
    assert kv["mode"] == "kv-f32" and kv["weights_bytes"] == fp32["weights_bytes"] and fp32["kv_cache"]
    # an f32 cache runs beside f32 inference on every CPU: pinned (and said) where the default is bf16
    assert kv["precision"]["inference"] == "f32" and kv["precision"]["kv_cache"] == "f32"
    assert "logit_cosine_min" not in kv["fidelity"] and 0 <= kv["fidelity"]["greedy_token_agreement"] <= 1
    assert doc["speed"]["speedup"]["kv-f32"]["tpot_ms"]["value"] > 0
    assert int8["weights_bytes"] < fp32["weights_bytes"] / 3 and int4["weights_bytes"] < int8["weights_bytes"]
    assert (tmp_path / "int8" / "openvino_model.xml").exists() and (
        tmp_path / "int8" / "openvino_tokenizer.xml"
    ).exists()
    assert int8["fidelity"]["logit_cosine_min"] > 0.999 and int4["fidelity"]["logit_cosine_min"] > 0.95
    for mode in ("int8", "int4_sym"):
        lo, hi = doc["speed"]["speedup"][mode]["tpot_ms"]["ci95"]
        assert lo <= doc["speed"]["speedup"][mode]["tpot_ms"]["value"] <= hi
    assert len(doc["speed"]["per_round"]["fp32"]["tpot_ms"]) == 2
    # a first round ran for every variant and is kept apart, out of the intervals
    assert set(doc["speed"]["warmup_round"]) == set(doc["speed"]["per_round"])
    assert doc["memory"]["copy_gb_per_s"] > 0 and fp32["fraction_of_memory_copy"] > 0
    from inferperf.report.html import figures_for

    assert len(figures_for(doc)) == 1
    result = runner.invoke(app, ["llm-compress", "--modes", "int3", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown weight compression 'int3'" in result.output
    result = runner.invoke(app, ["llm-compress", "--rounds", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--rounds" in result.output


def test_an_arrival_rate_the_engine_cannot_serve_is_called_an_overload() -> None:
    """Arrivals every 10 ms, one served every 50 ms: each waits longer than the last. Synthetic stamps."""
    from inferperf.measure.serving import Load, Served, ServeOptions, summarize_load

    opts = ServeOptions(loads=(Load("rate", 100.0),), new_tokens=3, requests=12)
    done = []
    for i in range(12):
        arrive, start = i * 0.010, i * 0.050  # the engine starts request i only when i-1 is done
        done.append(Served(_request(16, arrive, start - arrive + 0.02, 0.01, 3), arrive))
    level = summarize_load(done, Load("rate", 100.0), 0.62, opts)
    assert level["overload"]["overloaded"] and "grows without bound" in level["overload"]["verdict"]
    steady = [Served(_request(16, i * 0.1, 0.02, 0.01, 3), i * 0.1) for i in range(12)]
    calm = summarize_load(steady, Load("rate", 10.0), 1.2, ServeOptions(loads=(Load("rate", 10.0),), new_tokens=3))
    assert calm["overload"]["overloaded"] is False and "verdict" not in calm["overload"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--concurrency", "2", "--ttft-max", "200"], "--ttft-max"),  # no unit: ms or s?
        (["--concurrency", "2", "--tpot-max", "-5ms"], "--tpot-max"),
        (["--rate", "-1"], "rate"),
        (["--find-peak"], "SLO"),
    ],
)
def test_serving_bad_input_is_one_line_and_exit_2(args: list[str], flag: str) -> None:
    pytest.importorskip("openvino_genai")
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.output
    assert flag in result.output and "Traceback" not in result.output


def test_kv_cache_theory_and_growth_on_a_synthetic_trace() -> None:
    from inferperf.measure.llm_memory import growth, kv_theory

    arch = {"num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "hidden_size": 896}
    assert kv_theory(arch, "f32")["bytes_per_token"] == 2 * 24 * 2 * 64 * 4
    # keys: a scale and zero point per channel per 32-token block (64 x 8 / 32 = 16 B); values: 8 B per token
    assert kv_theory(arch, "u8")["bytes_per_token"] == 24 * 2 * ((64 + 16) + (64 + 8)) == 7296
    assert kv_theory(arch, "nf3")["bytes_per_token"] is None
    # A cache allocated in blocks of 32 tokens of 6144 bytes each, over a 900 MiB base with a little noise.
    rng = np.random.default_rng(0)
    trace = [900 * 2**20 + (k // 32 + 1) * 32 * 6144 + int(rng.integers(0, 4096)) for k in range(1024)]
    found = growth(trace)
    assert found["bytes_per_token"] == pytest.approx(6144, rel=0.03)
    assert found["allocation_steps"] == 23 and found["tokens_fitted"] == 768
    assert growth(trace[:9])["bytes_per_token"] is None


def test_kv_cache_reserve_covers_the_longest_request_at_f32() -> None:
    from inferperf.measure.llm_memory import reserve_gb

    arch = {"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 4096}
    assert reserve_gb(arch, 100) == 1  # whole GiB, at least one
    per_token = 2 * 32 * 8 * 128 * 4  # 256 KiB at f32
    assert reserve_gb(arch, 16_000) == math.ceil(per_token * 16_000 * 1.25 / 2**30) == 5


def test_generate_memory_traces_rss_at_every_token(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    out = tmp_path / "g.json"
    result = runner.invoke(
        app,
        ["generate", "--prompt-tokens", "16", "--new-tokens", "4", "--time", "0.2", "--min-requests", "2",
         "--memory-tokens", "64", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    memory = json.loads(out.read_text())["results"][0]["memory"]
    assert memory["phases_mib"]["after_load_and_compile"] >= memory["phases_mib"]["before_load"] > 0
    kv = memory["kv_cache"]
    assert kv["new_tokens"] == 64 and kv["measured"]["tokens_fitted"] == 48
    assert kv["theory"]["layers"] == 2 and kv["theory"]["kv_heads"] == 2 and kv["theory"]["head_dim"] == 16
    # traced on a cache reserved up front (1 GiB is enough for 80 tokens), so regrowth copies do not count
    assert kv["cache_reserved_gb"] == 1 and "reserved up front" in kv["allocation"]
    assert "KV cache growth" in result.output
    from inferperf.report.html import report_for

    assert (
        "Resident memory over one request" in report_for(json.loads(out.read_text()), tmp_path / "m.html").read_text()
    )
    bad = runner.invoke(app, ["generate", "--memory-tokens", "5000"])
    assert bad.exit_code == 2 and "--memory-tokens" in bad.output


def test_generate_batch_sweep_times_every_sequence(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    out = tmp_path / "b.json"
    result = runner.invoke(
        app,
        ["generate", "--prompt-tokens", "16", "--new-tokens", "4", "--time", "0.1", "--min-requests", "2",
         "--batches", "1,3", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    batch = doc["batch"]
    assert batch["prompt_tokens"] == 16 and batch["new_tokens"] == 4 and batch["rounds"] >= 3
    one, three = batch["sizes"]
    assert (one["batch"], three["batch"]) == (1, 3) and batch["speedup_over"] == 1
    # every sequence of every kept round is timed token by token: rounds x batch requests
    assert one["requests"] == batch["rounds"] and three["requests"] == 3 * batch["rounds"]
    assert one["speedup"]["value"] == pytest.approx(1.0)
    low, high = three["output_tokens_per_s"]["ci95"]
    assert low <= three["output_tokens_per_s"]["mean"] <= high
    assert len(three["output_tokens_per_s"]["per_round"]) == batch["rounds"]
    assert "static batches" in result.output
    # decode's memory traffic beside the machine's copy rate: weights file bytes / median TPOT
    level = doc["results"][0]["levels"][0]
    traffic = level["decode_traffic"]
    assert doc["results"][0]["weights_bytes"] > 0 and traffic["memory_copy_gb_per_s"] > 0
    expected = doc["results"][0]["weights_bytes"] / (level["tpot_ms"]["median"]["value"] / 1e3) / 1e9
    assert traffic["gb_per_s"] == pytest.approx(expected)
    assert traffic["fraction_of_memory_copy"] == pytest.approx(expected / traffic["memory_copy_gb_per_s"])
    assert "GB of weights per token" in result.output
    from inferperf.report.compare import compare_docs

    rows = [r for r in compare_docs(parse(doc), parse(doc))["rows"] if r["metric"] == "output_tokens_per_s"]
    assert [r["scenario"] for r in rows] == ["batch 1, prompt 16", "batch 3, prompt 16"]
    assert all(r["ratio"] == pytest.approx(1.0) and r["covers"] == "rounds" for r in rows)
    longer = {**doc, "batch": {**batch, "new_tokens": 8}}
    assert not [r for r in compare_docs(parse(doc), parse(longer))["rows"] if r["metric"] == "output_tokens_per_s"]
    from inferperf.report.html import report_for

    assert "against batch size" in report_for(doc, tmp_path / "b.html").read_text()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--batches", "0"], "--batches"),
        (["--batches", "2,2"], "twice"),
        (["--batches", "2", "--concurrency", "2"], "--batches"),
        (["--batches", "x"], "--batches"),
        (["--batches", "2", "--backend", "transformers"], "openvino-genai"),
    ],
)
def test_generate_bad_batch_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    pytest.importorskip("openvino_genai")
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_loadgen_judges_token_latencies_of_an_llm(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    pytest.importorskip("mlperf_loadgen")
    from inferperf.measure.loadgen_llm import LlmScenarioOptions

    opts = LlmScenarioOptions(
        scenario="server", target_qps=40.0, ttft_max_ms=500.0, tpot_max_ms=50.0, prompt_tokens=16, new_tokens=6,
        min_query_count=24, min_duration_s=0.5,
    )  # fmt: skip
    doc = api.llm_scenario("builtin", options=opts, out=tmp_path / "s")
    r = doc["result"]
    assert doc["kind"] == "scenario-llm" and r["scenario"] == "Server" and r["query_count"] >= 24
    assert (r["ttft_bound_ms"], r["tpot_bound_ms"]) == (500.0, 50.0)
    # LoadGen's own TTFT and TPOT percentiles from FirstTokenComplete and the token counts
    assert 0 < r["ttft_ms"]["p50"] <= r["ttft_ms"]["p99"] and 0 < r["tpot_ms"]["p50"] <= r["tpot_ms"]["p99"]
    assert r["tokens_per_second"] > 0 and doc["sut_first_token_ms"]["count"] >= 24
    # 24 queries cannot satisfy LoadGen's early stopping at p99: INVALID, and it says why
    assert r["valid"] is False and any("early stopping" in w for w in r["why_invalid"])
    assert (tmp_path / "s" / "scenario.json").exists()
    with pytest.raises(ConfigError, match="server, offline"):
        LlmScenarioOptions(scenario="single-stream")
