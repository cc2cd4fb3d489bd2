"""Model loading and inspection: format detection, input/output specs, hashes, shapes."""

from inferperf.model.info import ModelInfo, TensorSpec, load_model_info, resolve_model_path
from inferperf.model.shapes import fed_batch, parse_shape_spec, reconcile_batch, resolve_shapes

__all__ = [
    "ModelInfo",
    "TensorSpec",
    "fed_batch",
    "load_model_info",
    "parse_shape_spec",
    "reconcile_batch",
    "resolve_model_path",
    "resolve_shapes",
]
