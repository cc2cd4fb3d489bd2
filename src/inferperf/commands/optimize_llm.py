"""``inferperf optimize`` on a decoder LLM: compress, guard fidelity, search the runtime, verify, report.

compress (NNCF weight formats; KV-cache element types) -> fidelity of each against the uncompressed model on
held-out text (a variant below the agreement floor is dropped) -> search over weights x KV cache x the
continuous-batching scheduler's knobs under the TTFT/TPOT SLOs at one concurrency -> interleaved
verification of the winner against the uncompressed default -> summary.md, report.html, optimize.json.
Every step's JSON is written as it finishes; a step that fails is recorded and the flow goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.generative import check_generative_installed, get_generative
from inferperf.errors import ConfigError, InferperfError, runtime_cause
from inferperf.jsonform import JsonRecord
from inferperf.measure.generate import GenerateOptions, Prompts, corpus_text
from inferperf.measure.serving import Load, ServeOptions
from inferperf.measure.target import header
from inferperf.model.zoo import is_generative, llm_folder
from inferperf.optimize.llm_tuner import (
    OBJECTIVES,
    LlmCandidate,
    LlmTrial,
    Runner,
    best,
    choices,
    finalists,
    pareto,
    search,
)
from inferperf.optimize.llm_tuner import verify as verify_finalists
from inferperf.results.documents import (
    Document,
    LlmCompressStepDocument,
    LlmSearchDocument,
    LlmVerifyDocument,
    OptimizeDocument,
)
from inferperf.results.schema import save_json

__all__ = ["LlmOptimizeOptions", "is_generative", "optimize_llm"]

FINALISTS = 2  # the best configurations of the search verified against the default (one trial each chose them)


@dataclass(frozen=True)
class LlmOptimizeOptions(JsonRecord):
    """What to try, the load and SLOs it must serve, how much time it has, and the fidelity floor."""

    weights: tuple[str, ...] = ("int8", "int4_sym")
    kv_caches: tuple[str, ...] = ("u8", "f16")
    group_size: int = 128
    concurrency: int = 4
    objective: str = "tokens"  # tokens (output tokens/s) | goodput (requests/s meeting every SLO)
    serve: ServeOptions = field(default_factory=lambda: ServeOptions(prompt_tokens=128, new_tokens=32, requests=16))
    budget_s: float = 1200.0
    rounds: int = 3
    min_agreement: float = 0.9  # next-token top-1 (weights) or greedy (KV cache) agreement with the original
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"invalid `objective` {self.objective!r}: choose from {', '.join(OBJECTIVES)}")
        if self.concurrency < 1 or self.rounds < 2:
            raise ConfigError("`concurrency` must be at least 1 and `rounds` at least 2 (a paired interval)")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ConfigError(f"invalid `min_agreement` {self.min_agreement}: a fraction between 0 and 1")
        if self.objective == "goodput" and not _slos(self.serve):
            raise ConfigError("the goodput objective needs an SLO: a TTFT, TPOT or end-to-end bound")


def _slos(serve: ServeOptions) -> dict[str, float]:
    bounds = {"ttft_max_ms": serve.ttft_max_ms, "tpot_max_ms": serve.tpot_max_ms, "e2e_max_ms": serve.e2e_max_ms}
    return {k: v for k, v in bounds.items() if v is not None}


class Flow:
    """The steps in order, each saved to ``out`` as ``<step>.json`` the moment it ends."""

    def __init__(self, model: str | Path, opts: LlmOptimizeOptions, out: Path, device: str, progress: Any) -> None:
        from inferperf.commands.generate import _check_context, _model_doc

        check_generative_installed("openvino-genai")
        self.folder, builtin = llm_folder(model)
        self.model_doc = _model_doc(self.folder, builtin)
        longest = GenerateOptions(prompt_tokens=(opts.serve.prompt_tokens_max or opts.serve.prompt_tokens,))
        _check_context(self.model_doc, replace(longest, new_tokens=opts.serve.new_tokens_max or opts.serve.new_tokens))
        self.opts, self.out, self.device, self.progress = opts, out, device, progress
        self.t0 = time.perf_counter()
        self.steps: list[dict[str, Any]] = []
        self.docs: dict[str, Document] = {}
        self.trials: list[LlmTrial] = []
        self.text_ids: list[int] = []

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def step(self, name: str, fn: Callable[[], Document]) -> Document | None:
        """Run one step; its document (or its failure) is recorded and saved at once."""
        t = time.perf_counter()
        record: dict[str, Any] = {"name": name, "status": "ok", "error": None}
        try:
            doc = fn()
        except KeyboardInterrupt:
            record |= {"status": "interrupted", "seconds": time.perf_counter() - t}
            self.steps.append(record)
            raise
        except Exception as exc:  # a step that fails (NNCF, the runtime) is recorded; the flow goes on
            kind = "" if isinstance(exc, InferperfError) else f"{type(exc).__name__}: "
            record |= {"status": "failed", "error": kind + runtime_cause(exc)}
            doc = None
        record["seconds"] = time.perf_counter() - t
        if doc is not None:
            record["path"] = str(save_json(doc, self.out / f"{name}.json"))
            self.docs[name] = doc
        self.steps.append(record)
        return doc

    def compress(self) -> LlmCompressStepDocument:
        """Weight variants (NNCF) and KV-cache types, each judged against the uncompressed model."""
        from inferperf.optimize.llm_weights import WeightVariant, compress, fidelity, group_size_for

        group = group_size_for(self.model_doc["architecture"], self.opts.group_size)
        variants: list[WeightVariant] = []
        for mode in self.opts.weights:
            self.note(f"compressing weights: {mode}")
            try:
                variants.append(compress(self.folder, mode, self.out / "weights" / mode, group))
            except Exception as exc:  # one format NNCF cannot make is dropped; the others go on
                variants.append({"mode": mode, "error": runtime_cause(exc), "passes": False})
        ref = get_generative("openvino-genai", self.folder, self.device)
        text, _ = corpus_text(None)
        self.text_ids = ref.encode(text)  # the serving prompts are cut from the same tokens
        held_out = Prompts(self.text_ids, self.opts.seed + 7)  # other places than the serving prompts
        sample = [held_out.draw(self.opts.serve.prompt_tokens) for _ in range(8)]
        for v in (v for v in variants if "error" not in v):
            self.note(f"fidelity: {v['mode']}")
            v["fidelity"] = fidelity(ref, get_generative("openvino-genai", Path(v["path"]), self.device), sample)
            v["passes"] = v["fidelity"]["next_token_top1_agreement"] >= self.opts.min_agreement
        kv: list[dict[str, Any]] = []
        for precision in self.opts.kv_caches:
            self.note(f"fidelity: KV cache {precision}")
            cand = get_generative("openvino-genai", self.folder, self.device, kv_cache=precision)
            judged = fidelity(ref, cand, sample, logits=False)
            passes = judged["greedy_token_agreement"] >= self.opts.min_agreement
            kv.append({"kv_cache": precision, "fidelity": judged, "passes": passes})
        return LlmCompressStepDocument.from_dict(
            {
                **header("optimize-llm-compress"),
                "min_agreement": self.opts.min_agreement,
                "weights": [{"mode": "fp32", "path": str(self.folder), "passes": True}, *variants],
                "kv_caches": kv,
            }
        )

    def runner(self) -> Runner:
        """Serves every candidate the same seeded requests at the chosen concurrency."""
        passing = [v for v in _json_of(self.docs.get("compress")).get("weights", []) if v["passes"]]
        folders = {v["mode"]: Path(v["path"]) for v in passing} or {"fp32": self.folder}
        if not self.text_ids:  # the compress step failed before tokenizing: a pipeline's tokenizer instead
            from inferperf.measure.serving import genai_engine

            self.text_ids = genai_engine(self.folder, self.device, self.opts.serve).encode(corpus_text(None)[0])
        prompts = Prompts(self.text_ids, self.opts.seed)
        return Runner(folders, self.device, self.opts.serve, Load("concurrency", self.opts.concurrency), prompts.draw)

    def search(self, runner: Runner) -> LlmSearchDocument:
        """TPE over the space until the budget, minus what verification will need, is spent."""
        compressed = _json_of(self.docs.get("compress"))
        kvs: list[str | None] = [None, *(k["kv_cache"] for k in compressed.get("kv_caches", []) if k["passes"])]
        serve = self.opts.serve
        prompt_max = serve.prompt_tokens_max or serve.prompt_tokens
        space = choices(list(runner.folders), kvs, self.opts.concurrency, prompt_max, serve.max_num_seqs)

        def deadline(trials: Sequence[LlmTrial]) -> bool:
            # Verification serves (1 + finalists) x rounds levels and loads as many pipelines: keep it back.
            typical = float(np.median([t.seconds for t in trials])) if trials else 0.0
            reserve = (1 + FINALISTS) * (self.opts.rounds + 1) * typical
            return time.perf_counter() - self.t0 + reserve + typical > self.opts.budget_s and len(trials) >= 2

        self.trials = search(runner, space, self.opts.objective, deadline, self.opts.seed, self.note)
        return LlmSearchDocument.from_dict(
            {
                **header("optimize-llm-search"),
                "space": {k: ["default" if c is None else c for c in v] for k, v in space.items()},
                "objective": self.opts.objective,
                "trials": [t.to_dict() for t in self.trials],
                "pareto": pareto(self.trials),
            }
        )


def optimize_llm(
    model: str | Path,
    *,
    options: LlmOptimizeOptions | None = None,
    out: str | Path = "inferperf-optimize",
    device: str = "CPU",
    progress: Callable[[str], None] | None = None,
) -> OptimizeDocument:
    """The generative flow: weight formats and KV-cache types behind a fidelity guard, the runtime searched
    for output tokens/s (or goodput) under the SLOs, the winner verified against the uncompressed default.

    On Ctrl-C the summary and the report are written from the finished steps and KeyboardInterrupt is
    raised again."""
    from inferperf.report.optimize_llm_report import write_llm_reports

    opts = options or LlmOptimizeOptions()
    flow = Flow(model, opts, Path(out), device, progress)
    default = LlmCandidate(max_num_seqs=opts.serve.max_num_seqs)
    winner: LlmTrial | None = None
    try:
        flow.step("compress", flow.compress)
        runner = flow.runner()
        flow.step("search", lambda: flow.search(runner))
        finals = [t.candidate for t in finalists(flow.trials, opts.objective, default, FINALISTS)]
        if finals:
            flow.step("verify", lambda: _verify_doc(runner, default, finals, opts, flow.note))
        winner = _winner(flow, default)
    finally:
        doc = result_document(flow, winner, default)
        doc = replace(doc, extra={**doc.extra, "artifacts": write_llm_reports(doc, flow.out)})
        save_json(doc, flow.out / "optimize.json")
    return doc


def _verify_doc(
    runner: Runner, default: LlmCandidate, finals: list[LlmCandidate], opts: LlmOptimizeOptions, note: Any
) -> LlmVerifyDocument:
    found = verify_finalists(runner, default, finals, opts.rounds, opts.objective, note)
    return LlmVerifyDocument.from_dict({**header("optimize-llm-verify"), **found})


def _winner(flow: Flow, default: LlmCandidate) -> LlmTrial | None:
    """The verified winner's trial; without finalists, the default if it met the SLOs; after a failed
    verification, the search's best (said so in the verdict)."""
    verified = flow.docs.get("verify")
    if verified is not None:
        if verified["winner"] is None:
            return None
        label = verified["candidates"][verified["winner"]]["label"]
        return next(t for t in flow.trials if t.candidate.label == label)
    return best(flow.trials, flow.opts.objective)


def result_document(flow: Flow, winner: LlmTrial | None, default: LlmCandidate) -> OptimizeDocument:
    """The flow's one document: options, steps, the trials, the winner with its fidelity and verified gains."""
    compressed = _json_of(flow.docs.get("compress"))
    searched = _json_of(flow.docs.get("search"))
    verified = flow.docs.get("verify")
    base = next((t for t in flow.trials if t.candidate == default and t.status == "ok"), None)
    headline: dict[str, Any] = {"objective": flow.opts.objective, "slo": _slos(flow.opts.serve)}
    if winner is None:
        if verified is not None:
            headline["verdict"] = "no finalist met the SLOs on its verification requests: keep the default"
        else:
            headline["verdict"] = (
                "no measured configuration met the SLOs at this concurrency"
                if flow.trials
                else "no configuration was measured"
            )
    else:
        headline |= {
            "winner": winner.candidate.to_dict(),
            "winner_figures": winner.to_dict().get("figures"),
            "default_figures": base.to_dict().get("figures") if base else None,
            "fidelity": _fidelity_of(compressed, winner.candidate),
        }
        if verified is not None:
            headline["speedup"] = verified["speedup"]
            headline["winner_meets_slo_in_verification"] = verified["meets_slo"][verified["winner"]]
            headline["verdict"] = _verdict(winner.candidate, verified, flow.opts.objective)
        elif winner.candidate == default:
            headline["verdict"] = (
                "the default configuration (uncompressed, GenAI's scheduler defaults) is the best measured"
            )
        else:
            headline["verdict"] = f"{winner.candidate.label} measured best in the search; its verification failed"
    return OptimizeDocument.from_dict(
        {
            **header("optimize-llm"),
            "model": flow.model_doc,
            "device": flow.device,
            "options": flow.opts.to_dict(),
            "steps": flow.steps,
            "seconds": time.perf_counter() - flow.t0,
            "headline": headline,
            "compress": dict(compressed) or None,
            "search": dict(searched) or None,
            "verify": verified.to_dict() if verified is not None else None,
        }
    )


def _json_of(step: Document | None) -> Mapping[str, Any]:
    """A step's document read as its JSON (no step: empty)."""
    return step if step is not None else {}


class WinnerFidelity(TypedDict):
    """The winner's fidelity against the uncompressed model: its weight format's, its KV cache's."""

    weights: dict[str, Any] | None
    kv_cache: dict[str, Any] | None


def _fidelity_of(compressed: Mapping[str, Any], cand: LlmCandidate) -> WinnerFidelity:
    weights = next((w.get("fidelity") for w in compressed.get("weights", []) if w["mode"] == cand.weights), None)
    kv = next((k["fidelity"] for k in compressed.get("kv_caches", []) if k["kv_cache"] == cand.kv_cache), None)
    return {"weights": weights, "kv_cache": kv}


def _verdict(cand: LlmCandidate, verified: Mapping[str, Any], objective: str) -> str:
    s = verified["speedup"]
    tps, ttft, tpot = s["output_tokens_per_s"], s["ttft_median"], s["tpot_median"]
    low, high = (tps if objective == "tokens" else s["goodput"])["ci95"]
    if low > 1:
        advice = "verified faster: use it"
    elif high < 1:
        advice = "verified SLOWER than the default (the search's best run was luck): keep the default"
    else:
        advice = "no significant gain over the default in the verification: keep the default or rerun longer"
    others = len(verified["speedups"]) - 1
    return (
        f"{cand.label}: output tokens/s x{tps['value']:.2f} {_pair(tps['ci95'])} over the uncompressed default"
        + (f", goodput x{s['goodput']['value']:.2f} {_pair(s['goodput']['ci95'])}" if objective == "goodput" else "")
        + f", TTFT x{ttft['value']:.2f}, TPOT x{tpot['value']:.2f} (default / winner), over {verified['rounds']} "
        f"interleaved rounds" + (f", the best of {others + 1} finalists" if others else "") + f"; {advice}"
    )


def _pair(ci: list[float]) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"
