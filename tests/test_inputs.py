"""Synthetic and .npz input providers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferperf.errors import InputSpecError
from inferperf.inputs import build_input_sets, load_npz_inputs, parse_input_values, parse_int_range
from inferperf.model import load_model_info


def test_synthetic_is_seeded_and_rotates(two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    shapes = {"ids": (2, 5), "mask": (2, 5)}
    a = build_input_sets(info, shapes, seed=3, int_range=(0, 49))
    b = build_input_sets(info, shapes, seed=3, int_range=(0, 49))
    assert len(a) == 4
    assert all(np.array_equal(x["ids"], y["ids"]) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0]["mask"], a[1]["mask"])  # distinct sets
    ids = np.stack([s["ids"] for s in a])
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() <= 49
    assert a[0]["mask"].dtype == np.float32 and a[0]["mask"].shape == (2, 5)


def test_input_values_fill_named_input(two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    sets = build_input_sets(info, {"ids": (1, 3), "mask": (1, 3)}, values={"mask": 1.0})
    assert all(np.all(s["mask"] == 1.0) for s in sets)
    with pytest.raises(Exception, match="no input 'nope'"):
        build_input_sets(info, {"ids": (1, 3), "mask": (1, 3)}, values={"nope": 1.0})


def test_parse_int_range_and_values() -> None:
    assert parse_int_range("5,10") == (5, 10)
    assert parse_int_range(None) is None
    for bad in ("5", "a,b", "10,5"):
        with pytest.raises(InputSpecError):
            parse_int_range(bad)
    assert parse_input_values(["len=16000", "t = 0.5"]) == {"len": 16000.0, "t": 0.5}
    for bad in (["len"], ["=3"], ["x=abc"]):
        with pytest.raises(InputSpecError, match="--input-value"):
            parse_input_values(bad)


def test_npz_single_and_multiple_sets(tiny_onnx: Path, tmp_path: Path) -> None:
    info = load_model_info(tiny_onnx)
    one = tmp_path / "one.npz"
    np.savez(one, x=np.ones((2, 16), np.float64))
    sets = load_npz_inputs(one, info, {"x": (2, 16)})
    assert len(sets) == 1 and sets[0]["x"].dtype == np.float32
    many = tmp_path / "many.npz"
    np.savez(many, x=np.zeros((5, 2, 16), np.float32))
    assert len(load_npz_inputs(many, info, {"x": (2, 16)})) == 5


def test_npz_errors(tiny_onnx: Path, tmp_path: Path) -> None:
    info = load_model_info(tiny_onnx)
    wrong_name = tmp_path / "wrong.npz"
    np.savez(wrong_name, z=np.ones((1, 16), np.float32))
    with pytest.raises(InputSpecError, match=r"unknown \['z'\], missing \['x'\]"):
        load_npz_inputs(wrong_name, info, {"x": (1, 16)})
    wrong_shape = tmp_path / "shape.npz"
    np.savez(wrong_shape, x=np.ones((1, 15), np.float32))
    with pytest.raises(InputSpecError, match=r"shape \[1, 15\], expected \[1, 16\]"):
        load_npz_inputs(wrong_shape, info, {"x": (1, 16)})
    with pytest.raises(InputSpecError, match="not found"):
        load_npz_inputs(tmp_path / "none.npz", info, {"x": (1, 16)})
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(InputSpecError, match="cannot read"):
        load_npz_inputs(junk, info, {"x": (1, 16)})
