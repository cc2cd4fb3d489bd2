"""The whole optimize flow, from one command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from inferperf.backends import get_backend
from inferperf.config import OptimizeOptions
from inferperf.measure.target import ShapeSpec, plan_streams
from inferperf.model import load_model_info
from inferperf.results.documents import OptimizeDocument
from inferperf.results.schema import save_json


def optimize(
    model: str | Path = "builtin",
    *,
    options: OptimizeOptions | None = None,
    out: str | Path = "inferperf-optimize",
    status: Callable[[str, str], None] | None = None,
) -> OptimizeDocument:
    """The whole flow: measure, quantize, tune, verify against the baseline, report. Returns the result document.

    Every step's result is written to ``out`` as it finishes; on Ctrl-C the summary and the
    report are written from the finished steps and KeyboardInterrupt is raised again.
    """
    from inferperf.commands.optimize_flow import Pipeline, result_document
    from inferperf.report.optimize_report import write_reports

    options = options or OptimizeOptions()
    for name in options.backends:
        get_backend(name)  # fail fast, before minutes of work
    info_ = load_model_info(model)
    if options.shapes is not None:
        # Bad shapes are one line now, not a failure inside every step later.
        plan_streams([info_], ShapeSpec(options.shapes, options.shape_histogram, options.stream))
    out_dir = Path(out)
    pipeline = Pipeline(model, out_dir, options, status)
    try:
        pipeline.run()
    finally:
        artifacts = pipeline.copy_artifacts()
        doc = result_document(pipeline, artifacts)
        step_docs = {s.name: s.doc for s in pipeline.steps if s.doc is not None}
        reports = write_reports(doc, step_docs, out_dir)
        doc = replace(doc, extra={**doc.extra, "artifacts": {**doc.extra["artifacts"], **reports}})
        save_json(doc, out_dir / "optimize.json")
    return doc
