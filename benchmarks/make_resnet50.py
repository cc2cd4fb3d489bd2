"""Build a ResNet-50 ONNX model with random weights, offline.

Speed does not depend on weight values, so a randomly initialised ResNet-50
(transformers' ResNetConfig defaults are the ResNet-50 architecture) is a fair
stand-in for the published model. Needs the ``torch`` extra and transformers.

    python benchmarks/make_resnet50.py --out build/resnet50.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/resnet50.onnx"))
    parser.add_argument("--batch", type=int, default=1, help="static batch size of the export")
    args = parser.parse_args()

    import torch
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    model = ResNetForImageClassification(ResNetConfig(num_labels=1000)).eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.inner(pixel_values=pixel_values).logits

    args.out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(args.batch, 3, 224, 224)
    torch.onnx.export(
        Logits(model),
        (example,),
        str(args.out),
        input_names=["pixel_values"],
        output_names=["logits"],
        opset_version=17,
        dynamo=False,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
