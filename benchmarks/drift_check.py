"""Verdicts between separate runs: false alarms on A/A and detections on A/B (issue 34).

Separate ``inferperf bench`` invocations (fresh processes, default adaptive options) of two configurations
of one model, alternated A B A B ... so the machine's drift hits both; every invocation records itself in
a fresh history, as bench does by default. Then ``inferperf compare`` judges pairs of result files the way
a user would, with that history (the pair being judged left out of the drift estimate):

- A/A: (A1, A2), (A3, A4), ... every "faster"/"slower" is a false alarm (goal: at most 1 in 16 rows);
- A/B: (A_i, B_i): the true change per (scenario, metric) is the ratio of the geometric means over every
  invocation of each side; goal: every row whose true change is >= 20% is called, in its direction.

A is ``--threads 2``, B ``--threads 1`` (on 2 cores: latency and throughput both move by far more than 20%);
``--b-args`` sets another B (e.g. ``--b-model int8.onnx``).

    python benchmarks/drift_check.py [--model builtin] [--invocations 10] [--b-args "--threads 1"]

Judged as groups too (``compare`` of several invocations per side): A/A on A's and B's odd vs even
invocations, A/B on each half of the invocations (use >= 10 for halves of 5).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import geomean, inferperf_bench, reexec_on_snapshot

REAL_CHANGE = 0.20
_METRICS = ("throughput_fps", "latency_median_ms", "latency_p90_ms", "latency_p99_ms")


def _figure(run: dict[str, Any], metric: str) -> float:
    if metric == "throughput_fps":
        return float(run["throughput_fps"]["value"])
    return float(run["latency_ms"][metric.removeprefix("latency_").removesuffix("_ms")]["value"])


def _true_ratios(a_docs: list[dict[str, Any]], b_docs: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(scenario, metric) -> B/A from the geometric means over every invocation of each side."""
    out = {}
    for run in a_docs[0]["runs"]:
        for metric in _METRICS:
            key = (run["scenario"], metric)
            pick = [
                [_figure(r, metric) for d in docs for r in d["runs"] if r["scenario"] == run["scenario"]]
                for docs in (a_docs, b_docs)
            ]
            out[key] = geomean(pick[1]) / geomean(pick[0])
    return out


def _compare(a: Path, b: Path, history: Path) -> list[dict[str, Any]]:
    from inferperf import api

    rows: list[dict[str, Any]] = api.compare(a, b, history=history)["rows"]
    return rows


def _aa(files: list[Path], history: Path) -> tuple[int, int]:
    alarms = rows = 0
    print("\nA/A (separate invocations of one configuration):")
    for a, b in zip(files[0::2], files[1::2], strict=False):
        for r in _compare(a, b, history):
            rows += 1
            alarm = r["verdict"] in ("faster", "slower")
            alarms += alarm
            print(
                f"  {a.stem}-{b.stem} {r['scenario']:10s} {r['metric']:18s} ratio {r['ratio']:.3f} "
                f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] covers {r['covers']:11s} {r['verdict']}"
                + ("  <- FALSE ALARM" if alarm else "")
            )
    return alarms, rows


def _ab(pairs: list[tuple[Path, Path]], truth: dict[tuple[str, str], float], history: Path) -> tuple[int, int, int]:
    detected = needed = rows = 0
    print("\nA/B (the pair of each round; true change from all invocations):")
    for a, b in pairs:
        for r in _compare(a, b, history):
            rows += 1
            ratio = truth[(r["scenario"], r["metric"])]
            higher_better = r["metric"] == "throughput_fps"
            if abs(math.log(ratio)) < math.log(1 + REAL_CHANGE):
                mark = ""
            else:
                needed += 1
                want = "faster" if (ratio > 1) == higher_better else "slower"
                hit = r["verdict"] == want
                detected += hit
                mark = "  detected" if hit else f"  MISSED (wanted {want})"
            print(
                f"  {a.stem}-{b.stem} {r['scenario']:10s} {r['metric']:18s} true {ratio:.3f} measured "
                f"{r['ratio']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] {r['verdict']}{mark}"
            )
    return detected, needed, rows


def _groups(files: dict[str, list[Path]], truth: dict[tuple[str, str], float]) -> tuple[int, int, int, int]:
    """The same invocations judged as groups (``compare 'A*.json' 'B*.json'``), the interval being the
    invocations' own spread (Welch). A/A: A's odd against its even invocations, and B's (B/B is an A/A
    too: 16 rows from one run). A/B: the first half of A against the first half of B, then the second
    halves: two independent detections per row."""
    from inferperf import api

    alarms = aa_rows = detected = needed = 0
    print("\nGroups (several invocations per side; Welch over the invocations):")
    for side in ("A", "B"):
        for r in api.compare_groups(files[side][0::2], files[side][1::2])["rows"]:
            aa_rows += 1
            alarm = r["verdict"] in ("faster", "slower")
            alarms += alarm
            print(f"  {side}/{side} {r['scenario']:10s} {r['metric']:18s} ratio {r['ratio']:.3f} "
                  f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] {r['verdict']}"
                  + ("  <- FALSE ALARM" if alarm else ""))  # fmt: skip
    half = len(files["A"]) // 2
    for part, (lo, hi) in (("1st half", (0, half)), ("2nd half", (half, 2 * half))):
        for r in api.compare_groups(files["A"][lo:hi], files["B"][lo:hi])["rows"]:
            ratio = truth[(r["scenario"], r["metric"])]
            mark = ""
            if abs(math.log(ratio)) >= math.log(1 + REAL_CHANGE):
                needed += 1
                want = "faster" if (ratio > 1) == (r["metric"] == "throughput_fps") else "slower"
                detected += r["verdict"] == want
                mark = "  detected" if r["verdict"] == want else f"  MISSED (wanted {want})"
            print(f"  A/B {part} {r['scenario']:10s} {r['metric']:18s} true {ratio:.3f} measured {r['ratio']:.3f} "
                  f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] {r['verdict']}{mark}")  # fmt: skip
    return alarms, aa_rows, detected, needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--invocations", type=int, default=5, help="of each configuration (>= 4)")
    parser.add_argument("--a-args", default="--threads 2")
    parser.add_argument("--b-args", default="--threads 1")
    parser.add_argument("--reuse", type=Path, help="judge the A*.json/B*.json and history of an earlier run")
    args = parser.parse_args()
    reexec_on_snapshot()
    tmp = args.reuse or Path(tempfile.mkdtemp(prefix="inferperf-drift-"))
    history = tmp / "history.sqlite"
    os.environ["INFERPERF_HISTORY"] = str(history)  # the invocations record themselves here, as by default
    docs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    files: dict[str, list[Path]] = defaultdict(list)
    if args.reuse:
        for side in ("A", "B"):
            files[side] = sorted(tmp.glob(f"{side}*.json"), key=lambda p: int(p.stem[1:]))
            docs[side] = [json.loads(p.read_text()) for p in files[side]]
        args.invocations = len(files["A"])
    for i in range(0 if args.reuse else args.invocations):
        for side, extra in (("A", args.a_args), ("B", args.b_args)):
            doc = inferperf_bench(args.model, shlex.split(extra))
            path = tmp / f"{side}{i + 1}.json"
            path.write_text(json.dumps(doc))
            docs[side].append(doc)
            files[side].append(path)
            figures = ", ".join(f"{r['scenario']} {_figure(r, 'latency_median_ms'):.3f} ms" for r in doc["runs"])
            print(f"{side}{i + 1}: {figures}", flush=True)
    alarms, aa_rows = _aa(files["A"][: 2 * (args.invocations // 2)], history)
    truth = _true_ratios(docs["A"], docs["B"])
    detected, needed, ab_rows = _ab(list(zip(files["A"], files["B"], strict=True)), truth, history)
    g_alarms, g_rows, g_detected, g_needed = _groups(files, truth)
    print(f"\nA/A false alarms: {alarms} of {aa_rows} rows (goal: at most {aa_rows / 16:g}, 1 in 16)")
    print(f"A/B detected: {detected} of {needed} rows whose true change is >= {REAL_CHANGE:.0%} ({ab_rows} rows)")
    print(f"groups: A/A false alarms {g_alarms} of {g_rows} rows; A/B detected {g_detected} of {g_needed} rows")
    print(f"files and history: {tmp}")


if __name__ == "__main__":
    main()
