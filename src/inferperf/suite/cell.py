"""Running one suite cell: a bench in a fresh worker process, returned as the bench result document.

A fresh process per cell keeps cells from disturbing each other (allocator state,
thread pools, a runtime that crashes or hangs): the parent enforces the timeout
and kills the worker's process group, and one bad cell never ends the suite.

Worker side: ``python -m inferperf.suite.cell`` reads the job on stdin and prints
the sentinel line of ``inferperf.measure.worker``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from inferperf.measure.environment import collect_environment
from inferperf.measure.worker import SENTINEL, run_worker
from inferperf.suite.plan import Job


def bench_job(job: Job) -> dict[str, Any]:
    """Run the job's bench in this process; the result document as a dict."""
    from inferperf.config import RunLimits, RuntimeConfig
    from inferperf.measure.bench import bench

    result = bench(
        job["model"],
        backends=[job["backend"]],
        mode=job["mode"],
        config=RuntimeConfig.from_dict(job["config"]),
        limits=RunLimits.from_dict(job["limits"]),
        shape=job.get("shape"),
        seed=int(job.get("seed", 0)),
    )
    doc = result.to_dict()
    if job.get("int8"):
        _int8_peak(doc)
    return doc


def _int8_peak(doc: dict[str, Any]) -> None:
    """An INT8 model's effective rate set against this machine's measured INT8 peak (inferperf doctor).

    bench compares every model with the FP32 matmul peak; for an INT8 model the fair ceiling is
    the runtime's INT8 matmul peak, which doctor measures too.
    """
    from inferperf.measure.compute import runtime_versions
    from inferperf.measure.peak import load_cached_peak

    peak = load_cached_peak(doc["environment"]["cpu"]["model"], runtime_versions(doc["environment"])) or {}
    for run in doc["runs"]:
        compute, int8 = run.get("compute"), peak.get(f"{run['backend']}_int8_gops")
        if compute and int8:
            compute["int8_peak_gops"] = int8
            compute["fraction_of_int8_peak"] = compute["effective_gflops"]["value"] / int8


def run_cell(job: Job) -> tuple[dict[str, Any] | None, str | None]:
    """(bench document, None) or (None, why it failed); never raises for a failed or hung cell."""
    result = run_worker(job, float(job["timeout_s"]), argv=[sys.executable, "-m", "inferperf.suite.cell"])
    if result.ok:
        return result.data, None
    return None, result.error or "worker failed"


def current_fingerprints(backends: list[str]) -> dict[str, str]:
    """Environment fingerprint per backend on this machine, as a bench here would record it."""
    from inferperf.backends import get_backend
    from inferperf.errors import InferperfError
    from inferperf.results.history import environment_fingerprint

    out: dict[str, str] = {}
    for name in backends:
        env = collect_environment()
        try:
            env["versions"].update(get_backend(name).versions())
        except InferperfError:
            continue  # a missing runtime cannot have measured anything to reuse
        out[name] = environment_fingerprint(env)
    return out


def main() -> None:
    """Worker entry point."""
    t_main = time.time()
    job = json.loads(sys.stdin.read())
    from inferperf.errors import InferperfError

    try:
        if job.get("task") == "suite-llm-cell":
            from inferperf.suite.llm import generate_job

            result = generate_job(job)
        else:
            result = bench_job(job)
        result["worker_main_at"] = t_main
    except InferperfError as exc:
        result = {"error": exc.one_line()}
    print(f"{SENTINEL} {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()
