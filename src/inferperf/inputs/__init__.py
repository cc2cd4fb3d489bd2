"""Input providers: synthetic by element type, or arrays from an .npz file."""

from inferperf.inputs.providers import (
    Feed,
    InputSet,
    build_input_sets,
    feed_sets,
    load_npz_inputs,
    parse_input_values,
    parse_int_range,
    synthetic_inputs,
)

__all__ = [
    "Feed",
    "InputSet",
    "build_input_sets",
    "feed_sets",
    "load_npz_inputs",
    "parse_input_values",
    "parse_int_range",
    "synthetic_inputs",
]
