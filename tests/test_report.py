"""HTML reports (opened in headless Chromium when it is installed) and the compare command."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferperf import api
from inferperf.cli import app
from inferperf.config import RunLimits
from inferperf.errors import ConfigError
from inferperf.report.compare import compare_docs, judge, regressions
from inferperf.report.html import figures_for, render_html
from inferperf.results.documents import parse
from inferperf.results.schema import SCHEMA
from inferperf.stats import Interval

runner = CliRunner()


@pytest.fixture(scope="module")
def bench_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.conftest import _save, make_matmul_model

    path = _save(make_matmul_model(), tmp_path_factory.mktemp("m") / "tiny.onnx")
    result = api.bench(path, mode="both", limits=RunLimits(iterations=300, warmup_s=0))
    return result.to_dict()


def _with_latencies(doc: dict[str, Any], factor: float, seed: int) -> dict[str, Any]:
    """A copy of ``doc`` whose latencies are synthetic, scaled by ``factor`` (completion times to match)."""
    rng = np.random.default_rng(seed)
    out = json.loads(json.dumps(doc))
    for run in out["runs"]:
        lat = rng.gamma(20.0, 0.05, 3000) * factor
        run["samples"] = {"latency_ms": lat.tolist(), "completed_at_s": (np.cumsum(lat) / 1e3).tolist()}
        run["batch"] = 1
        run["repeats"] = None  # one synthetic run: the headline figures below are its own
        for q, p in (("median", 50), ("p90", 90), ("p99", 99)):
            value = float(np.percentile(lat, p))
            run["latency_ms"][q] = {**run["latency_ms"][q], "value": value, "ci95": [value * 0.99, value * 1.01]}
        rate = lat.size / (float(lat.sum()) / 1e3)
        run["throughput_fps"] = {**run["throughput_fps"], "value": rate, "ci95": [rate * 0.99, rate * 1.01]}
    return out


def test_compare_detects_a_slowdown_and_calls_equal_runs_equal(bench_doc: dict[str, Any]) -> None:
    from inferperf.report.compare import DRIFT_UNKNOWN
    from inferperf.results.history import RERUN_METRICS
    from inferperf.stats import RerunNoise

    a = _with_latencies(bench_doc, 1.0, 0)
    blind = compare_docs(parse(a), parse(_with_latencies(bench_doc, 1.25, 2)))  # separate runs, the drift unknown
    assert {r["verdict"] for r in blind["rows"]} == {DRIFT_UNKNOWN} and not regressions(blind, 0.05)
    # the machine's drift between invocations known (1%, from 20 recorded reruns)
    keys = {(r["backend"], r["scenario"]) for r in blind["rows"]}
    noise = {(*k, m): RerunNoise(0.01, 19, 20) for k in keys for m in RERUN_METRICS}
    same = compare_docs(parse(a), parse(_with_latencies(bench_doc, 1.0, 1)), noise=noise)
    assert {r["verdict"] for r in same["rows"]} == {"no significant difference"}
    slow = compare_docs(parse(a), parse(_with_latencies(bench_doc, 1.25, 2)), noise=noise)
    lat = [r for r in slow["rows"] if r["metric"] == "latency_median_ms"]
    assert all(r["verdict"] == "slower" and r["ci95"][0] < 1.25 < r["ci95"][1] * 1.05 for r in lat)
    tput = [r for r in slow["rows"] if r["metric"] == "throughput_fps"]
    assert all(r["verdict"] == "slower" for r in tput)
    assert regressions(slow, 0.05) and not regressions(slow, 0.5)


def test_judge_respects_noise_threshold() -> None:
    assert judge(Interval(1.01, 1.005, 1.015, "x"), True, 0.02) == "no significant difference"
    assert judge(Interval(1.10, 1.05, 1.15, "x"), True, 0.02) == "faster"
    assert judge(Interval(1.10, 1.05, 1.15, "x"), False, 0.02) == "slower"


def test_compare_cli_gate_exit_codes(bench_doc: dict[str, Any], tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_with_latencies(bench_doc, 1.0, 0)))
    newer = _with_latencies(bench_doc, 1.3, 3)  # a new runtime release, 30% slower
    newer["environment"]["versions"] = {**newer["environment"].get("versions", {}), "openvino": "next"}
    b.write_text(json.dumps({**newer, "created": "2026-01-02T00:00:00"}))
    res = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-slower", "5%"])
    assert res.exit_code == 0 and "regression" not in res.output  # separate runs, the machine's drift unknown
    hist = tmp_path / "h.sqlite"
    for k, factor in enumerate((0.99, 1.0, 1.01, 1.0)):  # reruns on this machine: its drift, about 1%
        rerun = _with_latencies(bench_doc, factor, 10 + k)
        api.history_record({**rerun, "created": f"2026-01-01T00:0{k}:00"}, hist)
    res = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-slower", "5%", "--history-file", str(hist)])
    assert res.exit_code == 1 and "regression" in res.output, res.output
    res = runner.invoke(app, ["compare", str(a), str(a), "--fail-if-slower", "5%"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["compare", str(a), str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "not found" in res.output and "Traceback" not in res.output


def test_report_cli_rejects_non_results(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    res = runner.invoke(app, ["report", str(bad), "--html", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "not an inferperf result" in res.output


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def test_report_opens_in_headless_chromium(bench_doc: dict[str, Any], tmp_path: Path) -> None:
    found = _chromium()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if found is None:
        pytest.skip("chromium and chromedriver are not installed")
    page = render_html("test", [("bench", bench_doc, "<p>note</p>")], tmp_path / "report.html")
    expected = len(figures_for(bench_doc))
    assert expected == 2
    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=found[1])
    driver = webdriver.Chrome(options=opts, service=service)
    try:
        driver.get(page.resolve().as_uri())
        count = (
            "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(d => d.querySelector('svg.main-svg') && d.querySelectorAll('.trace').length > 0).length"
        )
        # Plotly draws asynchronously after the load event; on a busy machine the first look can come
        # before it has: poll (up to 30 s) instead of reading once.
        deadline = time.monotonic() + 30
        rendered = driver.execute_script(count)
        while rendered < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            rendered = driver.execute_script(count)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
    finally:
        driver.quit()
    assert rendered == expected
    assert errors == []
    assert [u for u in urls if not u.startswith(("file:", "data:", "blob:", "about:"))] == []


def _invocation(median: float, fps: float) -> dict[str, object]:
    run = {
        "backend": "openvino",
        "scenario": "latency",
        "latency_ms": {q: {"value": median * k} for q, k in (("median", 1.0), ("p90", 1.2), ("p99", 1.5))},
        "throughput_fps": {"value": fps},
    }
    return {"schema": SCHEMA, "kind": "bench", "runs": [run], "model": {"path": "m.onnx"}}


def test_a_group_compare_takes_its_interval_from_the_invocations_spread() -> None:
    from inferperf.report.compare import compare_groups

    rng = np.random.default_rng(0)
    drift = lambda: float(np.exp(rng.normal(0, 0.15)))  # noqa: E731 - 15% between invocations
    a = [_invocation(1.0 * drift(), 1000 * drift()) for _ in range(5)]
    b = [_invocation(1.5 * drift(), 700 * drift()) for _ in range(5)]
    rows = {r["metric"]: r for r in compare_groups([parse(d) for d in a], [parse(d) for d in b])["rows"]}
    assert rows["latency_median_ms"]["verdict"] == "slower" and rows["throughput_fps"]["verdict"] == "slower"
    assert rows["latency_median_ms"]["covers"] == "invocations" and rows["latency_median_ms"]["invocations"] == [5, 5]
    same = compare_groups([parse(d) for d in a[:3]], [parse(d) for d in a[3:]])  # A/A: the spread covers the drift
    assert all(r["verdict"] == "no significant difference" for r in same["rows"])
    with pytest.raises(ConfigError, match="at least 2 results on each side"):
        compare_groups(a[:1], b)


def test_compare_globs_are_groups(tmp_path: Path) -> None:
    for i, (m, f) in enumerate([(1.0, 1000), (1.05, 980), (0.97, 1010)]):
        (tmp_path / f"a{i}.json").write_text(json.dumps(_invocation(m, f)))
        (tmp_path / f"b{i}.json").write_text(json.dumps(_invocation(2 * m, f / 2)))
    out = tmp_path / "c.json"
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "a*.json"), str(tmp_path / "b*.json"), "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert len(doc["a"]["paths"]) == 3 and {r["verdict"] for r in doc["rows"]} == {"slower"}


EXAMPLES = sorted((Path(__file__).parent / "data" / "results").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_stored_example_draws_its_figures(path: Path) -> None:
    """Each kind's figures build from a stored example, an unbounded interval end (null: too few runs for a 95%
    bound) included: it draws no bar on that side instead of failing the report."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    for fig in figures_for(doc):
        assert fig.data and fig.layout.title.text
        for trace in fig.data:
            for bars in (getattr(trace, "error_x", None), getattr(trace, "error_y", None)):
                if bars is not None and bars.array is not None:
                    assert all(v >= 0 for v in (*bars.array, *bars.arrayminus))


def test_a_figure_with_nothing_to_draw_is_left_out() -> None:
    from inferperf.report.plots import err_triple, figure

    assert figure([], "title", "x", "y") is None
    assert err_triple({"value": 2.0, "ci95": [None, 3.0]}) == (2.0, 0.0, 1.0)
    assert err_triple({"value": 2.0}) == (2.0, 0.0, 0.0)


def _console_renderers() -> dict[str, Any]:
    from inferperf.report import console as c
    from inferperf.report import (
        dynamic_console,
        e2e_console,
        generate_console,
        profile_console,
        scenario_console,
        startup_console,
        suite_report,
        tune_console,
    )

    return {
        "accuracy": c.render_accuracy, "doctor": c.render_doctor, "quantize": c.render_quantize,
        "prune": c.render_quantize, "precision": c.render_quantize, "dynamic": dynamic_console.render_dynamic,
        "e2e": e2e_console.render_e2e, "generate": generate_console.render_generate,
        "generate-serving": generate_console.render_serving, "llm-compress": generate_console.render_compress,
        "scenario-llm": generate_console.render_llm_scenario, "profile": profile_console.render_profile,
        "profile-compare": profile_console.render_profile_compare,
        "profile-shapes": lambda doc, con: profile_console.render_profile_shapes(doc, con, 10),
        "scenario": scenario_console.render_scenario, "coldstart": startup_console.render_coldstart,
        "memory": startup_console.render_memory, "tune": tune_console.render_tune,
        "compare": tune_console.render_compare, "suite": suite_report.render_console,
    }  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_stored_example_renders_on_the_console(path: Path) -> None:
    """A document read back from its file (an unbounded interval end is null there, not inf) renders."""
    import io

    from rich.console import Console

    from inferperf.report.console import render_bench
    from inferperf.results.schema import BenchResult

    doc = json.loads(path.read_text(encoding="utf-8"))
    console = Console(file=io.StringIO(), width=120)
    if doc.get("kind", "bench") == "bench":
        render_bench(BenchResult.from_dict(doc), console)
    elif (render := _console_renderers().get(path.stem)) is not None:
        render(doc, console)
    else:
        pytest.skip(f"{path.stem}: shown by its command's own summary, not a document renderer")
    assert console.file.getvalue().strip()  # type: ignore[attr-defined]


def test_an_unbounded_interval_end_reads_inf_everywhere() -> None:
    from inferperf.report.text import ci, half_width_pct, interval, ratio

    assert ci({"value": 1.5, "ci95": [1.25, 1.75]}) == "1.50 [1.25, 1.75]"
    assert ci({"value": 1.5, "ci95": [None, None]}, 1, suffix="x") == "1.5x [-inf, inf]"
    assert ci({"value": 1.5, "ci95": [0.0, float("inf")]}, prefix="x") == "x1.50 [0.00, inf]"
    assert interval({"ci95": [1.0, 2.0]}, ".3g") == "[1, 2]"
    assert ratio({"ratio": 2.0, "ci95": [1.9, None]}) == "x2.000 [1.900, inf]"
    assert half_width_pct({"value": 10.0, "ci95": [9.0, 12.0]}) == pytest.approx(20.0)
    assert half_width_pct({"value": 10.0, "ci95": [9.0, None]}) == float("inf")


@pytest.mark.parametrize("kind", ["prune", "precision"])
def test_prune_and_precision_have_quantizes_views(kind: str, tmp_path: Path) -> None:
    """They write the guarded document quantize writes, so `inferperf report` draws them the same way."""
    from inferperf.report.html import report_for

    doc = json.loads((Path(__file__).parent / "data" / "results" / f"{kind}.json").read_text(encoding="utf-8"))
    page = report_for(doc, tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"inferperf {kind}" in page


def test_a_nan_or_infinite_end_reads_as_itself() -> None:
    from inferperf.report.text import bound

    assert (bound(float("nan")), bound(float("-inf")), bound(float("inf"), upper=False)) == ("nan", "-inf", "inf")
