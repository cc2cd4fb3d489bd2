"""Scenarios that drive an Engine and produce raw measurements.

Submodules are imported where used: fresh worker processes import only what
their task needs, so the harness's own imports do not inflate cold-start
figures.
"""
