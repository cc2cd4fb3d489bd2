"""The machine's measured matmul peak, through numpy and through each backend.

The backend figures use the normal engine path on a one-node ONNX model
(X[n,n] @ W[n,n]), so no runtime is imported here. The INT8 variant wraps
the MatMul in QuantizeLinear/DequantizeLinear (uint8 activations, int8
weights), which both runtimes execute as an integer matmul where the CPU has
VNNI/AMX.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from inferperf.backends.base import Backend
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.measure.runner import run_scenario
from inferperf.model.info import load_model_info


def numpy_matmul_gflops(n: int = 2048, seconds: float = 1.0) -> float:
    """FP32 GFLOP/s of numpy's BLAS on an n x n matmul (best of repeated runs)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    a @ b  # first call pays for thread start-up
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def memory_copy_gb_per_s(megabytes: int = 512, repeats: int = 5) -> float:
    """Best of ``repeats`` copies of a ``megabytes`` array (numpy, one thread), counting bytes read and written.

    Arrays far larger than any cache, so main memory is what is timed. A reference for how fast this machine
    moves memory, the ceiling of bandwidth-bound work such as an LLM's decode (which reads every weight once
    per token); several threads may go somewhat past a one-thread copy.
    """
    src = np.ones(megabytes * (1 << 20) // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = max(best, 2 * src.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def matmul_onnx(path: Path, n: int, int8: bool) -> Path:
    """Write the one-MatMul model (QDQ-wrapped when ``int8``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, n)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    nodes = []
    a, b = "x", "w"
    if int8:
        q = [
            numpy_helper.from_array(np.array(0.05, np.float32), "sx"),
            numpy_helper.from_array(np.array(128, np.uint8), "zx"),
            numpy_helper.from_array(np.array(0.05, np.float32), "sw"),
            numpy_helper.from_array(np.array(0, np.int8), "zw"),
        ]
        inits += q
        nodes += [
            helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
            helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
            helper.make_node("QuantizeLinear", ["w", "sw", "zw"], ["wq"]),
            helper.make_node("DequantizeLinear", ["wq", "sw", "zw"], ["wd"]),
        ]
        a, b = "xd", "wd"
    nodes.append(helper.make_node("MatMul", [a, b], ["y"]))
    graph = helper.make_graph(
        nodes,
        "matmul_peak",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def backend_matmul_probe(
    backend: Backend, n: int = 1024, seconds: float = 2.0, int8: bool = False, precision: str | None = "f32"
) -> tuple[float, str | None]:
    """GFLOP/s (GOP/s for INT8) of an n x n matmul through ``backend``, all cores busy, and the float
    precision the runtime reports it executed.

    The float probe pins ``precision`` (f32 by default) because OpenVINO runs float models in bf16 by
    default on AMX / AVX-512 BF16 CPUs: an unpinned "FP32" probe would measure a bf16 peak there.
    """
    with tempfile.TemporaryDirectory() as tmp:
        info = load_model_info(matmul_onnx(Path(tmp) / "mm.onnx", n, int8))
        rng = np.random.default_rng(1)
        sets = [{"x": rng.standard_normal((n, n)).astype(np.float32)} for _ in range(2)]
        run = run_scenario(
            backend,
            info,
            {"x": (n, n)},
            sets,
            # dim 0 is the batch dim: each row of x is an item
            RuntimeConfig(backend=backend.name, batch=n, inference_precision=None if int8 else precision),
            "throughput",
            RunLimits(time_s=seconds, warmup_s=0.3),
        )
    executed = run.effective.get("executed_precision")
    gflops = float(run.throughput_fps["value"]) * 2 * n**2 / 1e9  # rows/s x 2n^2 FLOPs per row
    return gflops, executed if isinstance(executed, str) else None


def backend_matmul_gflops(backend: Backend, n: int = 1024, seconds: float = 2.0, int8: bool = False) -> float:
    """GFLOP/s of the f32-pinned matmul (GOP/s for INT8) through ``backend``."""
    return backend_matmul_probe(backend, n, seconds, int8)[0]


# 2: the float probe pins f32 and bf16 is probed and labelled apart; caches from the unpinned probe may
# hold a bf16 figure under the FP32 name, so they are not reused.
PEAK_PROBE_VERSION = 2


def peak_cache_path() -> Path:
    """Where doctor stores the measured peak for bench to reuse."""
    from inferperf.model.zoo import cache_dir

    return cache_dir().parent / "peak.json"


def load_cached_peak(cpu_model: str, versions: dict[str, str]) -> dict[str, Any] | None:
    """The cached peak if it was measured on this CPU with these runtime versions."""
    try:
        data = json.loads(peak_cache_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("probe") != PEAK_PROBE_VERSION:
        return None
    if data.get("cpu_model") != cpu_model or data.get("versions") != versions:
        return None
    return data if isinstance(data, dict) else None
