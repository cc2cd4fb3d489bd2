"""Dynamic-shape workloads: the --shapes grammar, histograms, seeded streams, strategies, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import ConfigError, InputSpecError
from inferperf.inputs.distribution import (
    DimRange,
    default_buckets,
    draw_stream,
    load_histogram,
    parse_buckets,
    parse_shape_groups,
    resolve_shapes_option,
    text_lengths,
)
from inferperf.measure.dynamic import DynamicOptions
from inferperf.measure.dynamic_plan import padding_waste, plan_strategy
from inferperf.model import load_model_info

runner = CliRunner()
INTS = (0, 49)  # the two-input fixture gathers from a 50-row table


@pytest.fixture
def bounded_onnx(two_input_onnx: Path, tmp_path: Path) -> Path:
    """The two-input model with a zoo-style bound on its sequence: 1..64."""
    proto = onnx.load(str(two_input_onnx))
    onnx.helper.set_model_props(proto, {"inferperf.bounds": json.dumps({"ids": {"1": [1, 64]}})})
    path = tmp_path / "bounded.onnx"
    onnx.save(proto, str(path))
    return path


# -- grammar --------------------------------------------------------------------------------------


def test_grammar_groups_ranges_weights() -> None:
    groups = parse_shape_groups("ids[1,32];ids[1,16..512]*3; mask[1,8],ids[1,8]")
    assert [g.dims for g in groups] == [
        {"ids": (1, 32)},
        {"ids": (1, DimRange(16, 512))},
        {"mask": (1, 8), "ids": (1, 8)},
    ]
    assert [g.weight for g in groups] == [1.0, 3.0, 1.0]
    assert parse_shape_groups("1,4..4")[0].dims == {None: (1, 4)}  # a one-point range is a size


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ids[1,512..16]", "low end above its high end"),
        ("ids[1,0]", "must be positive"),
        ("ids[1,0..5]", "must start at 1"),
        ("ids[1,x]", "not a size or a range"),
        ("ids[1,16...32]", "not a size or a range"),
        ("ids[]", "empty dimension list"),
        ("ids[1,2]*0", "must be positive"),
        ("ids[1,2]*many", "is not a number"),
        ("ids[1,2],ids[1,3]", "given twice"),
        (" ; ", "at least one group"),
        ("ids(1,2)", "not a size or a range"),
    ],
)
def test_grammar_errors(text: str, fragment: str) -> None:
    with pytest.raises(InputSpecError, match=fragment.replace("(", r"\(")):
        parse_shape_groups(text)


def test_buckets_parse_and_defaults() -> None:
    assert default_buckets(DimRange(16, 512)) == [16, 32, 64, 128, 256, 512]
    assert default_buckets(DimRange(20, 100)) == [32, 64, 100]
    assert parse_buckets("256, 64,128") == [64, 128, 256]
    with pytest.raises(InputSpecError, match="`buckets`"):
        parse_buckets("64,abc")
    with pytest.raises(InputSpecError, match="positive"):
        parse_buckets("0,64")


# -- binding to the model -------------------------------------------------------------------------


def test_tied_dims_follow_the_named_input(two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    groups, _ = resolve_shapes_option(info, "ids[1,4..20]")
    items = draw_stream(groups, 30, seed=3)
    for it in items:
        assert it.shapes["mask"] == it.shapes["ids"]  # one draw of "seq" for both inputs
        assert 4 <= it.shapes["ids"][1] <= 20
        assert it.bucket["ids"][1] >= it.shapes["ids"][1]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ids[1,8..100]", "accepts 1..64"),
        ("ids[1,65]", "accepts 1..64"),
        ("ids[1,2,3]", "has rank 2"),
        ("nope[1,2]", "unknown input 'nope'"),
        ("1,8", "name them"),
    ],
)
def test_shapes_outside_the_model(bounded_onnx: Path, text: str, fragment: str) -> None:
    with pytest.raises(InputSpecError, match=fragment):
        resolve_shapes_option(load_model_info(bounded_onnx), text)


def test_static_dim_cannot_vary(tmp_path: Path) -> None:
    from tests.conftest import _save, make_matmul_model

    path = _save(make_matmul_model((1, 16)), tmp_path / "static.onnx")
    with pytest.raises(InputSpecError, match="static 16 in the model"):
        resolve_shapes_option(load_model_info(path), "x[1,8..16]")


# -- seeded order ---------------------------------------------------------------------------------


def test_stream_is_seeded_and_reproducible(two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    groups, _ = resolve_shapes_option(info, "ids[1,2];ids[1,3..40]*2")
    a = [it.shapes for it in draw_stream(groups, 50, seed=7)]
    b = [it.shapes for it in draw_stream(groups, 50, seed=7)]
    c = [it.shapes for it in draw_stream(groups, 50, seed=8)]
    assert a == b
    assert a != c
    fixed = sum(1 for s in draw_stream(groups, 3000, seed=1) if s.group == 0)
    assert 850 < fixed < 1150  # weight 1 of 3


# -- histograms -----------------------------------------------------------------------------------


def test_histogram_formats(tmp_path: Path, two_input_onnx: Path) -> None:
    csv = tmp_path / "h.csv"
    csv.write_text("length,count\n8,3\n16,1\n# comment\n8,0\n")
    h = load_histogram(csv)
    assert h.values == (8, 16) and h.weights == (0.75, 0.25)
    js = tmp_path / "h.json"
    js.write_text(json.dumps({"8": 1, "12": 3}))
    assert load_histogram(js).values == (8, 12)
    observed = tmp_path / "seen.txt"
    observed.write_text("5\n5\n9\n")
    assert load_histogram(observed).weights == pytest.approx((2 / 3, 1 / 3))
    info = load_model_info(two_input_onnx)
    groups, _ = resolve_shapes_option(info, "ids[1,4..20]", histogram=csv)
    assert {it.shapes["ids"][1] for it in draw_stream(groups, 200, seed=0)} == {8, 16}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("8,1\nnot,a,histogram,row\n", "expected 'size' or 'size,count'"),
        ("8,x\n", "is not a number"),
        ("8,-1\n", "negative count"),
        ("8,0\n", "all counts are zero"),
        ("8.5,1\n", "not a positive integer"),
        ("{broken", "not valid JSON"),
        ("", "holds no sizes"),
    ],
)
def test_histogram_errors(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputSpecError, match=fragment):
        load_histogram(path)


def test_histogram_outside_range_and_missing(tmp_path: Path, two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    path = tmp_path / "h.csv"
    path.write_text("8,1\n300,1\n")
    with pytest.raises(InputSpecError, match=r"size 300 is outside the range 4\.\.20"):
        resolve_shapes_option(info, "ids[1,4..20]", histogram=path)
    with pytest.raises(InputSpecError, match="histogram file not found"):
        load_histogram(tmp_path / "missing.csv")
    with pytest.raises(InputSpecError, match="needs a ranged dimension"):
        resolve_shapes_option(info, "ids[1,8]", histogram=_ok(tmp_path))


def _ok(tmp_path: Path) -> Path:
    p = tmp_path / "ok.csv"
    p.write_text("8,1\n")
    return p


def test_shapes_from_text_data(tmp_path: Path, two_input_onnx: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("hello world\nthe quick brown fox jumps over the lazy dog, twice.\n\nshort\n")
    assert text_lengths(texts, None) == [4, 14, 3]
    groups, source = resolve_shapes_option(load_model_info(two_input_onnx), "data", data=texts)
    assert "lengths of the texts" in source
    assert {it.shapes["ids"][1] for it in draw_stream(groups, 100, seed=0)} == {3, 4, 14}
    with pytest.raises(InputSpecError, match="needs `data`"):
        resolve_shapes_option(load_model_info(two_input_onnx), "data")


# -- strategies -----------------------------------------------------------------------------------


def test_plans_and_padding_waste(two_input_onnx: Path) -> None:
    info = load_model_info(two_input_onnx)
    groups, _ = resolve_shapes_option(info, "ids[1,3];ids[1,8]")
    items = draw_stream(groups, 20, seed=0)
    dyn = plan_strategy("dynamic", items, groups)
    assert dyn.engines == [{"ids": (1, (1, None)), "mask": (1, (1, None))}]
    bounded = plan_strategy("bounded", items, groups)
    assert bounded.engines == [{"ids": (1, (3, 8)), "mask": (1, (3, 8))}]
    buckets = plan_strategy("buckets", items, groups)
    assert sorted(e["ids"] for e in buckets.engines) == [(1, 3), (1, 8)]  # fixed groups: no padding
    assert padding_waste(items, buckets) == 0.0
    largest = plan_strategy("largest", items, groups)
    assert largest.engines == [{"ids": (1, 8), "mask": (1, 8)}]
    short = sum(1 for it in items if it.shapes["ids"][1] == 3)
    assert padding_waste(items, largest) == pytest.approx(5 * short / (8 * len(items)))


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_run_every_strategy(two_input_onnx: Path, backend: str) -> None:
    options = DynamicOptions(stream=16, rounds=2, seed=1)
    doc = api.dynamic(two_input_onnx, "ids[1,2..24]", backend=backend, options=options, int_range=INTS)
    names = [r["name"] for r in doc["strategies"]]
    expected = (
        ["dynamic", "buckets", "largest", "bounded"] if backend == "openvino" else ["dynamic", "buckets", "largest"]
    )
    assert names == expected
    if backend != "openvino":
        assert doc["skipped"][0]["name"] == "bounded"
    by = {r["name"]: r for r in doc["strategies"]}
    for rec in by.values():
        assert rec["status"] == "ok", rec
        assert sum(g["inputs"] for g in rec["groups"]) == 16
        assert sum(g["latency_ms"]["count"] for g in rec["groups"]) == 32  # 16 inputs x 2 passes
        assert len(rec["throughput"]["per_round"]) == 2
    assert by["dynamic"]["padding_waste"] == 0.0
    assert by["largest"]["padding_waste"] > by["buckets"]["padding_waste"] > 0.0
    assert by["largest"]["first_sight"]["new_shapes"] == 1  # one static engine sees one shape
    distinct = {tuple(it["shapes"]["ids"]) for it in doc["stream"]["items"]}
    assert by["dynamic"]["first_sight"]["new_shapes"] == len(distinct)
    assert doc["comparison"]["fastest"] in by


def test_failing_strategy_is_recorded_and_others_go_on(two_input_onnx: Path) -> None:
    # Gather on ids 0..99 from a 50-row table: OpenVINO clamps/zeros, ONNX Runtime fails the run.
    options = DynamicOptions(strategies=("dynamic", "largest"), stream=6, rounds=1)
    doc = api.dynamic(two_input_onnx, "ids[1,2..5]", backend="onnxruntime", options=options, int_range=(0, 500))
    assert all(r["status"] == "failed" for r in doc["strategies"])
    error = doc["strategies"][0]["error"]
    assert error.startswith("ONNX Runtime inference failed") and "out of data bounds" in error  # the cause, shown
    assert doc["comparison"]["winner"] is None


def test_options_validation() -> None:
    with pytest.raises(ConfigError, match="unknown strategy"):
        DynamicOptions(strategies=("fastest",))
    with pytest.raises(ConfigError, match="at least 1"):
        DynamicOptions(stream=0)


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_dynamic_json_and_html(two_input_onnx: Path, tmp_path: Path) -> None:
    out, page = tmp_path / "d.json", tmp_path / "d.html"
    args = [
        "dynamic",
        str(two_input_onnx),
        "--shapes",
        "ids[1,2..16]",
        "--stream",
        "8",
        "--rounds",
        "2",
        "--int-range",
        "0,49",
        "--backend",
        "openvino",
        "--json",
        str(out),
        "--html",
        str(page),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "dynamic" and len(doc["strategies"]) == 4
    assert "verdict" in result.output
    assert page.read_text().count("plotly-graph-div") >= 2


def test_cli_bench_shapes(two_input_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    args = [
        "bench",
        str(two_input_onnx),
        "--shapes",
        "ids[1,4];ids[1,12]",
        "--stream",
        "10",
        "--repeats",
        "2",
        "--int-range",
        "0,49",
        "--mode",
        "latency",
        "--json",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["strategies"]] == ["dynamic"]
    assert [g["group"] for g in doc["strategies"][0]["groups"]] == ["ids[1,4]", "ids[1,12]"]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--shapes", "ids[1,40..8]"], "low end above its high end"),
        (["--shapes", "ids[1,8..100]"], "accepts 1..64"),
        (["--shapes", "ids[1,4..20]", "--shape-histogram", "HIST"], "is not valid JSON"),
        (["--shapes", "ids[1,4..20]", "--strategies", "dynamic,magic"], "unknown strategy magic"),
        (["--shapes", ""], "--shapes is required"),
    ],
)
def test_cli_bad_input_one_line(bounded_onnx: Path, tmp_path: Path, extra: list[str], fragment: str) -> None:
    hist = tmp_path / "hist.json"
    hist.write_text("{not json")
    out = tmp_path / "never.json"
    args = ["dynamic", str(bounded_onnx), *[str(hist) if a == "HIST" else a for a in extra], "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragment in result.output
    assert len([ln for ln in result.output.splitlines() if ln.startswith("error:")]) == 1
    assert not out.exists()


def test_stream_inputs_are_padded_with_zeros(two_input_onnx: Path) -> None:
    from inferperf.measure.dynamic_plan import _pad

    padded = _pad({"ids": np.ones((1, 3), np.int64)}, {"ids": (1, 5)})
    assert padded["ids"].tolist() == [[1, 1, 1, 0, 0]]


def test_shapes_from_image_folder(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    from onnx import TensorProto, helper

    from tests.conftest import _save

    node = helper.make_node("ReduceMean", ["x"], ["y"], keepdims=0)
    graph = helper.make_graph(
        [node],
        "pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    model = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "pool.onnx")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (w, h) in enumerate([(10, 8), (10, 8), (6, 12)]):
        image.new("RGB", (w, h)).save(photos / f"{i}.png")
    groups, source = resolve_shapes_option(load_model_info(model), "data", data=photos)
    assert [(g.dims["x"], g.weight) for g in groups] == [((1, 3, 8, 10), 2.0), ((1, 3, 12, 6), 1.0)]
    assert "sizes of the images" in source


def _rec(name: str, per_round: list[float], memory: float = 100.0) -> dict[str, object]:
    return {
        "name": name,
        "status": "ok",
        "throughput": {"value": float(np.mean(per_round)), "per_round": per_round},
        "memory_added_mb": memory,
        "compile_ms": 10.0,
    }


def test_verdict_names_a_winner_or_the_tie() -> None:
    from inferperf.measure.dynamic import compare_strategies

    clear = compare_strategies([_rec("a", [10, 11, 10.5]), _rec("b", [5, 5.4, 5.1])])
    assert clear["winner"] == "a" and "wins" in clear["verdict"] and clear["vs"][0]["significant"]
    tie = compare_strategies(
        [_rec("a", [10, 11, 10.5], 300), _rec("b", [10.4, 10.6, 10.4], 50), _rec("c", [3, 3.1, 3])]
    )
    assert tie["winner"] is None and tie["tied"] == ["b"]
    assert "a and b tie" in tie["verdict"] and "ahead of c" in tie["verdict"] and "b holds the least" in tie["verdict"]
    assert compare_strategies([{"name": "x", "status": "failed", "error": "e"}])["winner"] is None
    # a steady 1% lead is significant in statistics but below the noise floor: a tie, not a win
    close = compare_strategies([_rec("a", [10.1, 11.11, 10.605]), _rec("b", [10, 11, 10.5])])
    assert close["winner"] is None and close["tied"] == ["b"] and close["vs"][0]["ci95"][0] > 1.0


def test_engines_are_freed_after_a_run(two_input_onnx: Path) -> None:
    # A completion callback held in native code (OpenVINO's AsyncInferQueue) forms a cycle Python cannot
    # collect; without closing the requests, every run would keep its compiled models (OOM over many runs).
    import gc

    from inferperf.backends.openvino import OpenVINOEngine

    def live_engines() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, OpenVINOEngine))

    before = live_engines()
    options = DynamicOptions(strategies=("dynamic", "buckets"), stream=6, rounds=1)
    for _ in range(2):
        api.dynamic(two_input_onnx, "ids[1,2..9]", backend="openvino", options=options, int_range=INTS)
    assert live_engines() == before


# -- --shapes in compare --interleave ---------------------------------------------------------------


def test_compare_interleave_over_a_shape_stream(two_input_onnx: Path, tmp_path: Path) -> None:
    configs = []
    for name, threads in (("a", 1), ("b", 2)):
        path = tmp_path / f"{name}.json"
        runtime = {"backend": "onnxruntime", "threads": threads}
        path.write_text(json.dumps({"runtime": runtime, "model": str(two_input_onnx)}))
        configs.append(str(path))
    args = ["compare", *configs, "--interleave", "--rounds", "2", "--round-time", "0.2s", "--scenario", "latency"]
    args += ["--shapes", "ids[1,4];ids[1,8..32]", "--stream", "12", "--int-range", "0,49"]
    args += ["--json", str(tmp_path / "c.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["shapes"]["count"] == 12 and sum(doc["shapes"]["samples_per_group"].values()) == 12
    assert doc["rows"] and all(len(c["throughput_fps_per_round"]) == 2 for c in doc["raw"])


def test_compare_shapes_need_interleave(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", "a.json", "b.json", "--shapes", "ids[1,4]"])
    assert result.exit_code == 2 and "--shapes needs --interleave" in result.output
