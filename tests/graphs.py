"""Public architectures written directly in onnx.helper, for counting tests that must not need torch.

Weights are ``ConstantOfShape`` nodes: the graphs stay a few kB, shape
inference still sees every weight's shape, and the FLOP counter has to
follow shapes through the graph the same way it does for exported models.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, shape: list[int]) -> str:
        shape_name, out = self.name("shape"), self.name("w")
        self.inits.append(numpy_helper.from_array(np.array(shape, np.int64), shape_name))
        value = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.01])
        self.nodes.append(helper.make_node("ConstantOfShape", [shape_name], [out], value=value))
        return out

    def op(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
        w = self.const([cout, cin, k, k])
        pad = k // 2
        return self.op("Conv", [x, w], strides=[stride, stride], pads=[pad] * 4)

    def model(self, inputs: list[onnx.ValueInfoProto], output: str) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "g", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], self.inits
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m


def resnet50() -> onnx.ModelProto:
    """ResNet-50 v1.5 (stride on the 3x3 conv), 224x224 input, 1,000 classes."""
    b = _Builder()
    x = b.op("Relu", [b.conv("pixel_values", 3, 64, 7, 2)])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = b.op("Relu", [b.conv(x, cin, width, 1)])
            y = b.op("Relu", [b.conv(y, width, width, 3, s)])
            y = b.conv(y, width, width * 4, 1)
            skip = b.conv(x, cin, width * 4, 1, s) if i == 0 else x
            x = b.op("Relu", [b.op("Add", [y, skip])])
            cin = width * 4
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])])
    x = b.op("Gemm", [x, b.const([2048, 1000])])
    inp = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])
    return b.model([inp], x)


def bert_base(seq: str | int = "seq") -> onnx.ModelProto:
    """BERT-base encoder (12 layers, 768 hidden, 12 heads, 3072 FFN) plus pooler, sequence ``seq``."""
    b = _Builder()
    ids = "input_ids"
    x = b.op("Gather", [b.const([30522, 768]), ids])  # [N, S, 768]
    heads = numpy_helper.from_array(np.array([0, 0, 12, 64], np.int64), "heads_shape")
    merged = numpy_helper.from_array(np.array([0, 0, 768], np.int64), "merged_shape")
    b.inits += [heads, merged]
    for _ in range(12):
        q, k, v = (b.op("MatMul", [x, b.const([768, 768])]) for _ in range(3))
        qh, kh, vh = (b.op("Transpose", [b.op("Reshape", [t, "heads_shape"])], perm=[0, 2, 1, 3]) for t in (q, k, v))
        scores = b.op("Softmax", [b.op("MatMul", [qh, b.op("Transpose", [kh], perm=[0, 1, 3, 2])])], axis=-1)
        ctx = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [scores, vh])], perm=[0, 2, 1, 3]), "merged_shape"])
        x = b.op("Add", [x, b.op("MatMul", [ctx, b.const([768, 768])])])
        ff = b.op("Relu", [b.op("MatMul", [x, b.const([768, 3072])])])
        x = b.op("Add", [x, b.op("MatMul", [ff, b.const([3072, 768])])])
    cls = b.op("Squeeze", [b.op("Slice", [x, *_slice_args(b)]), "axis1"])
    pooled = b.op("Tanh", [b.op("Gemm", [cls, b.const([768, 768])])])
    inp = helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", seq])
    return b.model([inp], pooled)


def _slice_args(b: _Builder) -> list[str]:
    for name, value in (("s0", [0]), ("s1", [1]), ("axis1", [1])):
        b.inits.append(numpy_helper.from_array(np.array(value, np.int64), name))
    return ["s0", "s1", "axis1"]
