"""``inferperf doctor``: what is installed, what the CPU can do, and whether the machine is quiet."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
import psutil

from inferperf.backends import backend_names, get_backend
from inferperf.backends.precision import every_device
from inferperf.errors import BackendError, BackendUnavailableError, ConfigError
from inferperf.measure.environment import collect_environment
from inferperf.measure.peak import backend_matmul_probe, memory_copy_gb_per_s, numpy_matmul_gflops
from inferperf.results.documents import DoctorDocument

_EXTRAS = {"torch": "torch", "transformers": "transformers (zoo exports)", "PIL": "Pillow (image data)"}


class Installed(TypedDict):
    """A runtime or an extra: its versions when installed, else how to install it."""

    installed: bool
    versions: NotRequired[dict[str, str]]
    how: NotRequired[str | None]


def _installed() -> dict[str, Installed]:
    out: dict[str, Installed] = {}
    for name in backend_names():
        try:
            backend = get_backend(name)
            out[name] = {"installed": True, "versions": backend.versions()}
        except BackendUnavailableError as exc:
            out[name] = {"installed": False, "how": exc.hint}
    for module, label in _EXTRAS.items():
        dist = {"PIL": "pillow"}.get(module, module)
        try:
            out[label] = {"installed": True, "versions": {dist: metadata.version(dist)}}
        except metadata.PackageNotFoundError:
            out[label] = {
                "installed": False,
                "how": "pip install 'inferperf[torch]'" if module != "PIL" else "pip install pillow",
            }
    return out


def _governor() -> str | None:
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        return None


def _busy_processes(window_s: float = 0.5) -> list[dict[str, Any]]:
    procs = list(psutil.process_iter(["pid", "name"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            continue
    time.sleep(window_s)
    busy = []
    me = os.getpid()
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 10 and p.pid != me:
            busy.append({"pid": p.pid, "name": p.info["name"], "cpu_percent": round(pct, 1)})
    return sorted(busy, key=lambda d: -d["cpu_percent"])


def _noise(repeats: int = 7, n: int = 768) -> dict[str, float]:
    # The same fixed piece of work, timed repeatedly: its spread is the machine's noise floor.
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ a
        times.append(time.perf_counter() - t0)
    arr = np.asarray(times[1:])
    return {
        "cv_percent": float(arr.std(ddof=1) / arr.mean() * 100),
        "min_ms": float(arr.min() * 1e3),
        "max_ms": float(arr.max() * 1e3),
    }


def _warnings(env: Mapping[str, Any], load: Mapping[str, Any]) -> list[dict[str, str]]:
    notes: list[dict[str, str]] = []
    cores = env["cpu"]["logical_cpus"] or 1
    if load["loadavg_1m"] > 0.5:
        notes.append(
            {
                "sign": f"load average {load['loadavg_1m']:.2f} before measuring",
                "advice": "wait for other jobs to finish; results taken now will be slower and noisier",
            }
        )
    if load["busy_processes"]:
        names = ", ".join(f"{p['name']} ({p['cpu_percent']}%)" for p in load["busy_processes"][:3])
        notes.append(
            {"sign": f"other busy processes: {names}", "advice": "stop them, or compare only interleaved runs"}
        )
    if load["governor"] not in (None, "performance"):
        notes.append(
            {
                "sign": f"CPU frequency governor is {load['governor']!r}",
                "advice": "set 'performance' (cpupower frequency-set -g performance) for stable clocks",
            }
        )
    if load["noise"]["cv_percent"] > 3:
        notes.append(
            {
                "sign": f"a fixed matmul varies by {load['noise']['cv_percent']:.1f}% (CV) run to run",
                "advice": "noisy machine (shared host, frequency changes): use longer runs and inferperf "
                "compare's interleaving; trust intervals, not single numbers",
            }
        )
    if load["steal_percent"] > 2:
        notes.append(
            {
                "sign": f"hypervisor steal {load['steal_percent']:.1f}% of CPU time",
                "advice": "a neighbour VM shares these cores; prefer dedicated hosts for final numbers",
            }
        )
    if cores <= 2:
        notes.append(
            {
                "sign": f"only {cores} logical CPUs",
                "advice": "the harness and the OS share the cores the model runs on; small effects will hide "
                "in the noise",
            }
        )
    return notes


class MachineLoad(TypedDict):
    """How busy the machine is at the start: load, the busiest other processes, steal, frequency, noise."""

    loadavg_1m: float
    busy_processes: list[dict[str, Any]]
    steal_percent: float
    governor: str | None
    frequency_mhz: dict[str, float] | None
    noise: dict[str, float]


def _load() -> MachineLoad:
    t0 = psutil.cpu_times()
    busy = _busy_processes()
    t1 = psutil.cpu_times()
    total = sum(t1) - sum(t0)
    freq = psutil.cpu_freq()
    return {
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0,
        "busy_processes": busy,
        "steal_percent": 100 * (getattr(t1, "steal", 0.0) - getattr(t0, "steal", 0.0)) / total if total else 0.0,
        "governor": _governor(),
        "frequency_mhz": {"current": freq.current, "max": freq.max} if freq else None,
        "noise": _noise(),
    }


def _peaks(seconds: float) -> dict[str, Any]:
    peaks: dict[str, Any] = {"numpy_fp32_gflops": numpy_matmul_gflops(seconds=seconds)}
    for name in backend_names():
        try:
            backend = get_backend(name)
        except BackendUnavailableError:
            continue
        if not backend.supports_format("onnx"):  # the peak runs a one-MatMul ONNX model
            continue
        _probe(peaks, backend, "fp32_gflops", seconds, int8=False, precision="f32")
        _probe(peaks, backend, "int8_gops", seconds, int8=True, precision=None)
        _probe(peaks, backend, "bf16_gflops", seconds, int8=False, precision="bf16")  # labelled by what ran
    fp32 = [v for k, v in peaks.items() if k.endswith("fp32_gflops") and isinstance(v, float)]
    bf16 = [v for k, v in peaks.items() if k.endswith("bf16_gflops") and isinstance(v, float)]
    peaks["fp32_peak_gflops"] = max(fp32) if fp32 else None
    peaks["bf16_peak_gflops"] = max(bf16) if bf16 else None
    return peaks


def _probe(peaks: dict[str, Any], backend: Any, label: str, seconds: float, int8: bool, precision: str | None) -> None:
    """One labelled matmul probe; a probe that ran another precision than its label is not recorded as it."""
    key = f"{backend.name}_{label}"
    try:
        value, executed = backend_matmul_probe(backend, seconds=seconds, int8=int8, precision=precision)
    except ConfigError:
        return  # the runtime has no such precision hint (ONNX Runtime and bf16): nothing to probe
    except BackendError as exc:
        peaks[key] = None
        peaks.setdefault("errors", []).append(f"{backend.name} {label}: {exc.one_line()}")
        return
    if precision is not None and executed is not None and executed != precision:
        peaks[key] = None
        peaks.setdefault("notes", []).append(
            f"{backend.name} {label}: asked {precision}, the runtime ran {executed} (this CPU has no native "
            f"{precision}); not recorded as a {precision} peak"
        )
        return
    peaks[key] = value
    if executed is not None:
        peaks.setdefault("executed_precision", {})[key] = executed


def doctor(measure_peak: bool = True, seconds: float = 2.0) -> DoctorDocument:
    """Installed runtimes and extras, CPU facts, measured peaks, and signs of a noisy machine."""
    env = collect_environment()
    load = _load()
    doc: dict[str, Any] = {
        "schema": "inferperf.result/1",
        "kind": "doctor",
        "environment": env,
        "installed": _installed(),
        "load": load,
        "warnings": _warnings(env, load),
        # Per device: the float precision it runs by default and the KV caches it takes beside it.
        "precisions": [d.to_dict() for d in every_device()],
    }
    if measure_peak:
        doc["peak"] = _peaks(seconds)
        doc["memory"] = {
            "copy_gb_per_s": memory_copy_gb_per_s(),
            "method": "numpy copy of 512 MiB, one thread, bytes read + written, best of 5",
        }
    return DoctorDocument.from_dict(doc)
