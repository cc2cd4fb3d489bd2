"""MAC counting against published figures, on graphs built without torch."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from inferperf.model.flops import count_macs
from tests import graphs


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def test_resnet50_is_4_1_gmacs(tmp_path: Path) -> None:
    count = count_macs(_save(graphs.resnet50(), tmp_path / "r50.onnx"), {"pixel_values": (1, 3, 224, 224)})
    assert count.exact, count.unresolved
    assert count.macs / 1e9 == pytest.approx(4.1, rel=0.03)
    assert count.flops == 2 * count.macs
    assert set(count.by_op) == {"Conv", "Gemm"}


def test_bert_base_seq128_is_11_2_gmacs(tmp_path: Path) -> None:
    count = count_macs(_save(graphs.bert_base(), tmp_path / "bert.onnx"), {"input_ids": (1, 128)})
    assert count.exact, count.unresolved
    assert count.macs / 1e9 == pytest.approx(11.2, rel=0.05)
    # Attention score and context matmuls (batched over heads) are part of it: 2 x 12 x (12 x 128 x 128 x 64).
    assert count.by_op["MatMul"] > 11.0e9


def test_macs_scale_with_batch(tmp_path: Path) -> None:
    path = _save(graphs.resnet50(), tmp_path / "r50.onnx")
    one = count_macs(path, {"pixel_values": (1, 3, 224, 224)}).macs
    four = count_macs(path, {"pixel_values": (4, 3, 224, 224)}).macs
    assert four == 4 * one


def test_tiny_model_exact_macs_and_params(tiny_onnx: Path) -> None:
    count = count_macs(tiny_onnx, {"x": (3, 16)})
    assert count.macs == 3 * 16 * 8  # x[3,16] @ W[16,8]
    assert count.params == 16 * 8 + 8


def test_unresolved_shapes_make_a_lower_bound(tiny_onnx: Path) -> None:
    count = count_macs(tiny_onnx, {})  # batch left dynamic: the MatMul output shape is unknown
    assert not count.exact
    assert count.macs == 0


@pytest.mark.parametrize(
    ("graph", "shapes", "gmacs", "rel"),
    [
        (graphs.resnet50, {"pixel_values": (1, 3, 224, 224)}, 4.1, 0.03),
        (graphs.bert_base, {"input_ids": (1, 128)}, 11.2, 0.05),
    ],
)
def test_openvino_graph_count_agrees(tmp_path: Path, graph, shapes, gmacs: float, rel: float) -> None:  # type: ignore[no-untyped-def]
    from inferperf.backends import get_backend
    from inferperf.model import load_model_info

    path = _save(graph(), tmp_path / "m.onnx")
    ov_count = get_backend("openvino").count_macs(load_model_info(path), shapes)
    assert ov_count is not None and ov_count.exact
    assert ov_count.macs / 1e9 == pytest.approx(gmacs, rel=rel)
    assert ov_count.macs == pytest.approx(count_macs(path, shapes).macs, rel=1e-6)


def test_info_cli_reports_macs(tiny_onnx: Path) -> None:
    from typer.testing import CliRunner

    from inferperf.cli import app

    result = CliRunner().invoke(app, ["info", str(tiny_onnx), "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "GMACs" in result.output and "parameters" in result.output
