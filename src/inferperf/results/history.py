"""A local SQLite history of results, to watch numbers over time and catch regressions.

Every result document can be recorded whole (environment, model hash, config,
summary and raw samples, as compressed JSON) with a few indexed columns beside
it. Bench-like documents also get one row per run keyed by
(model sha256, machine fingerprint, backend, scenario, config hash), which is
what "the latest matching result" means for ``compare --against-history``.

Several processes may record at once (a suite, a bench in another terminal,
Ray results coming back): the store runs in WAL mode with a busy timeout and
every write is one ``BEGIN IMMEDIATE`` transaction, so writers queue instead
of corrupting the file or failing with "database is locked".
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inferperf.errors import ResultError
from inferperf.results.schema import finite

ENV_VAR = "INFERPERF_HISTORY"
_BUSY_MS = 60_000
_SCHEMA_VERSION = 1
_DDL = (
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recorded TEXT NOT NULL,
        created TEXT,
        kind TEXT,
        source TEXT,
        model_path TEXT,
        model_sha256 TEXT,
        machine TEXT,
        environment_fp TEXT,
        config_hash TEXT,
        summary TEXT NOT NULL,
        environment TEXT NOT NULL,
        document BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        backend TEXT NOT NULL,
        scenario TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        model_sha256 TEXT,
        machine TEXT,
        throughput_fps REAL,
        latency_median_ms REAL,
        latency_p99_ms REAL)""",
    "CREATE INDEX IF NOT EXISTS runs_match ON runs(model_sha256, machine, backend, scenario, config_hash)",
    "CREATE INDEX IF NOT EXISTS results_model ON results(model_sha256, kind)",
)


def default_history_path() -> Path:
    """$INFERPERF_HISTORY, else the user data folder (XDG): ~/.local/share/inferperf/history.sqlite."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "inferperf" / "history.sqlite"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def machine_fingerprint(environment: Mapping[str, Any]) -> str:
    """The hardware and OS a result ran on, without library versions.

    Versions are left out on purpose: a new runtime release on the same machine is
    exactly the change a regression check wants to compare across.
    """
    cpu = environment.get("cpu") or {}
    return _digest(
        {
            "cpu": cpu.get("model"),
            "cores": cpu.get("cores"),
            "logical": cpu.get("logical_cpus"),
            "features": sorted(cpu.get("features") or []),
            "memory_gb": round(float(environment.get("memory_gb") or 0)),
            "os": environment.get("os"),
            "hostname": environment.get("hostname"),
        }
    )


def environment_fingerprint(environment: Mapping[str, Any]) -> str:
    """Machine fingerprint plus every library version: what must match for a result to be reused."""
    return _digest({"machine": machine_fingerprint(environment), "versions": environment.get("versions") or {}})


def run_config_hash(run: dict[str, Any], shapes: dict[str, Any] | None) -> str:
    """What makes two runs measure the same thing: backend, scenario, runtime config and input shapes."""
    return _digest(
        {"backend": run.get("backend"), "scenario": run.get("scenario"), "config": run.get("config"), "shapes": shapes}
    )


# The figures a rerun is judged on, by the names compare uses.
RERUN_METRICS = ("throughput_fps", "latency_median_ms", "latency_p90_ms", "latency_p99_ms")


def run_figures(run: dict[str, Any]) -> dict[str, float]:
    """One run document's headline figures (positive ones only), keyed as RERUN_METRICS."""
    lat = run.get("latency_ms") or {}
    values = {
        "throughput_fps": (run.get("throughput_fps") or {}).get("value"),
        "latency_median_ms": (lat.get("median") or {}).get("value"),
        "latency_p90_ms": (lat.get("p90") or {}).get("value"),
        "latency_p99_ms": (lat.get("p99") or {}).get("value"),
    }
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and v > 0}


def _run_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    shapes = (doc.get("model") or {}).get("shapes")
    rows = []
    for run in doc.get("runs") or []:
        if not isinstance(run, dict) or "backend" not in run:
            continue
        lat = run.get("latency_ms") or {}
        rows.append(
            {
                "backend": run["backend"],
                "scenario": run.get("scenario", ""),
                "config_hash": run_config_hash(run, shapes),
                "throughput_fps": (run.get("throughput_fps") or {}).get("value"),
                "latency_median_ms": (lat.get("median") or {}).get("value"),
                "latency_p90_ms": (lat.get("p90") or {}).get("value"),
                "latency_p99_ms": (lat.get("p99") or {}).get("value"),
            }
        )
    return rows


def _generate_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A generate result's headline per backend and prompt length: TTFT, TPOT (median, p99), decode tokens/s."""
    rows = []
    for result in doc.get("results") or []:
        for level in result.get("levels") or []:
            row: dict[str, Any] = {"backend": result.get("backend"), "prompt_tokens": level.get("prompt_tokens")}
            for key in ("ttft_ms", "tpot_ms"):
                stat = level.get(key) or {}
                for q in ("median", "p99"):
                    row[f"{key.removesuffix('_ms')}_{q}_ms"] = (stat.get(q) or {}).get("value")
            row["decode_tokens_per_s"] = ((level.get("decode_tokens_per_s") or {}).get("median") or {}).get("value")
            rows.append(row)
    return rows


def summarize(doc: dict[str, Any]) -> dict[str, Any]:
    """The short form kept beside the document: one line per run, or the document's headline keys."""
    runs = _run_rows(doc)
    if runs:
        return {"runs": runs}
    if doc.get("kind") == "generate":
        return {"levels": _generate_rows(doc)}
    keep = ("backend", "winner", "headline", "recommendation", "speedup")
    return {k: doc[k] for k in keep if k in doc}


def _doc_config_hash(doc: dict[str, Any]) -> str | None:
    runs = _run_rows(doc)
    if runs:
        return _digest(sorted(r["config_hash"] for r in runs))
    return _digest(doc["config"]) if isinstance(doc.get("config"), dict) else None


class History:
    """One SQLite history file; every method opens its own short connection (safe across processes)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_history_path()

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            raise ResultError(f"no history at {self.path} (record results with --history first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ResultError(f"cannot open history {self.path}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            if write:
                self._prepare(conn)
            yield conn
        except sqlite3.Error as exc:
            raise ResultError(f"history {self.path}: {exc}") from None
        finally:
            conn.close()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment alone with the file; under contention SQLite may refuse
        # it at once instead of waiting, so it is retried. The mode is stored in the file: once set
        # it stays set and later writers find it already on.
        for attempt in range(50):
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError:
                time.sleep(0.05 * (attempt + 1))
        else:
            raise ResultError(f"history {self.path}: could not switch to WAL mode (file locked)")
        if str(mode).lower() != "wal":
            raise ResultError(f"history {self.path}: the file system does not support WAL mode ({mode})")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable on commit except on power loss
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for ddl in _DDL:
                conn.execute(ddl)
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise

    def record(self, document: Mapping[str, Any], source: str | None = None) -> int:
        """Store a result document (raw samples included); returns its id."""
        import datetime as dt

        # An unbounded interval end (inf) is stored as null, as result files write it.
        doc: dict[str, Any] = finite(document)
        env = doc.get("environment") or {}
        model = doc.get("model") or {}
        machine = machine_fingerprint(env) if env else None
        runs = _run_rows(document)  # as measured: before finite()
        blob = zlib.compress(json.dumps(doc, allow_nan=False, default=str).encode("utf-8"), 6)
        row = (
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            doc.get("created"),
            doc.get("kind"),
            source,
            model.get("path"),
            model.get("sha256"),
            machine,
            environment_fingerprint(env) if env else None,
            _doc_config_hash(doc),
            json.dumps(summarize(doc), default=str),
            json.dumps(env, default=str),
            blob,
        )
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "INSERT INTO results (recorded, created, kind, source, model_path, model_sha256, machine, "
                    "environment_fp, config_hash, summary, environment, document) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                rid = int(cur.lastrowid or 0)
                conn.executemany(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            rid,
                            r["backend"],
                            r["scenario"],
                            r["config_hash"],
                            model.get("sha256"),
                            machine,
                            r["throughput_fps"],
                            r["latency_median_ms"],
                            r["latency_p99_ms"],
                        )
                        for r in runs
                    ],
                )
                conn.execute("COMMIT")
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                raise
        return rid

    def entries(self, *, kind: str | None = None, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: id, times, kind, source, model, fingerprints and summary (no documents)."""
        where, args = ["1=1"], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if model:
            where.append("(model_sha256 LIKE ? OR model_path LIKE ?)")
            args += [f"{model}%", f"%{model}%"]
        sql = (
            "SELECT id, recorded, created, kind, source, model_path, model_sha256, machine, environment_fp, "
            f"config_hash, summary FROM results WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        )
        with self._connect(write=False) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(sql, [*args, int(limit)]).fetchall()
        return [{**dict(r), "summary": json.loads(r["summary"])} for r in rows]

    def get(self, result_id: int) -> dict[str, Any]:
        """The whole document recorded under ``result_id``, with a ``history`` block saying where it came from."""
        with self._connect(write=False) as conn:
            row = conn.execute(
                "SELECT document, recorded, source FROM results WHERE id = ?", (int(result_id),)
            ).fetchone()
        if row is None:
            raise ResultError(f"no result {result_id} in history {self.path}")
        doc: dict[str, Any] = json.loads(zlib.decompress(row[0]).decode("utf-8"))
        doc["history"] = {"id": int(result_id), "recorded": row[1], "source": row[2], "path": str(self.path)}
        return doc

    def documents(self, *, kind: str | None = None, model: str | None = None) -> Iterator[dict[str, Any]]:
        """Every matching document, oldest first (for export)."""
        for entry in reversed(self.entries(kind=kind, model=model, limit=2**62)):
            yield self.get(int(entry["id"]))

    def latest_matching(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """The newest recorded document with the same model hash, machine and run config as one of ``doc``'s runs.

        The result keeps only the runs whose config hash matches, so a comparison never
        sets a run against a differently configured one.
        """
        model_sha = (doc.get("model") or {}).get("sha256")
        machine = machine_fingerprint(doc.get("environment") or {})
        wanted = {(r["backend"], r["scenario"]): r["config_hash"] for r in _run_rows(doc)}
        if not model_sha or not wanted or not self.path.exists():
            return None
        clauses = " OR ".join("(backend = ? AND scenario = ? AND config_hash = ?)" for _ in wanted)
        # The document itself may already be recorded (bench --history): its own row is no baseline.
        args: list[Any] = [
            model_sha,
            machine,
            model_sha,
            str(doc.get("created")),
            environment_fingerprint(doc.get("environment") or {}),
        ]
        for (backend, scenario), cfg in wanted.items():
            args += [backend, scenario, cfg]
        sql = (
            "SELECT MAX(result_id) FROM runs WHERE model_sha256 = ? AND machine = ? AND result_id NOT IN "
            "(SELECT id FROM results WHERE model_sha256 = ? AND created = ? AND environment_fp = ?) "
            f"AND ({clauses})"
        )
        with self._connect(write=False) as conn:
            found = conn.execute(sql, args).fetchone()[0]
        if found is None:
            return None
        old = self.get(int(found))
        shapes = (old.get("model") or {}).get("shapes")
        old["runs"] = [
            r for r in old.get("runs", []) if wanted.get((r["backend"], r["scenario"])) == run_config_hash(r, shapes)
        ]
        return old

    def reruns(self, doc: dict[str, Any], limit: int = 50) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
        """Recorded invocations of ``doc``'s runs: (backend, scenario) -> created stamp -> metric -> figure.

        Same model hash, machine, library versions and run config: what varies between them is only the
        machine's rerun noise. ``doc`` itself is included when it was recorded (keyed by its created
        stamp, so a caller can leave it out or count it once). Newest ``limit`` per run.
        """
        model_sha = (doc.get("model") or {}).get("sha256")
        env = doc.get("environment") or {}
        if not self.path.exists() or not model_sha or not env:
            return {}
        found: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
        for row in _run_rows(doc):
            key = (row["backend"], row["scenario"])
            found[key] = {}
            for created_at, summary in self._matching(model_sha, env, row, limit):
                # The summary's rows hold the headline figures: no document (raw samples) is read.
                for old in summary.get("runs") or []:
                    if old.get("config_hash") == row["config_hash"]:
                        found[key][created_at] = {m: float(old[m]) for m in RERUN_METRICS if old.get(m)}
                        break
        return found

    def machine_reruns(
        self, doc: dict[str, Any], limit: int = 500, exclude: Collection[str] = ()
    ) -> list[list[dict[str, float]]]:
        """Every group of recorded reruns on ``doc``'s machine, any model or configuration: each group one
        (model, library versions, backend, scenario, run config), its invocations' headline figures.

        Pooled as relative spread around each group's own mean, they measure how far this machine drifts
        between invocations, which a configuration with too few reruns of its own cannot. Newest ``limit``
        results; groups of one invocation say nothing and are left out; ``exclude``: created stamps of
        results to leave out (the ones being judged).
        """
        env = doc.get("environment") or {}
        if not self.path.exists() or not env:
            return []
        sql = (
            "SELECT id, created, model_sha256, environment_fp, summary FROM results WHERE "
            "machine = ? AND kind = 'bench' ORDER BY id DESC LIMIT ?"
        )
        with self._connect(write=False) as conn:
            rows = conn.execute(sql, (machine_fingerprint(env), int(limit))).fetchall()
        groups: dict[tuple[str, ...], dict[str, dict[str, float]]] = {}
        for rid, created, model_sha, env_fp, summary in rows:
            if str(created) in exclude:
                continue
            for run in json.loads(summary).get("runs") or []:
                key = (str(model_sha), str(env_fp), str(run.get("backend")), str(run.get("scenario")))
                figures = {m: float(run[m]) for m in RERUN_METRICS if run.get(m)}
                # keyed by the result's created stamp: one invocation recorded twice counts once
                groups.setdefault((*key, str(run.get("config_hash"))), {})[str(created or rid)] = figures
        return [list(g.values()) for g in groups.values() if len(g) >= 2]

    def _matching(
        self, model_sha: str, env: dict[str, Any], row: dict[str, Any], limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """(created stamp, summary) of the newest ``limit`` results holding a run of ``row``'s configuration."""
        sql = (
            "SELECT DISTINCT results.id, results.created, results.summary FROM runs JOIN results ON "
            "results.id = runs.result_id WHERE runs.model_sha256 = ? AND runs.machine = ? AND "
            "results.environment_fp = ? AND runs.backend = ? AND runs.scenario = ? AND runs.config_hash = ? "
            "ORDER BY results.id DESC LIMIT ?"
        )
        args = (model_sha, machine_fingerprint(env), environment_fingerprint(env), row["backend"], row["scenario"])
        with self._connect(write=False) as conn:
            rows = conn.execute(sql, (*args, row["config_hash"], int(limit))).fetchall()
        return [(str(r[1] or r[0]), json.loads(r[2])) for r in rows]

    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        with self._connect(write=False) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def record(doc: Mapping[str, Any], path: str | Path | None = None, source: str | None = None) -> int:
    """Record ``doc`` in the history at ``path`` (default: $INFERPERF_HISTORY or the user data folder)."""
    return History(path).record(doc, source)


def rerun_group(doc: Mapping[str, Any], run: dict[str, Any]) -> str:
    """What two invocations must share to be reruns of one another: model, machine, versions, run config."""
    env = doc.get("environment") or {}
    model = doc.get("model")
    model = model if isinstance(model, Mapping) else {}  # a document about a flow names its model by path
    return _digest(
        {
            "model": model.get("sha256") or model.get("path"),
            "env": environment_fingerprint(env),
            "run": run_config_hash(run, model.get("shapes")),
        }
    )
