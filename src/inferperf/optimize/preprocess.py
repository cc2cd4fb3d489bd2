"""Pre-processing fused into the model graph: the model takes raw decoded images (u8, NHWC, any size).

Two routes, chosen by what the backend can load (never by its name):

* OpenVINO IR: OpenVINO's PrePostProcessor (u8 NHWC tensor with dynamic height and
  width, colour conversion, resize, mean/scale, layout change), saved as IR.
* ONNX: the equivalent ops prepended to the ONNX graph with ``onnx.helper``
  (Cast, Gather for the channel order, Transpose, Resize, Sub, Div).

The resize follows the host decoder's, so the two paths compute the same thing:
Pillow's BILINEAR widens its filter when it shrinks an image (an antialiasing
filter), which OpenVINO matches with RESIZE_BILINEAR_PILLOW and ONNX with
Resize-18 ``antialias=1``; OpenCV's INTER_LINEAR does not, which plain
linear/half-pixel resizes match. The host path rounds the resized image to u8,
the fused one keeps it in f32: that is the remaining difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.backends.base import Backend
from inferperf.errors import BackendError, ConfigError, runtime_cause
from inferperf.inputs.dataset import PreprocessRecord, PreprocessSpec
from inferperf.model.info import ONNX, OPENVINO_IR, ModelInfo

RESIZES = ("pillow", "linear")  # Pillow's antialiased bilinear, or plain (OpenCV-like) bilinear
RAW_SUFFIX = "_raw_u8"
_ANTIALIAS_OPSET = 18


class PlanRecord(TypedDict):
    """What a fused graph does, as its result (and the fused model's metadata) records it."""

    preprocess: PreprocessRecord
    size: list[int]
    source_color: str
    resize: str


class Fusion(PlanRecord):
    """A fused model written: how it was fused, its format and resize op, where it is, and its plan."""

    method: str
    format: str
    resize_op: str
    path: str


@dataclass(frozen=True)
class FusionPlan:
    """What the fused graph does: raw images in ``source_color`` order become the model's input."""

    spec: PreprocessSpec
    size: tuple[int, int]  # model input (height, width)
    source_color: str  # channel order the decoder hands over: RGB (Pillow) or BGR (OpenCV)
    resize: str  # one of RESIZES

    def __post_init__(self) -> None:
        if self.resize not in RESIZES:
            raise ConfigError(f"invalid resize {self.resize!r}: {', '.join(RESIZES)}")
        if self.spec.color == "GRAY" or self.source_color not in ("RGB", "BGR"):
            raise ConfigError("fused pre-processing supports RGB and BGR models and decoders only")

    def to_dict(self) -> PlanRecord:
        """JSON form."""
        return {
            "preprocess": self.spec.to_dict(),
            "size": list(self.size),
            "source_color": self.source_color,
            "resize": self.resize,
        }


def fused_format(plugin: Backend) -> str:
    """The model format the fused model is written in for this backend (IR where it loads IR)."""
    if plugin.supports_format(OPENVINO_IR):
        return OPENVINO_IR
    if plugin.supports_format(ONNX):
        return ONNX
    raise ConfigError(f"backend {plugin.name} loads neither OpenVINO IR nor ONNX: cannot fuse pre-processing")


def fused_suffix(fmt: str) -> str:
    """File suffix of a fused model of format ``fmt``."""
    return ".xml" if fmt == OPENVINO_IR else ".onnx"


def fuse(plugin: Backend, info: ModelInfo, plan: FusionPlan, out: Path) -> Fusion:
    """Write ``info``'s model with ``plan`` built in to ``out``; returns how it was done."""
    if len(info.inputs) != 1:
        raise ConfigError("fused pre-processing needs a single-input image model")
    fmt = fused_format(plugin)
    if out.suffix.lower() != fused_suffix(fmt):
        raise ConfigError(f"--save-fused {out}: backend {plugin.name} writes a {fused_suffix(fmt)} model")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == OPENVINO_IR:
        _fuse_openvino(info, plan, out)
        method = "OpenVINO PrePostProcessor"
        resize = "RESIZE_BILINEAR_PILLOW" if plan.resize == "pillow" else "RESIZE_LINEAR"
    else:
        _fuse_onnx(info, plan, out)
        method = "ONNX graph ops (Cast, Gather, Transpose, Resize, Sub, Div)"
        resize = "Resize-18 linear half_pixel antialias=1" if plan.resize == "pillow" else "Resize linear half_pixel"
    return {"method": method, "format": fmt, "resize_op": resize, "path": str(out), **plan.to_dict()}


# ---------------------------------------------------------------- OpenVINO


def _fuse_openvino(info: ModelInfo, plan: FusionPlan, out: Path) -> None:
    import openvino as ov
    from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm

    try:
        model = ov.Core().read_model(str(info.path))
        channels = 3
        dims = [1, channels, *plan.size] if plan.spec.layout == "NCHW" else [1, *plan.size, channels]
        model.reshape({model.input(0): ov.PartialShape(dims)})  # batch 1, the model's own image size
        ppp = PrePostProcessor(model)
        tensor = ppp.input().tensor()
        tensor.set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_spatial_dynamic_shape()
        tensor.set_color_format(getattr(ColorFormat, plan.source_color))
        steps = ppp.input().preprocess()
        steps.convert_element_type(ov.Type.f32)
        if plan.source_color != plan.spec.color:
            steps.convert_color(getattr(ColorFormat, plan.spec.color))
        alg = ResizeAlgorithm.RESIZE_BILINEAR_PILLOW if plan.resize == "pillow" else ResizeAlgorithm.RESIZE_LINEAR
        steps.resize(alg)
        steps.mean(list(plan.spec.mean)).scale(list(plan.spec.scale))
        ppp.input().model().set_layout(ov.Layout(plan.spec.layout))
        fused = ppp.build()
        # save_model compresses weights to f16 by default, which would change the outputs.
        ov.save_model(fused, str(out), compress_to_fp16=False)
    except RuntimeError as exc:
        raise BackendError(f"OpenVINO cannot fuse pre-processing into {info.path.name}: {runtime_cause(exc)}") from exc


# ---------------------------------------------------------------- ONNX


def _fuse_onnx(info: ModelInfo, plan: FusionPlan, out: Path) -> None:
    import onnx

    model = onnx.load(str(info.path))
    graph_input = next(i for i in model.graph.input if i.name == info.inputs[0].name)
    if graph_input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ConfigError("fused pre-processing into ONNX needs a float32 model input")
    if plan.resize == "pillow":
        model = _at_least_opset(model, _ANTIALIAS_OPSET)
    nodes, inits, raw = _preprocess_nodes(info.inputs[0].name, plan)
    graph = model.graph
    ordered = [*nodes, *graph.node]  # the pre-processing runs first: keep the list topologically sorted
    del graph.node[:]
    graph.node.extend(ordered)
    graph.initializer.extend(inits)
    kept = [i for i in graph.input if i.name != info.inputs[0].name]
    del graph.input[:]
    graph.input.extend([raw, *kept])
    _set_metadata(model, plan)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise BackendError(f"the fused ONNX graph is invalid: {runtime_cause(exc)}") from exc
    onnx.save(model, str(out))


def _at_least_opset(model: Any, opset: int) -> Any:
    from onnx import version_converter

    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if current >= opset:
        return model
    try:
        # The converter rewrites ops whose signature changed (ReduceMean's axes, ...), so the
        # original graph keeps its meaning under the newer opset Resize's antialias needs.
        return version_converter.convert_version(model, opset)
    except Exception as exc:  # the converter raises several types; all mean "cannot convert"
        raise BackendError(
            f"cannot raise the model to opset {opset} for an antialiased Resize: {runtime_cause(exc)}"
        ) from exc


def _preprocess_nodes(target: str, plan: FusionPlan) -> tuple[list[Any], list[Any], Any]:
    """Nodes from the raw u8 NHWC input to the float tensor named ``target``."""
    from onnx import TensorProto, helper, numpy_helper

    raw_name = f"{target}{RAW_SUFFIX}"
    h, w = plan.size
    inits = [
        numpy_helper.from_array(np.array([1, 3, h, w], np.int64), f"{raw_name}_sizes"),
        numpy_helper.from_array(np.array(plan.spec.mean, np.float32).reshape(1, 3, 1, 1), f"{raw_name}_mean"),
        numpy_helper.from_array(np.array(plan.spec.scale, np.float32).reshape(1, 3, 1, 1), f"{raw_name}_scale"),
    ]
    x = f"{raw_name}_f32"
    nodes = [helper.make_node("Cast", [raw_name], [x], to=TensorProto.FLOAT)]
    if plan.source_color != plan.spec.color:  # RGB <-> BGR: reverse the channel axis
        inits.append(numpy_helper.from_array(np.array([2, 1, 0], np.int64), f"{raw_name}_flip"))
        nodes.append(helper.make_node("Gather", [x, f"{raw_name}_flip"], [f"{raw_name}_color"], axis=3))
        x = f"{raw_name}_color"
    nodes.append(helper.make_node("Transpose", [x], [f"{raw_name}_nchw"], perm=[0, 3, 1, 2]))
    resize_attrs: dict[str, Any] = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    if plan.resize == "pillow":
        resize_attrs["antialias"] = 1
    nodes += [
        helper.make_node(
            "Resize", [f"{raw_name}_nchw", "", "", f"{raw_name}_sizes"], [f"{raw_name}_rs"], **resize_attrs
        ),
        helper.make_node("Sub", [f"{raw_name}_rs", f"{raw_name}_mean"], [f"{raw_name}_centered"]),
    ]
    if plan.spec.layout == "NCHW":
        nodes.append(helper.make_node("Div", [f"{raw_name}_centered", f"{raw_name}_scale"], [target]))
    else:
        nodes.append(helper.make_node("Div", [f"{raw_name}_centered", f"{raw_name}_scale"], [f"{raw_name}_norm"]))
        nodes.append(helper.make_node("Transpose", [f"{raw_name}_norm"], [target], perm=[0, 2, 3, 1]))
    raw = helper.make_tensor_value_info(raw_name, TensorProto.UINT8, [1, "height", "width", 3])
    return nodes, inits, raw


def _set_metadata(model: Any, plan: FusionPlan) -> None:
    # The fused model takes raw images: its old pre-processing spec would make loaders apply it twice.
    kept = {p.key: p.value for p in model.metadata_props if p.key != "inferperf.preprocess"}
    kept["inferperf.fused_preprocess"] = json.dumps(plan.to_dict())
    del model.metadata_props[:]
    for key, value in kept.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def fuse_model(plugin: Backend, info: ModelInfo, plan: FusionPlan, save_to: Path | None, tmp_dir: Path) -> Fusion:
    """Fuse into ``save_to`` when given (the user keeps it), else into ``tmp_dir``."""
    out = save_to or tmp_dir / f"{info.path.stem}-fused{fused_suffix(fused_format(plugin))}"
    return fuse(plugin, info, plan, out)
