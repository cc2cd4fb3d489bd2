"""Scenarios that drive an Engine and produce raw measurements."""

from inferperf.measure.environment import LoadMonitor, collect_environment
from inferperf.measure.runner import Collector, run_scenario

__all__ = ["Collector", "LoadMonitor", "collect_environment", "run_scenario"]
