"""Model variants of a suite: the FP32 model itself, and INT8 models made once per model and cached.

An INT8 variant is made with a backend's own quantizer (``Backend.quantize``, the
code behind ``inferperf quantize``), calibrated on synthetic inputs, and checked
for output fidelity against FP32. ``inferperf quantize`` itself is not called: it
keeps a model only when it is measurably faster, while a suite wants the INT8
number either way. Each variant's file format decides which backends can load
it (ONNX Runtime's QDQ ONNX loads in both runtimes, OpenVINO's IR only in
OpenVINO); the suite says so per cell instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferperf.config import QuantizeOptions
from inferperf.errors import InferperfError
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, resolve_shapes
from inferperf.results.schema import save_json
from inferperf.suite.plan import SuiteOptions, quantizer_of, slug

_MANIFEST = "manifest.json"
_CHECK_SETS = 16

if TYPE_CHECKING:
    from inferperf.optimize.quantize import Fidelity


@dataclass(frozen=True)
class Variant:
    """A model variant ready to measure, or why it could not be made: a model file (``info``) for the CNN
    cells, or a generative model's folder (``path``, with its ``sha256``) for the LLM cells."""

    model: str
    name: str
    info: ModelInfo | None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # a folder variant (decoder LLM); a file variant's path is its info's
    sha256: str | None = None
    format: str | None = None

    @property
    def location(self) -> Path | None:
        """Where the variant is (file or folder), None if it could not be made."""
        return self.info.path if self.info is not None else self.path

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the suite document."""
        made = self.location is not None
        return {
            "model": self.model,
            "variant": self.name,
            "path": str(self.location) if made else None,
            "format": (self.info.format if self.info else self.format) if made else None,
            "sha256": self.info.sha256 if self.info else self.sha256,
            "error": self.error,
            "details": self.details,
        }


def make_variant(model: str, name: str, fp32: ModelInfo, options: SuiteOptions) -> Variant:
    """The variant ``name`` of ``model``: FP32 as it is, INT8 from the cache or made now."""
    quantizer = quantizer_of(name, options.quantizer)
    if quantizer is None:
        return Variant(model, name, fp32)
    folder = options.out / "variants"
    key = _key(fp32, quantizer, options)
    cached = _cached(folder, key)
    if cached is not None:
        return Variant(model, name, load_model_info(cached["path"]), details={**cached["details"], "cached": True})
    try:
        info, details = _quantize(fp32, quantizer, options, folder / f"{slug(model)}-int8-{quantizer}")
    except InferperfError as exc:
        return Variant(model, name, None, f"int8 by {quantizer} failed: {exc.one_line()}")
    _remember(folder, key, info, details)
    return Variant(model, name, info, details={**details, "cached": False})


def _key(fp32: ModelInfo, quantizer: str, options: SuiteOptions) -> str:
    payload = {"sha256": fp32.sha256, "quantizer": quantizer, "n": options.calibration_samples, "shape": options.shape}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cached(folder: Path, key: str) -> dict[str, Any] | None:
    entry = _read_manifest(folder).get(key)
    if not isinstance(entry, dict) or not Path(str(entry.get("path"))).is_file():
        return None
    return entry


def _remember(folder: Path, key: str, info: ModelInfo, details: dict[str, Any]) -> None:
    manifest = _read_manifest(folder)
    manifest[key] = {"path": str(info.path), "sha256": info.sha256, "details": details}
    save_json(manifest, folder / _MANIFEST)


def _quantize(fp32: ModelInfo, quantizer: str, options: SuiteOptions, stem: Path) -> tuple[ModelInfo, dict[str, Any]]:
    from inferperf.backends import get_backend
    from inferperf.errors import ConfigError
    from inferperf.inputs import build_input_sets

    plugin = get_backend(quantizer)
    if not plugin.supports_format(fp32.format):
        raise ConfigError(f"{quantizer} cannot read {fp32.format} models")
    shapes = resolve_shapes(fp32, parse_shape_spec(options.shape), 1)
    sets = build_input_sets(fp32, shapes, sets=options.calibration_samples + _CHECK_SETS, seed=options.seed)
    calibration, check = sets[: options.calibration_samples], sets[options.calibration_samples :]
    # One activation type and no accuracy-control search: the suite measures one INT8 model per quantizer.
    qopts = QuantizeOptions(accuracy_control=False, activation_type="u8", subset_size=len(calibration))
    with tempfile.TemporaryDirectory(prefix="inferperf-suite-q-") as tmp:
        made = plugin.quantize(fp32, calibration, Path(tmp), qopts)
        path, label, details = made[0]
        target = _copy(path, stem)
    _carry_metadata(target, fp32)
    info = load_model_info(target)
    return info, {
        "quantizer": quantizer,
        "label": label,
        "method": details,
        "calibration": f"{len(calibration)} synthetic input sets (no data given: accuracy unchecked)",
        "fidelity": _fidelity(plugin, fp32, info, check, shapes),
    }


def _copy(src: Path, stem: Path) -> Path:
    # An IR travels with its .bin; the name says which quantizer made it.
    target = stem.with_suffix(src.suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    if src.suffix == ".xml":
        shutil.copyfile(src.with_suffix(".bin"), target.with_suffix(".bin"))
    return target


def _carry_metadata(target: Path, fp32: ModelInfo) -> None:
    """Give an INT8 ONNX model the FP32 model's metadata the quantizer dropped.

    Zoo exports name their inputs' sane values there (token-id range, all-ones masks); without
    them the INT8 model would be fed different synthetic inputs than the FP32 one.
    """
    if target.suffix != ".onnx" or not fp32.metadata:
        return
    import onnx

    proto = onnx.load(str(target))
    present = {p.key for p in proto.metadata_props}
    missing = {k: v for k, v in fp32.metadata.items() if k not in present}
    if missing:
        onnx.helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props}, **missing})
        onnx.save(proto, str(target))


def _fidelity(
    plugin: Any, fp32: ModelInfo, int8: ModelInfo, sets: list[dict[str, Any]], shapes: dict[str, tuple[int, ...]]
) -> Fidelity:
    """Cosine and top-1 agreement of INT8 against FP32 outputs on inputs calibration did not see."""
    from inferperf.config import RuntimeConfig
    from inferperf.optimize.quantize import fidelity

    config = RuntimeConfig(backend=plugin.name)
    outs = []
    for info in (fp32, int8):
        engine = plugin.compile(info, shapes, plugin.configure(config, "latency"))
        try:
            outs.append(np.concatenate([np.ravel(next(iter(engine.infer(s).values())))[None] for s in sets]))
        finally:
            engine.close()
    return fidelity(outs[0].astype(np.float64), outs[1].astype(np.float64))
