"""OpenVINO's requests in flight: the closed loop (each request restarts itself from its callback) and the
queue fed one input at a time (LoadGen's SUT, the e2e pipeline).

Why not ``AsyncInferQueue`` and a loop on this thread (what benchmark_app's C++ loop does): from Python
every completion must wake this thread, which on a machine whose cores the streams keep busy waits to
be scheduled, and the request idles meanwhile. Restarting inside the callback, on the runtime's own
thread that just finished the request, needs no wake-up at all. Measured on 2 cores (AMD EPYC, AVX2),
throughput hint, 2 streams, a 4-conv model of ~1 ms per inference, 3 rounds of 3 s each (issue 34):
request-busy fraction 0.944-0.948 -> 0.974-0.976 with 2 requests, 0.970-0.973 -> 0.986-0.987 with 4.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inferperf.backends.base import AsyncRequests, InputSet, RequestSink
from inferperf.errors import BackendError, runtime_cause


class Relay:
    """The only Python object OpenVINO's threads hold: a callable that forwards to its target until cut.

    OpenVINO keeps the completion callback in C++ and its executor threads hold copies of it for a moment
    after a request completes, so the last reference to the callback can be released on one of those
    threads, after the wait has returned. If the callback owned the engine (a bound method does, and
    callers' ``on_done`` closures often do), that release destroys the compiled model on its own executor
    thread, whose destructor joins that thread: ``std::system_error: Resource deadlock avoided`` and an
    abort. Cutting ``target`` on our thread before the requests go leaves the runtime threads holding
    nothing but this empty relay.
    """

    __slots__ = ("__weakref__", "target")

    def __init__(self, target: Callable[..., None]) -> None:
        self.target: Callable[..., None] | None = target

    def __call__(self, *args: Any) -> None:
        target = self.target
        if target is not None:
            target(*args)


_TICK_S = 0.25  # how often the waiting thread looks for a request that failed (a failed one never calls back)


class SelfRestarting:
    """``requests`` InferRequests, each bound once to its own input set, restarted from their callbacks until
    the sink says stop; the calling thread only waits. The requests belong to the engine (reused by every
    run): none is ever released on a runtime thread."""

    def __init__(self, requests: Sequence[Any], sink: RequestSink) -> None:
        self._requests = requests
        self._sink = sink
        self._lock = threading.Lock()  # the sink's two appends and its checks from several runtime threads
        self._live = 0
        self._count = 0  # completions so far: a tick that sees none asks the requests whether one failed
        self._done = threading.Event()
        self._errors: list[BaseException] = []

    def _completed(self, index: int) -> None:
        request = self._requests[index]
        done_at = time.perf_counter()
        try:
            with self._lock:
                self._sink.record(done_at, request.latency)
                self._count += 1
                again = not self._errors and not self._sink.should_stop()
            if again:
                request.start_async(userdata=index)
                return
        except Exception as exc:  # raised on OpenVINO's thread it would be lost: re-raised by run()
            self._errors.append(exc)
        self._retire()

    def _retire(self) -> None:
        with self._lock:
            self._live -= 1
            if self._live == 0:
                self._done.set()

    def run(self) -> None:
        relay = Relay(self._completed)
        for request in self._requests:
            request.set_callback(relay, None)
        self._live = len(self._requests)
        try:
            for index, request in enumerate(self._requests):
                request.start_async(userdata=index)
            self._wait()
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc
        finally:
            relay.target = None  # the runtime threads keep nothing that owns the sink or the requests
        if self._errors:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(self._errors[0])}") from self._errors[0]

    def _wait(self) -> None:
        """Until every request has retired; a request whose inference failed never calls back, so each tick
        without progress asks the requests, and ``wait_for`` raises the failure."""
        seen = -1
        while not self._done.wait(_TICK_S):
            count = self._count
            if count == seen:
                for request in self._requests:
                    request.wait_for(0)
            seen = count
        for request in self._requests:
            request.wait()  # the last callbacks have returned their request to idle


_RELEASE_WAIT_S = 2.0


class QueuedRequests(AsyncRequests):
    """An AsyncInferQueue fed one input at a time; completions go to a callback with their tag."""

    def __init__(
        self,
        compiled: Any,
        outputs: Sequence[str],
        tensors: Callable[[InputSet], dict[int, Any]],
        requests: int,
        on_done: Callable[[int, dict[str, np.ndarray]], None],
    ) -> None:
        import openvino as ov

        self._outputs = list(outputs)
        self._tensors = tensors
        self._on_done = on_done
        self._errors: list[BaseException] = []
        self._queue: Any = ov.AsyncInferQueue(compiled, requests)
        relay = Relay(self._done)
        self._queue.set_callback(relay)
        self._relay = weakref.ref(relay)  # only OpenVINO owns it: its death says every copy was released
        del relay

    def _done(self, request: Any, tag: int) -> None:
        try:
            outs = {name: np.array(request.get_output_tensor(i).data) for i, name in enumerate(self._outputs)}
            self._on_done(tag, outs)
        except Exception as exc:  # raised from OpenVINO's thread would be lost: re-raised in wait_all
            self._errors.append(exc)

    def failed(self) -> bool:
        return bool(self._errors)

    def close(self) -> None:
        """Drain, cut the relay, drop the queue here, then wait until OpenVINO's threads let go of the relay.

        The queue holds our callback in C++ (queue -> callback -> self -> queue), a cycle Python's collector
        cannot see, so it must be dropped by hand. The wait matters for the next step too: a compiled model
        destroyed while a runtime thread still needs the GIL to release its copy of the callback would
        join that thread with the GIL held, and hang.
        """
        if self._queue is None:
            return
        with contextlib.suppress(RuntimeError):  # failures were reported by wait_all already
            self._queue.wait_all()
        relay = self._relay()
        if relay is not None:
            relay.target = None
        del relay
        self._queue = None
        deadline = time.perf_counter() + _RELEASE_WAIT_S
        while self._relay() is not None and time.perf_counter() < deadline:
            time.sleep(0.0005)  # the GIL is free while we sleep: the thread that holds the copy can drop it

    def submit(self, inputs: InputSet, tag: int) -> None:
        try:
            idle = self._queue.get_idle_request_id()  # blocks until a request is free
            self._queue[idle].set_input_tensors(self._tensors(inputs))
            self._queue.start_async(userdata=tag)
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc

    def wait_all(self) -> None:
        try:
            self._queue.wait_all()
        except RuntimeError as exc:
            raise BackendError(f"OpenVINO inference failed: {runtime_cause(exc)}") from exc
        if self._errors:
            raise BackendError(f"OpenVINO completion failed: {runtime_cause(self._errors[0])}") from self._errors[0]
