"""Is B really faster than A? Ratios with intervals and a verdict, per run and metric.

Two result files: every (backend, scenario) run present in both is compared on
throughput and latency percentiles, each ratio B/A with a 95% block-bootstrap
interval over the raw samples. Interleaved: the per-round ratios of an A B A B
measurement, which cancel the machine's drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import numpy as np
from numpy.typing import NDArray

from inferperf.errors import ConfigError
from inferperf.results.documents import BenchDocument, Document, GenerateDocument, ServingDocument
from inferperf.results.history import RERUN_METRICS, rerun_group, run_figures
from inferperf.results.schema import items_per_inference
from inferperf.stats import (
    Interval,
    RerunNoise,
    bootstrap_ratio_ci,
    drift_estimate,
    invocation_ratio_ci,
    paired_ratio_ci,
    welch_ratio_ci,
    window_rates,
)

# metric -> (statistic over the raw samples, True when higher is better)
_METRICS: dict[str, tuple[Callable[[NDArray[np.float64]], float], bool]] = {
    "throughput_fps": (lambda w: float(np.mean(w)), True),
    "latency_median_ms": (lambda x: float(np.quantile(x, 0.5)), False),
    "latency_p90_ms": (lambda x: float(np.quantile(x, 0.9)), False),
    "latency_p99_ms": (lambda x: float(np.quantile(x, 0.99)), False),
}


def judge(ci: Interval, higher_better: bool, threshold: float) -> str:
    """faster / slower / no significant difference, for a ratio B/A and its interval.

    A difference counts when the interval excludes 1 and the estimate moves by more
    than ``threshold`` (the machine's noise floor: a significant 0.3% is not news).
    """
    better = ci.low > 1.0 and ci.value > 1 + threshold if higher_better else ci.high < 1.0 and ci.value < 1 - threshold
    worse = ci.high < 1.0 and ci.value < 1 - threshold if higher_better else ci.low > 1.0 and ci.value > 1 + threshold
    if better:
        return "faster"
    if worse:
        return "slower"
    return "no significant difference"


def _runs(doc: Document, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    if not isinstance(doc, BenchDocument):
        raise ConfigError(f"{name} is a {doc.kind or 'unknown'!r} result: compare takes bench results")
    return {(r["backend"], r["scenario"]): r for r in doc.runs}


def _samples(run: dict[str, Any], metric: str) -> NDArray[np.float64]:
    samples = run.get("samples") or {}
    if metric == "throughput_fps":
        rates = window_rates(samples.get("completed_at_s", []))
        return rates * items_per_inference(run)
    return np.asarray(samples.get("latency_ms", []), dtype=float)


def _slowdown(ci: Interval, higher_better: bool) -> float:
    """How much slower B is, as a fraction (negative when faster)."""
    return 1 / ci.value - 1 if higher_better else ci.value - 1


# metric -> its per-run figure in a result's "repeats" list
_PER_RUN = {
    "throughput_fps": "throughput_fps",
    "latency_median_ms": "median_ms",
    "latency_p90_ms": "p90_ms",
    "latency_p99_ms": "p99_ms",
}
UNREPLICATED = (
    "separate runs, drift unknown: one or both results hold a single run, and no reruns recorded on this "
    "machine say how far it drifts between invocations; min_detectable is the smallest change these samples "
    "could have shown on a machine that does not drift. Record reruns (bench records in the history by "
    "default: 3 invocations of any configuration are enough) or use compare --interleave"
)


def _per_run(run: dict[str, Any], metric: str) -> list[float]:
    # Per-run throughputs are items/s already (as the run's own figure): no batch scaling here.
    return [float(r[_PER_RUN[metric]]) for r in run.get("repeats") or [] if r.get(_PER_RUN[metric])]


def run_noise(docs: Sequence[Document]) -> float | None:
    """The machine's rerun noise: pooled standard deviation of log per-run figures over replicated runs."""
    squares, dof = 0.0, 0
    for doc in docs:
        for run in doc.runs if isinstance(doc, BenchDocument) else ():
            for metric in _PER_RUN:
                x = np.log(np.asarray(_per_run(run, metric), dtype=float))
                if x.size >= 2:
                    squares += float(np.sum((x - x.mean()) ** 2))
                    dof += x.size - 1
    return math.sqrt(squares / dof) if dof else None


Reruns = dict[tuple[str, str], dict[str, dict[str, float]]]  # History.reruns: key -> created -> figures


def invocation_noise(
    a: Document,
    b: Document,
    reruns_a: Reruns,
    reruns_b: Reruns,
    machine: Sequence[Sequence[dict[str, float]]] = (),
) -> dict[tuple[str, str, str], RerunNoise]:
    """(backend, scenario, metric) -> the machine's noise between invocations, from recorded reruns.

    Each side's configuration is a group of its recorded invocations, the two files left out (what is
    judged is no estimate of the noise it is judged against); groups are pooled around their own means,
    so a change between configurations never counts as noise. Two sides of one configuration (same model,
    versions, machine and config: an A/A check) are one group.
    Where these hold too few invocations, every group of reruns recorded on the machine (``machine``:
    History.machine_reruns) gives the drift instead, and says so (``source``).
    """
    out: dict[tuple[str, str, str], RerunNoise] = {}
    runs_a, runs_b = _runs(a, "A"), _runs(b, "B")
    for key in (k for k in runs_a if k in runs_b):
        groups: dict[str, dict[str, dict[str, float]]] = {}
        for doc, run, reruns in ((a, runs_a[key], reruns_a), (b, runs_b[key], reruns_b)):
            members = groups.setdefault(rerun_group(doc, run), {})
            members.update(reruns.get(key, {}))
        for members in groups.values():  # the two files are what is judged: they never count as the noise
            for doc in (a, b):
                members.pop(doc.created, None)
        for metric in RERUN_METRICS:
            own = [[f[metric] for f in m.values() if metric in f] for m in groups.values()]
            noise = drift_estimate(own, [[f[metric] for f in g if metric in f] for g in machine])
            if noise is not None:
                out[(*key, metric)] = noise
    return out


class Verdicts(TypedDict):
    """A comparison's body: a verdict per row (backend, scenario, metric: B/A, interval, verdict), how the
    intervals were made, the threshold a change must pass and where it came from, and what they cannot
    tell (``warning``)."""

    method: str
    rows: list[dict[str, Any]]
    rerun_noise: NotRequired[float | None]
    invocation_noise: NotRequired[dict[str, Any]]
    threshold: NotRequired[float]
    threshold_source: NotRequired[str]
    warning: NotRequired[str]


def compare_docs(
    a: Document,
    b: Document,
    threshold: float = 0.02,
    noise: dict[tuple[str, str, str], RerunNoise] | None = None,
) -> Verdicts:
    """Every metric of every run the two bench results share: B/A with interval and verdict.

    Three levels, the widest evidence available wins. With the machine's noise between invocations
    (``noise``, learned from recorded reruns), each file is one draw around its configuration's level
    and the interval covers invocations. Where both sides hold independent runs, a Welch t-interval over
    their per-run figures covers runs (joined with the former), and a change must also exceed the
    measured rerun noise (never less than ``threshold``). Otherwise a block bootstrap over one run's
    samples, and the result says that this cannot tell a change from rerun noise.
    """
    if isinstance(a, _GENERATIVE) or isinstance(b, _GENERATIVE):
        if not isinstance(a, _GENERATIVE) or not isinstance(b, _GENERATIVE) or a.kind != b.kind:
            raise ConfigError(f"a {a.kind} result and a {b.kind} result are not comparable")
        return compare_generate(a, b, threshold)
    runs_a, runs_b = _runs(a, "A"), _runs(b, "B")
    shared = [k for k in runs_a if k in runs_b]
    if not shared:
        raise ConfigError("the two results share no (backend, scenario) run to compare")
    noise = noise or {}
    run_sd = run_noise([a, b])
    floor = max(threshold, run_sd) if run_sd is not None else threshold
    rows = [row for key in shared for row in _rows(runs_a[key], runs_b[key], key, noise, threshold, floor)]
    out: Verdicts = {
        "method": "t-interval on log figures with the machine's noise between invocations (learned from "
        "recorded reruns) where known; else Welch t over per-run figures where both sides hold several "
        "runs; else a block bootstrap over raw samples (latencies; throughput per time window)",
        "rows": rows,
        "rerun_noise": run_sd,
        "invocation_noise": {"/".join(k): v.to_dict() for k, v in noise.items()},
        "threshold": floor,
        "threshold_source": "measured rerun noise of these results (pooled sd of log per-run figures)"
        if run_sd is not None and run_sd > threshold
        else "the given threshold",
    }
    covers = {r["covers"] for r in rows}
    if "samples" in covers:
        out["warning"] = UNREPLICATED
    elif "runs" in covers:
        out["warning"] = NO_INVOCATIONS
    return out


def compare_groups(group_a: Sequence[Document], group_b: Sequence[Document], threshold: float = 0.02) -> Verdicts:
    """Several separate invocations per side: B/A per metric with a Welch t-interval over the invocations'
    own figures (log scale), so the machine's drift between invocations is measured in the very results
    judged, not borrowed from the history. One invocation against one cannot call a change smaller than
    the drift (x exp(1.96 sqrt(2) sd)); n per side shrinks that by sqrt(n)."""
    if len(group_a) < 2 or len(group_b) < 2:
        raise ConfigError("a group compare needs at least 2 results on each side (the spread is the interval)")
    runs_a = [_runs(d, "A") for d in group_a]
    runs_b = [_runs(d, "B") for d in group_b]
    shared = [k for k in runs_a[0] if all(k in r for r in runs_a + runs_b)]
    if not shared:
        raise ConfigError("the results share no (backend, scenario) run to compare")
    rows = []
    for key in shared:
        for metric, (_, higher) in _METRICS.items():
            got_a = [run_figures(r[key]).get(metric) for r in runs_a]
            got_b = [run_figures(r[key]).get(metric) for r in runs_b]
            fa, fb = [f for f in got_a if f], [f for f in got_b if f]
            if len(fa) < len(got_a) or len(fb) < len(got_b):
                continue
            ci = welch_ratio_ci(fa, fb)
            rows.append({
                "backend": key[0], "scenario": key[1], "metric": metric,
                "a": math.exp(float(np.mean(np.log(fa)))), "b": math.exp(float(np.mean(np.log(fb)))),
                "ratio": ci.value, "ci95": [ci.low, ci.high], "verdict": judge(ci, higher, threshold),
                "slowdown": _slowdown(ci, higher), "covers": "invocations", "invocations": [len(fa), len(fb)],
            })  # fmt: skip
    return {
        "method": "Welch t-interval on log figures over the separate invocations of each side (their spread "
        "is the machine's drift between invocations)",
        "rows": rows,
        "threshold": threshold,
        "threshold_source": "the given threshold",
    }


DRIFT_UNKNOWN = "inconclusive: separate runs, drift unknown"
NO_INVOCATIONS = (
    "separate runs, drift unknown: the intervals cover the runs inside each invocation, not the machine's "
    "drift between invocations (10-15% here, minutes apart), and no reruns recorded on this machine measure "
    "it; min_detectable is the smallest change these intervals could have shown on a machine that does not "
    "drift. Record reruns (bench records in the history by default: 3 invocations of any configuration are "
    "enough) or use compare --interleave"
)


def _rows(
    run_a: dict[str, Any],
    run_b: dict[str, Any],
    key: tuple[str, str],
    noise: dict[tuple[str, str, str], RerunNoise],
    threshold: float,
    floor: float,
) -> list[dict[str, Any]]:
    rows = []
    for metric, (stat, higher) in _METRICS.items():
        found = _ratio(run_a, run_b, metric, stat, noise.get((*key, metric)))
        if found is None:
            continue
        ci, va, vb, covers = found
        row = {
            "backend": key[0],
            "scenario": key[1],
            "metric": metric,
            "a": va,
            "b": vb,
            "ratio": ci.value,
            "ci95": [ci.low, ci.high],
            "verdict": judge(ci, higher, floor) if covers == "invocations" else DRIFT_UNKNOWN,
            "slowdown": _slowdown(ci, higher),
            "covers": covers,
        }
        if covers != "invocations":
            # what the intervals of one invocation each could have resolved, had the machine not drifted
            row["min_detectable"] = max(ci.high / ci.value, ci.value / ci.low) - 1 + threshold
        if (*key, metric) in noise:
            row["invocation_noise"] = noise[(*key, metric)].to_dict()
        rows.append(row)
    return rows


def _ratio(
    run_a: dict[str, Any],
    run_b: dict[str, Any],
    metric: str,
    stat: Callable[[NDArray[np.float64]], float],
    noise: RerunNoise | None,
) -> tuple[Interval, float, float, str] | None:
    """The ratio's interval, both sides' figures, and what the interval covers; None without data."""
    ra, rb = _per_run(run_a, metric), _per_run(run_b, metric)
    fa, fb = run_figures(run_a).get(metric), run_figures(run_b).get(metric)
    if noise is not None and fa and fb:
        ci = invocation_ratio_ci(fa, fb, noise)
        if len(ra) >= 2 and len(rb) >= 2:
            runs = welch_ratio_ci(ra, rb)
            ci = Interval(ci.value, min(ci.low, runs.low), max(ci.high, runs.high), ci.method)
        return ci, fa, fb, "invocations"
    if len(ra) >= 2 and len(rb) >= 2:
        va, vb = math.exp(float(np.mean(np.log(ra)))), math.exp(float(np.mean(np.log(rb))))
        return welch_ratio_ci(ra, rb), va, vb, "runs"
    xa, xb = _samples(run_a, metric), _samples(run_b, metric)
    if xa.size < 2 or xb.size < 2:
        return None
    return bootstrap_ratio_ci(xa, xb, stat), stat(xa), stat(xb), "samples"


_GENERATIVE = (GenerateDocument, ServingDocument)
# (per-request figure, statistic) -> higher is better: one request at a time, and under load (where the
# tail is what an SLO judges)
_GENERATE_METRICS = {
    ("ttft_ms", "median"): False,
    ("tpot_ms", "median"): False,
    ("e2e_ms", "median"): False,
    ("decode_tokens_per_s", "median"): True,
}
_SERVING_METRICS = {
    ("ttft_ms", "median"): False,
    ("ttft_ms", "p99"): False,
    ("tpot_ms", "median"): False,
    ("tpot_ms", "p99"): False,
    ("e2e_ms", "median"): False,
}
_STATS = {"median": lambda x: float(np.median(x)), "p99": lambda x: float(np.percentile(x, 99))}


def _levels(doc: GenerateDocument | ServingDocument) -> dict[tuple[str, str], dict[str, Any]]:
    if isinstance(doc, ServingDocument):
        return {("serving", lv["load"]["label"]): lv for lv in doc.levels}
    return {(r["backend"], f"prompt {lv['prompt_tokens']}"): lv for r in doc.results for lv in r["levels"]}


def _check_same_work(a: GenerateDocument | ServingDocument, b: GenerateDocument | ServingDocument) -> None:
    for key, what in (("new_tokens", "TPOT and end to end"), ("prompt_tokens", "TTFT")):
        got_a, got_b = a.options.get(key), b.options.get(key)
        if got_a != got_b and not (key == "prompt_tokens" and isinstance(a, GenerateDocument)):
            raise ConfigError(f"A used {key.replace('_', ' ')} {got_a}, B {got_b}: {what} are not comparable")


def compare_generate(
    a: GenerateDocument | ServingDocument, b: GenerateDocument | ServingDocument, threshold: float = 0.02
) -> Verdicts:
    """Two generate results (one request at a time, or serving levels): per backend and prompt length (or
    load level), B/A of the median TTFT, TPOT, end to end and decode tokens/s (serving: TTFT and TPOT p99
    too) over their requests, with a bootstrap interval and a verdict."""
    levels_a, levels_b = _levels(a), _levels(b)
    shared = [k for k in levels_a if k in levels_b]
    if not shared:
        raise ConfigError("the two generate results share no (backend, prompt length) or load level to compare")
    _check_same_work(a, b)
    metrics = _SERVING_METRICS if isinstance(a, ServingDocument) else _GENERATE_METRICS
    rows = []
    for key in shared:
        for (metric, stat), higher in metrics.items():
            xa = np.asarray([r[metric] for r in levels_a[key]["raw"]], dtype=float)
            xb = np.asarray([r[metric] for r in levels_b[key]["raw"]], dtype=float)
            ci = bootstrap_ratio_ci(xa, xb, _STATS[stat])
            rows.append(
                {
                    "backend": key[0],
                    "scenario": key[1],
                    "metric": metric if stat == "median" else f"{metric} {stat}",
                    "a": _STATS[stat](xa),
                    "b": _STATS[stat](xb),
                    "ratio": ci.value,
                    "ci95": [ci.low, ci.high],
                    "verdict": judge(ci, higher, threshold),
                    "slowdown": _slowdown(ci, higher),
                    "covers": "requests",
                }
            )
    rows += _batch_rows(a, b, threshold)
    return {
        "method": "ratio of medians (serving: and p99s) over requests, block bootstrap interval; static "
        "batches: ratio of geometric means of per-round tokens/s, Welch t-interval",
        "rows": rows,
        "threshold": threshold,
        "threshold_source": "the given threshold",
        "warning": "each side is one invocation: requests replicate within it, not across reruns; "
        "a verdict cannot tell a change from rerun-to-rerun drift of the machine",
    }


def _batch_rows(a: Document, b: Document, threshold: float) -> list[dict[str, Any]]:
    """Both with ``--batch`` at the same lengths: per shared batch size, B/A of all sequences' tokens/s."""
    ba, bb = a.get("batch"), b.get("batch")
    if not ba or not bb or (ba["prompt_tokens"], ba["new_tokens"]) != (bb["prompt_tokens"], bb["new_tokens"]):
        return []
    sizes_b = {s["batch"]: s for s in bb["sizes"]}
    rows = []
    for size in ba["sizes"]:
        other = sizes_b.get(size["batch"])
        xa, xb = size["output_tokens_per_s"]["per_round"], (other or {}).get("output_tokens_per_s", {}).get("per_round")
        if not xb or min(len(xa), len(xb)) < 2:
            continue
        ci = welch_ratio_ci(xa, xb)
        rows.append(
            {
                "backend": "openvino-genai",
                "scenario": f"batch {size['batch']}, prompt {ba['prompt_tokens']}",
                "metric": "output_tokens_per_s",
                "a": float(np.mean(xa)),
                "b": float(np.mean(xb)),
                "ratio": ci.value,
                "ci95": [ci.low, ci.high],
                "verdict": judge(ci, True, threshold),
                "slowdown": _slowdown(ci, True),
                "covers": "rounds",
            }
        )
    return rows


def compare_rounds(
    a_rounds: dict[str, list[float]], b_rounds: dict[str, list[float]], threshold: float = 0.02
) -> Verdicts:
    """Interleaved A B A B rounds: paired per-round ratios B/A for throughput and median latency."""
    rows = []
    for metric, higher in (("throughput_fps", True), ("latency_median_ms", False)):
        ci = paired_ratio_ci(b_rounds[metric], a_rounds[metric])
        rows.append(
            {
                "backend": "-",
                "scenario": "interleaved",
                "metric": metric,
                "a": float(np.exp(np.mean(np.log(a_rounds[metric])))),
                "b": float(np.exp(np.mean(np.log(b_rounds[metric])))),
                "ratio": ci.value,
                "ci95": [ci.low, ci.high],
                "verdict": judge(ci, higher, threshold),
                "slowdown": _slowdown(ci, higher),
                "covers": ci.covers,
            }
        )
    return {"method": ci.method, "rows": rows}


def regressions(result: Mapping[str, Any], max_slowdown: float) -> list[dict[str, Any]]:
    """Rows where B is significantly slower by more than ``max_slowdown``."""
    return [r for r in result["rows"] if r["verdict"] == "slower" and r["slowdown"] > max_slowdown]
