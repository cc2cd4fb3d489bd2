"""Fresh worker processes: a job goes in as JSON on stdin, a result comes back as JSON on stdout.

Cold numbers (start-up, compile, first inference) and memory peaks can only
be measured in a process that has not run the model before. The parent
blocks on the pipe (never spins), enforces a timeout, and kills the worker's
whole process group if it hangs; a crash or a hang is reported as a failed
run, never raised.

Worker side: ``python -m inferperf.measure.worker`` reads the job and prints
one line ``@@inferperf-result@@ {...}``; anything a runtime prints around it
is ignored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferperf.jsonform import NOT_IN_JSON, JsonRecord

SENTINEL = "@@inferperf-result@@"
_TAIL = 400


@dataclass(frozen=True)
class WorkerResult(JsonRecord):
    """What came back from one worker: its data, or why there is none."""

    ok: bool
    data: dict[str, Any]
    error: str | None
    returncode: int | None
    wall_s: float
    started_at: float = field(metadata=NOT_IN_JSON)  # time.time() just before the process was spawned


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(SENTINEL):
            try:
                data = json.loads(line[len(SENTINEL) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_worker(job: Mapping[str, Any], timeout_s: float, argv: list[str] | None = None) -> WorkerResult:
    """Run one job in a fresh process; never raises for a crashed or hung worker."""
    cmd = argv or [sys.executable, "-m", "inferperf.measure.worker"]
    started = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a kill takes its children too
    )
    try:
        stdout, stderr = proc.communicate(json.dumps(job), timeout=timeout_s)
    except KeyboardInterrupt:
        # The worker runs in its own session, so the terminal's Ctrl-C never reached it.
        _kill_group(proc)
        proc.communicate()
        raise
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return WorkerResult(
            False, {}, f"worker hung: killed after {timeout_s:g} s timeout", None, time.perf_counter() - t0, started
        )
    wall = time.perf_counter() - t0
    data = _parse(stdout)
    if proc.returncode == 0 and data is not None and "error" not in data:
        return WorkerResult(True, data, None, 0, wall, started)
    if data is not None and "error" in data:
        return WorkerResult(False, data, str(data["error"]), proc.returncode, wall, started)
    how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
    tail = stderr.strip()[-_TAIL:].replace("\n", " | ") or "no output"
    return WorkerResult(False, {}, f"worker crashed ({how}): {tail}", proc.returncode, wall, started)


def main() -> None:
    """Worker entry point: run the job from stdin, print the sentinel line."""
    t_main = time.time()
    job = json.loads(sys.stdin.read())
    from inferperf.errors import InferperfError
    from inferperf.measure.tasks import TASKS

    try:
        task = TASKS[job["task"]]
        result = {**task(job), "worker_main_at": t_main}
    except InferperfError as exc:
        kind = "runtime: " if exc.exit_code == 3 else "config: "
        result = {"error": kind + exc.one_line()}
    print(f"{SENTINEL} {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()
