"""OpenVINO, ONNX Runtime and PyTorch (eager and torch.compile) on one zoo model, in one bench run.

Done when: the comparison table is produced, every backend's outputs agree with the first backend's
within tolerance, and throughput/latency ratios with intervals are reported for eager and compiled
torch. Prints the CLI's tables, then a summary of the figures from the result JSON.

    python benchmarks/torch_check.py [--model zoo:resnet50] [--mode both] [--time 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import _snapshot_env

BACKENDS = "openvino,onnxruntime,torch,torch-inductor"


def _ci(stat: dict[str, Any], digits: int = 2) -> str:
    lo, hi = stat["ci95"]
    return f"{stat['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _summary(doc: dict[str, Any]) -> list[str]:
    lines = []
    for run in doc["runs"]:
        lines.append(
            f"{run['backend']:>15} {run['scenario']:<10} throughput {_ci(run['throughput_fps'], 1)} FPS, "
            f"median {_ci(run['latency_ms']['median'])} ms, compile {run['phases_ms']['compile']:.0f} ms, "
            f"first inference {run['phases_ms']['first_inference']:.0f} ms"
        )
    for group in doc["comparison"] or []:
        for row in group["rows"]:
            lines.append(
                f"{group['scenario']:<10} {row['backend']:>15} / {group['baseline']}: throughput x"
                f"{_ci(row['throughput_ratio'])}, median latency x{_ci(row['latency_median_ratio'])}"
            )
    cross = doc["cross_check"] or {}
    for pair in cross.get("pairs", []):
        for out in pair.get("outputs", []):
            nan = float("nan")
            diff, scale, rel = (out.get(k, nan) for k in ("max_abs_diff", "max_abs_ref", "max_abs_diff_rel"))
            lines.append(
                f"outputs {pair['backend']} vs {cross['reference']}: max|d|={diff:.3g} (max|ref|={scale:.3g}, "
                f"rel {rel:.2e}), cosine={out.get('cosine', nan):.8f}, agree={out['agree']}"
            )
    for err in [*doc.get("errors", []), *cross.get("errors", [])]:
        lines.append(f"ERROR {err}")
    return lines


def _done(doc: dict[str, Any], backends: list[str]) -> list[str]:
    problems = []
    ran = {r["backend"] for r in doc["runs"]}
    problems += [f"{b} did not run" for b in backends if b not in ran]
    cross = doc.get("cross_check") or {}
    if cross.get("agree") is not True:
        problems.append(f"outputs do not agree: {json.dumps(cross.get('pairs'))[:400]}")
    rows = {row["backend"] for g in doc.get("comparison") or [] for row in g["rows"]}
    problems += [f"no ratio for {b}" for b in backends[1:] if b not in rows]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="zoo:resnet50")
    parser.add_argument("--backends", default=BACKENDS)
    parser.add_argument("--mode", default="both")
    parser.add_argument("--time", default="4")
    args = parser.parse_args()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [
            sys.executable, "-m", "inferperf", "bench", args.model, "--backends", args.backends,
            "--mode", args.mode, "--time", args.time, "--warmup", "1", "--json", str(out),
        ]  # fmt: skip
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, env=_snapshot_env())
        print(proc.stdout, flush=True)
        if not out.exists():
            print(f"FAIL: inferperf bench exited {proc.returncode} without a result")
            return 1
        doc = json.loads(out.read_text())
    print("\n".join(_summary(doc)))
    problems = _done(doc, backends)
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
