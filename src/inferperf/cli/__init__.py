"""Command line: parse once into typed configs, call the API, render, exit with a code.

``options`` declares every flag once, ``common`` holds the app and what every command shares (the
``command`` wrapper: errors, progress, rendering, --json; flags to a RuntimeConfig), and one module
per family of commands holds the commands. They are registered here, in the order ``--help`` lists them.
"""

from __future__ import annotations

from inferperf.cli import generate, inspect, measure, optimizations, results, scenario, startup
from inferperf.cli.common import app, main
from inferperf.cli.groups import grouped

__all__ = ["app", "main"]

for _command in (
    inspect.info,
    inspect.accuracy,
    startup.coldstart,
    startup.memory,
    optimizations.quantize,
    optimizations.prune,
    optimizations.precision,
    inspect.doctor,
    measure.bench,
    optimizations.tune,
    measure.e2e,
    measure.dynamic,
    measure.profile,
    results.compare,
    results.report,
    optimizations.optimize,
    scenario.scenario,
    results.suite,
    generate.generate,
    generate.llm_compress,
):
    app.command()(grouped(_command))
app.add_typer(inspect.zoo_app, name="zoo")
app.add_typer(results.history_app, name="history")
