"""Runtime plug-ins, found by name and imported lazily."""

from __future__ import annotations

import importlib

from inferperf.backends.base import Backend, Engine, RequestSink
from inferperf.errors import BackendUnavailableError

# name -> "module:Class"; modules import their runtime only when used.
_REGISTRY: dict[str, str] = {
    "openvino": "inferperf.backends.openvino:OpenVINOBackend",
    "onnxruntime": "inferperf.backends.onnxruntime:OnnxRuntimeBackend",
    "torch": "inferperf.backends.torch:TorchBackend",
    "torch-inductor": "inferperf.backends.torch:TorchInductorBackend",
}
_ALIASES = {"ov": "openvino", "ort": "onnxruntime", "pytorch": "torch", "torch.compile": "torch-inductor"}


# The packages whose versions change a runtime's measured peak (the doctor's cache is keyed on them).
PEAK_PACKAGES = ("openvino", "onnxruntime", "numpy")


def backend_names() -> list[str]:
    """Every registered backend name."""
    return list(_REGISTRY)


def get_backend(name: str, *, check: bool = True) -> Backend:
    """The backend called ``name``; with ``check``, fail early if its runtime is missing."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise BackendUnavailableError(f"unknown backend {name!r}: choose from {', '.join(_REGISTRY)}")
    module_name, _, cls_name = _REGISTRY[key].partition(":")
    backend: Backend = getattr(importlib.import_module(module_name), cls_name)()
    if check:
        backend.check_available()
    return backend


__all__ = ["PEAK_PACKAGES", "Backend", "Engine", "RequestSink", "backend_names", "get_backend"]
