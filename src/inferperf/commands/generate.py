"""``generate``: decoder-LLM serving figures (TTFT, TPOT, ITL, end to end) per prompt length."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.generative import (
    GenerativePipeline,
    check_generative_installed,
    get_generative,
    reserves_kv_cache,
    rss_reader,
)
from inferperf.backends.precision import plan_for
from inferperf.backends.serving import EndpointOptions, ServingEngine, is_endpoint, serving_engine_class
from inferperf.errors import ConfigError, InputSpecError
from inferperf.measure.batch import LoadedSweep
from inferperf.measure.generate import CrossCheck, GenerateOptions, Prompts, corpus_text, cross_check, run_level
from inferperf.measure.llm_memory import memory_profile, reserve_gb
from inferperf.measure.serving import ServeOptions
from inferperf.measure.target import header
from inferperf.model.zoo import llm_folder
from inferperf.results.documents import GenerateDocument, LlmCompressDocument, LlmScenarioDocument, ServingDocument

DEFINITIONS = {
    "ttft_ms": "generate call to the first token handed to the streamer; the prompt goes in as token ids",
    "ttft_with_tokenization_ms": "ttft_ms + the measured tokenization of the prompt's text",
    "tpot_ms": "per request, mean gap between generated tokens, first token excluded",
    "e2e_per_token_ms": "per request, end to end / output tokens (the other TPOT definition)",
    "itl_ms": "every gap between two consecutive tokens, pooled over requests",
}


def generate(
    model: str | Path = "builtin",
    *,
    backends: Sequence[str] = ("openvino-genai",),
    options: GenerateOptions | None = None,
    data: str | Path | None = None,
    device: str = "CPU",
    progress: Callable[[str], None] | None = None,
) -> GenerateDocument:
    """One request at a time, fixed prompt and output lengths: per backend and prompt length, TTFT, TPOT,
    ITL, end to end, prefill and decode tokens/s with 95% intervals (and GenAI's own figures beside).
    With several backends, a cross-check on the same prompts: next-token logit cosine, greedy agreement.

    ``model`` is a folder exported for OpenVINO GenAI (``optimum-cli export openvino --task
    text-generation-with-past``; with the Hugging Face files beside it for ``transformers``), or
    ``builtin``: a tiny random-weight Llama made by ``scripts/make_tiny_llm.py`` (its figures measure
    the machinery, not a real model's speed), or ``zoo:tiny-qwen2`` / ``zoo:tiny-phi3`` (the same stack
    in those families).
    """
    opts = options or GenerateOptions()
    if opts.batches and "openvino-genai" not in backends:
        raise ConfigError("`batches` runs on openvino-genai's continuous batching: add openvino-genai to the backends")
    for name in backends:
        check_generative_installed(name)  # fail fast, with the install hint, before loading anything
    folder, builtin = llm_folder(model)
    model_doc = _model_doc(folder, builtin)
    _check_context(model_doc, opts)
    text, source = corpus_text(data)
    doc = header("generate")
    pipes: list[GenerativePipeline] = []
    results = []
    rss = rss_reader()
    for name in backends:
        if progress is not None:
            progress(f"loading {name}")
        reserve = _kv_reserve(name, model_doc, opts)
        before = rss()
        pipe = get_generative(name, folder, device, opts.prefix_caching, kv_cache_gb=reserve)
        loaded = (before, rss())
        prompts = Prompts(pipe.encode(text), opts.seed)  # the same text and seed: the same prompts
        levels = [run_level(pipe, prompts, n, opts, pipe.decode, progress) for n in opts.prompt_tokens]
        results.append(
            {
                "backend": name,
                "load_ms": pipe.load_ms,
                "levels": levels,
                "weights_bytes": pipe.weights_bytes(),
                "precision": pipe.precision_record(),
            }
        )
        if opts.memory_tokens is not None:
            if progress is not None:
                progress(f"memory: one request of {opts.memory_tokens} new tokens, RSS at every token")
            arch = model_doc["architecture"]
            results[-1]["memory"] = memory_profile(
                pipe, arch, prompts.draw, loaded, opts.memory_tokens, reserved_gb=reserve
            )
        doc["environment"]["versions"].update(pipe.versions())
        pipes.append(pipe)
    return GenerateDocument.from_dict(
        {
            **doc,
            "model": model_doc,
            "device": device,
            "options": opts.to_dict(),
            "prompts": {"source": source, "text_tokens": len(prompts.ids), "seed": opts.seed},
            "results": _decode_traffic(results),
            "batch": _batch_sweep(folder, model_doc, device, opts, Prompts(prompts.ids, opts.seed), progress),
            "cross_check": _cross(pipes, text, opts, progress),
            "definitions": DEFINITIONS,
        }
    )


def _decode_traffic(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per level, the memory traffic decode achieved (weights read per token / median TPOT) and its share of
    this machine's copy rate: decode reads every weight once per token, so that rate is its ceiling."""
    if not any(r.get("weights_bytes") for r in results):
        return results
    from inferperf.measure.peak import memory_copy_gb_per_s

    copy = memory_copy_gb_per_s()
    for result in results:
        weights = float(result.get("weights_bytes") or 0)
        for level in result["levels"] if weights else ():
            per_s = weights / (float(level["tpot_ms"]["median"]["value"]) / 1e3) / 1e9
            level["decode_traffic"] = {
                "gb_per_s": per_s,
                "memory_copy_gb_per_s": copy,
                "fraction_of_memory_copy": per_s / copy,
                "method": "weights bytes / median TPOT; copy: numpy copy of 512 MiB, one thread, read + written",
            }
    return results


def _batch_sweep(
    folder: Path,
    model_doc: LlmModel,
    device: str,
    opts: GenerateOptions,
    prompts: Prompts,
    progress: Callable[[str], None] | None,
) -> LoadedSweep | None:
    """With ``opts.batches``: tokens/s, TTFT and TPOT per static batch size, at the first prompt length, on a
    continuous-batching engine of its own (loaded for it)."""
    if not opts.batches:
        return None
    from inferperf.measure.batch import BatchOptions, engine_options, run_batches
    from inferperf.measure.serving import genai_engine

    batch = BatchOptions(opts.batches, opts.prompt_tokens[0], opts.new_tokens, time_s=opts.time_s)
    room = max(opts.batches) * (opts.prompt_tokens[0] + opts.new_tokens)
    serve = engine_options(batch, cache_gb=float(reserve_gb(model_doc["architecture"], room)))
    if progress is not None:
        progress("loading a continuous-batching engine for the batch sweep")
    engine = genai_engine(folder, device, serve)
    swept: LoadedSweep = {"load_ms": engine.load_ms, **run_batches(engine, prompts.draw, batch, serve, progress)}
    return swept


def serve(
    model: str | Path = "builtin",
    *,
    options: ServeOptions | None = None,
    data: str | Path | None = None,
    device: str = "CPU",
    find_peak: bool = False,
    endpoint: EndpointOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> ServingDocument:
    """Serving under load: per load level (concurrency or arrival rate), TTFT from arrival, TPOT, ITL and
    end-to-end percentiles, tokens/s, requests/s, goodput and SLO attainment, failed requests by kind, and
    KV-cache use where the engine shows it. ``model`` is a model folder (OpenVINO GenAI's continuous
    batching in this process) or an OpenAI-compatible endpoint, ``http://HOST:PORT/v1`` (``endpoint``: its
    model name, API, tokenizer and timeout). With ``find_peak``, also the highest arrival rate whose p99s
    meet the SLOs (bisected, then confirmed by a run twice as long). A level whose failures pass
    ``max_error_rate`` stops the run: the document says so in ``stopped``."""
    from inferperf.measure.serving import Load, queueing, run_load, unloaded_reference
    from inferperf.measure.serving import find_peak as search_peak

    opts = options or ServeOptions()
    engine, model_doc = _serving_engine(model, device, opts, endpoint)
    try:
        text, source = corpus_text(data)
        prompts = Prompts(engine.encode(text), opts.seed)
        draw = prompts.draw  # the levels' one prompt source: draw(n) -> n consecutive token ids
        run_load(engine, draw, Load("concurrency", 1), replace(opts, requests=2))  # warm-up, not kept
        if progress is not None:
            progress("one request at a time: the unloaded TTFT and TPOT")
        first = run_load(engine, draw, Load("concurrency", 1), replace(opts, requests=4))
        stopped = first.get("aborted")
        alone = unloaded_reference(first) if not stopped else None
        levels = []
        for load in opts.loads if alone is not None else ():
            if progress is not None:
                progress(f"serving at {load.label}")
            level = run_load(engine, draw, load, opts)
            levels.append(level | ({"queueing": queueing(level, alone)} if alone and "raw" in level else {}))
            if level.get("aborted"):
                stopped = f"{load.label}: {level['aborted']}"
                break
        peak = search_peak(engine, draw, opts, progress=progress) if find_peak and not stopped else None
        head = header("generate-serving")
        head["environment"]["versions"].update(engine.versions())
        doc = {
            **head,
            "model": model_doc,
            "backend": engine.describe(),
            "device": device if model_doc.get("endpoint") is None else None,
            "options": opts.to_dict(),
            "prompts": {"source": source, "text_tokens": len(prompts.ids), "seed": opts.seed},
            "tokens_counted_by": engine.tokens_counted_by(),
            "load_ms": engine.load_ms,
            "precision": engine.precision_record(),
            "unloaded": alone,
            "levels": levels,
            "peak": peak,
            "stopped": stopped,
        }
        return ServingDocument.from_dict(doc)
    finally:
        engine.close()


def _serving_engine(
    model: str | Path, device: str, opts: ServeOptions, endpoint: EndpointOptions | None
) -> tuple[ServingEngine, Mapping[str, Any]]:
    """The engine a serving run drives and its model's record: an endpoint's, or a folder's (loaded)."""
    from inferperf.measure.serving import genai_engine

    if is_endpoint(model):
        ep = endpoint or EndpointOptions()
        http: Any = serving_engine_class("openai-http")(str(model), ep.model, ep.api, ep.tokenizer, ep.timeout_s)
        doc = {"endpoint": str(model), "served_model": http.model, "api": ep.api, "tokenizer": ep.tokenizer}
        return http, doc
    if endpoint is not None:
        raise ConfigError("`endpoint` options are for an http://HOST:PORT/v1 model, not a model folder")
    check_generative_installed("openvino-genai")
    folder, builtin = llm_folder(model)
    model_doc = _model_doc(folder, builtin)
    longest = GenerateOptions(
        prompt_tokens=(opts.prompt_tokens_max or opts.prompt_tokens,), new_tokens=opts.new_tokens_max or opts.new_tokens
    )
    _check_context(model_doc, longest)
    return genai_engine(folder, device, opts), model_doc


def _kv_reserve(name: str, model_doc: LlmModel, opts: GenerateOptions) -> int | None:
    """GiB of KV cache to reserve up front when memory is traced and the backend can (else None): a cache
    grown as it fills is copied at each regrowth and the allocator keeps the copies, so RSS would count
    them as cache (x1.2-1.4 on a 0.36 B model)."""
    if opts.memory_tokens is None or not reserves_kv_cache(name):
        return None
    longest = max(16 + opts.memory_tokens, max(opts.prompt_tokens) + opts.new_tokens)
    return reserve_gb(model_doc["architecture"], longest)


def _cross(
    pipes: list[GenerativePipeline], text: str, opts: GenerateOptions, progress: Callable[[str], None] | None
) -> CrossCheck | None:
    """With several backends: the same three prompts (shortest length) through each, against the first."""
    if len(pipes) < 2:
        return None
    if progress is not None:
        progress("cross-check")
    sample = Prompts(pipes[0].encode(text), opts.seed + 1)
    return cross_check(pipes, [sample.draw(min(opts.prompt_tokens)) for _ in range(3)])


def _check_context(model_doc: LlmModel, opts: GenerateOptions) -> None:
    """A prompt and its output must fit the model's context (its config's max_position_embeddings)."""
    limit = model_doc["architecture"].get("max_position_embeddings")
    longest = max(opts.prompt_tokens) + opts.new_tokens
    if limit is not None and longest > int(limit):
        raise ConfigError(
            f"a {max(opts.prompt_tokens)}-token prompt and {opts.new_tokens} new tokens need {longest} positions; "
            f"the model has {limit} (max_position_embeddings): lower `prompt_tokens` or `new_tokens`"
        )
    if limit is not None and opts.memory_tokens is not None and 16 + opts.memory_tokens > int(limit):
        raise ConfigError(
            f"the memory request (16-token prompt, {opts.memory_tokens} new tokens) needs more than the model's "
            f"{limit} positions (max_position_embeddings): lower `memory_tokens`"
        )


class LlmModel(TypedDict):
    """A model folder's record in a generative document."""

    path: str
    builtin: bool
    sha256: str
    size_bytes: int
    architecture: dict[str, Any]  # the config's keys that size the model and its KV cache


def _model_doc(folder: Path, builtin: bool) -> LlmModel:
    """Where the model is, its files' sha256 (model weights first), and its config's architecture."""
    import json

    if not folder.is_dir() or not (folder / "config.json").exists():
        raise InputSpecError(f"a generative model is a folder with its config.json (exported LLM), not {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    digest = hashlib.sha256()
    for p in sorted(files, key=lambda p: (p.name != "openvino_model.bin", p.name)):
        digest.update(p.read_bytes())
    config: dict[str, Any] = {}
    if (folder / "config.json").exists():
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    keys = (
        "model_type",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
        "max_position_embeddings",
    )
    return {
        "path": str(folder),
        "builtin": builtin,
        "sha256": digest.hexdigest(),
        "size_bytes": sum(p.stat().st_size for p in files),
        "architecture": {k: config[k] for k in keys if k in config},
    }


def compress_llm(
    model: str | Path = "builtin",
    *,
    modes: Sequence[str] = ("int8", "int4_sym"),
    kv_caches: Sequence[str] = (),
    group_size: int = 128,
    ratio: float = 1.0,
    out: str | Path = "inferperf-llm-compress",
    data: str | Path | None = None,
    options: GenerateOptions | None = None,
    rounds: int = 3,
    device: str = "CPU",
    progress: Callable[[str], None] | None = None,
) -> LlmCompressDocument:
    """Weight compression of a decoder LLM with NNCF (INT8, INT4 sym/asym), each variant judged on held-out
    text against the uncompressed model (logit cosine, next-token top-1 and greedy agreement) and measured
    interleaved with it: TTFT and TPOT speed-ups with paired 95% intervals, and the memory traffic decode
    achieved (weight bytes / TPOT). ``kv_caches`` adds variants of the uncompressed weights with the KV cache
    kept at another precision (``u8``, ``f16``, ``f32``), judged on greedy decoding. The compressed models
    are written under ``out``."""
    from inferperf.optimize.llm_weights import MODES, WeightVariant, compress, fidelity, interleaved_speed

    opts = options or GenerateOptions(prompt_tokens=(128,), new_tokens=32, time_s=3.0, min_requests=5)
    if rounds < 2:
        raise ConfigError(f"invalid `rounds` {rounds}: at least 2 are needed for an interval")
    unknown = [m for m in modes if m not in MODES]
    if unknown or not (modes or kv_caches):
        raise ConfigError(
            f"unknown weight compression {unknown[0] if unknown else ''!r}: choose from {', '.join(MODES)}"
        )
    check_generative_installed("openvino-genai")
    for kv in kv_caches:  # a KV cache the device refuses fails now, not after the compression
        plan_for(device, kv_cache=kv)
    folder, builtin = llm_folder(model)
    model_doc = _model_doc(folder, builtin)
    _check_context(model_doc, opts)
    fp32: WeightVariant = {
        "mode": "fp32",
        "path": str(folder),
        "weights_bytes": (folder / "openvino_model.bin").stat().st_size,
    }
    variants: list[WeightVariant] = [fp32]
    for mode in modes:
        if progress is not None:
            progress(f"compressing {mode}")
        variants.append(compress(folder, mode, Path(out) / mode, group_size, ratio))
    for kv in kv_caches:
        variants.append({**fp32, "mode": f"kv-{kv}", "kv_cache": kv})
    pipes = {
        str(v["mode"]): get_generative("openvino-genai", Path(v["path"]), device, kv_cache=v.get("kv_cache"))
        for v in variants
    }
    for v in variants:  # a KV cache that pinned inference to f32 says so: its speed-up is not the cache's alone
        v["precision"] = pipes[str(v["mode"])].precision_record()
    default, certain = pipes["fp32"].kv_cache_precision()  # the default the others are set against
    variants[0]["kv_cache"] = default if certain else f"default (device reports {default})"
    text, source = corpus_text(data)
    held_out = Prompts(pipes["fp32"].encode(text), opts.seed + 7)  # other places than the speed prompts
    sample = [held_out.draw(opts.prompt_tokens[0]) for _ in range(8)]
    for v in variants[1:]:
        v["fidelity"] = fidelity(pipes["fp32"], pipes[v["mode"]], sample, logits="kv_cache" not in v)
    speed = interleaved_speed(pipes, Prompts(pipes["fp32"].encode(text), opts.seed), opts, rounds, progress)
    from inferperf.measure.peak import memory_copy_gb_per_s

    copy = memory_copy_gb_per_s()
    for v in variants:
        tpot_s = float(np.median(speed["per_round"][v["mode"]]["tpot_ms"])) / 1e3
        v["decode_weight_traffic_gb_per_s"] = v["weights_bytes"] / tpot_s / 1e9
        v["fraction_of_memory_copy"] = v["decode_weight_traffic_gb_per_s"] / copy
    return LlmCompressDocument.from_dict(
        {
            **header("llm-compress"),
            "model": model_doc,
            "device": device,
            "options": {**opts.to_dict(), "rounds": rounds, "group_size": group_size, "ratio": ratio},
            "prompts": {"source": source},
            "variants": variants,
            "speed": speed,
            "memory": {"copy_gb_per_s": copy, "method": "numpy copy of 512 MiB, one thread, bytes read + written"},
        }
    )


def llm_scenario(
    model: str | Path = "builtin",
    *,
    options: Any = None,
    data: str | Path | None = None,
    device: str = "CPU",
    max_seqs: int = 64,
    out: str | Path = "inferperf-scenario",
    progress: Callable[[str], None] | None = None,
) -> LlmScenarioDocument:
    """MLPerf LoadGen's Server or Offline scenario on a decoder LLM with token latencies: LoadGen judges
    TTFT and TPOT against the bounds (``options``: a ``measure.loadgen_llm.LlmScenarioOptions``). The
    Server rate defaults to half the closed-loop capacity measured first; logs and ``scenario.json`` go
    in ``out``."""
    from inferperf.measure.loadgen_llm import (
        MLPERF_TPOT_MS,
        MLPERF_TTFT_MS,
        LlmScenarioOptions,
        capacity,
        run_llm_loadgen,
    )
    from inferperf.measure.loadgen_sut import import_loadgen
    from inferperf.measure.serving import Load, genai_engine, run_load
    from inferperf.results.schema import save_json

    opts: LlmScenarioOptions = options or LlmScenarioOptions()
    import_loadgen()  # fail fast, with the install hint
    check_generative_installed("openvino-genai")
    folder, builtin = llm_folder(model)
    model_doc = _model_doc(folder, builtin)
    _check_context(model_doc, GenerateOptions(prompt_tokens=(opts.prompt_tokens,), new_tokens=opts.new_tokens))
    serve = ServeOptions(prompt_tokens=opts.prompt_tokens, new_tokens=opts.new_tokens, max_num_seqs=max_seqs)
    engine = genai_engine(folder, device, serve)
    text, source = corpus_text(data)
    prompts = Prompts(engine.encode(text), opts.seed)
    samples = [prompts.draw(opts.prompt_tokens) for _ in range(opts.samples)]
    run_load(engine, prompts.draw, Load("concurrency", 1), replace(serve, requests=2))  # warm-up, not kept
    if progress is not None:
        progress("measuring the closed-loop capacity")
    cap = capacity(engine, prompts.draw, opts, min(max_seqs, 8))
    derived = {}
    if opts.target_qps is None:
        derived["target_qps"] = (
            "half the closed-loop capacity" if opts.scenario == "server" else "2x the closed-loop capacity (headroom)"
        )
    if opts.ttft_max_ms is None or opts.tpot_max_ms is None:
        derived["token_bounds"] = f"MLPerf Llama-2-70B Server's: TTFT {MLPERF_TTFT_MS:g} ms, TPOT {MLPERF_TPOT_MS:g} ms"
    # Offline sizes its one query from the expected rate; all at once runs faster than the capacity probe's
    # 8 in flight, and too small a query ends before the minimum duration (INVALID): headroom, as for CNNs.
    rate = opts.target_qps or (cap / 2 if opts.scenario == "server" else 2 * cap)
    if progress is not None:
        progress(f"LoadGen {opts.scenario} at {rate:.3g} queries/s")
    body = run_llm_loadgen(engine, samples, opts, rate, Path(out) / "loadgen")
    doc = LlmScenarioDocument.from_dict(
        {
            **header("scenario-llm"),
            "model": model_doc,
            "backend": "openvino-genai (ContinuousBatchingPipeline)",
            "device": device,
            "scenario": opts.scenario,
            "options": {**asdict(opts), "max_num_seqs": max_seqs},
            "prompts": {"source": source, "text_tokens": len(prompts.ids), "seed": opts.seed},
            "capacity_requests_per_s": cap,
            "derived": derived,
            "out_dir": str(out),
            **body,
        }
    )
    save_json(doc, Path(out) / "scenario.json")
    return doc
