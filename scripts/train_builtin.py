"""Train the built-in model: a small ResNet on scikit-learn's handwritten digits.

Reproducible (fixed seeds, deterministic split), offline (the data ships with
scikit-learn), and sized so runtime tuning matters: about 0.1 GMACs
(0.2 GFLOPs) per 3x32x32 image. Writes

* ``src/inferperf/model/data/builtin.onnx``: dynamic batch, NCHW float input
  ``image``, output ``logits`` [N, 10]; its pre-processing in the metadata;
* ``src/inferperf/model/data/builtin_val.npz``: the held-out split as
  ``images`` (uint8, N x 32 x 32 x 3, RGB, what a decoder gives) and ``labels``.

Needs the ``train`` extra: ``pip install -e '.[train]'``, then
``python scripts/train_builtin.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "src/inferperf/model/data"
SIZE = 32
MEAN, SCALE = 127.5, 127.5  # in 0-255 pixel units, as OpenVINO's PrePostProcessor takes them
SEED = 0
EPOCHS = 14
WIDTHS = (32, 64, 128)

PREPROCESS = {
    "input": "image",
    "size": [SIZE, SIZE],
    "layout": "NCHW",
    "color": "RGB",
    "mean": [MEAN] * 3,
    "scale": [SCALE] * 3,
    "pixel_range": [0, 255],
    "resize": "bilinear",
    "labels": [str(d) for d in range(10)],
}


def digits_as_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits (0..16) as 32x32 RGB uint8 images, bilinear-upsampled."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own convention
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    up = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    gray = up.clamp(0, 255).round().to(torch.uint8)[:, 0].numpy()
    return np.repeat(gray[..., None], 3, axis=-1), digits.target.astype(np.int64)


def build_model():  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.skip = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))

    w1, w2, w3 = WIDTHS
    return nn.Sequential(
        nn.Conv2d(3, w1, 3, 1, 1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(),
        Block(w1, w1, 1), Block(w1, w1, 1),
        Block(w1, w2, 2), Block(w2, w2, 1),
        Block(w2, w3, 2), Block(w3, w3, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w3, 10),
    )  # fmt: skip


def normalise(images: np.ndarray):  # type: ignore[no-untyped-def]
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - MEAN) / SCALE


def train(model, x, y) -> None:  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F  # noqa: N812

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = EPOCHS * ((len(x) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, t0 = 0.0, time.time()
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            xb = x[idx]
            # Augmentation: random shifts of up to 3 pixels (pad and crop).
            dx, dy = (int(v) for v in torch.randint(-3, 4, (2,), generator=gen))
            xb = torch.roll(F.pad(xb, (3, 3, 3, 3), value=-1.0), shifts=(dy, dx), dims=(2, 3))[..., 3:-3, 3:-3]
            loss = F.cross_entropy(model(xb), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}/{EPOCHS} loss {total / len(x):.4f} ({time.time() - t0:.1f} s)", flush=True)


def main() -> None:
    import onnx
    import torch
    from sklearn.model_selection import train_test_split

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    images, labels = digits_as_images()
    tr_img, va_img, tr_y, va_y = train_test_split(images, labels, test_size=0.2, random_state=SEED, stratify=labels)
    model = build_model()
    train(model, normalise(tr_img), torch.from_numpy(tr_y))
    model.eval()
    with torch.inference_mode():
        acc = float((model(normalise(va_img)).argmax(1).numpy() == va_y).mean())
    print(f"held-out top-1 (torch): {acc:.4f} on {len(va_y)} images")
    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / "builtin.onnx"
    torch.onnx.export(
        model, (normalise(va_img[:1]),), str(out), input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    proto = onnx.load(str(out))
    meta = {
        "inferperf.preprocess": json.dumps(PREPROCESS),
        "inferperf.model": "builtin digits ResNet (scripts/train_builtin.py)",
        "inferperf.val_top1_torch": f"{acc:.4f}",
    }
    onnx.helper.set_model_props(proto, meta)
    proto.graph.name = "inferperf_builtin_digits_resnet"
    onnx.save(proto, str(out))
    np.savez_compressed(DATA / "builtin_val.npz", images=va_img, labels=va_y)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and builtin_val.npz ({len(va_y)} images)")


if __name__ == "__main__":
    main()
