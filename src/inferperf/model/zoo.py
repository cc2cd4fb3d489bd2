"""Public architectures with random weights, built offline from transformers' config classes.

Speed does not depend on weight values, so a randomly initialised network of
the published size is a fair stand-in; nothing is downloaded. Each layer is
initialised on its own (no shared weights), so caches see as many distinct
weights as with the real model. Exports are cached under the user cache
folder, keyed by name, options and the recipe version.

Building needs the ``torch`` extra and transformers:
``pip install -e '.[torch]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferperf.errors import BackendError, BackendUnavailableError, ConfigError, ModelError, first_line

RECIPE_VERSION = "1"
ZOO_PREFIX = "zoo:"


@dataclass(frozen=True)
class ZooInput:
    """One model input: name, shape after the batch dimension, dtype, and a sane value range."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    int_range: tuple[int, int] | None = None
    value: float | None = None
    # Names of the dimensions after batch that a ``:dynamic`` export leaves open, with their upper
    # bound (e.g. BERT's 512 positions); None where the dimension stays static.
    axes: tuple[tuple[str, int] | None, ...] = ()


@dataclass(frozen=True)
class ZooEntry:
    """A public architecture: how to build it and what it takes."""

    name: str
    description: str
    inputs: tuple[ZooInput, ...]
    build: Callable[[list[str]], Any] = field(repr=False)  # input names -> torch module
    reference_gmacs: float | None = None
    revision: int = 1  # bump when the recipe changes, so cached exports are rebuilt


def _global_pool(model: Any) -> None:
    # transformers' EfficientNet pools with AvgPool2d(kernel=hidden_dim, ceil_mode=True): a
    # global average written as a 1280x1280 window, which OpenVINO's ONNX reader rejects and
    # ONNX Runtime runs 50x slower than the network. The result is identical to this:
    import torch

    model.efficientnet.pooler = torch.nn.AdaptiveAvgPool2d(1)


def _variance_preserving(model: Any) -> None:
    # transformers initialises conv weights with N(0, 0.02) whatever their fan-in. Through ~50
    # layers of a CNN the activations then shrink into float32 denormals, and a CPU computes
    # with denormals 10-20x slower: measured here, EfficientNet-B0 took 228 ms per image instead
    # of 14 ms. Trained weights keep activations at scale; He initialisation does the same.
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)
            module.reset_running_stats()


def _efficientnet(model: Any) -> None:
    _global_pool(model)
    _variance_preserving(model)


def _hf(
    config_cls: str, model_cls: str, output: str, patch: Callable[[Any], None] | None = None, **config: Any
) -> Callable[[list[str]], Any]:
    """A builder: transformers config + model class, wrapped to return one tensor."""

    def build(names: list[str]) -> Any:
        import torch
        import transformers

        cfg = getattr(transformers, config_cls)(**config)
        cfg._attn_implementation = "eager"  # traceable attention, no fused-kernel dispatch
        inner = getattr(transformers, model_cls)(cfg).eval()
        if patch is not None:
            patch(inner)

        class First(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *args: Any) -> Any:
                out = self.inner(**dict(zip(names, args, strict=True)), return_dict=True)
                return getattr(out, output)

        return First()

    return build


def _whisper_encoder(names: list[str]) -> Any:
    import torch
    import transformers

    cfg = transformers.WhisperConfig(
        d_model=384,
        encoder_layers=4,
        encoder_attention_heads=6,
        decoder_layers=4,
        decoder_attention_heads=6,
        encoder_ffn_dim=1536,
        decoder_ffn_dim=1536,
        num_mel_bins=80,
    )
    cfg._attn_implementation = "eager"
    whisper: Any = transformers.WhisperModel(cfg)
    encoder = whisper.eval().get_encoder()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_features: Any) -> Any:
            return self.encoder(input_features, return_dict=True).last_hidden_state

    return Encoder()


_IMG = (ZooInput("pixel_values", (3, 224, 224)),)
_SEQ = 128


def _text_inputs(top_id: int, positions: int = 512, token_types: bool = False) -> tuple[ZooInput, ...]:
    """A text encoder's inputs at sequence ``_SEQ``: token ids in [0, top_id], an all-ones mask (and token
    types 0), the sequence dim open up to ``positions`` (the model's position embeddings)."""
    axes = (("sequence", positions),)
    inputs = (
        ZooInput("input_ids", (_SEQ,), "int64", (0, top_id), axes=axes),
        ZooInput("attention_mask", (_SEQ,), "int64", value=1, axes=axes),
    )
    return (*inputs, ZooInput("token_type_ids", (_SEQ,), "int64", value=0, axes=axes)) if token_types else inputs


ENTRIES: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry(
            "resnet50",
            "ResNet-50 v1.5, ImageNet head (1,000 classes), 224x224",
            _IMG,
            _hf("ResNetConfig", "ResNetForImageClassification", "logits", _variance_preserving, num_labels=1000),
            4.1,
            revision=2,
        ),
        ZooEntry(
            "mobilenet_v2",
            "MobileNetV2 1.0, 224x224, 1,000 classes",
            _IMG,
            _hf(
                "MobileNetV2Config",
                "MobileNetV2ForImageClassification",
                "logits",
                _variance_preserving,
                num_labels=1000,
            ),
            0.3,
            revision=2,
        ),
        ZooEntry(
            "efficientnet_b0",
            "EfficientNet-B0 (width 1.0, depth 1.0), 224x224, 1,000 classes",
            _IMG,
            _hf(
                "EfficientNetConfig",
                "EfficientNetForImageClassification",
                "logits",
                _efficientnet,
                width_coefficient=1.0,
                depth_coefficient=1.0,
                image_size=224,
                dropout_rate=0.2,
                hidden_dim=1280,
                num_labels=1000,
            ),
            0.39,
            revision=3,
        ),
        ZooEntry(
            "vit_base_patch16_224",
            "ViT-Base/16, 224x224, 1,000 classes",
            _IMG,
            _hf("ViTConfig", "ViTForImageClassification", "logits", num_labels=1000),
            17.6,
        ),
        ZooEntry(
            "bert_base",
            f"BERT-base uncased encoder, sequence {_SEQ}",
            _text_inputs(30521, token_types=True),
            _hf("BertConfig", "BertModel", "last_hidden_state"),
            11.2,
        ),
        ZooEntry(
            "distilbert",
            f"DistilBERT-base uncased encoder, sequence {_SEQ}",
            _text_inputs(30521),
            _hf("DistilBertConfig", "DistilBertModel", "last_hidden_state"),
            5.6,
        ),
        ZooEntry(
            "gpt2",
            f"GPT-2 small (124M) decoder, one forward pass at sequence {_SEQ}, no KV cache",
            _text_inputs(50256, positions=1024),
            _hf("GPT2Config", "GPT2Model", "last_hidden_state", use_cache=False),
            11.3,
        ),
        ZooEntry(
            "whisper_tiny_encoder",
            "Whisper-tiny audio encoder, 80 mel bins x 3,000 frames (30 s)",
            (ZooInput("input_features", (80, 3000)),),
            _whisper_encoder,
            None,
        ),
        ZooEntry(
            "yolos_tiny",
            "YOLOS-tiny detector (ViT-tiny + 100 detection tokens), 512x864",
            (ZooInput("pixel_values", (3, 512, 864)),),
            _hf(
                "YolosConfig",
                "YolosForObjectDetection",
                "logits",
                hidden_size=192,
                num_hidden_layers=12,
                num_attention_heads=3,
                intermediate_size=768,
                image_size=[512, 864],
                num_labels=91,
            ),
            None,
        ),
    )
}


def cache_dir() -> Path:
    """Where exports live: $INFERPERF_CACHE, else $XDG_CACHE_HOME/inferperf, else ~/.cache/inferperf."""
    root = os.environ.get("INFERPERF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "inferperf"
    )
    return Path(root) / "zoo"


def get_entry(name: str) -> ZooEntry:
    """The zoo entry called ``name`` (``zoo:`` prefix allowed)."""
    key = name.removeprefix(ZOO_PREFIX)
    if key not in ENTRIES:
        raise ModelError(f"unknown zoo model {key!r}: choose from {', '.join(ENTRIES)}")
    return ENTRIES[key]


def parse_batch(batch: str | int) -> int | None:
    """A zoo export's batch: ``dynamic`` (None) or a positive integer."""
    if str(batch) == "dynamic":
        return None
    try:
        value = int(batch)
    except ValueError:
        raise ConfigError(f"invalid `batch` {batch!r}: 'dynamic' or a positive integer") from None
    if value <= 0:
        raise ConfigError(f"invalid `batch` {batch!r}: must be positive")
    return value


def _require_torch(name: str) -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise BackendUnavailableError(
            f"building zoo model {name} needs torch and transformers",
            hint="pip install 'inferperf[torch]'",
        ) from None


def torch_module(name: str) -> Any:
    """The torch module behind zoo entry ``name``, in eval mode.

    Built exactly as the exports are (seed 0, then the recipe), so it holds the same weights as
    the cached ONNX/OpenVINO files: a torch run and a runtime run compute the same function.
    """
    entry = get_entry(name)
    _require_torch(entry.name)
    import torch

    torch.manual_seed(0)
    return entry.build([s.name for s in entry.inputs]).eval()


def export(
    name: str,
    *,
    fmt: str = "onnx",
    batch: str | int = "dynamic",
    out: str | Path | None = None,
    dynamic_axes: bool = False,
) -> Path:
    """Export (or reuse the cached export of) a zoo model; returns the model file path.

    ``dynamic_axes`` leaves the entry's named axes (sequence length) open as well as the batch.
    """
    static = parse_batch(batch)  # the options first: a bad --batch says so whatever the name
    entry = get_entry(name)
    if fmt not in ("onnx", "openvino"):
        raise ConfigError(f"invalid format {fmt!r}: onnx or openvino")
    if dynamic_axes and not any(s.axes for s in entry.inputs):
        raise ConfigError(f"zoo model {entry.name} has no dimension that can be exported dynamic")
    parts: list[Any] = [entry.name, static, RECIPE_VERSION, entry.revision]
    if dynamic_axes:
        parts.append("axes")  # appended only when set, so existing exports keep their cache key
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:10]
    stem = f"{entry.name}-b{static or 'dyn'}{'-sdyn' if dynamic_axes else ''}-{key}"
    onnx_path = cache_dir() / f"{stem}.onnx"
    if not onnx_path.exists():
        _require_torch(entry.name)
        _export_onnx(entry, static, onnx_path, dynamic_axes)
    target = onnx_path
    if fmt == "openvino":
        target = cache_dir() / f"{stem}.xml"
        if not target.exists():
            import openvino as ov

            ov.save_model(ov.convert_model(str(onnx_path)), str(target))
    if out is None:
        return target
    return _copy_out(target, Path(out))


def _copy_out(src: Path, dst: Path) -> Path:
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    if src.suffix == ".xml":
        shutil.copyfile(src.with_suffix(".bin"), dst.with_suffix(".bin"))
    return dst


def _dynamic_axes(entry: ZooEntry, batch: int | None, axes: bool) -> dict[str, dict[int, str]] | None:
    table: dict[str, dict[int, str]] = {}
    for spec in entry.inputs:
        dims = {} if batch else {0: "batch"}
        if axes:
            dims.update({i + 1: ax[0] for i, ax in enumerate(spec.axes) if ax is not None})
        if dims:
            table[spec.name] = dims
    if not table:
        return None
    # The output keeps the batch axis name only: the exporter names any other open dims itself.
    if not batch:
        table["output"] = {0: "batch"}
    return table


def _bounds(entry: ZooEntry) -> dict[str, dict[str, list[int]]]:
    # Upper bounds of the open axes (position embeddings), read back by the shape checks.
    return {
        s.name: {str(i + 1): [1, ax[1]] for i, ax in enumerate(s.axes) if ax is not None}
        for s in entry.inputs
        if any(s.axes)
    }


# transformers releases whose mask builder cannot be traced (found by exporting bert_base with each release).
_UNTRACEABLE_MASKS = ((5, 4), (5, 9))


def _release(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


@contextlib.contextmanager
def _traceable_masks() -> Iterator[None]:
    """Let the TorchScript tracer through the attention-mask builder of transformers 5.4 to 5.8.

    The tracer hands shapes back as 0-dim tensors (that is how it records open dimensions), and those
    releases' ``masking_utils.sdpa_mask`` took any tensor ``q_length`` for the ``cache_position`` it used to
    receive there and indexed it: "tuple index out of range" for BERT, DistilBERT and GPT-2. While this
    is active, such a length is passed in that old form, ``arange(q_length) + q_offset``, which the function
    turns back into the same length and offset, still traced, so open sequence axes stay open. Other
    releases, and models that build no mask, are left untouched.
    """
    try:
        import torch
        import transformers
        from transformers import masking_utils
    except ImportError:
        yield
        return
    low, high = _UNTRACEABLE_MASKS
    original = getattr(masking_utils, "sdpa_mask", None)
    if original is None or not low <= _release(transformers.__version__) < high:
        yield
        return

    def sdpa_mask(*args: Any, **kwargs: Any) -> Any:  # those releases' callers pass keywords only
        q_length = kwargs.get("q_length")
        if isinstance(q_length, torch.Tensor) and q_length.dim() == 0:
            offset = kwargs.pop("q_offset", 0)
            kwargs["q_length"] = torch.arange(q_length, device=kwargs.get("device", "cpu")) + offset
        return original(*args, **kwargs)

    log = logging.getLogger(masking_utils.__name__)  # that old form logs a deprecation warning
    level = log.level
    masking_utils.sdpa_mask = sdpa_mask  # eager_mask looks the name up at call time
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        masking_utils.sdpa_mask = original
        log.setLevel(level)


def _export_onnx(entry: ZooEntry, batch: int | None, path: Path, axes: bool = False) -> None:
    import onnx
    import torch

    torch.manual_seed(0)
    model = entry.build([s.name for s in entry.inputs])
    example = []
    for spec in entry.inputs:
        shape = (batch or 1, *spec.shape)
        if spec.dtype == "int64":
            low, high = spec.int_range or (int(spec.value or 0), int(spec.value or 0))
            example.append(torch.randint(low, high + 1, shape, dtype=torch.int64))
        else:
            example.append(torch.randn(shape))
    names = [s.name for s in entry.inputs]
    dynamic = _dynamic_axes(entry, batch, axes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    t0 = time.perf_counter()
    with torch.inference_mode(), warnings.catch_warnings(), _traceable_masks():
        # The tracer warns about every Python-level branch it freezes; at a fixed input
        # signature those are expected, and they would bury the path this command prints.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                tuple(example),
                str(tmp),
                input_names=names,
                output_names=["output"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        except Exception as exc:  # the exporter raises many unrelated types; all mean "cannot export"
            tmp.unlink(missing_ok=True)
            raise BackendError(f"exporting zoo model {entry.name} to ONNX failed: {first_line(exc)}") from exc
    proto = onnx.load(str(tmp))
    hints = {s.name: {"int_range": s.int_range, "value": s.value} for s in entry.inputs}
    onnx.helper.set_model_props(
        proto,
        {
            "inferperf.zoo": entry.name,
            "inferperf.description": entry.description,
            "inferperf.inputs": json.dumps(hints),
            "inferperf.weights": "random (seed 0); speed-equivalent to the published model, outputs meaningless",
            "inferperf.export_s": f"{time.perf_counter() - t0:.1f}",
            **({"inferperf.bounds": json.dumps(_bounds(entry))} if axes else {}),
        },
    )
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)


# Decoder LLMs shipped in the package (made by scripts/make_tiny_llm.py, random weights, fp32, stateful
# OpenVINO IR with the Hugging Face weights beside it): one per architecture family the zoo covers.
# The realistic sizes (Qwen2.5-0.5B and TinyLlama-1.1B shapes) are several GB and built locally.
_DATA = Path(__file__).resolve().parent / "data"
LLM_ZOO = {"tiny-llama": "tiny-llm", "tiny-qwen2": "tiny-qwen2", "tiny-phi3": "tiny-phi3"}


def llm_folder(model: str | Path) -> tuple[Path, bool]:
    """A generative model's folder and whether it is one shipped in the package: ``builtin`` (the tiny
    Llama), ``zoo:tiny-llama|tiny-qwen2|tiny-phi3``, or a local folder."""
    name = str(model)
    if name == "builtin":
        return _DATA / LLM_ZOO["tiny-llama"], True
    if name.startswith(ZOO_PREFIX) and name[len(ZOO_PREFIX) :] in LLM_ZOO:
        return _DATA / LLM_ZOO[name[len(ZOO_PREFIX) :]], True
    if name.startswith(ZOO_PREFIX):
        known = ", ".join(ZOO_PREFIX + k for k in LLM_ZOO)
        raise ConfigError(f"unknown generative zoo model {name!r}: choose from {known}, or give a folder")
    return Path(model).expanduser(), False


def is_generative(model: str | Path) -> bool:
    """Whether ``model`` names a decoder LLM: a generative zoo name, or a folder exported for OpenVINO GenAI
    (its config.json beside openvino_model.xml)."""
    name = str(model)
    if name.startswith(ZOO_PREFIX):
        return name[len(ZOO_PREFIX) :] in LLM_ZOO
    path = Path(name).expanduser()
    return path.is_dir() and (path / "config.json").is_file() and (path / "openvino_model.xml").is_file()
