"""Top-1/top-5 accuracy over labelled data through any backend.

This is the evaluator that quantization and tuning check against: every
figure comes with a Clopper-Pearson 95% interval, because 97% of 360 images
is not the same claim as 97% of 50,000. The scoring itself lives in
``inferperf.measure.scoring``, which LoadGen's accuracy mode shares.
"""

from __future__ import annotations

import numpy as np

from inferperf.backends.base import Backend
from inferperf.config import RuntimeConfig
from inferperf.errors import InputSpecError
from inferperf.inputs.dataset import Dataset
from inferperf.measure.scoring import AccuracyReport, score, topk_correct
from inferperf.model.info import ModelInfo

__all__ = ["AccuracyReport", "evaluate", "topk_correct"]


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
    return score(logits, data.labels, precision)
