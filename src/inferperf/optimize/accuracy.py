"""Top-1/top-5 accuracy over labelled data through any backend.

This is the evaluator that quantization and tuning check against: every
figure comes with a Clopper-Pearson 95% interval, because 97% of 360 images
is not the same claim as 97% of 50,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inferperf.backends.base import Backend
from inferperf.config import RuntimeConfig
from inferperf.errors import InputSpecError
from inferperf.inputs.dataset import Dataset
from inferperf.model.info import ModelInfo
from inferperf.stats import clopper_pearson


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> int:
    """How many rows of ``logits`` have their label among the k largest scores."""
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise InputSpecError(f"cannot score outputs of shape {list(logits.shape)} against {labels.shape[0]} labels")
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


@dataclass(frozen=True)
class AccuracyReport:
    """Accuracy figures of one model on one dataset through one backend."""

    count: int
    top1: int
    top5: int | None
    logits: np.ndarray
    executed_precision: str = "f32"  # the float precision the runtime reported it ran

    def figure(self, correct: int) -> dict[str, Any]:
        """``{"value": p, "ci95": [lo, hi], "correct": c}`` for a count of correct answers."""
        lo, hi = clopper_pearson(correct, self.count)
        return {"value": correct / self.count, "ci95": [lo, hi], "correct": correct}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (logits are not stored)."""
        return {
            "count": self.count,
            "top1": self.figure(self.top1),
            "top5": self.figure(self.top5) if self.top5 is not None else None,
            "ci_method": "Clopper-Pearson exact binomial",
            "executed_precision": self.executed_precision,
        }


def evaluate(backend: Backend, info: ModelInfo, data: Dataset, config: RuntimeConfig, batch: int = 1) -> AccuracyReport:
    """Run every sample through ``backend`` and score the first output against the labels."""
    if data.labels is None:
        raise InputSpecError(f"{data.source} has no labels: accuracy needs labelled data (sub-folders or 'labels')")
    shapes = {name: (batch, *arr.shape[1:]) for name, arr in data.samples.items()}
    engine = backend.compile(info, shapes, config.with_(batch=batch))
    try:
        outputs = [next(iter(engine.infer(inputs).values())) for inputs in data.batches(batch)]
        precision = str(engine.effective().get("executed_precision") or "f32")
    finally:
        engine.close()
    logits = np.concatenate(outputs)[: len(data)].reshape(len(data), -1)
    top5 = topk_correct(logits, data.labels, 5) if logits.shape[1] > 5 else None
    return AccuracyReport(len(data), topk_correct(logits, data.labels, 1), top5, logits, precision)
