"""inferperf: measure and improve how fast trained models run at inference time.

Public API::

    import inferperf
    result = inferperf.bench("model.onnx", backends=["openvino"], mode="both")
    print(result.runs[0].latency_ms["median"])
"""

from inferperf.api import bench, info
from inferperf.config import RunLimits, RuntimeConfig
from inferperf.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    InferperfError,
    InputSpecError,
    ModelError,
    ResultError,
)
from inferperf.results import BenchResult, RunResult, load_result, save_json

__version__ = "0.1.0"

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
    "bench",
    "info",
    "load_result",
    "save_json",
]
