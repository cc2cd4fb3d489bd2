"""optimize on a decoder LLM: the fidelity guard, the runtime search under SLOs, verification, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import ConfigError
from inferperf.measure.serving import ServeOptions
from inferperf.optimize.llm_tuner import LlmCandidate, LlmTrial, choices, pareto, space_size

runner = CliRunner()


def test_the_space_stops_at_the_concurrency_and_keeps_the_default() -> None:
    space = choices(["fp32", "int8"], [None, "u8"], 4, 128, 64)
    assert space["max_num_seqs"] == [1, 2, 4, 64]
    assert space["max_num_batched_tokens"] == [None, 128, 256, 512, 1024]  # every one fits the longest prompt
    assert space_size(space) == 2 * 2 * 4 * 5 * 2
    cand = LlmCandidate("int8", "u8", 2, 256, False)
    opts = cand.serve_options(ServeOptions())
    assert (opts.kv_cache, opts.max_num_seqs, opts.max_num_batched_tokens, opts.dynamic_split_fuse) == (
        "u8",
        2,
        256,
        False,
    )
    assert cand.label == "int8, kv u8, seqs 2, batched 256, split-fuse off"
    assert LlmCandidate().label == "fp32, kv default, seqs 64"


def test_scheduler_settings_genai_refuses_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="needs `dynamic_split_fuse`"):
        ServeOptions(prompt_tokens=128, max_num_batched_tokens=64, dynamic_split_fuse=False)
    with pytest.raises(ConfigError, match="`max_num_seqs` above"):
        ServeOptions(prompt_tokens=16, max_num_seqs=64, max_num_batched_tokens=32, dynamic_split_fuse=False)
    ServeOptions(prompt_tokens=16, max_num_seqs=64, max_num_batched_tokens=32)  # split-fuse on: fine


def _trial(number: int, tokens: float, ttft: float) -> LlmTrial:
    stat = {"median": {"value": ttft}, "p99": {"value": ttft}}
    level = {
        "output_tokens_per_s": tokens,
        "slo": {"goodput_requests_per_s": 1.0, "attainment": 1.0},
        "ttft_ms": stat,
        "tpot_ms": stat,
    }
    return LlmTrial(number, LlmCandidate(max_num_seqs=number + 1), level=level, feasible=True)


def test_the_front_keeps_the_trials_nothing_beats_on_both_axes() -> None:
    trials = [_trial(0, 100, 50), _trial(1, 200, 80), _trial(2, 150, 90), _trial(3, 90, 40)]
    assert sorted(pareto(trials)) == [0, 1, 3]  # 2 is beaten by 1 on both


def test_a_group_size_that_does_not_divide_the_layers_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    from inferperf.model.zoo import llm_folder
    from inferperf.optimize.llm_weights import compress, group_size_for

    folder, _ = llm_folder("builtin")
    with pytest.raises(ConfigError, match="layers of 64"):
        compress(folder, "int4_sym", tmp_path / "int4", group_size=128)
    assert group_size_for({"hidden_size": 64, "intermediate_size": 128}, 128) == 64
    assert group_size_for({"hidden_size": 896, "intermediate_size": 4864}, 128) == 128


@pytest.mark.slow
def test_optimize_on_the_tiny_llm_names_a_verified_winner(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    pytest.importorskip("nncf")
    serve = ServeOptions(prompt_tokens=16, new_tokens=4, requests=4, ttft_max_ms=60_000.0)
    options = api.LlmOptimizeOptions(weights=("int8",), kv_caches=("u8",), serve=serve, budget_s=8.0, rounds=2)
    doc = api.optimize_llm("zoo:tiny-llama", options=options, out=tmp_path)
    steps = {s["name"]: s["status"] for s in doc["steps"]}
    assert steps["compress"] == "ok" and steps["search"] == "ok"
    trials = doc["search"]["trials"]
    assert len(trials) >= 2 and trials[0]["candidate"]["label"] == "fp32, kv default, seqs 64"  # the default first
    int8 = doc["compress"]["weights"][1]
    assert int8["mode"] == "int8" and 0.0 <= int8["fidelity"]["next_token_top1_agreement"] <= 1.0
    assert doc["compress"]["kv_caches"][0]["kv_cache"] == "u8"
    head = doc["headline"]
    assert head["verdict"]
    assert head.get("winner") is None or head["winner"]["weights"] in {"fp32", "int8"}
    verified = doc["verify"]  # the best two feasible trials (not the default) against the default
    assert steps["verify"] == "ok" and 1 <= len(verified["speedups"]) <= 2
    assert set(verified["candidates"]) == {"default", *verified["speedups"]}
    if verified["winner"] is not None:
        assert head["winner"]["label"] == verified["candidates"][verified["winner"]]["label"]
        assert set(head["speedup"]) == {"output_tokens_per_s", "goodput", "ttft_median", "tpot_median"}
        assert "| finalist |" in (tmp_path / "summary.md").read_text()
    saved = json.loads((tmp_path / "optimize.json").read_text())
    assert saved["kind"] == "optimize-llm" and (tmp_path / "search.json").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "| weights |" in summary and "| KV cache |" in summary and "max_num_seqs" in summary
    assert "weights int8" in summary  # the variants' fidelity table
    from inferperf.report.html import figures_for

    assert len(figures_for(doc)) >= 1 and (tmp_path / "report.html").stat().st_size > 10_000


def test_optimize_llm_flags_and_bad_input_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["optimize", "builtin", "--ttft-max", "2s", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "applies to a generative model" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["optimize", "zoo:tiny-llama", "--objective", "goodput", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "needs an SLO" in result.output
    result = runner.invoke(app, ["optimize", "zoo:tiny-llama", "--ttft-max", "200", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unit" in result.output
    assert api.is_generative("zoo:tiny-phi3") and not api.is_generative("builtin")
