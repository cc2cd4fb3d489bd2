"""Scoring a model's outputs against labels: top-k counts and accuracy figures with Clopper-Pearson intervals.

The accuracy evaluator (``inferperf.optimize.accuracy``) and LoadGen's accuracy mode
(``inferperf.measure.loadgen``) both score here, so the two report the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from inferperf.errors import InputSpecError
from inferperf.stats import Estimate, clopper_pearson


class Count(Estimate):
    """A share of correct answers with its exact interval, and the count it came from."""

    correct: int


class Scores(TypedDict):
    """Top-1 (top-5 with more than five classes) over labelled data, with exact intervals."""

    count: int
    top1: Count
    top5: Count | None
    ci_method: str
    executed_precision: str


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

    def figure(self, correct: int) -> Count:
        """``{"value": p, "ci95": [lo, hi], "correct": c}`` for a count of correct answers."""
        lo, hi = clopper_pearson(correct, self.count)
        return {"value": correct / self.count, "ci95": [lo, hi], "correct": correct}

    def to_dict(self) -> Scores:
        """JSON form (logits are not stored)."""
        return {
            "count": self.count,
            "top1": self.figure(self.top1),
            "top5": self.figure(self.top5) if self.top5 is not None else None,
            "ci_method": "Clopper-Pearson exact binomial",
            "executed_precision": self.executed_precision,
        }


def score(logits: np.ndarray, labels: np.ndarray, executed_precision: str = "f32") -> AccuracyReport:
    """Top-1 (and top-5, with more than five classes) of one row of ``logits`` per label."""
    top5 = topk_correct(logits, labels, 5) if logits.shape[1] > 5 else None
    return AccuracyReport(len(labels), topk_correct(logits, labels, 1), top5, logits, executed_precision)
