"""Versioned result documents: immutable values, atomic save, validated load."""

from inferperf.results.schema import SCHEMA, BenchResult, RunResult, load_document, load_result, save_json

__all__ = ["SCHEMA", "BenchResult", "RunResult", "load_document", "load_result", "save_json"]
