"""Export every zoo entry and run it through ``inferperf bench`` on both backends.

Prints the export time, the MAC count, and a short latency/throughput
measurement per backend, so a broken export or an unrunnable graph shows up.

    python benchmarks/zoo_check.py [--names resnet50,bert_base] [--time 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import _snapshot_env, inferperf_bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", default=None)
    parser.add_argument("--time", default="5")
    args = parser.parse_args()
    env = _snapshot_env()
    listing = subprocess.run(
        [sys.executable, "-c", "from inferperf.model import zoo; print(','.join(zoo.ENTRIES))"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    names = (args.names or listing.stdout.strip()).split(",")
    failures = 0
    for name in names:
        t0 = time.perf_counter()
        exp = subprocess.run(
            [sys.executable, "-m", "inferperf", "zoo", "export", name],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        export_s = time.perf_counter() - t0
        if exp.returncode != 0:
            print(f"{name}: EXPORT FAILED ({exp.returncode}) {exp.stderr.strip()[-300:]}", flush=True)
            failures += 1
            continue
        with tempfile.TemporaryDirectory() as tmp:
            info_json = Path(tmp) / "info.json"
            subprocess.run(
                [sys.executable, "-m", "inferperf", "info", f"zoo:{name}", "--json", str(info_json)],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            try:
                compute = json.loads(info_json.read_text())["compute"]
                gmacs = f"{compute['gmacs']:.2f}" if compute.get("available") else "n/a"
            except (OSError, ValueError, KeyError):
                gmacs = "?"
        line = f"{name}: export {export_s:.1f} s (cached if fast), {gmacs} GMACs"
        for backend in ("openvino", "onnxruntime"):
            try:
                doc = inferperf_bench(f"zoo:{name}", ["--backend", backend, "--mode", "latency", "--time", args.time])
                run = doc["runs"][0]
                line += (
                    f" | {backend} median {run['latency_ms']['median']['value']:.1f} ms, "
                    f"{run['throughput_fps']['value']:.1f} FPS"
                )
            except RuntimeError as exc:
                line += f" | {backend} FAILED: {str(exc)[-200:]}"
                failures += 1
        print(line, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
