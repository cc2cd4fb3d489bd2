"""Suite cells as Ray tasks on the nodes of an existing Ray cluster.

Each node that may measure offers a custom resource, ``inferperf_slot: 1``
(``ray start --resources '{"inferperf_slot": 1, "cpu-xeon": 1}'``); a cell asks for
the whole slot and is pinned to one chosen node, and this driver keeps at most one
cell in flight per node, so no node ever runs two measurements at once. ``--nodes``
picks nodes by label: a custom resource name or a Ray node label (key, value or
key=value). A cell runs in a fresh worker process on its node, whose bench records
that node's own environment; results come back to this driver, which writes the
files and the history. When a node dies, its cell goes back to the queue for
another node (up to ``max_attempts``) and everything already finished stays.

Ray is an optional extra (``pip install 'inferperf[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

from inferperf.errors import BackendUnavailableError, ConfigError, first_line
from inferperf.suite.cell import current_fingerprints, run_cell
from inferperf.suite.plan import Cell
from inferperf.suite.runner import Executor, Finish, Status, Suite

SLOT = "inferperf_slot"
_INSTALL = "pip install 'inferperf[ray]'  (or: pip install ray)"


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError("--ray needs Ray, which is not installed", hint=_INSTALL) from None
    return ray


def _matches(node: dict[str, Any], labels: tuple[str, ...]) -> bool:
    if not labels:
        return True
    names = set(node.get("Resources") or {})
    for key, value in (node.get("Labels") or {}).items():
        names |= {str(key), str(value), f"{key}={value}"}
    return any(label in names for label in labels)


def select_nodes(ray: Any, labels: tuple[str, ...]) -> list[dict[str, Any]]:
    """Alive nodes that offer a measuring slot and carry one of ``labels`` (any, when none are given)."""
    chosen = [
        {
            "node_id": n["NodeID"],
            "address": n.get("NodeManagerAddress"),
            "labels": sorted(k for k in (n.get("Resources") or {}) if not k.startswith(("node:", "CPU", "memory")))
            + [f"{k}={v}" for k, v in sorted((n.get("Labels") or {}).items()) if not k.startswith("ray.io/")],
        }
        for n in ray.nodes()
        if n.get("Alive") and (n.get("Resources") or {}).get(SLOT, 0) >= 1 and _matches(n, labels)
    ]
    if not chosen:
        wanted = f" labelled {', '.join(labels)}" if labels else ""
        raise ConfigError(
            f"no live Ray node{wanted} offers the {SLOT} resource",
            hint=f"start measuring nodes with: ray start --resources '{{\"{SLOT}\": 1}}'",
        )
    return chosen


def _alive(ray: Any, node_id: str) -> bool:
    return any(n["NodeID"] == node_id and n.get("Alive") for n in ray.nodes())


def _survived(ray: Any, node_id: str, wait_s: float = 15.0) -> bool:
    """Whether the node is still alive once the cluster has had time to notice a death.

    A task fails at once when its node dies, but the cluster marks the node dead only after
    missed health checks; asking at once would call the node alive and send it the next cell.
    """
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(ray, node_id):
            return False
        time.sleep(0.5)
    return True


# ---------------------------------------------------------------- what runs on a node


def _here() -> dict[str, Any]:
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": platform.node(), "pid": os.getpid()}


def _materialize(job: dict[str, Any], shipped: list[Any]) -> dict[str, Any]:
    """The job with its model on this node: the driver's files if this node sees them, else a local copy."""
    import ray

    if all(Path(f).is_file() for f in job["files"]):
        return job
    folder = Path.home() / ".cache" / "inferperf" / "ray-models" / job["sha256"]
    main = folder / Path(job["model"]).name
    if not main.is_file():
        files: dict[str, bytes] = ray.get(shipped[0])
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return {**job, "model": str(main)}


def _cell_task(job: dict[str, Any], shipped: list[Any]) -> dict[str, Any]:
    """A Ray task: one cell in a fresh worker process on this node."""
    doc, error = run_cell(_materialize(job, shipped))
    return {"doc": doc, "error": error, "node": _here()}


def _probe_task(backends: list[str]) -> dict[str, str]:
    """A Ray task: this node's environment fingerprints (for --resume)."""
    return current_fingerprints(backends)


# ---------------------------------------------------------------- driver side


class _Scheduler:
    """At most one cell in flight per node; a dead node's cell is retried on another."""

    def __init__(self, ray: Any, nodes: list[dict[str, Any]], max_attempts: int, status: Status) -> None:
        self.ray = ray
        self.idle = [n["node_id"] for n in nodes]
        self.max_attempts = max_attempts
        self.status = status
        self.attempts: Counter[str] = Counter()
        self.shipped: dict[str, Any] = {}
        self.remote = ray.remote(_cell_task)

    def _ship(self, job: dict[str, Any]) -> Any:
        # Model bytes go to the object store once per model file set; a node fetches them only
        # when it cannot see the driver's files (they are passed nested, so Ray does not fetch them eagerly).
        if job["sha256"] not in self.shipped:
            files = {Path(f).name: Path(f).read_bytes() for f in job["files"]}
            self.shipped[job["sha256"]] = self.ray.put(files)
        return self.shipped[job["sha256"]]

    def _submit(self, node_id: str, job: dict[str, Any]) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return self.remote.options(
            num_cpus=0,
            resources={SLOT: 1},
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            max_retries=0,  # a retry goes to another node, decided here, not to the same one
        ).remote(job, [self._ship(job)])

    def run(self, pending: list[tuple[Cell, dict[str, Any]]], finish: Finish) -> None:
        queue = deque(pending)
        flying: dict[Any, tuple[Cell, dict[str, Any], str]] = {}
        while queue or flying:
            while queue and self.idle:
                node_id = self.idle.pop(0)
                cell, job = queue.popleft()
                self.status(f"{cell.label()}: started on node {node_id[:8]}")
                flying[self._submit(node_id, job)] = (cell, job, node_id)
            if not flying:
                break
            ready, _ = self.ray.wait(list(flying), num_returns=1)
            cell, job, node_id = flying.pop(ready[0])
            self._collect(ready[0], cell, job, node_id, queue, finish)
        for cell, _job in queue:
            finish(cell, None, "no live Ray node left to run it", None)

    def _collect(
        self,
        ref: Any,
        cell: Cell,
        job: dict[str, Any],
        node_id: str,
        queue: deque[tuple[Cell, dict[str, Any]]],
        finish: Finish,
    ) -> None:
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            if _survived(self.ray, node_id):
                self.idle.append(node_id)
                finish(cell, None, f"ray task failed: {first_line(exc)}", {"node_id": node_id})
                return
            self._lost(cell, job, node_id, queue, finish)
            return
        self.idle.append(node_id)
        finish(cell, result["doc"], result["error"], result["node"])

    def _lost(
        self,
        cell: Cell,
        job: dict[str, Any],
        node_id: str,
        queue: deque[tuple[Cell, dict[str, Any]]],
        finish: Finish,
    ) -> None:
        """The node died under the cell: never use it again; retry the cell elsewhere while attempts remain."""
        self.attempts[cell.name] += 1
        if self.attempts[cell.name] < self.max_attempts and self._others(node_id):
            self.status(f"{cell.label()}: node {node_id[:8]} lost, retrying on another node")
            queue.appendleft((cell, job))
            return
        finish(cell, None, f"node {node_id[:8]} died during the cell ({self.attempts[cell.name]} attempt(s))", None)

    def _others(self, dead: str) -> list[str]:
        return [n["NodeID"] for n in self.ray.nodes() if n.get("Alive") and n["NodeID"] != dead]


def ray_executor(ray: Any, nodes: list[dict[str, Any]], max_attempts: int, status: Status) -> Executor:
    """An executor that spreads cells over ``nodes``, one at a time per node."""

    def execute(pending: list[tuple[Cell, dict[str, Any]]], finish: Finish) -> None:
        _Scheduler(ray, nodes, max_attempts, status).run(pending, finish)

    return execute


def _fingerprints(ray: Any, nodes: list[dict[str, Any]], backends: list[str]) -> dict[str, set[str]]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(_probe_task)
    refs = [
        probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["node_id"], soft=False)).remote(
            backends
        )
        for n in nodes
    ]
    out: dict[str, set[str]] = {}
    for found in ray.get(refs):
        for backend, fp in found.items():
            out.setdefault(backend, set()).add(fp)
    return out


def run_on_ray(suite: Suite) -> dict[str, Any]:
    """Run ``suite`` on the Ray cluster at its ``ray_address``; the suite document."""
    ray = import_ray()
    options = suite.options
    try:
        ray.init(address=options.ray_address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the Ray cluster at {options.ray_address}: {first_line(exc)}") from None
    try:
        nodes = select_nodes(ray, options.nodes)
        suite.executor_name = f"ray {options.ray_address}"
        suite.nodes = nodes
        suite.status(f"ray: {len(nodes)} measuring node(s): " + ", ".join(n["node_id"][:8] for n in nodes))
        prints = _fingerprints(ray, nodes, list(options.backends)) if options.resume else {}
        return suite.run(ray_executor(ray, nodes, options.max_attempts, suite.status), prints)
    finally:
        ray.shutdown()
