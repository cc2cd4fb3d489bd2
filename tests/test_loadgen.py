"""LoadGen scenarios: settings, log parsing, peak search and scoring on fixed data; short real runs on tiny models."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.errors import BackendUnavailableError, ConfigError, InputSpecError
from inferperf.measure import loadgen, loadgen_sut
from inferperf.measure.loadgen import Probe, ScenarioOptions

PROBE = Probe(throughput=200.0, median_ms=5.0, p99_ms=9.0, count=400)


def _mllog(values: dict[str, Any]) -> str:
    return "".join(f":::MLLOG {json.dumps({'key': k, 'value': v, 'time_ms': 0.1})}\n" for k, v in values.items())


def _server_log(validity: str = "VALID", **extra: Any) -> dict[str, Any]:
    return {
        "effective_scenario": "Server",
        "effective_test_mode": "PerformanceOnly",
        "result_validity": validity,
        "result_perf_constraints_met": True,
        "result_min_duration_met": True,
        "result_min_queries_met": True,
        "early_stopping_met": True,
        "result_invalid_reason": "",
        "result_completed_samples_per_sec": 90.1,
        "result_scheduled_samples_per_sec": 90.4,
        "result_query_count": 93,
        "result_min_latency_ns": 2_000_000,
        "result_mean_latency_ns": 4_000_000,
        "result_max_latency_ns": 8_000_000,
        "result_50.00_percentile_latency_ns": 3_500_000,
        "result_90.00_percentile_latency_ns": 6_000_000,
        "result_99.00_percentile_latency_ns": 7_500_000,
        "effective_target_latency_ns": 50_000_000,
        **extra,
    }


# ---------------------------------------------------------------- pure parts (no LoadGen needed)


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="invalid scenario"):
        ScenarioOptions(scenario="burst")
    with pytest.raises(ConfigError, match="find_peak"):
        ScenarioOptions(scenario="offline", find_peak=True)
    with pytest.raises(ConfigError, match="target qps"):
        ScenarioOptions(scenario="server", target_qps=0)


def test_settings_per_scenario() -> None:
    offline = loadgen.settings_values(ScenarioOptions(scenario="offline", min_duration_s=2), PROBE)
    assert offline == {
        "scenario": "Offline",
        "min_duration_ms": 2000,
        "min_query_count": 1,
        "offline_expected_qps": 300.0,
    }
    server = loadgen.settings_values(ScenarioOptions(scenario="server"), PROBE)
    assert server["server_target_qps"] == 100.0  # half the warm-up rate by default
    assert server["server_target_latency_ns"] == 15_000_000  # 3x the warm-up median by default
    assert server["min_query_count"] == 500
    chosen = loadgen.settings_values(ScenarioOptions(scenario="server", target_qps=40, p99_max_ms=20), PROBE)
    assert (chosen["server_target_qps"], chosen["server_target_latency_ns"]) == (40, 20_000_000)
    assert (
        loadgen.settings_values(ScenarioOptions(scenario="server"), PROBE, target_qps=7.5)["server_target_qps"] == 7.5
    )
    multi = loadgen.settings_values(ScenarioOptions(scenario="multi-stream", samples_per_query=4), PROBE)
    assert multi["multi_stream_samples_per_query"] == 4
    assert multi["multi_stream_expected_latency_ns"] == 20_000_000
    capped = loadgen.settings_values(ScenarioOptions(scenario="server", max_duration_s=60), PROBE)
    assert capped["max_duration_ms"] == 60_000
    single = loadgen.settings_values(ScenarioOptions(scenario="single-stream", min_query_count=10), PROBE)
    assert single["single_stream_expected_latency_ns"] == 5_000_000 and single["min_query_count"] == 10


def test_detail_log_is_read_into_the_result(tmp_path: Path) -> None:
    (tmp_path / "mlperf_log_detail.txt").write_text(
        "garbage line\n" + _mllog(_server_log()) + ':::MLLOG {"key": "torn', encoding="utf-8"
    )
    (tmp_path / "mlperf_log_summary.txt").write_text("summary", encoding="utf-8")
    doc = loadgen_sut.parse_logs(tmp_path)
    assert doc["valid"] and doc["validity"] == "VALID" and doc["why_invalid"] == []
    assert doc["metric"] == {"name": "completed samples per second", "value": 90.1, "unit": "samples/s"}
    assert doc["latency_ms"]["p50"] == 3.5 and doc["latency_ms"]["p99"] == 7.5 and doc["latency_ms"]["p95"] is None
    assert doc["target_latency_ms"] == 50.0
    assert doc["scheduled_samples_per_second"] == 90.4
    assert sorted(Path(p).name for p in doc["logs"]) == ["mlperf_log_detail.txt", "mlperf_log_summary.txt"]


def test_invalid_says_why() -> None:
    raw = _server_log(
        "INVALID",
        result_perf_constraints_met=False,
        early_stopping_met=False,
        early_stopping_result=" * Only processed 93 queries.\n * Need 366 more.",
        result_invalid_reason="Reduce target QPS to improve latency. ",
    )
    doc = loadgen_sut.summarize_detail(raw)
    assert not doc["valid"]
    assert doc["why_invalid"][0].startswith("performance constraints not met")
    assert doc["why_invalid"][1] == "early stopping not satisfied: * Only processed 93 queries. * Need 366 more."
    assert doc["why_invalid"][2] == "Reduce target QPS to improve latency."


def test_scenario_metrics() -> None:
    single = loadgen_sut.summarize_detail(
        {
            "effective_scenario": "SingleStream",
            "result_validity": "VALID",
            "result_90.00_percentile_latency_ns": 2_500_000,
        }
    )
    assert single["metric"] == {"name": "90th percentile latency", "value": 2.5, "unit": "ms"}
    multi = loadgen_sut.summarize_detail(
        {
            "effective_scenario": "MultiStream",
            "result_validity": "VALID",
            "result_99.00_percentile_per_query_latency_ns": 9_000_000,
        }
    )
    assert multi["metric"]["value"] == 9.0 and multi["query_latency_ms"]["p99"] == 9.0
    offline = loadgen_sut.summarize_detail(
        {"effective_scenario": "Offline", "result_validity": "VALID", "result_samples_per_second": 321.5}
    )
    assert offline["metric"] == {"name": "samples per second", "value": 321.5, "unit": "samples/s"}


def test_unfinished_log_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mlperf_log_detail.txt").write_text(_mllog({"effective_scenario": "Offline"}), encoding="utf-8")
    with pytest.raises(loadgen.BackendError, match="no result"):
        loadgen_sut.parse_logs(tmp_path)


def _fake_run(capacity: float) -> loadgen.RunAt:
    def run_at(qps: float, label: str) -> dict[str, Any]:
        p99 = 10.0 if qps <= capacity else 100.0
        return {"latency_ms": {"p99": p99}, "metric": {"value": qps}, "scheduled_samples_per_second": qps}

    return run_at


def test_server_queries_and_ideal_queue_inputs() -> None:
    values = {"min_duration_ms": 10_000, "min_query_count": 500}
    assert loadgen.expected_queries(values, 20.0) == 500  # the count wins at a slow rate
    assert loadgen.expected_queries(values, 120.0) == 1200  # the duration at a fast one
    assert loadgen.expected_queries({**values, "max_duration_ms": 2_000}, 20.0) == 40
    assert loadgen.server_ideal_queue(PROBE, 2, 50.0, 100, [5.0, 6.0]) is None  # no service samples
    warm = Probe(200.0, 5.0, 9.0, 400, latencies_ms=(4.0, 5.0, 6.0) * 50)
    ideal = loadgen.server_ideal_queue(warm, 2, 100.0, 200, [6.0, 7.0, 5.5] * 70)
    assert ideal is not None and ideal["model"] == "M/G/2" and ideal["utilisation"] == pytest.approx(0.25)
    assert ideal["overhead"]["ratio"] > 0 and ideal["overhead"]["measured_from"].startswith("SUT clock")
    assert "latencies_ms" not in warm.to_dict()


def test_in_run_ideal_queue_judges_the_sut_against_the_runs_own_service_times() -> None:
    few = loadgen.in_run_ideal_queue([5.0] * 10, 2, 100.0, 200, [6.0] * 200)
    assert few["stable"] is None and "10 inferences" in few["why"]
    # Services twice the probe's during the run: against them a SUT that adds nothing is judged ~x1.
    service = [9.0, 10.0, 11.0] * 60
    ideal = loadgen.in_run_ideal_queue(service, 2, 50.0, 180, service)
    assert ideal["stable"] and ideal["service_samples"] == 180 and "180 of this run's" in ideal["service_from"]
    in_run = ideal["overhead"]["ratio"]
    assert in_run < 1  # latencies that are bare services, without queueing: below the ideal queue
    probe = Probe(200.0, 5.0, 6.0, 180, latencies_ms=tuple(s / 2 for s in service))
    against_probe = loadgen.server_ideal_queue(probe, 2, 50.0, 180, service)
    assert against_probe is not None  # the probe's services at half: its ratio doubles, the drift, not the SUT
    assert 2 < against_probe["overhead"]["ratio"] / in_run < 3.5


def test_find_peak_bisects_to_the_bound() -> None:
    peak = loadgen.find_peak(_fake_run(30.0), 0.0, 100.0, bound_ms=20.0, steps=6)
    assert [t["meets_bound"] for t in peak["trials"]] == [False, True, False, False, True, True]
    assert peak["peak_qps"] == pytest.approx(29.6875)
    assert peak["bracket"][0] <= 30.0 <= peak["bracket"][1]
    none = loadgen.find_peak(_fake_run(0.5), 0.0, 100.0, bound_ms=20.0, steps=3)
    assert none["peak_qps"] is None
    assert all(len(t["draws"]) == 2 for t in peak["trials"])  # two runs that agree decide a step


def test_find_peak_judges_a_step_by_the_majority_of_its_runs() -> None:
    labels: list[str] = []
    unlucky = {"01-1", "02-2"}  # the first run of step 1 and the second of step 2 draw a bad tail

    def run_at(qps: float, label: str) -> dict[str, Any]:
        labels.append(label)
        p99 = 100.0 if label in unlucky or qps > 60.0 else 10.0
        return {"latency_ms": {"p99": p99}, "metric": {"value": qps}, "scheduled_samples_per_second": qps}

    peak = loadgen.find_peak(run_at, 0.0, 100.0, bound_ms=20.0, steps=2)
    # step 1 at 50 q/s: fail, pass -> a third run decides (pass); step 2 at 75 q/s: all fail, two suffice
    assert labels == ["01-1", "01-2", "01-3", "02-1", "02-2"]
    assert [t["meets_bound"] for t in peak["trials"]] == [True, False] and peak["peak_qps"] == 50.0
    assert peak["trials"][0]["p99_ms"] == 10.0 and len(peak["trials"][0]["draws"]) == 3


def test_a_sut_that_falls_behind_fails_the_bound() -> None:
    behind = {
        "latency_ms": {"p99": 1.0},
        "metric": {"value": 50.0},
        "scheduled_samples_per_second": 100.0,
        "query_count": 100,
    }
    assert not loadgen.meets_bound(behind, 20.0)
    assert loadgen.meets_bound({**behind, "metric": {"value": 99.0}}, 20.0)
    assert loadgen.meets_bound({**behind, "query_count": 5}, 20.0)  # too few queries to judge a rate


def test_accuracy_log_is_decoded_and_scored(tmp_path: Path) -> None:
    logits = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 1]][:, None, :]  # [5, 1, 4]: one batch-1 output each
    entries = [{"seq_id": i, "qsl_idx": i, "data": logits[i].tobytes().hex()} for i in range(5)]
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    outputs = loadgen_sut.read_accuracy_log(path, (np.dtype(np.float32).str, (1, 4)))
    score = loadgen_sut.score_outputs(outputs, np.array([0, 1, 2, 3, 0]))
    assert score["count"] == 5 and score["top1"]["correct"] == 4 and score["top5"] is None
    lo, hi = score["top1"]["ci95"]
    assert lo < 0.8 < hi
    with pytest.raises(InputSpecError, match="no output for 1 samples"):
        loadgen_sut.score_outputs({i: outputs[i] for i in range(4)}, np.zeros(5, np.int64))


def test_missing_loadgen_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tiny_onnx: Path) -> None:
    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # makes the import fail
    with pytest.raises(BackendUnavailableError) as info:
        loadgen_sut.import_loadgen()
    assert "pip install" in info.value.one_line()
    result = CliRunner().invoke(app, ["scenario", str(tiny_onnx), "--backend", "onnxruntime"])
    assert result.exit_code == 2
    assert "LoadGen is not installed" in result.output and "mlcommons-loadgen" in result.output


# ---------------------------------------------------------------- real LoadGen runs on a tiny model

needs_loadgen = pytest.mark.skipif(loadgen_sut.loadgen_version() is None, reason="mlcommons-loadgen is not installed")


def _short(scenario: str, **kw: Any) -> ScenarioOptions:
    base: dict[str, Any] = {"min_duration_s": 0.3, "min_query_count": 20, "warmup_s": 0.2, "peak_run_s": 0.3}
    return ScenarioOptions(scenario=scenario, **{**base, **kw})


@needs_loadgen
@pytest.mark.parametrize("scenario", ["single-stream", "offline"])
def test_scenario_runs_end_to_end(scenario: str, tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    doc = api.scenario(tiny_onnx, backend="onnxruntime", options=_short(scenario), shape="1,16", out=out)
    result = doc["result"]
    assert doc["schema"] == "inferperf.result/1" and doc["kind"] == "scenario"
    assert result["scenario"] == {"single-stream": "SingleStream", "offline": "Offline"}[scenario]
    assert result["metric"]["value"] > 0 and result["latency_ms"]["p90"] > 0
    assert result["query_count"] >= 1
    assert (out / "loadgen" / "mlperf_log_summary.txt").exists() and (
        out / "loadgen" / "mlperf_log_detail.txt"
    ).exists()
    assert json.loads((out / "scenario.json").read_text())["result"]["validity"] == result["validity"]
    assert doc["effective"]["requests_in_flight"] == (
        1 if scenario == "single-stream" else doc["effective"]["requests_in_flight"]
    )


@needs_loadgen
@pytest.mark.slow
def test_server_peak_and_multistream_on_openvino(tiny_onnx: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    opts = _short("server", find_peak=True, peak_steps=2, p99_max_ms=50.0)
    doc = api.scenario(tiny_onnx, backend="openvino", options=opts, shape="1,16", out=tmp_path / "s")
    assert len(doc["peak"]["trials"]) == 2
    ideal_peak = doc["peak"]["ideal_queue"]  # the ideal queue's peak under the same bound, beside the measured
    assert ideal_peak["bound_ms"] == 50.0 and ideal_peak["servers"] == doc["service"]["executors"]
    assert doc["service"]["executors"] <= doc["effective"]["requests_in_flight"]
    assert ideal_peak["peak_qps"] is None or 0 < ideal_peak["peak_qps"] < ideal_peak["capacity_qps"]
    assert (tmp_path / "s" / "peak" / "step-01-1" / "mlperf_log_detail.txt").exists()  # each run of a step kept
    if doc["peak"]["peak_qps"] is not None:  # a tiny model meets 50 ms at any rate the machine can schedule
        tries = doc["peak"]["confirm_attempts"]  # the bisected rate, 10% lower after each INVALID run
        assert 1 <= len(tries) <= 3 and tries[0]["target_qps"] == pytest.approx(doc["peak"]["peak_qps"])
        assert all(b["target_qps"] == pytest.approx(0.9 * a["target_qps"]) for a, b in itertools.pairwise(tries))
        assert doc["result"]["target_qps"] == pytest.approx(tries[-1]["target_qps"], rel=1e-3)
        assert doc["peak"]["confirmed_qps"] in (None, tries[-1]["target_qps"])
    multi = api.scenario(
        tiny_onnx,
        backend="openvino",
        options=_short("multi-stream", samples_per_query=4),
        shape="1,16",
        out=tmp_path / "m",
    )
    assert multi["result"]["samples_per_query"] == 4 and multi["result"]["query_latency_ms"]["p99"] > 0


@needs_loadgen
def test_accuracy_mode_scores_loadgen_outputs(tiny_onnx: Path, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(1).standard_normal((24, 16)).astype(np.float32)
    logits = ort.InferenceSession(str(tiny_onnx)).run(None, {"x": x})[0]
    labels = logits.argmax(axis=1)
    labels[:4] = (labels[:4] + 1) % 8  # four wrong labels: top-1 must come out 20/24
    np.savez(tmp_path / "data.npz", x=x, labels=labels)
    doc = api.scenario(
        tiny_onnx,
        backend="onnxruntime",
        options=_short("offline", accuracy=True),
        data=tmp_path / "data.npz",
        out=tmp_path / "acc",
    )
    assert doc["accuracy"]["count"] == 24 and doc["accuracy"]["top1"]["correct"] == 20
    assert doc["result"]["mode"] == "AccuracyOnly"
    assert (tmp_path / "acc" / "accuracy" / "mlperf_log_accuracy.json").stat().st_size > 100


def test_service_times_are_sampled_long_enough_for_the_tail() -> None:
    from inferperf.measure.loadgen import service_probe_s

    assert service_probe_s(Probe(throughput=19.5, median_ms=200.0, p99_ms=300.0, count=40), 2.0) == pytest.approx(
        200 / 19.5
    )  # ~200 samples at ResNet-50's rate here
    assert service_probe_s(PROBE, 2.0) == 1.0  # a fast model: the warm-up's half is plenty
    assert service_probe_s(Probe(throughput=2.0, median_ms=900.0, p99_ms=990.0, count=4), 2.0) == 15.0  # capped


def test_batch_stacks_a_querys_samples_only_where_queries_hold_several() -> None:
    from inferperf.measure.loadgen import batched_shapes, stacked_sets

    with pytest.raises(ConfigError, match="offline or multi-stream"):
        ScenarioOptions(scenario="server", batch=4)
    sets = [{"x": np.full((1, 2), i, dtype=np.float32)} for i in range(5)]
    stacked = stacked_sets(sets, 2)
    assert len(stacked) == 2 and stacked[1]["x"][:, 0].tolist() == [2.0, 3.0]
    assert batched_shapes({"x": (1, 16)}, 4) == {"x": (4, 16)}
    multi = loadgen.settings_values(ScenarioOptions(scenario="multi-stream", samples_per_query=8, batch=4), PROBE)
    assert multi["multi_stream_expected_latency_ns"] == 40_000_000  # 8 samples at the probe's 200 samples/s


@needs_loadgen
def test_batched_offline_answers_every_sample_with_its_own_output(tiny_onnx: Path, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(1).standard_normal((22, 16)).astype(np.float32)
    labels = ort.InferenceSession(str(tiny_onnx)).run(None, {"x": x})[0].argmax(axis=1)
    np.savez(tmp_path / "data.npz", x=x, labels=labels)
    # 22 samples in batches of 4: five full inferences and one padded; every sample scored on its own row
    opts = _short("offline", accuracy=True, batch=4)
    doc = api.scenario(tiny_onnx, backend="onnxruntime", options=opts, data=tmp_path / "data.npz", out=tmp_path / "a")
    assert doc["accuracy"]["count"] == 22 and doc["accuracy"]["top1"]["correct"] == 22
    perf = api.scenario(
        tiny_onnx, backend="onnxruntime", options=_short("offline", batch=4), shape="1,16", out=tmp_path / "p"
    )
    assert perf["options"]["batch"] == 4 and perf["result"]["metric"]["value"] > 0
    assert perf["probe"]["throughput_fps"] > 0  # samples/s: the inference rate times the batch


@needs_loadgen
def test_cli_scenario_writes_json(tiny_onnx: Path, tmp_path: Path) -> None:
    args = [
        "scenario",
        str(tiny_onnx),
        "--backend",
        "onnxruntime",
        "--scenario",
        "server",
        "--target-qps",
        "50",
        "--p99-max",
        "100ms",
        "--min-duration",
        "0.3s",
        "--min-queries",
        "10",
        "--warmup",
        "0.2",
        "--shape",
        "1,16",
        "--out",
        str(tmp_path / "o"),
        "--json",
        str(tmp_path / "r.json"),
    ]
    result = CliRunner().invoke(app, args)
    # 10 queries cannot pass LoadGen's early stopping at p99 (it needs ~459): INVALID, exit 4, result kept
    assert result.exit_code == 4, result.output
    assert "INVALID" in result.output and "exit 4" in result.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["result"]["valid"] is False
    assert doc["settings"]["server_target_qps"] == 50.0
    assert doc["result"]["target_latency_ms"] == 100.0
    assert "completed samples per second" in result.output
    # the ideal M/G/c queue of the same hardware, at the same rate and query count
    ideal = doc["result"]["ideal_queue"]
    assert ideal["servers"] == doc["effective"]["requests_in_flight"] and ideal["rate_qps"] == 50.0
    assert ideal["queries"] == doc["result"]["query_count"] and ideal["service_samples"] > 0
    assert ideal["utilisation"] == pytest.approx(50.0 * ideal["service_mean_ms"] / 1e3 / ideal["servers"])
    if ideal["stable"]:  # a tiny model serves 50 queries/s far below its capacity
        over = ideal["overhead"]
        assert np.isfinite(over["ratio"]) and over["ratio"] > 0 and over["samples"] > 0
        assert over["ci95"][0] <= over["ratio"] <= over["ci95"][1]
        assert "service times probed before the run): x" in " ".join(result.output.split())
    # 10 queries leave too few in-run service times for the queue of the run's own services: said so
    assert ideal["in_run"]["stable"] is None and "started on a free executor" in ideal["in_run"]["why"]
    assert "no in-run ideal queue" in " ".join(result.output.split())


def test_accuracy_mode_log_has_no_validity() -> None:
    doc = loadgen_sut.summarize_detail(
        {"effective_scenario": "Offline", "effective_test_mode": "AccuracyOnly", "effective_accuracy_sample_count": 24}
    )
    assert doc["mode"] == "AccuracyOnly" and doc["valid"] is None and doc["accuracy_sample_count"] == 24


# ---------------------------------------------------------------- --shapes: a QSL over several shapes


@needs_loadgen
@pytest.mark.parametrize(("scenario", "backend"), [("single-stream", "onnxruntime"), ("offline", "openvino")])
def test_scenario_over_a_shape_stream_reports_per_group(
    scenario: str, backend: str, two_input_onnx: Path, tmp_path: Path
) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    doc = api.scenario(
        two_input_onnx,
        backend=backend,
        options=_short(scenario),
        shapes=api.ShapeSpec("ids[1,4];ids[1,64]*3", stream=40),
        int_range=(0, 49),
        out=tmp_path / "o",
    )
    assert doc["shapes"]["count"] == 40 and sum(doc["shapes"]["samples_per_group"].values()) == 40
    assert doc["shapes"]["engine_dims"]["ids"][1] == [1, None]  # one engine, the sequence left open
    assert doc["probe"]["count"] >= 40  # the warm-up that sizes the scenario saw the whole stream
    groups = doc["result"]["per_group"]
    assert [g["group"] for g in groups] == ["ids[1,4]", "ids[1,64]"]
    # every sample LoadGen issued was timed and put in its group (SingleStream: one sample per query)
    if scenario == "single-stream":
        assert sum(g["samples"] for g in groups) == doc["result"]["query_count"]
    assert all(g["samples"] > 0 and g["latency_ms"]["median"]["value"] > 0 for g in groups)
    assert groups[0]["measured_from"] == ("issue" if scenario == "single-stream" else "submit")
    saved = json.loads((tmp_path / "o" / "scenario.json").read_text())
    assert saved["result"]["per_group"][1]["samples"] == groups[1]["samples"]


@needs_loadgen
@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--shape", "ids[1,4],mask[1,4]"], "leave out --shape"),
        (["--accuracy"], "accuracy mode needs the labelled --data"),
        (["--shapes", "ids[1,9..3]"], "low end above its high end"),
    ],
)
def test_scenario_shapes_bad_input_is_one_line(
    extra: list[str], fragment: str, two_input_onnx: Path, tmp_path: Path
) -> None:
    args = ["scenario", str(two_input_onnx), "--backend", "onnxruntime", "--out", str(tmp_path / "o")]
    if "--shapes" not in extra:
        args += ["--shapes", "ids[1,4];ids[1,8]"]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / "scenario.json").exists()


@needs_loadgen
def test_cli_scenario_shapes_prints_groups(two_input_onnx: Path, tmp_path: Path) -> None:
    data = tmp_path / "texts.txt"
    data.write_text("a short line\n" + "a much longer line of text with many more words in it than the first\n" * 3)
    args = ["scenario", str(two_input_onnx), "--backend", "onnxruntime", "--scenario", "single-stream"]
    args += ["--min-duration", "0.3s", "--min-queries", "20", "--warmup", "0.2", "--stream", "16"]
    args += ["--shapes", "data", "--data", str(data), "--int-range", "0,49", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "latency per shape group" in result.output
    doc = json.loads((tmp_path / "o" / "scenario.json").read_text())
    assert len(doc["result"]["per_group"]) >= 2 and doc["shapes"]["spec"] == "data"
    page = tmp_path / "r.html"
    shown = CliRunner().invoke(app, ["report", str(tmp_path / "o" / "scenario.json"), "--html", str(page)])
    assert shown.exit_code == 0, shown.output
    text = page.read_text()
    assert "Latency per shape group" in text and "latency percentiles" in text


def test_per_group_latency_sorts_samples_into_their_groups() -> None:
    groups = loadgen_sut.SampleGroups(["a", "b", "a", "b"], ["a", "b", "c"])
    out = loadgen_sut.per_group_latency(groups, [(0, 1.0), (2, 3.0), (1, 10.0), (0, 2.0)], "issue")
    assert [(g["group"], g["samples"]) for g in out] == [("a", 3), ("b", 1), ("c", 0)]
    assert out[0]["latency_ms"]["median"]["value"] == 2.0 and out[2]["latency_ms"] is None
