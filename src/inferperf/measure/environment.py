"""The machine a result was measured on, and how busy it was meanwhile."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from typing import TypedDict

import psutil

# /proc/cpuinfo flag -> the feature name people search for.
_FEATURES = {
    "sse4_2": "SSE4.2",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "avx512_fp16": "AVX-512 FP16",
    "amx_tile": "AMX",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
    "amx_fp16": "AMX-FP16",
}
_PACKAGES = ("inferperf", "numpy", "scipy", "onnx", "onnxruntime", "openvino", "torch", "psutil")


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass  # not Linux: keep platform's description, no feature list
    return model, [name for flag, name in _FEATURES.items() if flag in flags]


def package_versions() -> dict[str, str]:
    """Installed versions of Python and the packages results depend on."""
    return _versions()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


class Cpu(TypedDict):
    """The processor: model, cores, the instruction-set features that decide kernels, clock."""

    model: str
    cores: int | None
    logical_cpus: int | None
    usable_cpus: int | None
    features: list[str]
    max_mhz: float | None


class Environment(TypedDict):
    """Where a result was measured: the ``environment`` section of every document."""

    cpu: Cpu
    memory_gb: float
    os: str
    hostname: str
    python: str
    versions: dict[str, str]


class Load(TypedDict):
    """How busy the machine was during a span: loads before and after, busy cores (ours and others')."""

    loadavg_before: list[float]
    loadavg_after: list[float] | None
    busy_cores: float
    own_cores: float
    other_cores: float
    steal_cores: float


def collect_environment() -> Environment:
    """CPU model, cores, features, memory, OS, Python and library versions."""
    model, features = _cpuinfo()
    freq = psutil.cpu_freq()
    return {
        "cpu": {
            "model": model,
            "cores": psutil.cpu_count(logical=False),
            "logical_cpus": psutil.cpu_count(logical=True),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "features": features,
            "max_mhz": freq.max if freq else None,
        },
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 2),
        "os": f"{platform.system()} {platform.release()}",
        "hostname": platform.node(),
        "python": sys.version.split()[0],
        "versions": _versions(),
    }


class LoadMonitor:
    """How busy the machine was during a span, and how much of that was someone else.

    Another process eating a core during a benchmark is the commonest cause of a
    bad number; recording it lets a reader discard the run.
    """

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._cpus = psutil.cpu_count() or 1
        self._load_before = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        self._sys = psutil.cpu_times()
        self._own = self._proc.cpu_times()
        self._wall = time.monotonic()

    def stop(self) -> Load:
        """Loads before/after and the average number of busy cores, ours and others'."""
        wall = max(time.monotonic() - self._wall, 1e-9)
        sys_now, own_now = psutil.cpu_times(), self._proc.cpu_times()
        idle = (sys_now.idle + getattr(sys_now, "iowait", 0.0)) - (self._sys.idle + getattr(self._sys, "iowait", 0.0))
        busy_cores = max(0.0, self._cpus - idle / wall)
        steal = getattr(sys_now, "steal", 0.0) - getattr(self._sys, "steal", 0.0)
        own_cores = ((own_now.user + own_now.system) - (self._own.user + self._own.system)) / wall
        return {
            "loadavg_before": list(self._load_before),
            "loadavg_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "busy_cores": round(busy_cores, 3),
            "own_cores": round(own_cores, 3),
            "other_cores": round(max(0.0, busy_cores - own_cores), 3),
            "steal_cores": round(steal / wall, 3),
        }
