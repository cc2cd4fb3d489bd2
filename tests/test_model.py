"""Format detection, model info, and the --shape parser and resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferperf.errors import InputSpecError, ModelError
from inferperf.model import load_model_info, parse_shape_spec, resolve_shapes
from inferperf.model.info import ONNX, OPENVINO_IR, detect_format


def test_onnx_info(tiny_onnx: Path) -> None:
    info = load_model_info(tiny_onnx)
    assert info.format == ONNX
    assert [(s.name, s.dtype, s.shape) for s in info.inputs] == [("x", "float32", ("batch", 16))]
    assert info.inputs[0].dynamic_dims == [0]
    assert info.inputs[0].shape_text() == "[batch?,16]"
    assert [s.name for s in info.outputs] == ["y"]
    assert len(info.sha256) == 64
    assert info.size_bytes == tiny_onnx.stat().st_size


def test_onnx_external_data(external_data_onnx: Path) -> None:
    info = load_model_info(external_data_onnx)
    assert [f.name for f in info.files] == ["model.onnx", "weights.bin"]
    assert info.size_bytes > external_data_onnx.stat().st_size
    (external_data_onnx.parent / "weights.bin").unlink()
    with pytest.raises(ModelError, match="external data file missing"):
        load_model_info(external_data_onnx)


def test_ir_info(ir_model: Path) -> None:
    info = load_model_info(ir_model)
    assert info.format == OPENVINO_IR
    assert info.inputs[0].name == "x"
    assert info.inputs[0].shape[1] == 16
    assert info.inputs[0].dynamic_dims == [0]
    assert info.outputs[0].name == "y"
    assert [f.suffix for f in info.files] == [".xml", ".bin"]


def test_ir_missing_bin(ir_model: Path) -> None:
    ir_model.with_suffix(".bin").unlink()
    with pytest.raises(ModelError, match="weights missing"):
        load_model_info(ir_model)


def test_format_detected_from_content_not_suffix(tiny_onnx: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "model.xml"
    disguised.write_bytes(tiny_onnx.read_bytes())
    assert detect_format(disguised) == ONNX
    assert load_model_info(disguised).inputs[0].name == "x"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.xml", b"just some text, not xml", "not an OpenVINO IR: .*notes.xml is not XML"),
        ("page.xml", b"<html><body>hi</body></html>", "root element <html>"),
        ("broken.xml", b"<net><layers>", "not well-formed XML"),
        ("garbage.onnx", b"\x00\x01\x02garbage\xff" * 20, "not a valid ONNX model"),
        ("empty.onnx", b"", "empty"),
    ],
)
def test_bad_model_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model_info(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_model_info(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="directory"):
        load_model_info(tmp_path)


def test_builtin_model_resolves() -> None:
    info = load_model_info("builtin")
    assert info.format == ONNX
    assert info.inputs[0].shape[1:] == (3, 32, 32)
    assert "inferperf.preprocess" in info.metadata


# ------------------------------------------------------------------ shapes


def test_parse_single_and_named_shapes() -> None:
    assert parse_shape_spec("1,3,224,224") == {None: (1, 3, 224, 224)}
    assert parse_shape_spec("ids[1,128],mask[1,128]") == {"ids": (1, 128), "mask": (1, 128)}
    assert parse_shape_spec(" a [2, 3] , b[4] ") == {"a": (2, 3), "b": (4,)}
    assert parse_shape_spec(None) == {}
    assert parse_shape_spec("") == {}


@pytest.mark.parametrize("text", ["1,x,3", "1,,3", "0,3", "-1,3", "a[1,2", "a[1,2]b[3]", "a[1],a[2]", "a[]"])
def test_parse_bad_shapes(text: str) -> None:
    with pytest.raises(InputSpecError, match="bad shape"):
        parse_shape_spec(text)


def test_resolve_dynamic_batch_and_explicit(tiny_onnx: Path, two_input_onnx: Path) -> None:
    tiny = load_model_info(tiny_onnx)
    assert resolve_shapes(tiny, {}) == {"x": (1, 16)}
    assert resolve_shapes(tiny, {}, batch=4) == {"x": (4, 16)}
    assert resolve_shapes(tiny, parse_shape_spec("3,16")) == {"x": (3, 16)}
    two = load_model_info(two_input_onnx)
    got = resolve_shapes(two, parse_shape_spec("ids[2,7],mask[2,7]"))
    assert got == {"ids": (2, 7), "mask": (2, 7)}


def test_resolve_errors_name_the_input(tiny_onnx: Path, two_input_onnx: Path) -> None:
    two = load_model_info(two_input_onnx)
    with pytest.raises(InputSpecError, match=r"input 'ids' \[batch\?,seq\?\] has dynamic dim 1 \(seq\)"):
        resolve_shapes(two, {})
    with pytest.raises(InputSpecError, match="has 2 inputs"):
        resolve_shapes(two, parse_shape_spec("1,8"))
    with pytest.raises(InputSpecError, match="unknown input"):
        resolve_shapes(two, parse_shape_spec("idz[1,8],mask[1,8]"))
    with pytest.raises(InputSpecError, match="rank 3"):
        resolve_shapes(load_model_info(tiny_onnx), parse_shape_spec("1,16,1"))
