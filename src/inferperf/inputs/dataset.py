"""Labelled or unlabelled data as model inputs: image folders, .npz/.npy files, the built-in split.

Raw images go through a pre-processing spec (resize, colour order, mean,
scale, layout) whose defaults come from the model's ONNX metadata
(``inferperf.preprocess``) where present; every field can be overridden.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from inferperf.errors import InputSpecError
from inferperf.model.info import ModelInfo

BUILTIN_DATA = Path(__file__).resolve().parents[1] / "model" / "data" / "builtin_val.npz"
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


class PreprocessRecord(TypedDict):
    """An image model's pre-processing as results and model metadata record it."""

    size: list[int] | None
    mean: list[float]
    scale: list[float]
    layout: str
    color: str


@dataclass(frozen=True)
class PreprocessSpec:
    """How raw uint8 HWC RGB images become the model's input tensor."""

    size: tuple[int, int] | None = None  # (height, width); None: take the model input's
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    layout: str = "NCHW"
    color: str = "RGB"

    def __post_init__(self) -> None:
        if self.layout not in ("NCHW", "NHWC"):
            raise InputSpecError(f"invalid layout {self.layout!r}: NCHW or NHWC")
        if self.color not in ("RGB", "BGR", "GRAY"):
            raise InputSpecError(f"invalid colour order {self.color!r}: RGB, BGR or GRAY")
        if any(s == 0 for s in self.scale):
            raise InputSpecError("scale values must be non-zero")

    def to_dict(self) -> PreprocessRecord:
        """JSON form."""
        return {
            "size": list(self.size) if self.size else None,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "layout": self.layout,
            "color": self.color,
        }


def model_preprocess(info: ModelInfo) -> PreprocessSpec:
    """The spec stored in the model's metadata, or the neutral one."""
    raw = info.metadata.get("inferperf.preprocess")
    if not raw:
        return PreprocessSpec()
    try:
        data = json.loads(raw)
        return PreprocessSpec(
            size=(int(data["size"][0]), int(data["size"][1])) if data.get("size") else None,
            mean=tuple(float(v) for v in data.get("mean", (0.0, 0.0, 0.0))),
            scale=tuple(float(v) for v in data.get("scale", (1.0, 1.0, 1.0))),
            layout=str(data.get("layout", "NCHW")),
            color=str(data.get("color", "RGB")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputSpecError(f"model metadata inferperf.preprocess is invalid: {exc}") from None


def override(spec: PreprocessSpec, **changes: Any) -> PreprocessSpec:
    """The spec with the options the user gave (None values ignored)."""
    given = {k: v for k, v in changes.items() if v is not None}
    return replace(spec, **given) if given else spec


@dataclass(frozen=True)
class Dataset:
    """Per-sample inputs (no batch axis) and, when known, integer labels."""

    samples: dict[str, np.ndarray]  # name -> [N, ...]
    labels: np.ndarray | None
    source: str
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(next(iter(self.samples.values())).shape[0])

    def batches(self, batch: int) -> list[dict[str, np.ndarray]]:
        """Input sets of ``batch`` samples; the last one is padded by repeating samples."""
        n = len(self)
        out = []
        for start in range(0, n, batch):
            idx = np.arange(start, start + batch) % n
            out.append({k: np.ascontiguousarray(v[idx]) for k, v in self.samples.items()})
        return out


def preprocess_images(images: list[np.ndarray] | np.ndarray, spec: PreprocessSpec, size: tuple[int, int]) -> np.ndarray:
    """uint8 HWC RGB images -> float32 [N, C, H, W] or [N, H, W, C] normalised per spec."""
    from PIL import Image

    out = []
    for img in images:
        arr = np.asarray(img)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.shape[:2] != size:
            pil = Image.fromarray(arr.astype(np.uint8))
            arr = np.asarray(pil.resize((size[1], size[0]), Image.Resampling.BILINEAR))
        if spec.color == "BGR":
            arr = arr[..., ::-1]
        elif spec.color == "GRAY":
            arr = arr.mean(axis=-1, keepdims=True)
        out.append(arr)
    raw = np.stack(out).astype(np.float32)
    channels = raw.shape[-1]
    mean = np.asarray(spec.mean[:channels], np.float32)
    scale = np.asarray(spec.scale[:channels], np.float32)
    x = ((raw - mean) / scale).astype(np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if spec.layout == "NCHW" else x)


def _image_input(info: ModelInfo, spec: PreprocessSpec) -> tuple[str, tuple[int, int]]:
    if len(info.inputs) != 1:
        raise InputSpecError("images can feed only a single-input model; pass an .npz named like its inputs")
    tensor = info.inputs[0]
    dims = tensor.shape[2:4] if spec.layout == "NCHW" else tensor.shape[1:3]
    if spec.size is not None:
        return tensor.name, spec.size
    if len(dims) == 2 and all(isinstance(d, int) for d in dims):
        return tensor.name, (int(dims[0]), int(dims[1]))
    raise InputSpecError(f"input {tensor.name!r} {tensor.shape_text()} has no fixed image size: pass --size H,W")


def _from_folder(path: Path, info: ModelInfo, spec: PreprocessSpec) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    subdirs = sorted(p for p in path.iterdir() if p.is_dir())
    groups = [(d.name, sorted(d.iterdir())) for d in subdirs] if subdirs else [("", sorted(path.iterdir()))]
    files, labels = [], []
    for label, (_, entries) in enumerate(groups):
        for f in entries:
            if f.suffix.lower() in _IMAGE_SUFFIXES:
                files.append(f)
                labels.append(label)
    if not files:
        raise InputSpecError(f"no images found in {path} (looked for {', '.join(sorted(_IMAGE_SUFFIXES))})")
    name, size = _image_input(info, spec)
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                images.append(np.asarray(im.convert("RGB")))
        except (UnidentifiedImageError, OSError) as exc:
            raise InputSpecError(f"cannot decode image {f}: {exc}") from None
    classes = tuple(g[0] for g in groups) if subdirs else ()
    return Dataset(
        {name: preprocess_images(images, spec, size)}, np.asarray(labels) if subdirs else None, str(path), classes
    )


def _from_arrays(arrays: dict[str, np.ndarray], source: str, info: ModelInfo, spec: PreprocessSpec) -> Dataset:
    labels = arrays.pop("labels", None)
    names = {t.name for t in info.inputs}
    if "images" in arrays and not names & set(arrays):
        name, size = _image_input(info, spec)
        arrays = {name: preprocess_images(arrays.pop("images"), spec, size)}
    if set(arrays) != names:
        raise InputSpecError(
            f"{source}: arrays {sorted(arrays)} do not match the model inputs {sorted(names)} "
            "(name them like the inputs, or give raw 'images' with optional 'labels')"
        )
    counts = {a.shape[0] for a in arrays.values()}
    if len(counts) != 1 or (labels is not None and labels.shape[0] not in counts):
        raise InputSpecError(f"{source}: arrays and labels hold different numbers of samples")
    for name, arr in arrays.items():
        _check_sample_shape(info, name, arr, source)
    samples = {k: v.astype(np.dtype(info.input(k).dtype), copy=False) for k, v in arrays.items()}
    return Dataset(samples, None if labels is None else labels.astype(np.int64), source)


def _check_sample_shape(info: ModelInfo, name: str, arr: np.ndarray, source: str) -> None:
    # Samples are stacked on axis 0, which stands for the model's batch dimension.
    spec = info.input(name)
    want = spec.shape[1:]
    got = arr.shape[1:]
    fixed_mismatch = any(isinstance(w, int) and w != g for w, g in zip(want, got, strict=False))
    if len(got) != len(want) or fixed_mismatch:
        raise InputSpecError(
            f"{source}: samples of {name!r} have shape {list(got)}, the model expects {spec.shape_text()} "
            "(after the batch dimension)"
        )


def load_dataset(data: str | Path, info: ModelInfo, spec: PreprocessSpec | None = None) -> Dataset:
    """Load ``data`` (folder, .npz, .npy or ``builtin``) as per-sample model inputs."""
    spec = spec or model_preprocess(info)
    path = BUILTIN_DATA if str(data) == "builtin" else Path(data).expanduser()
    if not path.exists():
        raise InputSpecError(f"data not found: {path}")
    if path.is_dir():
        return _from_folder(path, info, spec)
    try:
        if path.suffix == ".npy":
            if len(info.inputs) != 1:
                raise InputSpecError(f"{path.name}: an .npy feeds a single-input model only; use an .npz")
            return _from_arrays({info.inputs[0].name: np.load(path, allow_pickle=False)}, str(path), info, spec)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputSpecError(f"cannot read data file {path}: {exc}") from None
    return _from_arrays(arrays, "builtin validation split" if str(data) == "builtin" else str(path), info, spec)


MAX_DATA_SETS = 64  # rotating this many real batches defeats caches; more only costs memory


def dataset_sets(info: ModelInfo, data: str | Path, batch: int) -> list[dict[str, Any]]:
    """Up to MAX_DATA_SETS batches of ``batch`` real samples from ``data``, to rotate through in a run."""
    return load_dataset(data, info).batches(batch)[:MAX_DATA_SETS]
