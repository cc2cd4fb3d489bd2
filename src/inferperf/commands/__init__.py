"""The command layer: one module per command family; ``inferperf.api`` is its public façade."""
