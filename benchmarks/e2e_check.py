"""Check ``inferperf e2e``'s done criteria on zoo:resnet50 with real photos.

Photos: scikit-learn's two sample images and scikit-image's data photos (both ship
offline; ``pip install -e '.[photos]'``), cropped and rescaled to ImageNet-like sizes
(about 500x375) to get ~24 JPEG inputs. Checks:

* the stage medians add up to the plain sequential end-to-end median within 10%;
* pipelined throughput >= sequential throughput;
* fused vs host pre-processing: top-1 identical on >= 95% of photos, cosine >= 0.999
  (on zoo:resnet50, whose weights are random, and on the trained built-in model);
* how much the resize implementations differ at the pixel level (identity model).

    python benchmarks/e2e_check.py [--seconds 30] [--pipelined-seconds 15] [--out build/e2e_check.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

from inferperf import api
from inferperf.backends import get_backend
from inferperf.config import RuntimeConfig
from inferperf.inputs.dataset import PreprocessSpec
from inferperf.measure.e2e import E2EOptions
from inferperf.measure.e2e_inputs import get_decoder, load_items
from inferperf.measure.e2e_paths import HostPreprocess
from inferperf.model import load_model_info
from inferperf.optimize.preprocess import FusionPlan, fuse
from inferperf.results.schema import save_json

ROOT = Path(__file__).resolve().parents[1]
IMAGENET = {"mean": (123.675, 116.28, 103.53), "scale": (58.395, 57.12, 57.375), "size": (224, 224)}
_SKIMAGE = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "cat")


def real_photos() -> list[np.ndarray]:
    """uint8 RGB photos that ship with scikit-learn and scikit-image."""
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    try:
        from skimage import data

        photos += [np.asarray(getattr(data, name)()) for name in _SKIMAGE]
    except ImportError:
        print("scikit-image missing: only scikit-learn's 2 photos (pip install -e '.[photos]')")
    return [p[..., :3] for p in photos]


def write_photos(folder: Path, per_photo: int = 3, seed: int = 0) -> int:
    """Crops at random positions, rescaled to ImageNet-like sizes, saved as JPEG (quality 90)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, photo in enumerate(real_photos()):
        h, w = photo.shape[:2]
        for j in range(per_photo):
            ch, cw = int(h * rng.uniform(0.6, 0.95)), int(w * rng.uniform(0.6, 0.95))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crop = Image.fromarray(photo[y : y + ch, x : x + cw])
            target_w = int(rng.integers(450, 560))
            crop = crop.resize((target_w, max(1, round(target_w * ch / cw))), Image.Resampling.LANCZOS)
            crop.save(folder / f"photo{i:02d}_{j}.jpg", quality=90)
            n += 1
    return n


def resize_difference(folder: Path, backend: str, decoder: str) -> dict[str, float]:
    """Pixel difference between host and fused resizes (identity model, mean 0, scale 1)."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "identity.onnx"
        g = helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])],
            "id",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 224, 224])],
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.save(m, str(model))
        plugin, dec = get_backend(backend), get_decoder(decoder)
        spec = PreprocessSpec(size=(224, 224))
        suffix = ".xml" if plugin.supports_format("openvino_ir") else ".onnx"
        details = fuse(
            plugin,
            load_model_info(model),
            FusionPlan(spec, (224, 224), dec.native_color, dec.resize_kind),
            Path(tmp) / f"fused{suffix}",
        )
        fused_info = load_model_info(details["path"])
        engine = plugin.compile(
            fused_info,
            {fused_info.inputs[0].name: (1, -1, -1, 3)},
            plugin.configure(RuntimeConfig(backend=backend), "latency"),
        )
        pre = HostPreprocess(dec, spec, (224, 224))
        diffs = []
        for item in load_items(folder, None)[0]:
            host = pre.prepare(item, _NoLap())
            raw = np.array(dec.decode(item.read())[None])  # writable: the runtime wraps it in place
            diffs.append(np.abs(engine.infer({fused_info.inputs[0].name: raw})["y"] - host))
        allv = np.concatenate([d.ravel() for d in diffs])
        return {
            "max_abs": float(allv.max()),
            "mean_abs": float(allv.mean()),
            "p99_abs": float(np.quantile(allv, 0.99)),
            "resize_op": details["resize_op"],
        }


class _NoLap:
    def lap(self, stage: str) -> None:
        return None


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    seq, piped = doc["sequential"], doc["pipelined"]
    out = {
        "stage_medians_ms": {k: round(v["median"]["value"], 3) for k, v in seq["stages"].items()},
        "shares": {k: round(v["share"], 3) for k, v in seq["stages"].items()},
        "stage_median_sum_ms": seq["stage_median_sum_ms"],
        "e2e_median_ms": seq["e2e_ms"]["median"],
        "sum_over_e2e": seq["stage_sum_over_e2e"],
        "sequential_fps": seq["throughput_fps"],
        "pipelined_fps": piped["throughput_fps"],
        "pipelined_latency_median_ms": piped["latency_ms"]["median"],
        "pipelined_over_sequential": piped["throughput_vs_sequential"],
    }
    if "fused" in doc:
        a = doc["fused"]["agreement"]
        out["fused"] = {
            k: a[k]
            for k in ("inputs", "top1_agreement", "cosine_min", "cosine_median", "max_abs_diff", "max_abs_output")
        }
        out["fused"]["speedup_host_over_fused"] = doc["fused"]["speedup"]
        out["fused"]["preprocess_and_infer_speedup"] = doc["fused"]["preprocess_and_infer_speedup"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pipelined-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "e2e_check.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inferperf-photos-") as tmp:
        folder = Path(tmp) / "photos"
        n = write_photos(folder)
        print(f"{n} real photos (crops/rescales, JPEG) in {folder}")
        opts = E2EOptions(seconds=args.seconds, pipelined_seconds=args.pipelined_seconds)
        pre = {k: v for k, v in IMAGENET.items()}
        report: dict[str, Any] = {"photos": n}
        main_doc = api.e2e(
            "zoo:resnet50", images=folder, backend="openvino", decoder="pillow", preprocess=pre, options=opts
        )
        save_json(main_doc, args.out)
        report["resnet50_openvino_pillow"] = _summary(main_doc)
        short = E2EOptions(seconds=5, pipelined_seconds=3)
        ort = api.e2e(
            "zoo:resnet50", images=folder, backend="onnxruntime", decoder="pillow", preprocess=pre, options=short
        )
        report["resnet50_onnxruntime_pillow"] = _summary(ort)
        builtin = api.e2e("builtin", images=_builtin_photos(Path(tmp) / "digits"), backend="openvino", options=short)
        report["builtin_openvino_pillow"] = {"fused": _summary(builtin)["fused"]}
        report["resize_difference_pixels"] = {
            f"{b}/pillow": resize_difference(folder, b, "pillow") for b in ("openvino", "onnxruntime")
        }
    return _verdict(report, args.out)


def _builtin_photos(folder: Path) -> Path:
    """The built-in model's validation digits, upscaled to 48x48 PNGs so the fused resize has work to do."""
    folder.mkdir(parents=True)
    images = np.load(ROOT / "src/inferperf/model/data/builtin_val.npz")["images"][:60]
    for i, img in enumerate(images):
        Image.fromarray(img).resize((48, 48), Image.Resampling.BICUBIC).save(folder / f"d{i:03d}.png")
    return folder


def _verdict(report: dict[str, Any], out: Path) -> int:
    import json

    print(json.dumps(report, indent=1, default=str))
    main_ = report["resnet50_openvino_pillow"]
    checks = {
        "stage medians within 10% of e2e median": abs(main_["sum_over_e2e"] - 1) <= 0.10,
        "pipelined throughput >= sequential": main_["pipelined_over_sequential"] >= 1.0,
        "fused top-1 >= 95% (resnet50, openvino)": main_["fused"]["top1_agreement"] >= 0.95,
        "fused cosine >= 0.999 (resnet50, openvino)": main_["fused"]["cosine_min"] >= 0.999,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"result JSON (with every stage's samples and the fused comparison): {out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
