"""The two ways an image reaches the model in an end-to-end run: pre-processed on the host (each stage
timed apart when a clock is given), or copied raw into a model that does its own pre-processing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inferperf.backends.base import Engine
from inferperf.inputs.dataset import PreprocessSpec
from inferperf.measure.e2e_inputs import Decoder, ImageItem, Postprocessor


class Clock(Protocol):
    """Marks the end of each stage."""

    def lap(self, stage: str) -> None:
        """The stage called ``stage`` just ended."""


class StageClock:
    """Times each stage from the end of the previous one."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = (now - self._last) * 1e3
        self._last = now

    def total_ms(self) -> float:
        """First lap start to last lap end."""
        return (self._last - self._start) * 1e3


class _NoClock:
    def lap(self, stage: str) -> None:
        return None


NO_CLOCK = _NoClock()


@dataclass(frozen=True)
class HostPreprocess:
    """Decode, resize, colour, normalise and lay out on the host, as an application does."""

    decoder: Decoder
    spec: PreprocessSpec
    size: tuple[int, int]

    def prepare(self, item: ImageItem, clock: Clock) -> np.ndarray:
        """One input up to the layout change: float32 [1, C, H, W] or [1, H, W, C]."""
        image = self.decoder.decode(item.read())
        clock.lap("read_decode")
        image = self.decoder.resize(image, self.size)
        clock.lap("resize")
        image = self.decoder.convert_color(image, self.spec.color)
        clock.lap("color")
        channels = image.shape[-1]
        x = np.subtract(image, np.asarray(self.spec.mean[:channels], np.float32), dtype=np.float32)
        x /= np.asarray(self.spec.scale[:channels], np.float32)
        clock.lap("normalize")
        x = np.ascontiguousarray(x.transpose(2, 0, 1))[None] if self.spec.layout == "NCHW" else x[None]
        clock.lap("layout")
        return x


class HostPath:
    """Host pre-processing, a copy into the tensor the runtime reads, inference, post-processing."""

    def __init__(
        self,
        pre: HostPreprocess,
        engine: Engine,
        input_name: str,
        shape: tuple[int, ...],
        dtype: str,
        post: Postprocessor,
    ) -> None:
        self.pre, self.engine, self.input_name, self.post = pre, engine, input_name, post
        # The runtime reads this buffer in place (shared-memory tensor), so filling it is the copy.
        self.buffer = np.zeros(shape, np.dtype(dtype))

    def run(self, item: ImageItem, clock: Clock) -> dict[str, np.ndarray]:
        """One input, end to end; returns the raw outputs."""
        x = self.pre.prepare(item, clock)
        np.copyto(self.buffer, x)
        clock.lap("copy")
        outputs = self.engine.infer({self.input_name: self.buffer})
        clock.lap("infer")
        self.post(outputs)
        clock.lap("postprocess")
        return outputs


class FusedPath:
    """The raw decoded image straight into a model that pre-processes it itself."""

    _MAX_BUFFERS = 16  # one buffer per raw image size, like an application would keep

    def __init__(self, decoder: Decoder, engine: Engine, input_name: str, post: Postprocessor) -> None:
        self.decoder, self.engine, self.input_name, self.post = decoder, engine, input_name, post
        self._buffers: dict[tuple[int, ...], np.ndarray] = {}

    def _buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._buffers.get(shape)
        if buf is None:
            if len(self._buffers) >= self._MAX_BUFFERS:
                self._buffers.clear()
            buf = self._buffers[shape] = np.empty((1, *shape), np.uint8)
        return buf

    def run(self, item: ImageItem, clock: Clock) -> dict[str, np.ndarray]:
        """One input, end to end; returns the raw outputs."""
        image = self.decoder.decode(item.read())
        clock.lap("read_decode")
        buf = self._buffer(image.shape)
        np.copyto(buf[0], image)
        clock.lap("copy")
        outputs = self.engine.infer({self.input_name: buf})
        clock.lap("infer")
        self.post(outputs)
        clock.lap("postprocess")
        return outputs


# ---------------------------------------------------------------- sequential
