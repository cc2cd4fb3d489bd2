"""Benchmark suites: a matrix of models x variants x backends, measured cell by cell, locally or on Ray."""

from inferperf.suite.plan import Cell, SuiteOptions
from inferperf.suite.runner import Suite

__all__ = ["Cell", "Suite", "SuiteOptions"]
