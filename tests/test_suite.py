"""inferperf suite: planning, a local matrix on tiny models, resume, failures, reports, and Ray scale-out."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.config import RunLimits
from inferperf.errors import BackendUnavailableError, ConfigError
from inferperf.results.history import History
from inferperf.suite import Cell, Suite, SuiteOptions
from inferperf.suite.plan import cells, quantizer_of, reference_of

from .conftest import _save, make_matmul_model
from .test_history import bench_doc

QUICK = RunLimits(iterations=60, warmup_s=0.05)


def _tiny(folder: Path, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _save(make_matmul_model(), folder / f"{name}.onnx")


def test_plan_and_validation() -> None:
    opts = SuiteOptions(models=("a.onnx", "zoo:x"), backends=("openvino", "onnxruntime"), variants=("fp32", "int8"))
    assert len(cells(opts)) == 8 and cells(opts)[0] == Cell("a.onnx", "fp32", "openvino")
    assert opts.mode == "both" and SuiteOptions(modes=("latency",)).mode == "latency"
    assert quantizer_of("int8", "onnxruntime") == "onnxruntime" and quantizer_of("int8-openvino", "x") == "openvino"
    assert reference_of(opts) == ("openvino", "fp32")
    assert reference_of(SuiteOptions(reference="onnxruntime:fp32")) == ("onnxruntime", "fp32")
    with pytest.raises(ConfigError, match="invalid variant"):
        SuiteOptions(variants=("fp16",))
    with pytest.raises(ConfigError, match="invalid --reference"):
        SuiteOptions(reference="torch:fp32")
    with pytest.raises(ConfigError, match="invalid mode"):
        SuiteOptions(modes=("both",))


@pytest.mark.slow
def test_a_decoder_llm_gets_its_own_rows_beside_the_cnns(tmp_path: Path) -> None:
    pytest.importorskip("openvino_genai")
    pytest.importorskip("nncf")
    model = _tiny(tmp_path / "m")
    opts = SuiteOptions(
        models=(str(model), "zoo:tiny-llama"),
        backends=("onnxruntime",),
        variants=("fp32", "int8"),
        out=tmp_path / "out",
        limits=RunLimits(time_s=0.3, warmup_s=0.05),
        history=tmp_path / "h.sqlite",
    )
    assert [c.backend for c in cells(opts) if c.model == "zoo:tiny-llama"] == ["openvino-genai"] * 2
    doc = api.suite(opts)
    llm = {c["variant"]: c for c in doc["cells"] if c["model"] == "zoo:tiny-llama"}
    for variant in ("fp32", "int8"):
        cell = llm[variant]
        assert cell["status"] == "ok", cell
        s = cell["summary"]
        assert s["generative"] and s["ttft_median_ms"]["value"] > 0 and s["tpot_median_ms"]["value"] > 0
        assert s["decode_tokens_per_s"]["value"] > 0
    made = next(v for v in doc["variants"] if v["model"] == "zoo:tiny-llama" and v["variant"] == "int8")
    assert made["details"]["weights"] == "int8" and made["sha256"]
    md = (tmp_path / "out" / "suite.md").read_text()
    assert "## Decoder LLMs" in md and "TPOT median ms" in md
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "suite.csv").read_text())))
    assert sum(1 for r in rows if r["tpot_median_ms"]) == 2
    assert len(History(tmp_path / "h.sqlite").entries(kind="generate")) == 2


@pytest.mark.slow
def test_local_suite_writes_cells_reports_history_and_resumes(tmp_path: Path) -> None:
    model = _tiny(tmp_path / "m")
    hist = tmp_path / "h.sqlite"
    opts = SuiteOptions(
        models=(str(model), str(tmp_path / "missing.onnx")),
        backends=("onnxruntime", "openvino"),
        variants=("fp32", "int8"),
        out=tmp_path / "out",
        limits=QUICK,
        history=hist,
        reference="onnxruntime:fp32",
    )
    doc = api.suite(opts)
    by = {(c["model"], c["variant"], c["backend"]): c for c in doc["cells"]}
    for variant in ("fp32", "int8"):
        for backend in ("onnxruntime", "openvino"):
            cell = by[(str(model), variant, backend)]
            assert cell["status"] == "ok", cell
            assert Path(cell["file"]).is_file()
            assert cell["summary"]["latency_median_ms"]["value"] > 0
            assert cell["summary"]["throughput_fps"]["value"] > 0
    ref = by[(str(model), "fp32", "onnxruntime")]["vs_reference"]
    assert ref["throughput"]["ratio"] == pytest.approx(1.0)
    other = by[(str(model), "int8", "openvino")]["vs_reference"]
    assert other["latency_median"]["verdict"] in ("faster", "slower", "no significant difference")
    # A model that does not load fails its cells, and the suite goes on.
    missing = by[(str(tmp_path / "missing.onnx"), "fp32", "onnxruntime")]
    assert missing["status"] == "failed" and "cannot load" in missing["error"]
    variant = next(v for v in doc["variants"] if v["variant"] == "int8" and v["sha256"])
    assert variant["details"]["quantizer"] == "onnxruntime" and "cosine_mean" in variant["details"]["fidelity"]
    out = tmp_path / "out"
    assert (out / "suite.json").is_file() and "<script" in (out / "suite.html").read_text()
    md = (out / "suite.md").read_text()
    assert "reference: onnxruntime:fp32" in md and "| tiny |" not in md
    rows = list(csv.DictReader(io.StringIO((out / "suite.csv").read_text())))
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok", "failed"}
    assert len(History(hist).entries(kind="bench")) == 4
    # --resume: same model hash, config and environment -> nothing measured again, INT8 reused from the cache.
    again = api.suite(SuiteOptions(**{**opts.__dict__, "resume": True}))
    statuses = {(c["variant"], c["backend"]): c["status"] for c in again["cells"] if c["model"] == str(model)}
    assert set(statuses.values()) == {"reused"}
    assert len(History(hist).entries(kind="bench")) == 4
    int8 = next(v for v in again["variants"] if v["variant"] == "int8" and v["sha256"])
    assert int8["details"]["cached"] is True


@pytest.mark.slow
def test_ir_variant_is_unsupported_on_onnxruntime(tmp_path: Path) -> None:
    model = _tiny(tmp_path / "m")
    opts = SuiteOptions(
        models=(str(model),),
        backends=("onnxruntime",),
        variants=("int8-openvino",),
        modes=("latency",),
        out=tmp_path / "out",
        limits=QUICK,
        record_history=False,
    )
    doc = api.suite(opts)
    (cell,) = doc["cells"]
    assert cell["status"] == "unsupported"
    assert "onnxruntime cannot load openvino" in cell["error"] and "made by openvino" in cell["error"]


def test_interrupt_keeps_finished_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_cell(job: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        calls.append(job["backend"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return bench_doc(), None

    monkeypatch.setattr("inferperf.suite.runner.run_cell", fake_cell)
    model = _tiny(tmp_path / "m")
    opts = SuiteOptions(
        models=(str(model),), backends=("onnxruntime", "openvino"), out=tmp_path / "out", record_history=False
    )
    with pytest.raises(KeyboardInterrupt):
        Suite(opts).run()
    doc = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert doc["interrupted"] is True
    assert [c["status"] for c in doc["cells"]] == ["ok", "pending"]
    assert (tmp_path / "out" / "cells" / "tiny__fp32__onnxruntime.json").is_file()
    assert (tmp_path / "out" / "suite.md").is_file()


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError, installed or not
    from inferperf.suite.ray_runner import import_ray

    with pytest.raises(BackendUnavailableError) as caught:
        import_ray()
    assert "pip install 'inferperf[ray]'" in caught.value.one_line()
    result = CliRunner().invoke(
        app, ["suite", "--models", "builtin", "--ray", "auto", "--out", str(tmp_path / "o"), "--no-history"]
    )
    assert result.exit_code == 2 and "needs Ray" in result.output


# ---------------------------------------------------------------- Ray: the scheduler against a scripted cluster


class _ScriptedTask:
    """ray.remote(_cell_task) for _ScriptedRay: each call streams the events a real cell task would."""

    def __init__(self, ray: _ScriptedRay) -> None:
        self.ray = ray
        self.node = ""

    def options(self, **kw: Any) -> _ScriptedTask:
        assert kw["max_retries"] == 0 and kw["num_returns"] == "streaming"
        self.node = kw["scheduling_strategy"].node_id
        return self

    def remote(self, job: dict[str, Any], _shipped: list[Any]) -> Iterator[Any]:
        node, ray = self.node, self.ray
        dies = node == ray.doomed and all(n != node for n, _ in ray.sent)  # the doomed node's first cell
        ray.sent.append((node, job["model"]))
        return iter(ray.script(node, len(ray.sent), dies))


class _ScriptedRay:
    """Just enough of the ray module for the suite's scheduler: node B dies while it runs its first cell."""

    def __init__(self) -> None:
        import ray

        self.exceptions = ray.exceptions
        self.alive = {"aa" * 28: True, "bb" * 28: True}
        self.doomed = "bb" * 28
        self.sent: list[tuple[str, str]] = []  # (node, model) per send

    def script(self, node: str, pid: int, dies: bool) -> Iterator[Any]:
        here = {"node_id": node, "hostname": "h", "pid": pid}
        yield {"event": "running", "node": here}
        if dies:
            self.alive[node] = False
            yield self.exceptions.NodeDiedError("the node died")
        else:
            yield {"event": "done", "doc": bench_doc(), "error": None, "node": here}

    def nodes(self) -> list[dict[str, Any]]:
        return [{"NodeID": n, "Alive": alive} for n, alive in self.alive.items()]

    def put(self, value: Any) -> Any:
        return value

    def remote(self, _fn: Any) -> _ScriptedTask:
        return _ScriptedTask(self)

    def wait(self, streams: list[Any], num_returns: int) -> tuple[list[Any], list[Any]]:
        return streams[:num_returns], streams[num_returns:]

    def get(self, ref: Any) -> Any:
        if isinstance(ref, Exception):
            raise ref
        return ref


def _scripted_suite(tmp_path: Path, max_attempts: int) -> tuple[dict[str, Any], _ScriptedRay]:
    pytest.importorskip("ray")
    from inferperf.suite.ray_runner import ray_executor

    ray = _ScriptedRay()
    models = [str(_tiny(tmp_path / "m", f"tiny{i}")) for i in range(3)]
    opts = SuiteOptions(models=tuple(models), backends=("onnxruntime",), out=tmp_path / "out", record_history=False)
    suite = Suite(opts)
    nodes = [{"node_id": n} for n in ray.alive]
    return suite.run(ray_executor(ray, nodes, max_attempts, suite.status), {}), ray


@pytest.mark.parametrize("max_attempts", [2, 1])
def test_ray_scheduler_records_a_node_lost_under_a_cell(tmp_path: Path, max_attempts: int) -> None:
    doc, ray = _scripted_suite(tmp_path, max_attempts)
    a, b = "aa" * 28, "bb" * 28
    by = {c["model"]: c for c in doc["cells"]}
    victim = next(model for node, model in ray.sent if node == b)
    others = [c for m, c in by.items() if m != victim]
    # Every other cell ran once, on the surviving node, and kept its file.
    assert all(c["status"] == "ok" and c["attempts"] == 1 and not c["lost_nodes"] for c in others)
    assert all(c["node"]["node_id"] == a and Path(c["file"]).is_file() for c in others)
    lost = by[victim]
    assert lost["lost_nodes"] == [
        {"node_id": b, "hostname": "h", "pid": 2, "running": True, "attempt": 1, "error": "the node died"}
    ]
    assert [n for n, m in ray.sent].count(b) == 1, "a dead node was sent another cell"
    if max_attempts == 2:  # retried on the other node: ok, two attempts, the node it finally ran on
        assert lost["status"] == "ok" and lost["attempts"] == 2 and lost["node"]["node_id"] == a
        saved = json.loads(Path(lost["file"]).read_text())["suite_cell"]
        assert saved["attempts"] == 2 and saved["lost_nodes"] == lost["lost_nodes"]
    else:  # no attempt left: failed, on the node that died under it
        assert lost["status"] == "failed" and lost["attempts"] == 1 and lost["node"]["node_id"] == b
        assert "died while running it (1 attempt(s) in all)" in lost["error"] and lost["file"] is None


# ---------------------------------------------------------------- Ray: a local two-node cluster on loopback


def _label(cell: dict[str, Any]) -> str:
    return Cell(cell["model"], cell["variant"], cell["backend"]).label()


@pytest.mark.slow  # a two-node Ray cluster on loopback: about 35 s on 2 cores; skipped without ray
def test_ray_cluster_survives_a_killed_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    from ray._private import ray_constants

    # Loopback only: Ray otherwise rewrites a 127.0.0.1 address to the machine's outward IP,
    # where this cluster does not listen.
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    from ray.cluster_utils import Cluster

    from inferperf.suite import ray_runner

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "resources": {"inferperf_slot": 1, "cpu-test": 1},
            "node_ip_address": "127.0.0.1",
            "include_dashboard": False,
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
        },
    )
    worker = cluster.add_node(num_cpus=1, resources={"inferperf_slot": 1, "cpu-test": 1}, node_ip_address="127.0.0.1")
    cluster.wait_for_nodes()
    head_id, worker_id = cluster.head_node.node_id, worker.node_id
    models = [str(_tiny(tmp_path / "m", f"tiny{i}")) for i in range(4)]
    hist = tmp_path / "h.sqlite"
    opts = SuiteOptions(
        models=tuple(models),
        backends=("onnxruntime",),
        modes=("latency",),
        out=tmp_path / "out",
        # A cell measures for 1.5 s after its worker process starts: the kill below, made as soon as the
        # cell reports that it runs, lands seconds before it could finish.
        limits=RunLimits(time_s=1.5, warmup_s=0.0),
        history=hist,
        # The cluster listens on loopback only; its .address names the machine's outward IP.
        ray_address="127.0.0.1:" + cluster.address.rsplit(":", 1)[1],
        nodes=("cpu-test",),
    )
    running: dict[str, str] = {}  # cell label -> node it last reported running on
    done: dict[str, str] = {}  # cell label -> node it was running on when its result came back
    killed: list[str] = []  # the cell running on the worker node when it was killed

    def status(message: str) -> None:
        if ": running on node " in message:
            label, rest = message.split(": running on node ")
            running[label] = rest.split()[0]
            # Kill the worker node while it runs a cell after it has finished one (a node runs one cell
            # at a time, so its first is done): one running cell is lost, one finished there must stay.
            if running[label] == worker_id[:8] and worker_id[:8] in done.values() and not killed:
                cluster.remove_node(worker, allow_graceful=False)
                killed.append(label)
        elif ": done" in message:
            label = message.split(": done", maxsplit=1)[0]
            done[label] = running[label]

    try:
        doc = ray_runner.run_on_ray(Suite(opts, status))
    finally:
        cluster.shutdown()
    assert killed, f"the worker node never ran a second cell: {running}"
    by = {_label(c): c for c in doc["cells"]}
    assert len(by) == 4 and all(c["status"] == "ok" for c in by.values()), [c["error"] for c in by.values()]
    # The cell running on the worker when it died: recorded as lost there, then run again on the head.
    victim = by.pop(killed[0])
    assert victim["attempts"] == 2 and victim["node"]["node_id"] == head_id
    (lost,) = victim["lost_nodes"]
    assert lost["node_id"] == worker_id and lost["running"] is True and lost["attempt"] == 1
    assert json.loads(Path(victim["file"]).read_text())["suite_cell"]["lost_nodes"] == [lost]
    # Nothing finished is lost, the worker's own finished cell included; each ran once, where it says.
    assert worker_id in {c["node"]["node_id"] for c in by.values()}
    for label, cell in by.items():
        assert cell["attempts"] == 1 and cell["lost_nodes"] == [] and done[label] == cell["node"]["node_id"][:8]
    for cell in doc["cells"]:
        result = json.loads(Path(cell["file"]).read_text())
        assert result["suite_cell"]["node"] == cell["node"] and result["environment"]["cpu"]["model"]
    assert len(History(hist).entries(kind="bench")) == 4
    assert doc["executor"].startswith("ray ") and len(doc["nodes"]) == 2
