"""Build the placeholder built-in model: a small CNN with seeded random weights.

Until the trained digits classifier lands (issue 3), ``builtin`` is this
network: 3x64x64 input with a dynamic batch, four 3x3 convolutions, global
average pooling and a 10-way classifier, about 0.16 GFLOPs per image. Speed
does not depend on weight values, so it is a fair model to benchmark; its
outputs mean nothing. Needs only onnx and numpy:

    python scripts/make_builtin_model.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parents[1] / "src/inferperf/model/data/builtin.onnx"
LAYERS = [(3, 32, 1), (32, 64, 2), (64, 128, 2), (128, 128, 1)]  # (in, out, stride)


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    prev = "input"
    for i, (cin, cout, stride) in enumerate(LAYERS):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        inits += [numpy_helper.from_array(w, f"conv{i}.w"), numpy_helper.from_array(b, f"conv{i}.b")]
        nodes.append(
            helper.make_node(
                "Conv", [prev, f"conv{i}.w", f"conv{i}.b"], [f"c{i}"], pads=[1, 1, 1, 1], strides=[stride, stride]
            )
        )
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [prev], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    fc = (rng.standard_normal((128, 10)) * 0.1).astype(np.float32)
    inits += [numpy_helper.from_array(fc, "fc.w"), numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "inferperf_builtin_placeholder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="inferperf")
    model.ir_version = 8
    helper.set_model_props(model, {"inferperf.note": "placeholder with random weights; outputs are meaningless"})
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), str(OUT))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")
