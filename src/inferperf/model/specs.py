"""Model file formats and tensor specs: plain data every layer shares (this module imports nothing of ours)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

Dim = int | str  # an int is static; a str names a dynamic dimension ("?" when unnamed)
ONNX = "onnx"
OPENVINO_IR = "openvino_ir"
TORCHSCRIPT = "torchscript"  # torch.jit.save archive
TORCH_EXPORT = "torch_export"  # torch.export.save archive (.pt2)
TORCH_PICKLE = "torch_pickle"  # torch.save checkpoint: never unpickled beyond weights_only
TORCH_FORMATS = (TORCHSCRIPT, TORCH_EXPORT, TORCH_PICKLE)
# A shape of exactly (ANY_RANK,) means the file does not record the rank (TorchScript): --shape gives it.
ANY_RANK = "..."


class TensorRecord(TypedDict):
    """An input or output as a result records it: name, element type, shape (a dynamic dim is its name)."""

    name: str
    dtype: str
    shape: list[Dim]
    dynamic: bool


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, numpy element type name, and shape."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    @property
    def dynamic_dims(self) -> list[int]:
        """Indices of the dimensions that are not fixed."""
        return [i for i, d in enumerate(self.shape) if not isinstance(d, int)]

    def shape_text(self) -> str:
        """Shape as text with dynamic dimensions marked, e.g. ``[batch?,3,224,224]``."""
        return "[" + ",".join(str(d) if isinstance(d, int) else f"{d}?" for d in self.shape) + "]"

    def to_dict(self) -> TensorRecord:
        """JSON form; dynamic dimensions stay strings."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "dynamic": bool(self.dynamic_dims)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        """Inverse of to_dict."""
        return cls(str(data["name"]), str(data["dtype"]), tuple(data["shape"]))
