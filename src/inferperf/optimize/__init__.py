"""Model optimizations and the accuracy evaluator that guards them."""

from inferperf.optimize.accuracy import AccuracyReport, evaluate, topk_correct

__all__ = ["AccuracyReport", "evaluate", "topk_correct"]
