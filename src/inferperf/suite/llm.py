"""Decoder-LLM rows of a suite: a generative model's variants (its weights as they are, or NNCF INT8)
measured by ``generate`` on OpenVINO GenAI in a fresh worker each: TTFT, TPOT and decode tokens/s.

A suite lists LLM folders (or ``zoo:tiny-llama``...) beside CNN models; their cells run on the generative
backend whatever ``--backend`` says for the CNNs, with the suite's variant names mapped to weight formats
(``fp32`` as exported, ``int8`` and ``int8-BACKEND``: NNCF INT8 asymmetric weights). A compressed variant is
made once per suite folder and reused; like the CNN INT8 variants, the number is wanted either way, so
no fidelity floor applies here (``llm-compress`` and ``optimize`` judge fidelity).
"""

from __future__ import annotations

from typing import Any, TypedDict

from inferperf.errors import InferperfError, runtime_cause
from inferperf.stats import Estimate
from inferperf.suite.plan import FP32, Job, SuiteOptions, slug
from inferperf.suite.variants import Variant

BACKEND = "openvino-genai"
PROMPT_TOKENS, NEW_TOKENS = 128, 32
FOLDER_FORMAT = "openvino-genai folder"


def weight_mode(variant: str) -> str | None:
    """The NNCF weight format of a suite variant name (None: the weights as exported)."""
    return None if variant == FP32 else "int8"


def make_llm_variant(model: str, name: str, options: SuiteOptions) -> Variant:
    """``name`` of ``model``: the folder itself, or its weights compressed into the suite's variants folder
    (reused when a previous run of the suite made it)."""
    from inferperf.commands.generate import _model_doc
    from inferperf.model.zoo import llm_folder
    from inferperf.optimize.llm_weights import compress, group_size_for

    try:
        folder, builtin = llm_folder(model)
        doc = _model_doc(folder, builtin)
        mode = weight_mode(name)
        if mode is None:
            return Variant(model, name, None, path=folder, sha256=doc["sha256"], format=FOLDER_FORMAT)
        out = options.out / "variants" / f"{slug(model)}-{mode}"
        details: dict[str, Any] = {"weights": mode, "cached": (out / "openvino_model.xml").is_file()}
        if not details["cached"]:
            group = group_size_for(doc["architecture"], 128)
            made = compress(folder, mode, out, group)
            details |= {"seconds": made["seconds"], "group_size": made.get("group_size")}
        made_doc = _model_doc(out, False)
        details = {**details, "bytes": made_doc["size_bytes"]}
        return Variant(model, name, None, details=details, path=out, sha256=made_doc["sha256"], format=FOLDER_FORMAT)
    except InferperfError as exc:
        return Variant(model, name, None, error=exc.one_line())
    except Exception as exc:  # NNCF's own errors: the cell is recorded as failed, the suite goes on
        return Variant(model, name, None, error=f"{type(exc).__name__}: {runtime_cause(exc)}")


def llm_job(variant: Variant, options: SuiteOptions) -> Job:
    """The generate job a worker runs for an LLM cell (plain JSON)."""
    time_s = min(options.limits.time_s or options.limits.max_time_s, 20.0)
    return {
        "task": "suite-llm-cell",
        "model": str(variant.path),
        "backend": BACKEND,
        "generate": {"prompt_tokens": PROMPT_TOKENS, "new_tokens": NEW_TOKENS, "time_s": time_s, "seed": options.seed},
        "timeout_s": options.cell_timeout_s,
    }


def generate_job(job: Job) -> dict[str, Any]:
    """Worker side: the job's generate result document."""
    from inferperf.commands.generate import generate
    from inferperf.measure.generate import GenerateOptions

    g = job["generate"]
    opts = GenerateOptions(
        prompt_tokens=(int(g["prompt_tokens"]),),
        new_tokens=int(g["new_tokens"]),
        time_s=float(g["time_s"]),
        seed=int(g["seed"]),
    )
    return generate(job["model"], backends=(job["backend"],), options=opts).to_dict()  # the worker prints JSON


class CellSummary(TypedDict, total=False):
    """A suite cell's headline numbers: a bench cell's latency and throughput (with the run each came
    from and the compute figures), or a generative cell's (``generative``) TTFT, TPOT and decode rate."""

    latency_median_ms: Estimate | None
    latency_p99_ms: Estimate | None
    latency_from: str | None
    throughput_fps: Estimate | None
    throughput_from: str | None
    effective_gflops: float | None
    fraction_of_peak: float | None
    fraction_of_int8_peak: float | None
    converged: bool
    run_errors: list[Any]
    generative: bool
    prompt_tokens: int
    new_tokens: int
    ttft_median_ms: Estimate
    ttft_p99_ms: Estimate
    tpot_median_ms: Estimate
    tpot_p99_ms: Estimate
    decode_tokens_per_s: Estimate
    requests: int


def llm_summary(doc: dict[str, Any]) -> CellSummary:
    """Headline numbers of an LLM cell: TTFT and TPOT (median with interval, p99), decode tokens/s."""
    level = doc["results"][0]["levels"][0]
    return {
        "generative": True,
        "prompt_tokens": level["prompt_tokens"],
        "new_tokens": doc["options"]["new_tokens"],
        "ttft_median_ms": level["ttft_ms"]["median"],
        "ttft_p99_ms": level["ttft_ms"]["p99"],
        "tpot_median_ms": level["tpot_ms"]["median"],
        "tpot_p99_ms": level["tpot_ms"]["p99"],
        "decode_tokens_per_s": level["decode_tokens_per_s"]["median"],
        "requests": level["requests"],
        "run_errors": [],
    }
