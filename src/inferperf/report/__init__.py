"""Human-readable renderings of result documents."""

from inferperf.report.console import render_bench, render_info

__all__ = ["render_bench", "render_info"]
