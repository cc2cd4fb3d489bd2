"""Build the input sets a run rotates through.

Several distinct sets rotate during a run so that no cache (the runtime's, the
CPU's, a branch predictor's) serves one input forever. Synthetic data is
seeded, so a run is reproducible.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import TypedDict

import numpy as np

from inferperf.errors import InputSpecError
from inferperf.model.info import ModelInfo
from inferperf.model.shapes import parse_shape_spec, resolve_shapes

InputSet = dict[str, np.ndarray]
DEFAULT_SETS = 4
DEFAULT_INT_RANGE = (0, 100)


def parse_int_range(text: str | None) -> tuple[int, int] | None:
    """``LOW,HIGH`` (inclusive) for synthetic integer inputs; None when not given."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        low, high = (int(p) for p in parts)
    except ValueError:
        raise InputSpecError(f"bad --int-range {text!r}: expected LOW,HIGH integers") from None
    if low > high:
        raise InputSpecError(f"bad --int-range {text!r}: LOW is above HIGH")
    return low, high


def parse_input_values(items: list[str] | None) -> dict[str, float]:
    """``name=value`` pairs for inputs that must hold one real value (scalars, lengths)."""
    values: dict[str, float] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            values[name.strip()] = float(raw)
        except ValueError:
            raise InputSpecError(f"bad --input-value {item!r}: expected name=number") from None
    return values


def _random_array(
    rng: np.random.Generator, dtype: str, shape: tuple[int, ...], int_range: tuple[int, int]
) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise InputSpecError(f"cannot make synthetic data of element type {dtype}: pass --inputs FILE.npz") from None
    # Drawn in the input's own dtype (or float32 for narrower floats): a float64 draw cast afterwards
    # needed twice the memory of the input, and more than the machine had for large shapes.
    if np.issubdtype(np_dtype, np.integer):
        info = np.iinfo(np_dtype)
        low, high = max(int_range[0], info.min), min(int_range[1], info.max)
        return rng.integers(low, high, size=shape, endpoint=True, dtype=np_dtype)
    if np.issubdtype(np_dtype, np.floating):
        draw = np_dtype if np_dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float32)
        return rng.standard_normal(size=shape, dtype=draw).astype(np_dtype, copy=False)
    raise InputSpecError(f"cannot make synthetic data of element type {dtype}: pass --inputs FILE.npz")


def _itemsize(dtype: str) -> int:
    try:
        return max(np.dtype("bool" if dtype == "bool" else dtype).itemsize, 1)
    except TypeError:
        return 4  # an element type numpy lacks (bf16, ...): about the size of a float


def input_bytes(info: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> int:
    """Bytes one input set of these shapes takes."""
    return sum(math.prod(shapes[s.name]) * _itemsize(s.dtype) for s in info.inputs if s.name in shapes)


def refuse_over_memory(need: int, what: str) -> None:
    """A one-line InputSpecError when ``need`` bytes exceed the memory available now (nothing allocated)."""
    import psutil

    available = int(psutil.virtual_memory().available)
    if need > available:
        raise InputSpecError(
            f"{what} need {_gib(need)} but only {_gib(available)} of memory is available: "
            "use a smaller shape, batch or stream"
        )


def check_inputs_fit(info: ModelInfo, shapes: dict[str, tuple[int, ...]], sets: int) -> None:
    """Refuse, before allocating, input sets the machine's free memory cannot hold.

    ``sets`` copies of every input, plus one for the runtime's own copy while it runs: a shape
    like 1,3,60000,60000 otherwise ended in numpy's MemoryError (or the OOM killer) deep inside a run.
    """
    shown = ", ".join(f"{s.name}{list(shapes[s.name])} {s.dtype}" for s in info.inputs if s.name in shapes)
    refuse_over_memory(input_bytes(info, shapes) * (sets + 1), f"the inputs ({sets} sets of {shown}, + 1 in use)")


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _model_hints(info: ModelInfo) -> dict[str, dict[str, object]]:
    # Zoo exports record sane inputs (token-id range, all-ones masks) in their metadata.
    try:
        hints = json.loads(info.metadata.get("inferperf.inputs", "{}"))
    except ValueError:
        return {}
    return hints if isinstance(hints, dict) else {}


def synthetic_inputs(
    info: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    *,
    sets: int = DEFAULT_SETS,
    seed: int = 0,
    int_range: tuple[int, int] | None = None,
    values: dict[str, float] | None = None,
) -> list[InputSet]:
    """``sets`` seeded random input sets.

    Inputs named in ``values`` are filled with that value. Integer inputs draw
    from ``int_range``, else from the range the model's metadata names, else
    0..100. A fixed value in the metadata (masks) applies unless overridden.
    """
    values = dict(values or {})
    for name in values:
        info.input(name)  # raises with the real names when wrong
    check_inputs_fit(info, shapes, sets)
    ranges: dict[str, tuple[int, int]] = {}
    for name, hint in _model_hints(info).items():
        if hint.get("value") is not None and name not in values:
            values[name] = float(hint["value"])  # type: ignore[arg-type]
        hinted = hint.get("int_range")
        if isinstance(hinted, list) and len(hinted) == 2:
            ranges[name] = (int(hinted[0]), int(hinted[1]))
    rng = np.random.default_rng(seed)
    out: list[InputSet] = []
    for _ in range(sets):
        one: InputSet = {}
        for spec in info.inputs:
            shape = shapes[spec.name]
            if spec.name in values:
                one[spec.name] = np.full(shape, values[spec.name], dtype=np.dtype(spec.dtype))
            else:
                span = int_range or ranges.get(spec.name, DEFAULT_INT_RANGE)
                one[spec.name] = _random_array(rng, spec.dtype, shape, span)
        out.append(one)
    return out


def load_npz_inputs(path: str | Path, info: ModelInfo, shapes: dict[str, tuple[int, ...]]) -> list[InputSet]:
    """Arrays from an .npz mapped to inputs by name.

    An array may have the input's shape (one set) or one extra leading axis
    (several sets, rotated during the run). Wrong names or shapes are errors.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputSpecError(f"inputs file not found: {p}") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputSpecError(f"cannot read inputs file {p}: {exc}") from None
    names = {s.name for s in info.inputs}
    extra, missing = sorted(set(arrays) - names), sorted(names - set(arrays))
    if extra or missing:
        raise InputSpecError(
            f"inputs file {p.name} does not match the model: "
            f"unknown {extra or 'none'}, missing {missing or 'none'}; model inputs are {sorted(names)}"
        )
    counts = set()
    for name, arr in arrays.items():
        want = shapes[name]
        if arr.shape == want:
            arrays[name] = arr[None]
        elif arr.shape[1:] != want:
            raise InputSpecError(f"array {name!r} in {p.name} has shape {list(arr.shape)}, expected {list(want)}")
        arrays[name] = arrays[name].astype(np.dtype(info.input(name).dtype), copy=False)
        counts.add(arrays[name].shape[0])
    if len(counts) != 1:
        raise InputSpecError(f"arrays in {p.name} hold different numbers of sets: {sorted(counts)}")
    return [{k: np.ascontiguousarray(v[i]) for k, v in arrays.items()} for i in range(counts.pop())]


def build_input_sets(
    info: ModelInfo,
    shapes: dict[str, tuple[int, ...]],
    *,
    npz: str | Path | None = None,
    seed: int = 0,
    int_range: tuple[int, int] | None = None,
    values: dict[str, float] | None = None,
    sets: int = DEFAULT_SETS,
) -> list[InputSet]:
    """The input sets for a run: from ``npz`` when given, synthetic otherwise."""
    if npz is not None:
        return load_npz_inputs(npz, info, shapes)
    return synthetic_inputs(info, shapes, sets=sets, seed=seed, int_range=int_range, values=values)


class Feed(TypedDict, total=False):
    """How a run's inputs are fed, as bench and tune take it and a trial's worker gets it (plain JSON): the
    ``shape`` spec of synthetic inputs, or an .npz of ``inputs``; the integer range and per-input constant
    values of synthetic ones; the ``seed`` that draws them (0)."""

    shape: str | None
    inputs: str | Path | None
    int_range: tuple[int, int] | list[int] | None
    input_values: dict[str, float] | None
    seed: int


def feed_sets(info: ModelInfo, feed: Feed, batch: int) -> tuple[dict[str, tuple[int, ...]], list[InputSet]]:
    """The shapes and input sets of ``feed`` at ``batch`` (``int_range`` may come back from JSON as a list)."""
    shapes = resolve_shapes(info, parse_shape_spec(feed.get("shape")), batch)
    low_high = feed.get("int_range")
    sets = build_input_sets(
        info, shapes, npz=feed.get("inputs"), seed=int(feed.get("seed", 0)),
        int_range=(int(low_high[0]), int(low_high[1])) if low_high else None, values=feed.get("input_values"),
    )  # fmt: skip
    return shapes, sets
