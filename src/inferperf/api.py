"""The Python API: everything the CLI does, callable from code.

A façade: each function lives in the command layer (``inferperf.commands``, one module per
command family; bench's measuring core in ``inferperf.measure.bench``) and is re-exported here,
so ``from inferperf import api`` is the one import a caller needs. Errors name the functions'
parameters (written like `shapes`); the CLI shows them as its flags.
"""

from __future__ import annotations

from inferperf.backends.serving import EndpointOptions, is_endpoint
from inferperf.commands.compare import compare, compare_against_history, compare_groups, compare_interleaved
from inferperf.commands.generate import compress_llm, generate, llm_scenario, serve
from inferperf.commands.guarded import GuardArgs, precision, prune, quantize
from inferperf.commands.inspect import accuracy, doctor, flops, info, zoo_list
from inferperf.commands.optimize import optimize
from inferperf.commands.optimize_llm import LlmOptimizeOptions, is_generative, optimize_llm
from inferperf.commands.profile import profile, profile_shapes
from inferperf.commands.records import history_export, history_list, history_record, history_show, suite
from inferperf.commands.startup import coldstart, memory
from inferperf.commands.tune import tune
from inferperf.commands.workloads import dynamic, e2e, scenario
from inferperf.inputs import Feed
from inferperf.measure.bench import bench
from inferperf.measure.generate import GenerateOptions
from inferperf.measure.serving import Load, ServeOptions
from inferperf.measure.target import ProgressFactory, ShapeSpec
from inferperf.model.zoo import export as zoo_export

__all__ = [
    "EndpointOptions",
    "Feed",
    "GenerateOptions",
    "GuardArgs",
    "LlmOptimizeOptions",
    "Load",
    "ProgressFactory",
    "ServeOptions",
    "ShapeSpec",
    "accuracy",
    "bench",
    "coldstart",
    "compare",
    "compare_against_history",
    "compare_groups",
    "compare_interleaved",
    "compress_llm",
    "doctor",
    "dynamic",
    "e2e",
    "flops",
    "generate",
    "history_export",
    "history_list",
    "history_record",
    "history_show",
    "info",
    "is_endpoint",
    "is_generative",
    "llm_scenario",
    "memory",
    "optimize",
    "optimize_llm",
    "precision",
    "profile",
    "profile_shapes",
    "prune",
    "quantize",
    "scenario",
    "serve",
    "suite",
    "tune",
    "zoo_export",
    "zoo_list",
]
