"""``--shape`` parsing and resolution of every input to one static shape."""

from __future__ import annotations

import re

from inferperf.errors import InputSpecError
from inferperf.model.info import ANY_RANK, ModelInfo, TensorSpec

_NAMED = re.compile(r"\s*([^\[\],]+?)\s*\[([^\]]*)\]\s*(?:,|$)")
ShapeSpec = dict[str | None, tuple[int, ...]]


def _dims(text: str, original: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p.isdigit() or int(p) <= 0 for p in parts):
        raise InputSpecError(f"bad shape {original!r}: dimensions must be positive integers, like 1,3,224,224")
    return tuple(int(p) for p in parts)


def parse_shape_spec(text: str | None) -> ShapeSpec:
    """Parse ``1,3,224,224`` (one input) or ``name[1,3,224,224],other[1,128]``.

    Returns a dict from input name (None for the single unnamed form) to dims.
    """
    if text is None or not text.strip():
        return {}
    if "[" not in text and "]" not in text:
        return {None: _dims(text, text)}
    spec: ShapeSpec = {}
    pos = 0
    while pos < len(text):
        m = _NAMED.match(text, pos)
        if m is None:
            raise InputSpecError(f"bad shape {text!r}: expected name[d0,d1,...] entries separated by commas")
        name = m.group(1)
        if name in spec:
            raise InputSpecError(f"bad shape {text!r}: input {name!r} given twice")
        spec[name] = _dims(m.group(2), text)
        pos = m.end()
    return spec


def _fit(spec: TensorSpec, dims: tuple[int, ...]) -> tuple[int, ...]:
    if len(dims) != len(spec.shape) and spec.shape != (ANY_RANK,):
        raise InputSpecError(
            f"shape {list(dims)} for input {spec.name!r} has rank {len(dims)}, the model expects "
            f"rank {len(spec.shape)} {spec.shape_text()}"
        )
    return dims


def resolve_shapes(info: ModelInfo, spec: ShapeSpec, batch: int = 1) -> dict[str, tuple[int, ...]]:
    """One static shape per input: given shapes win; ``batch`` fills a dynamic first dim.

    A static dimension that differs from the model's is allowed (a runtime that
    can reshape will, one that cannot says so). A dynamic dimension left open is
    an error naming the input and the dimension.
    """
    if None in spec:
        if len(info.inputs) != 1:
            names = ", ".join(s.name for s in info.inputs)
            raise InputSpecError(f"model has {len(info.inputs)} inputs ({names}): use --shape name[dims],...")
        spec = {info.inputs[0].name: spec[None]}
    known = {s.name for s in info.inputs}
    unknown = [n for n in spec if n not in known]
    if unknown:
        raise InputSpecError(
            f"--shape names unknown input(s) {', '.join(map(str, unknown))}; inputs are {', '.join(sorted(known))}"
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for tensor in info.inputs:
        given = spec.get(tensor.name)
        if given is not None:
            shapes[tensor.name] = _fit(tensor, given)
            continue
        if tensor.shape == (ANY_RANK,):
            raise InputSpecError(
                f"the model file does not record the shape of input {tensor.name!r}: give it with "
                f"--shape {tensor.name}[...]"
            )
        dims = list(tensor.shape)
        if dims and (not isinstance(dims[0], int) or batch != 1):
            dims[0] = batch
        open_dims = [f"dim {i} ({d})" for i, d in enumerate(dims) if not isinstance(d, int)]
        if open_dims:
            raise InputSpecError(
                f"input {tensor.name!r} {tensor.shape_text()} has dynamic {', '.join(open_dims)}: "
                f"fix it with --shape {tensor.name}[...]"
            )
        shapes[tensor.name] = tuple(int(d) for d in dims)
    return shapes
