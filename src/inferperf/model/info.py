"""Read what a model file is and what it takes, without compiling it.

The format is detected from the file's content (an XML ``<net>`` root is an
OpenVINO IR; anything else must parse as an ONNX protobuf), never from the
suffix alone, so a text file named ``.xml`` gets a clear error.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from inferperf.errors import ModelError

# Re-exported: format names and TensorSpec live in model.specs (no imports of ours), so every layer can use
# them without importing this module.
from inferperf.model.specs import (
    ANY_RANK,
    ONNX,
    OPENVINO_IR,
    TORCH_EXPORT,
    TORCH_FORMATS,
    TORCH_PICKLE,
    TORCHSCRIPT,
    Dim,
    TensorRecord,
    TensorSpec,
)

__all__ = [
    "ANY_RANK",
    "BUILTIN_NAMES",
    "ONNX",
    "OPENVINO_IR",
    "TORCHSCRIPT",
    "TORCH_EXPORT",
    "TORCH_FORMATS",
    "TORCH_PICKLE",
    "Dim",
    "ModelInfo",
    "TensorSpec",
    "detect_format",
    "load_model_info",
    "resolve_model_path",
]

BUILTIN_NAMES = ("builtin",)
_DATA_DIR = Path(__file__).parent / "data"

# OpenVINO IR element types to numpy dtype names; bf16 has no numpy dtype.
_IR_TYPES = {
    "f32": "float32",
    "f16": "float16",
    "f64": "float64",
    "bf16": "bfloat16",
    "i64": "int64",
    "i32": "int32",
    "i16": "int16",
    "i8": "int8",
    "u64": "uint64",
    "u32": "uint32",
    "u16": "uint16",
    "u8": "uint8",
    "boolean": "bool",
}


class ModelRecord(TypedDict):
    """A model as every result document records it (``model``): the file, its hash, size and tensors."""

    path: str
    format: str
    sha256: str
    size_bytes: int
    files: list[str]
    inputs: list[TensorRecord]
    outputs: list[TensorRecord]
    metadata: dict[str, str]


@dataclass(frozen=True)
class ModelInfo:
    """What a model is: its files, format, hash, inputs and outputs."""

    path: Path
    format: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    files: tuple[Path, ...]
    size_bytes: int
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict)

    def input(self, name: str) -> TensorSpec:
        """The input called name; a ModelError lists the real names otherwise."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise ModelError(f"model has no input {name!r}; inputs are {', '.join(s.name for s in self.inputs)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        """Inverse of to_dict (no file access)."""
        return cls(
            path=Path(data["path"]),
            format=str(data["format"]),
            inputs=tuple(TensorSpec.from_dict(d) for d in data["inputs"]),
            outputs=tuple(TensorSpec.from_dict(d) for d in data["outputs"]),
            files=tuple(Path(f) for f in data["files"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            metadata=dict(data.get("metadata", {})),
        )

    def to_dict(self) -> ModelRecord:
        """JSON form used in result documents."""
        return {
            "path": str(self.path),
            "format": self.format,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "files": [str(f) for f in self.files],
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "metadata": self.metadata,
        }


def resolve_model_path(model: str | Path) -> Path:
    """Map ``builtin`` to the packaged model, anything else to an existing file."""
    if str(model) in BUILTIN_NAMES:
        return _DATA_DIR / "builtin.onnx"
    if str(model).startswith("zoo:"):
        from inferperf.model.zoo import export

        # zoo:NAME has a dynamic batch; zoo:NAME@N is exported with a static batch N;
        # zoo:NAME:dynamic also leaves the sequence (or other named axes) open.
        text = str(model)
        axes = text.endswith(":dynamic")
        name, _, batch = text.removesuffix(":dynamic").partition("@")
        return export(name, batch=batch or "dynamic", dynamic_axes=axes)
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"model path is a directory, not a file: {path}")
    return path


def detect_format(path: Path) -> str:
    """``openvino_ir`` for an XML file, a torch kind for torch archives, ``onnx`` otherwise (validated when parsed)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if not head:
        raise ModelError(f"model file is empty: {path}")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return OPENVINO_IR
    return _torch_format(path, head) or ONNX


def _torch_format(path: Path, head: bytes) -> str | None:
    """A torch file's kind from its zip listing (no torch needed); None for anything else."""
    import zipfile

    if head.startswith(b"\x80"):  # a bare pickle stream (torch.save's legacy format)
        return TORCH_PICKLE
    if not head.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            parts = [n.split("/", 1)[-1] for n in zf.namelist()]
    except (OSError, zipfile.BadZipFile):
        return None
    if "archive_format" in parts or any(p.startswith("models/") and p.endswith(".json") for p in parts):
        return TORCH_EXPORT
    if "constants.pkl" in parts and any(p.startswith("code/") for p in parts):
        return TORCHSCRIPT
    return TORCH_PICKLE if "data.pkl" in parts else None


def load_model_info(model: str | Path, *, with_hash: bool = True) -> ModelInfo:
    """Inspect a model file (or ``builtin``) and return its ModelInfo.

    ``with_hash=False`` skips the sha256 (empty string), for workers that time a
    cold start and must not read the weights before the runtime does.
    """
    path = resolve_model_path(model)
    fmt = detect_format(path)
    metadata: dict[str, str] = {}
    if fmt == OPENVINO_IR:
        inputs, outputs, files = _read_ir(path)
    elif fmt in TORCH_FORMATS:
        # Only the torch backend imports torch; it loads each kind the safe way (never a bare unpickle).
        from inferperf.model.torch_files import read_torch_model

        inputs, outputs, metadata = read_torch_model(path, fmt)
        files = (path,)
    else:
        inputs, outputs, files, metadata = _read_onnx(path)
    return ModelInfo(
        path=path,
        format=fmt,
        inputs=inputs,
        outputs=outputs,
        files=files,
        size_bytes=sum(f.stat().st_size for f in files),
        sha256=_sha256(files) if with_hash else "",
        metadata=metadata,
    )


def _sha256(files: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- ONNX


def _read_onnx(
    path: Path,
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], tuple[Path, ...], dict[str, str]]:
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        if path.suffix.lower() == ".xml":
            raise ModelError(f"not an OpenVINO IR: {path} is not XML (nor an ONNX model)") from None
        raise ModelError(f"not a valid ONNX model: {path} ({type(exc).__name__})") from None
    # Protobuf parses many byte strings as an empty message; a real model has a graph.
    if proto.ir_version <= 0 or (not proto.graph.node and not proto.graph.input):
        raise ModelError(f"not a valid ONNX model (no graph found): {path}")
    initializers = {t.name for t in proto.graph.initializer}
    inputs = tuple(_onnx_spec(v) for v in proto.graph.input if v.name not in initializers)
    outputs = tuple(_onnx_spec(v) for v in proto.graph.output)
    metadata = {p.key: p.value for p in proto.metadata_props}
    return inputs, outputs, (path, *_onnx_external_files(proto, path)), metadata


def _onnx_spec(value_info: Any) -> TensorSpec:
    from onnx import helper

    ttype = value_info.type.tensor_type
    try:
        dtype = helper.tensor_dtype_to_np_dtype(ttype.elem_type).name
    except (KeyError, ValueError):
        dtype = f"onnx_type_{ttype.elem_type}"
    shape: list[Dim] = []
    for d in ttype.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            shape.append(int(d.dim_value))
        else:
            shape.append(d.dim_param or "?")
    return TensorSpec(value_info.name, dtype, tuple(shape))


def _onnx_external_files(proto: Any, path: Path) -> list[Path]:
    from onnx.external_data_helper import uses_external_data

    files: list[Path] = []
    for tensor in proto.graph.initializer:
        if not uses_external_data(tensor):
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if location is None:
            continue
        f = (path.parent / location).resolve()
        if not f.is_file():
            raise ModelError(f"ONNX external data file missing: {f} (needed by tensor {tensor.name!r})")
        if f not in files:
            files.append(f)
    return files


# ---------------------------------------------------------------- OpenVINO IR


def _read_ir(path: Path) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], tuple[Path, ...]]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ModelError(f"not an OpenVINO IR: {path} is not well-formed XML ({exc})") from None
    if root.tag != "net":
        raise ModelError(f"not an OpenVINO IR: {path} has root element <{root.tag}>, expected <net>")
    layers = {layer.get("id", ""): layer for layer in root.iter("layer")}
    inputs = tuple(_ir_parameter(layer) for layer in layers.values() if layer.get("type") == "Parameter")
    outputs = tuple(_ir_result(root, layers, layer) for layer in layers.values() if layer.get("type") == "Result")
    files: list[Path] = [path]
    weights = path.with_suffix(".bin")
    if weights.is_file():
        files.append(weights)
    elif any(layer.get("type") == "Const" for layer in layers.values()):
        raise ModelError(f"OpenVINO IR weights missing: {weights} (expected beside {path.name})")
    return inputs, outputs, tuple(files)


def _ir_dims(text: str) -> tuple[Dim, ...]:
    if not text.strip():
        return ()
    dims: list[Dim] = []
    for raw in text.split(","):
        part = raw.strip()
        dims.append(int(part) if part.isdigit() else "?")
    return tuple(dims)


def _port_name(port: ET.Element | None, fallback: str) -> str:
    names = port.get("names", "") if port is not None else ""
    return names.split(",")[0].strip() or fallback


def _ir_parameter(layer: ET.Element) -> TensorSpec:
    data = layer.find("data")
    etype = data.get("element_type", "f32") if data is not None else "f32"
    shape = _ir_dims(data.get("shape", "")) if data is not None else ()
    name = _port_name(layer.find("output/port"), layer.get("name", "?"))
    return TensorSpec(name, _IR_TYPES.get(etype, etype), shape)


def _ir_result(root: ET.Element, layers: dict[str, ET.Element], layer: ET.Element) -> TensorSpec:
    port = layer.find("input/port")
    shape = _ir_dims(",".join(d.text or "?" for d in port.findall("dim"))) if port is not None else ()
    for edge in root.iter("edge"):
        if edge.get("to-layer") == layer.get("id"):
            src = layers.get(edge.get("from-layer", ""))
            if src is not None:
                src_port = next((p for p in src.findall("output/port") if p.get("id") == edge.get("from-port")), None)
                etype = src_port.get("precision", "FP32").lower() if src_port is not None else "fp32"
                dtype = {"fp32": "float32", "fp16": "float16", "i64": "int64", "i32": "int32"}.get(etype, etype)
                return TensorSpec(_port_name(src_port, src.get("name", "?")), dtype, shape)
    return TensorSpec(layer.get("name", "?"), "float32", shape)
