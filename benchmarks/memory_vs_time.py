"""Does ``inferperf memory`` report the same peak as /usr/bin/time -v?

Runs the memory worker on one model and configuration under GNU time and
compares the worker's own peak (VmHWM, with resets per phase, the maximum
kept) with time's "Maximum resident set size" for the same process. Goal:
within 5%. Also checks that the compile-phase peak is at least the size of
the model's weights.

    python benchmarks/memory_vs_time.py                      # zoo:bert_base (about 420 MiB of weights)
    python benchmarks/memory_vs_time.py --model builtin --backend onnxruntime
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

from _common import _snapshot_env

SENTINEL = "@@inferperf-result@@"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="zoo:bert_base")
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = _snapshot_env()
    prep = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from inferperf.model import load_model_info, resolve_shapes;"
            f"i = load_model_info({args.model!r}); s = resolve_shapes(i, {{}}, 1);"
            "print(json.dumps({'path': str(i.path), 'mb': i.size_bytes / 2**20, 'info': i.to_dict(),"
            " 'shapes': {k: list(v) for k, v in s.items()}}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    model = json.loads(prep.stdout)
    job = {  # exactly the job inferperf memory sends (the worker reuses the parent's model info)
        "task": "memory",
        "model": model["path"],
        "model_info": model["info"],
        "backend": args.backend,
        "config": {"backend": args.backend},
        "shapes": model["shapes"],
        "steady_s": 2.0,
        "leak_iterations": 50,
    }
    ok = True
    for i in range(args.runs):
        proc = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "-m", "inferperf.measure.worker"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        line = next(x for x in proc.stdout.splitlines() if x.startswith(SENTINEL))
        data = json.loads(line[len(SENTINEL) :])
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if proc.returncode != 0 or match is None or "error" in data:
            print(f"run {i + 1}: FAILED {data.get('error')} {proc.stderr[-300:]}")
            return 1
        gnu = int(match.group(1)) / 1024
        ratio = data["peak_mb"] / gnu
        compile_ok = (data["compile_peak_mb"] or 0) >= model["mb"]
        ok &= abs(ratio - 1) <= 0.05 and compile_ok
        print(
            f"run {i + 1}: inferperf peak {data['peak_mb']:.1f} MiB, /usr/bin/time {gnu:.1f} MiB, "
            f"ratio {ratio:.4f}; compile-phase peak {data['compile_peak_mb']:.1f} MiB vs weights "
            f"{model['mb']:.1f} MiB -> {'ok' if compile_ok else 'BELOW'}",
            flush=True,
        )
    print(f"RESULT {'within 5% and compile peak >= weights' if ok else 'OUTSIDE the goal'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
