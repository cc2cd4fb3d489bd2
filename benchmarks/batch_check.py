"""Does inferperf count the items the runtime computed? Items/s from ``inferperf bench`` vs a direct loop.

Two models: the built-in one (a free batch dim, the batch set by ``--batch``) and a conv model with
open batch *and* spatial dims, like a text recognizer, whose batch comes from an explicit ``--shape``
(``1,3,48,160`` and ``8,3,48,160``). For each backend and batch, inferperf's latency scenario and a
plain runtime loop written here (synchronous infer on one request, items = inferences x the batch dim
of the tensors fed) are measured in alternating order over several rounds; the per-round ratio
inferperf / direct is printed with its median. The goal: every median ratio within 0.95-1.05.
Also prints the refusal for ``--shape 1,... --batch 8`` (the combination that once counted 8x).

    python benchmarks/batch_check.py [--rounds 3] [--time 3] [--backends openvino,onnxruntime]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inferperf import api
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.model.info import load_model_info


def make_recognizer(path: Path) -> Path:
    """x[N,3,H,W] -> Conv 3->32 -> Relu -> Conv 32->32 -> Relu -> GlobalAveragePool (about 77 M MACs at 48x160)."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((32, 3, 3, 3)) * 0.2).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((32, 32, 3, 3)) * 0.06).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "recognizer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 32, 1, 1])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def direct_items_per_s(backend: str, model: Path, shape: tuple[int, ...], seconds: float) -> float:
    """A plain loop on the runtime itself: one request, synchronous, items counted from the fed tensor."""
    info = load_model_info(model)
    name = info.inputs[0].name
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if backend == "openvino":
        import openvino as ov

        core = ov.Core()
        m = core.read_model(str(model))
        m.reshape({name: ov.PartialShape(list(shape))})
        compiled = core.compile_model(m, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()

        def infer() -> Any:
            return request.infer({name: x})

    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])

        def infer() -> Any:
            return session.run(None, {name: x})

    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:  # warm-up, as inferperf's
        infer()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        infer()
        n += 1
    return n * shape[0] / (time.perf_counter() - t0)


def inferperf_items_per_s(
    backend: str, model: Path, shape: str | None, batch: int, seconds: float
) -> tuple[float, dict[str, Any]]:
    result = api.bench(
        model,
        backends=[backend],
        mode="latency",
        shape=shape,
        config=RuntimeConfig(batch=batch),
        limits=RunLimits(time_s=seconds, warmup_s=0.5),
    )
    run = result.runs[0]
    return float(run.throughput_fps["value"]), {"batch": run.batch, "fed": run.fed_shapes}


def refusal() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        model = make_recognizer(Path(tmp) / "rec.onnx")
        cmd = [sys.executable, "-m", "inferperf", "bench", str(model), "--shape", "1,3,48,160", "--batch", "8"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--backends", default="openvino,onnxruntime")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="batch-check-"))
    recognizer = make_recognizer(tmp / "recognizer.onnx")
    builtin = load_model_info("builtin").path
    cases = [
        ("builtin --batch 1", builtin, None, 1, (1, 3, 32, 32)),
        ("builtin --batch 8", builtin, None, 8, (8, 3, 32, 32)),
        ("recognizer --shape 1,3,48,160", recognizer, "1,3,48,160", 1, (1, 3, 48, 160)),
        ("recognizer --shape 8,3,48,160", recognizer, "8,3,48,160", 1, (8, 3, 48, 160)),
    ]
    print(f"refusal of --shape 1,3,48,160 --batch 8 -> {refusal()}")
    worst = 0.0
    for backend in args.backends.split(","):
        for label, model, shape, batch, fed in cases:
            ratios, ours, theirs = [], [], []
            for r in range(args.rounds):
                order = (0, 1) if r % 2 == 0 else (1, 0)  # alternate who goes first
                got: dict[int, float] = {}
                for who in order:
                    if who == 0:
                        got[0], meta = inferperf_items_per_s(backend, model, shape, batch, args.time)
                    else:
                        got[1] = direct_items_per_s(backend, model, fed, args.time)
                ours.append(got[0])
                theirs.append(got[1])
                ratios.append(got[0] / got[1])
            med = statistics.median(ratios)
            worst = max(worst, abs(med - 1))
            print(
                f"{backend:12s} {label:32s} fed {meta['fed']} batch {meta['batch']}: inferperf "
                f"{statistics.median(ours):9.1f} items/s, direct {statistics.median(theirs):9.1f} items/s, "
                f"ratio per round {', '.join(f'{x:.3f}' for x in ratios)} -> median {med:.3f}"
            )
    verdict = "PASS" if worst <= 0.05 else "FAIL"
    print(f"{verdict}: worst median ratio off by {worst * 100:.1f}% (goal: within 5%)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
