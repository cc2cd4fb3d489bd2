"""Input providers: synthetic by element type, or arrays from an .npz file."""

from inferperf.inputs.providers import (
    InputSet,
    build_input_sets,
    load_npz_inputs,
    parse_input_values,
    parse_int_range,
    synthetic_inputs,
)

__all__ = [
    "InputSet",
    "build_input_sets",
    "load_npz_inputs",
    "parse_input_values",
    "parse_int_range",
    "synthetic_inputs",
]
