"""The suite of benches and the local history of results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inferperf.errors import ConfigError
from inferperf.results.documents import SuiteDocument


def suite(options: Any = None, *, status: Callable[[str], None] | None = None) -> SuiteDocument:
    """Measure a matrix of models x variants x backends, one cell at a time; returns the suite document.

    ``options`` is an ``inferperf.suite.SuiteOptions``. Each cell's bench result is written to
    ``OUT/cells/`` and recorded in the history as it finishes; with ``ray_address`` the cells run as
    Ray tasks on the cluster's nodes. On Ctrl-C the finished cells and reports stay and
    KeyboardInterrupt is raised again.
    """
    from inferperf.suite import Suite, SuiteOptions

    opts: SuiteOptions = options or SuiteOptions()
    runner = Suite(opts, status or (lambda _message: None))
    if opts.ray_address:
        from inferperf.suite.ray_runner import run_on_ray

        return run_on_ray(runner)
    return runner.run()


def history_record(doc: Mapping[str, Any], path: str | Path | None = None, source: str | None = None) -> int:
    """Record a result document in the history (default: $INFERPERF_HISTORY or the user data folder)."""
    from inferperf.results.history import record

    return record(doc, path, source)


def history_list(
    path: str | Path | None = None, *, kind: str | None = None, model: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recorded results, newest first (summaries, not whole documents)."""
    from inferperf.results.history import History

    return History(path).entries(kind=kind, model=model, limit=limit)


def history_show(result_id: int, path: str | Path | None = None) -> dict[str, Any]:
    """One recorded result document, whole."""
    from inferperf.results.history import History

    return History(path).get(result_id)


def history_export(
    out: str | Path,
    path: str | Path | None = None,
    *,
    fmt: str = "jsonl",
    kind: str | None = None,
    model: str | None = None,
) -> int:
    """Write recorded results to ``out``: ``jsonl`` (whole documents) or ``csv`` (one line per run); the count."""
    import csv
    import io
    import json

    from inferperf.results.history import History
    from inferperf.results.schema import atomic_write_text

    store = History(path)
    if fmt == "jsonl":
        docs = list(store.documents(kind=kind, model=model))
        atomic_write_text("".join(json.dumps(d, default=str) + "\n" for d in docs), out)
        return len(docs)
    if fmt != "csv":
        raise ConfigError(f"invalid export format {fmt!r}: expected jsonl or csv")
    entries = list(reversed(store.entries(kind=kind, model=model, limit=2**62)))
    buf = io.StringIO()
    fields = ("backend", "scenario", "throughput_fps", "latency_median_ms", "latency_p99_ms", "config_hash")
    writer = csv.writer(buf)
    writer.writerow(("id", "recorded", "created", "kind", "model_path", "model_sha256", "machine", *fields))
    for e in entries:
        for run in e["summary"].get("runs") or [{}]:
            head = (e["id"], e["recorded"], e["created"], e["kind"], e["model_path"], e["model_sha256"], e["machine"])
            writer.writerow((*head, *(run.get(f, "") for f in fields)))
    atomic_write_text(buf.getvalue(), out)
    return len(entries)
