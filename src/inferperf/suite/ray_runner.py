"""Suite cells as Ray tasks on the nodes of an existing Ray cluster.

Each node that may measure offers a custom resource, ``inferperf_slot: 1``
(``ray start --resources '{"inferperf_slot": 1, "cpu-xeon": 1}'``); a cell asks for
the whole slot and is pinned to one chosen node, and this driver keeps at most one
cell in flight per node, so no node ever runs two measurements at once. ``--nodes``
picks nodes by label: a custom resource name or a Ray node label (key, value or
key=value). A cell runs in a fresh worker process on its node, whose bench records
that node's own environment; results come back to this driver, which writes the
files and the history.

A cell's task first reports that it is running, and where, then its result, so the
driver knows which node a cell actually ran on. Ray itself never retries a cell
(``max_retries=0``): when a node dies, this driver records the loss on the cell
(``lost_nodes``), never sends that node anything again, and puts the cell back in the
queue for another node, up to ``max_attempts`` sends in all (``attempts``); after that,
or with no measuring node left, the cell is marked failed. Everything already finished
stays: its file and history entry were written when its result came back.

Ray is an optional extra (``pip install 'inferperf[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from inferperf.errors import ConfigError, require, runtime_cause
from inferperf.results.documents import SuiteDocument
from inferperf.suite.cell import current_fingerprints, run_cell
from inferperf.suite.plan import Cell, Job
from inferperf.suite.runner import CellEnd, Executor, Finish, Status, Suite

SLOT = "inferperf_slot"
_INSTALL = "pip install 'inferperf[ray]'  (or: pip install ray)"


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    return require("ray", "--ray needs Ray, which is not installed", _INSTALL)


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


class Node(TypedDict):
    """Where a cell ran: the Ray node, its host name and the worker's process."""

    node_id: str
    hostname: str
    pid: int


def _here() -> Node:
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": platform.node(), "pid": os.getpid()}


def _materialize(job: Job, shipped: list[Any]) -> Job:
    """The job with its model on this node: the driver's files if this node sees them, else a local copy."""
    import ray

    if all(Path(f).is_file() for f in job["files"]):
        return job
    folder = Path.home() / ".cache" / "inferperf" / "ray-models" / job["sha256"]
    llm = job.get("task") == "suite-llm-cell"  # a decoder LLM is its whole folder
    main = folder if llm else folder / Path(job["model"]).name
    if not (folder / "openvino_model.xml" if llm else main).is_file():
        files: dict[str, bytes] = ray.get(shipped[0])
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return {**job, "model": str(main)}


def _cell_task(job: Job, shipped: list[Any]) -> Iterator[dict[str, Any]]:
    """A Ray generator task: one cell in a fresh worker process on this node.

    It yields twice: ``running`` with this node as soon as it starts, then ``done`` with the result.
    """
    node = _here()
    yield {"event": "running", "node": node}
    doc, error = run_cell(_materialize(job, shipped))
    yield {"event": "done", "doc": doc, "error": error, "node": node}


def _probe_task(backends: list[str]) -> dict[str, str]:
    """A Ray task: this node's environment fingerprints (for --resume)."""
    return current_fingerprints(backends)


# ---------------------------------------------------------------- driver side


@dataclass
class _Try:
    """One send of a cell to a node."""

    cell: Cell
    job: Job
    node_id: str
    stream: Any  # the task's ObjectRefGenerator
    running: dict[str, Any] | None = None  # the node as the task reported it once it began


class _Scheduler:
    """At most one cell in flight per node; a dead node's cell is retried on another."""

    def __init__(self, ray: Any, nodes: list[dict[str, Any]], max_attempts: int, status: Status) -> None:
        self.ray = ray
        self.nodes = [n["node_id"] for n in nodes]
        self.idle = list(self.nodes)
        self.dead: set[str] = set()
        self.max_attempts = max_attempts
        self.status = status
        self.attempts: Counter[str] = Counter()  # sends per cell
        self.lost: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)  # nodes that died under a cell
        self.shipped: dict[str, Any] = {}
        self.remote = ray.remote(_cell_task)

    def _ship(self, job: Job) -> Any:
        # Model bytes go to the object store once per model file set; a node fetches them only
        # when it cannot see the driver's files (they are passed nested, so Ray does not fetch them eagerly).
        if job["sha256"] not in self.shipped:
            files = {Path(f).name: Path(f).read_bytes() for f in job["files"]}
            self.shipped[job["sha256"]] = self.ray.put(files)
        return self.shipped[job["sha256"]]

    def _submit(self, node_id: str, job: Job) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return self.remote.options(
            num_cpus=0,
            num_returns="streaming",
            resources={SLOT: 1},
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            max_retries=0,  # a retry goes to another node, decided and counted here, not to the same one
        ).remote(job, [self._ship(job)])

    def _finish(
        self, finish: Finish, cell: Cell, doc: dict[str, Any] | None, error: str | None, node: dict[str, Any] | None
    ) -> None:
        finish(CellEnd(cell, doc, error, node, self.attempts[cell.name], list(self.lost[cell.name])))

    def run(self, pending: list[tuple[Cell, Job]], finish: Finish) -> None:
        queue = deque(pending)
        flying: dict[Any, _Try] = {}
        while queue or flying:
            while queue and self.idle:
                node_id = self.idle.pop(0)
                cell, job = queue.popleft()
                self.attempts[cell.name] += 1
                self.status(f"{cell.label()}: sent to node {node_id[:8]} (attempt {self.attempts[cell.name]})")
                sent = _Try(cell, job, node_id, self._submit(node_id, job))
                flying[sent.stream] = sent
            if not flying:
                break
            ready, _ = self.ray.wait(list(flying), num_returns=1)
            sent = flying.pop(ready[0])
            if self._step(sent, queue, finish):
                flying[sent.stream] = sent
        for cell, _job in queue:
            self._finish(finish, cell, None, "no live Ray node left to run it", None)

    def _step(self, sent: _Try, queue: deque[tuple[Cell, Job]], finish: Finish) -> bool:
        """Take the task's next report; whether it is still in flight."""
        cell = sent.cell
        try:
            event = self.ray.get(next(sent.stream))
        except StopIteration:
            event = {"event": "done", "doc": None, "error": "the Ray task ended without a result", "node": None}
        except self.ray.exceptions.RayError as exc:
            self._failed(sent, exc, queue, finish)
            return False
        if event["event"] == "running":
            sent.running = event["node"]
            self.status(f"{cell.label()}: running on node {sent.node_id[:8]} (pid {event['node'].get('pid')})")
            return True
        self.idle.append(sent.node_id)
        self._finish(finish, cell, event["doc"], event["error"], event["node"] or sent.running)
        return False

    def _failed(self, sent: _Try, exc: Exception, queue: deque[tuple[Cell, Job]], finish: Finish) -> None:
        """The task failed: by its own error on a live node, or because its node died."""
        node = sent.running or {"node_id": sent.node_id}
        if isinstance(exc, self.ray.exceptions.RayTaskError) or _survived(self.ray, sent.node_id):
            self.idle.append(sent.node_id)
            self._finish(finish, sent.cell, None, f"ray task failed: {runtime_cause(exc)}", node)
            return
        self._lost(sent, exc, node, queue, finish)

    def _lost(
        self,
        sent: _Try,
        exc: Exception,
        node: dict[str, Any],
        queue: deque[tuple[Cell, Job]],
        finish: Finish,
    ) -> None:
        """The node died under the cell: never use it again; retry the cell elsewhere while attempts remain."""
        cell, short = sent.cell, sent.node_id[:8]
        self.dead.add(sent.node_id)
        when = "while running it" if sent.running else "before it started"
        self.lost[cell.name].append(
            {
                **node,
                "running": sent.running is not None,
                "attempt": self.attempts[cell.name],
                "error": runtime_cause(exc),
            }
        )
        if self.attempts[cell.name] < self.max_attempts and self._others():
            self.status(f"{cell.label()}: node {short} died {when}; retrying on another node")
            queue.appendleft((cell, sent.job))
            return
        tries = self.attempts[cell.name]
        self._finish(finish, cell, None, f"node {short} died {when} ({tries} attempt(s) in all)", node)

    def _others(self) -> list[str]:
        """Measuring nodes that have not died under a cell and that the cluster still calls alive."""
        alive = {n["NodeID"] for n in self.ray.nodes() if n.get("Alive")}
        return [n for n in self.nodes if n not in self.dead and n in alive]


def ray_executor(ray: Any, nodes: list[dict[str, Any]], max_attempts: int, status: Status) -> Executor:
    """An executor that spreads cells over ``nodes``, one at a time per node."""

    def execute(pending: list[tuple[Cell, Job]], finish: Finish) -> None:
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


def run_on_ray(suite: Suite) -> SuiteDocument:
    """Run ``suite`` on the Ray cluster at its ``ray_address``; the suite document."""
    ray = import_ray()
    options = suite.options
    try:
        ray.init(address=options.ray_address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the Ray cluster at {options.ray_address}: {runtime_cause(exc)}") from None
    try:
        nodes = select_nodes(ray, options.nodes)
        suite.executor_name = f"ray {options.ray_address}"
        suite.nodes = nodes
        suite.status(f"ray: {len(nodes)} measuring node(s): " + ", ".join(n["node_id"][:8] for n in nodes))
        prints = _fingerprints(ray, nodes, list(options.backends)) if options.resume else {}
        return suite.run(ray_executor(ray, nodes, options.max_attempts, suite.status), prints)
    finally:
        ray.shutdown()
