"""One place that decides the precision properties of an OpenVINO compile, as a whole.

Inference precision, KV-cache precision and execution mode are not independent: a device refuses some
pairs (an f32 KV cache beside bf16 inference on AVX-512 BF16 and AMX CPUs; a bf16 KV cache beside f32
inference on AVX2 CPUs). Every engine (the CNN backend's compile, OpenVINO GenAI's LLMPipeline and
ContinuousBatchingPipeline) asks :func:`resolve_precisions` for the properties it sets, so a pair the
device would refuse is reconciled when the user's intent is clear, or refused before anything compiles.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, TypedDict

from inferperf.errors import ConfigError

# Acts as a CPU whose default is another precision (bf16 on AMX or AVX-512 BF16 parts), so the test suite
# can be run as such a CPU would run it; an explicit precision still wins.
DEFAULT_PRECISION_ENV = "INFERPERF_OV_DEFAULT_PRECISION"
FLOAT_PRECISIONS = ("f32", "bf16", "f16")
# What OpenVINO's CPU plug-in takes for KV_CACHE_PRECISION (its own "Supported values", 2026.4).
KV_CACHE_TYPES = ("f32", "bf16", "f16", "u8", "u4", "u3")
_TYPE_NAMES = {"float32": "f32", "bfloat16": "bf16", "float16": "f16", "uint8_t": "u8", "u8": "u8"}
_CAPABILITIES = {"BF16": "bf16", "FP16": "f16"}


def short_type(value: Any) -> str:
    """``f32``/``bf16``/``u8``... from what OpenVINO reports (an ov.Type, its name, or a plain string)."""
    if hasattr(value, "get_type_name"):
        value = value.get_type_name()
    text = str(value or "f32").lower()
    return _TYPE_NAMES.get(text, text)


@dataclass(frozen=True)
class DevicePrecisions:
    """What a device runs float models at by default, what it executes natively, and its KV-cache default."""

    device: str
    default_inference: str
    native: tuple[str, ...]  # float precisions the device executes in hardware (f32 always)
    default_kv_cache: str | None
    source: str  # where the default came from: the runtime's report, or DEFAULT_PRECISION_ENV
    # True when the default is DEFAULT_PRECISION_ENV's and not the device's: compiles then ask for it.
    emulated: bool = False

    def refusal(self, inference: str, kv_cache: str) -> str | None:
        """Why this device refuses a ``kv_cache`` KV cache beside ``inference`` inference; None if it takes it.

        Known refusals only (anything else is left to the runtime, whose error is then shown with its cause):
        - an f32 KV cache beside bf16 or f16 inference: OpenVINO GenAI on a 2-core EPYC with AVX-512 BF16
          (issue 33; the runtime asks for a cache of the inference precision);
        - a bf16 or u3 KV cache beside f32 inference where bf16 is not native: measured on a 2-core AVX2
          EPYC, OpenVINO 2026.4 ("expect kvcache type f32, current: bf16"); f16, u8 and u4 ran there.
        """
        if kv_cache == "f32" and inference != "f32":
            return f"an f32 KV cache needs f32 inference (this device would run {inference})"
        if kv_cache in ("bf16", "u3") and inference == "f32" and "bf16" not in self.native:
            return f"a {kv_cache} KV cache needs a device that executes bf16 ({self.device} runs f32 only)"
        return None

    def kv_caches_with(self, inference: str) -> tuple[str, ...]:
        """The KV-cache types this device takes beside ``inference`` inference (known refusals left out)."""
        return tuple(kv for kv in KV_CACHE_TYPES if self.refusal(inference, kv) is None)

    def to_dict(self) -> DeviceRecord:
        """The facts as JSON (doctor)."""
        return {
            "device": self.device,
            "default_inference_precision": self.default_inference,
            "native": list(self.native),
            "default_kv_cache": self.default_kv_cache,
            "kv_caches_accepted": list(self.kv_caches_with(self.default_inference)),
            "source": self.source,
        }


class PrecisionRecord(TypedDict):
    """What a result says about its precisions: the float precision that ran, the KV cache asked for
    (None: the device's default), and what was reconciled on the way."""

    inference: str
    kv_cache: str | None
    notes: list[str]


class DeviceRecord(TypedDict):
    """A device's precision facts (doctor): its default float precision, the native ones, its KV caches."""

    device: str
    default_inference_precision: str
    native: list[str]
    default_kv_cache: str | None
    kv_caches_accepted: list[str]
    source: str


@dataclass(frozen=True)
class PrecisionPlan:
    """The precision properties one compile sets, what will run, and what was reconciled on the way."""

    properties: dict[str, str]
    inference: str  # the float precision that will execute
    kv_cache: str | None  # the KV cache asked for (None: the device's default)
    notes: tuple[str, ...] = field(default=())

    def record(self) -> PrecisionRecord:
        """What a result says about its precisions."""
        return {"inference": self.inference, "kv_cache": self.kv_cache, "notes": list(self.notes)}


def _read_device(device: str) -> DevicePrecisions:
    """The device's precision facts as OpenVINO reports them (tests replace this to act as another CPU)."""
    import openvino as ov

    core = ov.Core()
    try:
        default = short_type(core.get_property(device, "INFERENCE_PRECISION_HINT"))
        caps = [str(c) for c in core.get_property(device, "OPTIMIZATION_CAPABILITIES")]
    except RuntimeError:
        default, caps = "f32", []
    try:
        kv: str | None = short_type(core.get_property(device, "KV_CACHE_PRECISION"))
    except RuntimeError:
        kv = None
    native = ("f32", *(p for c, p in _CAPABILITIES.items() if c in caps))
    return DevicePrecisions(device, default, native, kv, "reported by OpenVINO")


@functools.cache
def _device_cached(device: str) -> DevicePrecisions:
    return _read_device(device)


def device_precisions(device: str = "CPU") -> DevicePrecisions:
    """The precision facts of ``device`` (read once per process), with DEFAULT_PRECISION_ENV's default."""
    facts = _device_cached(device)
    wanted = os.environ.get(DEFAULT_PRECISION_ENV)
    if wanted:
        source = f"{DEFAULT_PRECISION_ENV}={wanted} (acting as a CPU with that default)"
        facts = DevicePrecisions(device, wanted, facts.native, facts.default_kv_cache, source, emulated=True)
    return facts


def every_device() -> list[DevicePrecisions]:
    """The precision facts of each device OpenVINO finds here (empty when OpenVINO is not installed)."""
    try:
        import openvino as ov
    except ImportError:
        return []
    return [device_precisions(str(d)) for d in ov.Core().available_devices]


def forget_devices() -> None:
    """Read the devices again on the next call (tests that act as another CPU)."""
    _device_cached.cache_clear()


def plan_for(
    device: str = "CPU",
    inference: str | None = None,
    kv_cache: str | None = None,
    execution_mode: str | None = None,
) -> PrecisionPlan:
    """:func:`resolve_precisions` on ``device`` as this process sees it (every engine's entry point)."""
    return resolve_precisions(device_precisions(device), inference, kv_cache, execution_mode)


_INFER_FLAG = "`inference_precision`"
_KV_FLAG = "`kv_cache`"


def _check_choice(what: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"unknown {what} {value!r}: choose from {', '.join(choices)}")


def _implied_inference(execution_mode: str | None, inference: str | None) -> str | None:
    """The inference precision an ACCURACY execution mode implies; a contradiction is refused."""
    if (execution_mode or "").upper() != "ACCURACY":
        return inference
    if inference not in (None, "f32"):
        raise ConfigError(
            f"EXECUTION_MODE_HINT=ACCURACY runs f32, but {_INFER_FLAG} asks {inference}: drop one of them "
            f"(--property EXECUTION_MODE_HINT or {_INFER_FLAG})"
        )
    return "f32"


def resolve_precisions(
    facts: DevicePrecisions,
    inference: str | None = None,
    kv_cache: str | None = None,
    execution_mode: str | None = None,
) -> PrecisionPlan:
    """The precision properties of one compile on the device ``facts`` describe.

    ``inference``/``kv_cache``/``execution_mode``: what the user asked (None: not asked). A KV cache the
    device refuses beside its default inference precision is reconciled when the intent is clear (an f32
    cache pins f32 inference, and the plan says so), otherwise refused before compiling (ConfigError,
    exit 2) naming both precisions and the option that changes each.
    """
    _check_choice("inference precision", inference, FLOAT_PRECISIONS)
    _check_choice("KV-cache precision", kv_cache, KV_CACHE_TYPES)
    asked = _implied_inference(execution_mode, inference)
    props: dict[str, str] = {}
    if inference is not None:
        props["INFERENCE_PRECISION_HINT"] = inference
    elif asked is None and facts.emulated:
        props["INFERENCE_PRECISION_HINT"] = facts.default_inference  # act as the CPU the env var names
    if kv_cache is not None:
        props["KV_CACHE_PRECISION"] = kv_cache
    runs = asked or facts.default_inference
    notes: list[str] = []
    why = facts.refusal(runs, kv_cache) if kv_cache else None
    if why is not None and asked is None and kv_cache == "f32":
        props["INFERENCE_PRECISION_HINT"] = runs = "f32"
        notes.append(
            f"f32 KV cache asked: inference pinned to f32 ({facts.device} defaults to "
            f"{facts.default_inference}, which refuses an f32 KV cache)"
        )
    elif why is not None:
        accepted = ", ".join(facts.kv_caches_with(runs))
        raise ConfigError(
            f"KV cache {kv_cache} with inference precision {runs} is refused on {facts.device}: {why}; "
            f"choose {_KV_FLAG} from {accepted}" + ("" if asked is None else f" or change {_INFER_FLAG}")
        )
    return PrecisionPlan(props, runs, kv_cache, tuple(notes))
