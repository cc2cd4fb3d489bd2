"""Parameters and multiply-accumulates per inference, counted from the ONNX graph.

Shapes come from ONNX shape inference (with data propagation, so reshapes
built from Shape/Gather/Concat chains resolve) after the inputs are fixed to
the run's static shapes. Counted: Conv, ConvTranspose, MatMul, Gemm,
Einsum (two operands) and their quantized forms. Element-wise ops, norms and
softmax are not counted: they are a few percent of a CNN's or transformer's
work, and the published GMAC figures people compare against leave them out
too. Nodes whose shapes could not be inferred are listed, and the count is
then a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from inferperf.errors import ModelError, runtime_cause

_CONV = {"Conv", "ConvInteger", "QLinearConv"}
_MATMUL = {"MatMul", "MatMulInteger", "QLinearMatMul"}


class Counted(TypedDict):
    """A model's compute at one shape (``FlopCount.to_dict``)."""

    macs: int
    flops: int
    gmacs: float
    params: int
    by_op: dict[str, int]
    exact: bool
    unresolved_nodes: list[str]
    counted: str


@dataclass(frozen=True)
class FlopCount:
    """MACs per inference (FLOPs = 2 x MACs), parameters, and what could not be counted."""

    macs: int
    params: int
    by_op: dict[str, int] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()

    @property
    def flops(self) -> int:
        """Floating-point operations, counting a multiply-accumulate as two."""
        return 2 * self.macs

    @property
    def exact(self) -> bool:
        """False when some countable node had unknown shapes (then macs is a lower bound)."""
        return not self.unresolved

    def to_dict(self) -> Counted:
        """JSON form."""
        return {
            "macs": self.macs,
            "flops": self.flops,
            "gmacs": self.macs / 1e9,
            "params": self.params,
            "by_op": self.by_op,
            "exact": self.exact,
            "unresolved_nodes": list(self.unresolved),
            "counted": "Conv, ConvTranspose, MatMul, Gemm, Einsum (and quantized forms); element-wise ops excluded",
        }


def _fix_inputs(graph: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    for value in graph.input:
        if value.name not in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        for d, size in zip(dims, shapes[value.name], strict=False):
            d.ClearField("dim_param")
            d.dim_value = size


def _shape_map(model: Any) -> dict[str, tuple[int, ...] | None]:
    out: dict[str, tuple[int, ...] | None] = {}
    for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            out[value.name] = tuple(int(d.dim_value) for d in dims)
        else:
            out.setdefault(value.name, None)
    for init in model.graph.initializer:
        out[init.name] = tuple(int(d) for d in init.dims)
    return out


def _node_macs(node: Any, shape: dict[str, tuple[int, ...] | None]) -> int | None:
    op = node.op_type
    ins = [shape.get(n) for n in node.input]
    out = shape.get(node.output[0]) if node.output else None
    if op in _CONV:
        w = ins[3] if op == "QLinearConv" else ins[1]
        return None if out is None or w is None else math.prod(out) * math.prod(w[1:])
    if op == "ConvTranspose":
        x, w = ins[0], ins[1]
        return None if x is None or w is None else math.prod(x) * math.prod(w[1:])
    if op in _MATMUL or op == "Gemm" or (op == "Einsum" and len(ins) == 2):
        a = ins[3] if op == "QLinearMatMul" else ins[0]
        if out is None or a is None or not a:
            return None
        trans_a = any(att.name == "transA" and att.i for att in node.attribute)
        k = a[0] if (op == "Gemm" and trans_a and len(a) == 2) else a[-1]
        return math.prod(out) * k
    return 0


def count_macs(path: str | Path, shapes: dict[str, tuple[int, ...]]) -> FlopCount:
    """Count MACs and parameters of an ONNX model at the given static input shapes."""
    import onnx
    from onnx import shape_inference

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types
        raise ModelError(f"cannot load {path} to count FLOPs: {exc}") from None
    params = sum(math.prod(t.dims) for t in model.graph.initializer)
    _fix_inputs(model.graph, shapes)
    try:
        model = shape_inference.infer_shapes(model, data_prop=True)
    except (shape_inference.InferenceError, ValueError, RuntimeError) as exc:
        # Count what the graph states; nodes left without shapes are listed as unresolved.
        unresolved_note = f"shape inference failed: {runtime_cause(exc)}"
    else:
        unresolved_note = ""
    shape = _shape_map(model)
    by_op: dict[str, int] = {}
    unresolved: list[str] = []
    for node in model.graph.node:
        macs = _node_macs(node, shape)
        if macs is None:
            unresolved.append(node.name or node.op_type)
        elif macs:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
    if unresolved_note and unresolved:
        unresolved.insert(0, unresolved_note)
    return FlopCount(sum(by_op.values()), params, by_op, tuple(unresolved))
