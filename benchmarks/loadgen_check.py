"""Check ``inferperf scenario``'s done criteria (MLPerf LoadGen) on zoo:resnet50.

Runs A B A B so drift hits both sides, all in this process with one configuration per pair:

* Offline samples/s within 5% of ``inferperf bench`` throughput (same backend, throughput set-up):
  the SUT must not be the bottleneck;
* SingleStream p90 within 5% of ``inferperf bench``'s latency-mode p90;
* Server at 80% of the Offline rate with a p99 bound of 3x the latency-mode median: VALID?
  Next to it, the p99 an ideal M/D/c queue (c = requests in flight, service = the warm-up's
  request latency) would have under the same Poisson arrivals: what any SUT must pay for queueing;
* ``--find-peak`` under the same bound, with its confirming run.

    python benchmarks/loadgen_check.py [--model zoo:resnet50] [--seconds 10] [--out build/loadgen_check]
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from inferperf import api
from inferperf.config import RunLimits
from inferperf.measure.loadgen import ScenarioOptions
from inferperf.results.schema import save_json


def bench_run(model: str, mode: str, seconds: float) -> dict[str, Any]:
    """One ``inferperf bench`` run (fixed time) as its run dict."""
    result = api.bench(model, mode=mode, limits=RunLimits(time_s=seconds, warmup_s=2.0))
    return result.runs[0].to_dict()


def scenario_run(model: str, out: Path, **options: Any) -> dict[str, Any]:
    """One ``inferperf scenario`` run."""
    return api.scenario(model, options=ScenarioOptions(warmup_s=2.0, **options), out=out)


def md_c_p99(servers: int, service_s: float, rate: float, n: int = 200_000, seed: int = 0) -> float:
    """p99 sojourn time (s) of an M/D/c queue: Poisson arrivals, fixed service, ``servers`` in parallel."""
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))
    free = [0.0] * servers
    sojourn = np.empty(n)
    for i, a in enumerate(arrivals):
        start = max(a, heapq.heappop(free))
        heapq.heappush(free, start + service_s)
        sojourn[i] = start + service_s - a
    return float(np.percentile(sojourn, 99))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def throughput_pair(model: str, seconds: float, rounds: int, out: Path) -> dict[str, Any]:
    bench, offline = [], []
    for r in range(rounds):
        bench.append(bench_run(model, "throughput", seconds)["throughput_fps"]["value"])
        doc = scenario_run(model, out / f"offline-{r}", scenario="offline", min_duration_s=seconds)
        offline.append(doc["result"]["metric"]["value"])
        print(
            f"  round {r + 1}: bench {bench[-1]:.2f} FPS, Offline {offline[-1]:.2f} samples/s "
            f"({doc['result']['validity']})",
            flush=True,
        )
    ratio = statistics.mean(offline) / statistics.mean(bench)
    return {
        "bench_fps": bench,
        "offline_sps": offline,
        "ratio": ratio,
        "pass": abs(ratio - 1) <= 0.05,
        "last_offline": doc,
    }


def latency_pair(model: str, seconds: float, rounds: int, out: Path) -> dict[str, Any]:
    bench_p90, bench_median, ss_p90 = [], [], []
    for r in range(rounds):
        run = bench_run(model, "latency", seconds)
        bench_p90.append(run["latency_ms"]["p90"]["value"])
        bench_median.append(run["latency_ms"]["median"]["value"])
        doc = scenario_run(model, out / f"single-{r}", scenario="single-stream", min_duration_s=seconds)
        ss_p90.append(doc["result"]["latency_ms"]["p90"])
        print(
            f"  round {r + 1}: bench p90 {bench_p90[-1]:.2f} ms, SingleStream p90 {ss_p90[-1]:.2f} ms "
            f"({doc['result']['validity']})",
            flush=True,
        )
    ratio = statistics.mean(ss_p90) / statistics.mean(bench_p90)
    return {
        "bench_p90_ms": bench_p90,
        "bench_median_ms": bench_median,
        "single_stream_p90_ms": ss_p90,
        "ratio": ratio,
        "pass": abs(ratio - 1) <= 0.05,
    }


def server_checks(model: str, offline: dict[str, Any], median_ms: float, out: Path, seconds: float) -> dict[str, Any]:
    rate = 0.8 * offline["result"]["metric"]["value"]
    bound = 3 * median_ms
    doc = scenario_run(
        model,
        out / "server",
        scenario="server",
        target_qps=rate,
        p99_max_ms=bound,
        min_duration_s=seconds,
        max_duration_s=45.0,
    )
    res = doc["result"]
    servers = int(doc["effective"]["requests_in_flight"])
    ideal = md_c_p99(servers, offline["probe"]["median_ms"] / 1e3, rate) * 1e3
    print(
        f"  Server at {rate:.2f} q/s (80% of Offline), bound {bound:.1f} ms: {res['validity']}, "
        f"p99 {res['latency_ms']['p99']:.1f} ms; ideal M/D/{servers} queue p99 {ideal:.1f} ms",
        flush=True,
    )
    # The latency set-up (one request, all cores) is a single server whose service time is the
    # latency-mode median: the best any SUT could do with it under the same arrivals.
    ideal_latency_setup = md_c_p99(1, median_ms / 1e3, rate) * 1e3
    print(f"  ideal M/D/1 queue with the latency set-up ({median_ms:.1f} ms service): p99 {ideal_latency_setup:.1f} ms")
    if not res["valid"]:
        print("    why: " + "; ".join(res["why_invalid"]))
    peak = scenario_run(
        model,
        out / "peak",
        scenario="server",
        find_peak=True,
        p99_max_ms=bound,
        min_duration_s=seconds,
        peak_steps=5,
        peak_run_s=4.0,
        max_duration_s=45.0,  # a low peak would otherwise need minutes to reach early stopping's count
    )
    confirm = peak["result"]
    print(
        f"  find-peak under {bound:.1f} ms: {peak['peak']['peak_qps']} q/s"
        + (f", confirming run {confirm['validity']} p99 {confirm['latency_ms']['p99']:.1f} ms" if confirm else "")
    )
    return {
        "rate_qps": rate,
        "bound_ms": bound,
        "validity": res["validity"],
        "why_invalid": res["why_invalid"],
        "p99_ms": res["latency_ms"]["p99"],
        "ideal_md_c_p99_ms": ideal,
        "ideal_latency_setup_p99_ms": ideal_latency_setup,
        "pass": res["valid"],
        "peak_qps": peak["peak"]["peak_qps"],
        "peak_trials": peak["peak"]["trials"],
        "peak_confirm": None
        if confirm is None
        else {
            "validity": confirm["validity"],
            "p99_ms": confirm["latency_ms"]["p99"],
            "why_invalid": confirm["why_invalid"],
        },
        "peak_fraction_of_offline": None
        if peak["peak"]["peak_qps"] is None
        else peak["peak"]["peak_qps"] / offline["result"]["metric"]["value"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zoo:resnet50")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("build/loadgen_check"))
    args = parser.parse_args()
    print("Offline vs bench throughput", flush=True)
    tput = throughput_pair(args.model, args.seconds, args.rounds, args.out)
    print("SingleStream vs bench latency", flush=True)
    lat = latency_pair(args.model, args.seconds, args.rounds, args.out)
    print("Server", flush=True)
    server = server_checks(
        args.model, tput.pop("last_offline"), statistics.median(lat["bench_median_ms"]), args.out, args.seconds
    )
    print(f"\nOffline / bench throughput: {tput['ratio']:.3f}  {verdict(tput['pass'])} (within 5%)")
    print(f"SingleStream p90 / bench p90: {lat['ratio']:.3f}  {verdict(lat['pass'])} (within 5%)")
    print(
        f"Server at 80% Offline VALID under 3x median: {verdict(server['pass'])} "
        f"(p99 {server['p99_ms']:.1f} ms vs bound {server['bound_ms']:.1f} ms; "
        f"ideal queue {server['ideal_md_c_p99_ms']:.1f} ms)"
    )
    print(f"find-peak: {server['peak_qps']} q/s ({server['peak_fraction_of_offline']} of Offline)")
    save_json({"throughput": tput, "latency": lat, "server": server}, args.out / "loadgen_check.json")
    return 0 if tput["pass"] and lat["pass"] and server["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
