"""What an end-to-end run reads and hands back: encoded images, their decoders, and the post-processors
that turn a model's output into the application's answer (``measure.e2e`` times them)."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inferperf.errors import ConfigError, InputSpecError
from inferperf.inputs.dataset import BUILTIN_DATA

DECODERS = ("pillow", "opencv")
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


@dataclass(frozen=True)
class ImageItem:
    """One input: an image file read from disk each time, or an encoded image held in memory."""

    label: str
    path: Path | None = None
    encoded: bytes | None = field(default=None, repr=False)

    def read(self) -> bytes:
        """The encoded bytes (from disk for files: the read is part of the stage)."""
        if self.path is not None:
            return self.path.read_bytes()
        assert self.encoded is not None
        return self.encoded


def load_items(images: str | Path | None, data: str | Path | None) -> tuple[list[ImageItem], str]:
    """Image files from a folder (and its class subfolders), or raw ``images`` arrays (.npz, ``builtin``)."""
    if images is not None and data is not None:
        raise ConfigError("give `images` or `data`, not both")
    source = images if images is not None else data
    if source is None:
        raise ConfigError("no inputs: pass `images` DIR (or `data` DIR|FILE.npz|builtin)")
    path = BUILTIN_DATA if str(source) == "builtin" else Path(source).expanduser()
    if not path.exists():
        raise InputSpecError(f"inputs not found: {path}")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise InputSpecError(f"no images found in {path} (looked for {', '.join(sorted(_IMAGE_SUFFIXES))})")
        return [ImageItem(str(f.relative_to(path)), path=f) for f in files], str(path)
    return _encoded_arrays(path), f"{path} (raw arrays, PNG-encoded in memory once, decoded per input)"


def _encoded_arrays(path: Path) -> list[ImageItem]:
    from PIL import Image

    try:
        with np.load(path, allow_pickle=False) as npz:
            if "images" not in npz.files:
                raise InputSpecError(f"{path}: no 'images' array (uint8 [N, H, W(, 3)]) to decode")
            arrays = npz["images"]
    except (OSError, ValueError) as exc:
        raise InputSpecError(f"cannot read {path}: {exc}") from None
    if arrays.dtype != np.uint8 or arrays.ndim not in (3, 4):
        raise InputSpecError(f"{path}: 'images' must be uint8 [N, H, W] or [N, H, W, 3]")
    items = []
    for i, arr in enumerate(arrays):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")  # lossless: the decoded pixels are the array's
        items.append(ImageItem(f"{path.name}[{i}]", encoded=buf.getvalue()))
    return items


# ---------------------------------------------------------------- decoders


class Decoder(ABC):
    """Decodes encoded images and resizes / converts them the way its library does."""

    name: str
    native_color: str  # the channel order decode() returns
    resize_kind: str  # "pillow" (antialiased bilinear) or "linear": what a fused graph must match

    @abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Encoded bytes -> uint8 HWC, 3 channels, in ``native_color`` order."""

    @abstractmethod
    def resize(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Bilinear resize to (height, width), uint8 in and out."""

    @abstractmethod
    def convert_color(self, image: np.ndarray, target: str) -> np.ndarray:
        """Native order -> ``target`` (RGB, BGR, GRAY as the channel mean)."""


class PillowDecoder(Decoder):
    """Pillow: decodes to RGB; BILINEAR widens its filter when shrinking (antialiasing)."""

    name = "pillow"
    native_color = "RGB"
    resize_kind = "pillow"

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise InputSpecError(f"Pillow cannot decode an input: {exc}") from None

    def resize(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        from PIL import Image

        if image.shape[:2] == size:
            return image
        return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR))

    def convert_color(self, image: np.ndarray, target: str) -> np.ndarray:
        if target == "BGR":
            return np.ascontiguousarray(image[..., ::-1])
        if target == "GRAY":
            return np.asarray(image.mean(axis=-1, keepdims=True, dtype=np.float32))
        return image


class OpenCVDecoder(Decoder):
    """OpenCV: decodes to BGR; INTER_LINEAR is plain bilinear (no antialiasing)."""

    name = "opencv"
    native_color = "BGR"
    resize_kind = "linear"

    def __init__(self) -> None:
        try:
            import cv2
        except ImportError:
            raise ConfigError(
                "--decoder opencv needs OpenCV", hint="pip install 'inferperf[opencv]' (opencv-python-headless)"
            ) from None
        self._cv2 = cv2

    def decode(self, data: bytes) -> np.ndarray:
        image = self._cv2.imdecode(np.frombuffer(data, np.uint8), self._cv2.IMREAD_COLOR)
        if image is None:
            raise InputSpecError("OpenCV cannot decode an input")
        return np.asarray(image)

    def resize(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        if image.shape[:2] == size:
            return image
        return np.asarray(self._cv2.resize(image, (size[1], size[0]), interpolation=self._cv2.INTER_LINEAR))

    def convert_color(self, image: np.ndarray, target: str) -> np.ndarray:
        if target == "RGB":
            return np.asarray(self._cv2.cvtColor(image, self._cv2.COLOR_BGR2RGB))
        if target == "GRAY":
            return np.asarray(image.mean(axis=-1, keepdims=True, dtype=np.float32))
        return image


def get_decoder(name: str) -> Decoder:
    """The decoder called ``name`` (pillow or opencv)."""
    if name == "pillow":
        return PillowDecoder()
    if name == "opencv":
        return OpenCVDecoder()
    raise ConfigError(f"invalid decoder {name!r}: {' or '.join(DECODERS)}")


# ---------------------------------------------------------------- post-processing


class Postprocessor(Protocol):
    """The plug-in point after inference: turns raw outputs into the application's answer."""

    @property
    def name(self) -> str:
        """What the post-processing does, for the report."""

    def __call__(self, outputs: dict[str, np.ndarray]) -> Any:
        """Post-process one input's outputs."""


@dataclass(frozen=True)
class TopK:
    """Classifier post-processing: softmax over the first output, then the k best classes."""

    k: int = 5
    name: str = "softmax + top-k"

    def __call__(self, outputs: dict[str, np.ndarray]) -> list[tuple[int, float]]:
        logits = next(iter(outputs.values())).reshape(-1).astype(np.float64)
        e = np.exp(logits - logits.max())
        probs = e / e.sum()
        k = min(self.k, probs.size)
        best = np.argpartition(-probs, k - 1)[:k]
        best = best[np.argsort(-probs[best])]
        return [(int(i), float(probs[i])) for i in best]


@dataclass(frozen=True)
class NoPostprocess:
    """For models that are not classifiers: the outputs are the answer."""

    name: str = "none (outputs as they come)"

    def __call__(self, outputs: dict[str, np.ndarray]) -> Any:
        return outputs


def default_postprocess(output_shape: Sequence[int | str], top_k: int) -> Postprocessor:
    """Softmax + top-k for a [batch, classes] output, none otherwise."""
    if len(output_shape) == 2:
        return TopK(top_k)
    return NoPostprocess()


# ---------------------------------------------------------------- clocks and paths
