"""inferperf: measure and improve how fast trained models run at inference time.

Public API::

    import inferperf
    result = inferperf.bench("model.onnx", backends=["openvino"], mode="both")
    print(result.runs[0].latency_ms["median"])

Attributes load lazily (PEP 562), so ``import inferperf`` costs almost
nothing; this matters for worker processes that time a cold start.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "accuracy": "inferperf.api",
    "bench": "inferperf.api",
    "coldstart": "inferperf.api",
    "doctor": "inferperf.api",
    "e2e": "inferperf.api",
    "flops": "inferperf.api",
    "info": "inferperf.api",
    "memory": "inferperf.api",
    "zoo_export": "inferperf.api",
    "zoo_list": "inferperf.api",
    "RunLimits": "inferperf.config",
    "RuntimeConfig": "inferperf.config",
    "BackendError": "inferperf.errors",
    "BackendUnavailableError": "inferperf.errors",
    "ConfigError": "inferperf.errors",
    "InferperfError": "inferperf.errors",
    "InputSpecError": "inferperf.errors",
    "ModelError": "inferperf.errors",
    "ResultError": "inferperf.errors",
    "BenchResult": "inferperf.results",
    "RunResult": "inferperf.results",
    "load_result": "inferperf.results",
    "save_json": "inferperf.results",
}

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "BenchResult",
    "ConfigError",
    "InferperfError",
    "InputSpecError",
    "ModelError",
    "ResultError",
    "RunLimits",
    "RunResult",
    "RuntimeConfig",
    "__version__",
    "accuracy",
    "bench",
    "coldstart",
    "doctor",
    "e2e",
    "flops",
    "info",
    "load_result",
    "memory",
    "save_json",
    "zoo_export",
    "zoo_list",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inferperf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
