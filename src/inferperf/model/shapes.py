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

    A given shape whose dim 0 differs from a ``batch`` other than 1 is refused: one of the two
    would be silently ignored, and throughput would count items that were never computed.

    A static dimension that differs from the model's is allowed (a runtime that
    can reshape will, one that cannot says so). A dynamic dimension left open is
    an error naming the input and the dimension.
    """
    if None in spec:
        if len(info.inputs) != 1:
            names = ", ".join(s.name for s in info.inputs)
            raise InputSpecError(f"model has {len(info.inputs)} inputs ({names}): use `shape` name[dims],...")
        spec = {info.inputs[0].name: spec[None]}
    known = {s.name for s in info.inputs}
    unknown = [n for n in spec if n not in known]
    if unknown:
        raise InputSpecError(
            f"`shape` names unknown input(s) {', '.join(map(str, unknown))}; inputs are {', '.join(sorted(known))}"
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for tensor in info.inputs:
        given = spec.get(tensor.name)
        if given is not None:
            if batch != 1 and given and given[0] != batch:
                raise InputSpecError(
                    f"the shape {list(given)} of input {tensor.name!r} fixes its batch dim to {given[0]}, "
                    f"but batch {batch} was asked for: give dim 0 = {batch} in the shape, or drop the batch"
                )
            shapes[tensor.name] = _fit(tensor, given)
            continue
        if tensor.shape == (ANY_RANK,):
            raise InputSpecError(
                f"the model file does not record the shape of input {tensor.name!r}: give it with "
                f"`shape` {tensor.name}[...]"
            )
        dims = list(tensor.shape)
        if dims and (not isinstance(dims[0], int) or batch != 1):
            dims[0] = batch
        open_dims = [f"dim {i} ({d})" for i, d in enumerate(dims) if not isinstance(d, int)]
        if open_dims:
            raise InputSpecError(
                f"input {tensor.name!r} {tensor.shape_text()} has dynamic {', '.join(open_dims)}: "
                f"fix it with `shape` {tensor.name}[...]"
            )
        shapes[tensor.name] = tuple(int(d) for d in dims)
    return shapes


def _batch_inputs(info: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Inputs whose dim 0 is the batch dim: those the model leaves open there, else every input of rank >= 1."""
    ranked = [s for s in info.inputs if len(shapes.get(s.name, ())) >= 1]
    open_first = [s.name for s in ranked if s.shape == (ANY_RANK,) or (s.shape and not isinstance(s.shape[0], int))]
    return open_first or [s.name for s in ranked]


def fed_batch(info: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> int:
    """Items one inference computes: the batch dim (dim 0) of the tensors actually fed.

    Throughput counts these, never a config field: a config that says batch 8 over tensors of
    batch 1 would report eight times what ran. Inputs that disagree on it leave the count
    undefined, which is an error rather than a guess.
    """
    names = _batch_inputs(info, shapes)
    if not names:
        return 1  # scalar inputs only: one item per inference
    sizes = {n: int(shapes[n][0]) for n in names}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n} {v}" for n, v in sizes.items())
        raise InputSpecError(
            f"inputs disagree on the batch dim (dim 0: {listed}): items per inference are undefined; "
            "give every batched input the same dim 0"
        )
    return next(iter(sizes.values()))


def reconcile_batch(info: ModelInfo, shapes: dict[str, tuple[int, ...]], batch: int, source: str = "batch") -> int:
    """The one batch a run uses: what the fed shapes hold, checked against the batch asked for.

    ``batch`` 1 is the default and defers to the shapes (``--shape 8,...`` computes 8 items); any
    other value must equal the fed batch dim, else the request is refused naming both, never
    silently resolved one way.
    """
    fed = fed_batch(info, shapes)
    if batch not in (1, fed):
        listed = ", ".join(f"{n}{list(shapes[n])}" for n in _batch_inputs(info, shapes))
        raise InputSpecError(
            f"{source} {batch} conflicts with the inputs' batch dim {fed} ({listed}): "
            f"give the shape with dim 0 = {batch}, or drop the {source}"
        )
    return fed
