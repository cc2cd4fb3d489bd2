"""The self-restarting closed loop (backends/openvino_loop.py) with stand-in requests: stop, failures."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from inferperf.backends.openvino_loop import SelfRestarting
from inferperf.errors import BackendError


class FakeRequest:
    """Completes each start on another thread and calls its callback, like an InferRequest; can fail."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.latency = 1.0
        self.starts = 0
        self._fail_after = fail_after
        self._failed = False
        self._callback: Any = None

    def set_callback(self, callback: Any, _userdata: Any) -> None:
        self._callback = callback

    def start_async(self, userdata: Any = None) -> None:
        self.starts += 1
        if self._fail_after is not None and self.starts > self._fail_after:
            self._failed = True  # a failed inference never calls back
            return
        threading.Thread(target=self._callback, args=(userdata,)).start()

    def wait_for(self, _ms: int) -> bool:
        if self._failed:
            raise RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp:223:\nout of memory\n")
        return True

    def wait(self) -> None:
        self.wait_for(0)


class CountingSink:
    def __init__(self, stop_at: int, boom_at: int | None = None) -> None:
        self.latencies: list[float] = []
        self._stop_at, self._boom_at = stop_at, boom_at

    def record(self, done_at: float, latency_ms: float) -> None:
        if self._boom_at is not None and len(self.latencies) == self._boom_at:
            raise ValueError("sink broke")
        self.latencies.append(latency_ms)

    def should_stop(self) -> bool:
        return len(self.latencies) >= self._stop_at


def test_requests_restart_themselves_until_the_sink_stops() -> None:
    requests = [FakeRequest() for _ in range(3)]
    sink = CountingSink(stop_at=60)
    SelfRestarting(requests, sink).run()
    # Every start completes once: the stop lets each request's last inference finish and be counted.
    assert len(sink.latencies) == sum(r.starts for r in requests) >= 60
    assert len(sink.latencies) < 60 + len(requests)
    assert all(r.starts > 1 for r in requests)


def test_a_request_that_never_calls_back_is_raised_with_its_cause() -> None:
    requests = [FakeRequest(fail_after=3), FakeRequest(fail_after=3)]
    with pytest.raises(BackendError, match="OpenVINO inference failed: out of memory"):
        SelfRestarting(requests, CountingSink(stop_at=10**9)).run()


def test_an_error_in_the_callback_stops_the_loop_and_is_raised() -> None:
    requests = [FakeRequest() for _ in range(2)]
    with pytest.raises(BackendError, match="sink broke"):
        SelfRestarting(requests, CountingSink(stop_at=10**9, boom_at=5)).run()
