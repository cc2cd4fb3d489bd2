"""Shape distributions for dynamic-shape workloads (``--shapes``).

Grammar (groups separated by ``;``, each optionally weighted with ``*W``)::

    input_ids[1,32];input_ids[1,128];input_ids[1,512]      three fixed groups, equal weight
    input_ids[1,16..512]                                    a range, uniform over 16..512
    input_ids[1,16..512]*3;input_ids[1,512]                 weighted groups
    1,16..512                                               the single input of a one-input model

A range can instead follow a histogram file (``--shape-histogram``), and the
shapes can come from a dataset (``--shapes data`` with ``--data``: the images'
sizes or the texts' lengths). Inputs not named follow the named ones through
the model's symbolic dimension names (``attention_mask`` takes ``input_ids``'s
sequence length when both call it ``sequence``). Every stream is drawn with a
seeded generator, so the same arguments give the same order.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inferperf.errors import InputSpecError
from inferperf.inputs.histogram import Histogram, histogram_from_values, load_histogram
from inferperf.model.info import ANY_RANK, ModelInfo, TensorSpec

_ENTRY = re.compile(r"\s*([^\[\],;*]+?)\s*\[([^\]]*)\]\s*(?:,|$)")
_DIM = re.compile(r"^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$")
DATA = "data"


@dataclass(frozen=True)
class DimRange:
    """An inclusive range of sizes for one dimension."""

    low: int
    high: int

    def text(self) -> str:
        """``16..512``."""
        return f"{self.low}..{self.high}"


DimSpec = int | DimRange


@dataclass(frozen=True)
class ShapeGroup:
    """One ``;``-separated group: dims per input (None = the model's only input) and a weight."""

    dims: dict[str | None, tuple[DimSpec, ...]]
    weight: float = 1.0
    text: str = ""


@dataclass(frozen=True)
class Variable:
    """A dimension that varies: every input dim tied to it takes the same drawn size."""

    key: str
    range: DimRange
    histogram: Histogram | None = None


@dataclass
class ResolvedGroup:
    """A group bound to the model: per input, each dim is an int or the key of a Variable."""

    label: str
    weight: float
    dims: dict[str, tuple[int | str, ...]]
    variables: dict[str, Variable] = field(default_factory=dict)

    def shape_for(self, sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
        """The static shapes of every input for one draw of the variables."""
        return {n: tuple(d if isinstance(d, int) else sizes[d] for d in dims) for n, dims in self.dims.items()}


@dataclass(frozen=True)
class StreamItem:
    """One input of the stream: its group, its shapes, and the bucket (padded shapes) it falls in."""

    index: int
    group: int
    shapes: dict[str, tuple[int, ...]]
    bucket: dict[str, tuple[int, ...]]
    bin: str  # the reporting group: the group label, narrowed to its bucket for ranged groups


def _dim(token: str, original: str) -> DimSpec:
    m = _DIM.match(token)
    if m is None:
        raise InputSpecError(
            f"bad shapes {original!r}: {token.strip()!r} is not a size or a range LOW..HIGH of positive integers"
        )
    low = int(m.group(1))
    if m.group(2) is None:
        if low <= 0:
            raise InputSpecError(f"bad shapes {original!r}: sizes must be positive, got {low}")
        return low
    high = int(m.group(2))
    if low <= 0:
        raise InputSpecError(f"bad shapes {original!r}: range {low}..{high} must start at 1 or more")
    if low > high:
        raise InputSpecError(f"bad shapes {original!r}: range {low}..{high} has its low end above its high end")
    return low if low == high else DimRange(low, high)


def _dims(text: str, original: str) -> tuple[DimSpec, ...]:
    if not text.strip():
        raise InputSpecError(f"bad shapes {original!r}: empty dimension list")
    return tuple(_dim(t, original) for t in text.split(","))


def _weight(text: str, original: str) -> tuple[str, float]:
    body, star, raw = text.rpartition("*")
    if not star:
        return text, 1.0
    try:
        weight = float(raw)
    except ValueError:
        raise InputSpecError(f"bad shapes {original!r}: weight {raw.strip()!r} after '*' is not a number") from None
    if not math.isfinite(weight) or weight <= 0:
        raise InputSpecError(f"bad shapes {original!r}: weight {raw.strip()!r} must be positive")
    return body, weight


def _group(text: str, original: str) -> ShapeGroup:
    body, weight = _weight(text.strip(), original)
    if "[" not in body and "]" not in body:
        return ShapeGroup({None: _dims(body, original)}, weight, body.strip())
    dims: dict[str | None, tuple[DimSpec, ...]] = {}
    pos = 0
    while pos < len(body):
        m = _ENTRY.match(body, pos)
        if m is None:
            raise InputSpecError(f"bad shapes {original!r}: expected name[d0,d1,...] entries, groups separated by ';'")
        if m.group(1) in dims:
            raise InputSpecError(f"bad shapes {original!r}: input {m.group(1)!r} given twice in one group")
        dims[m.group(1)] = _dims(m.group(2), original)
        pos = m.end()
    return ShapeGroup(dims, weight, body.strip())


def parse_shape_groups(text: str) -> list[ShapeGroup]:
    """Parse the ``--shapes`` grammar (see the module docstring) into groups."""
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise InputSpecError("bad shapes '': give at least one group, like input_ids[1,16..512]")
    return [_group(p, text) for p in parts]


# -- histograms ---------------------------------------------------------------------------------


def model_bounds(info: ModelInfo) -> dict[tuple[str, int], tuple[int, int]]:
    """Known (low, high) bounds of dynamic dims: from a zoo export's metadata (position embeddings)."""
    try:
        raw = json.loads(info.metadata.get("inferperf.bounds", "{}"))
    except ValueError:
        return {}
    out: dict[tuple[str, int], tuple[int, int]] = {}
    if isinstance(raw, dict):
        for name, dims in raw.items():
            for index, pair in (dims or {}).items():
                out[(str(name), int(index))] = (int(pair[0]), int(pair[1]))
    return out


def _tensor(info: ModelInfo, name: str | None) -> TensorSpec:
    if name is None:
        if len(info.inputs) != 1:
            names = ", ".join(s.name for s in info.inputs)
            raise InputSpecError(f"model has {len(info.inputs)} inputs ({names}): name them, like name[1,16..512]")
        return info.inputs[0]
    known = {s.name: s for s in info.inputs}
    if name not in known:
        raise InputSpecError(f"`shapes` names unknown input {name!r}; inputs are {', '.join(sorted(known))}")
    return known[name]


def _check_dim(spec: TensorSpec, i: int, want: DimSpec, bounds: dict[tuple[str, int], tuple[int, int]]) -> None:
    have = spec.shape[i]
    high = want.high if isinstance(want, DimRange) else want
    low = want.low if isinstance(want, DimRange) else want
    if isinstance(have, int) and (low != have or high != have):
        shown = want.text() if isinstance(want, DimRange) else str(want)
        raise InputSpecError(
            f"shape outside the model's bounds: input {spec.name!r} dim {i} is static {have} in the model, "
            f"`shapes` asks for {shown}"
        )
    bound = bounds.get((spec.name, i))
    if bound is not None and (low < bound[0] or high > bound[1]):
        shown = want.text() if isinstance(want, DimRange) else str(want)
        raise InputSpecError(
            f"shape outside the model's bounds: input {spec.name!r} dim {i} ({have}) accepts "
            f"{bound[0]}..{bound[1]}, `shapes` asks for {shown}"
        )


def _var_key(spec: TensorSpec, i: int) -> str:
    have = spec.shape[i]
    # Dims that share a symbolic name are one variable: attention_mask follows input_ids.
    return f"dim:{have}" if isinstance(have, str) and have not in ("?", "") else f"{spec.name}:{i}"


def resolve_group(
    info: ModelInfo, group: ShapeGroup, batch: int = 1, histogram: Histogram | None = None
) -> ResolvedGroup:
    """Bind one group to the model's inputs; errors name the input, the dim and the bound it breaks."""
    bounds = model_bounds(info)
    dims: dict[str, tuple[int | str, ...]] = {}
    variables: dict[str, Variable] = {}
    fixed: dict[str, int] = {}  # symbolic dim name -> size, for inputs the group does not name
    for name, given in group.dims.items():
        spec = _tensor(info, name)
        if spec.shape != (ANY_RANK,) and len(given) != len(spec.shape):
            raise InputSpecError(
                f"shapes {group.text!r}: input {spec.name!r} has rank {len(spec.shape)} {spec.shape_text()}, "
                f"the group gives {len(given)} dims"
            )
        out: list[int | str] = []
        for i, want in enumerate(given):
            _check_dim(spec, i, want, bounds)
            key = _var_key(spec, i)
            if isinstance(want, DimRange):
                if key in variables and variables[key].range != want:
                    raise InputSpecError(f"shapes {group.text!r}: tied dimension {key} given two different ranges")
                variables[key] = Variable(key, want)
                out.append(key)
            else:
                fixed[key] = want
                out.append(want)
        dims[spec.name] = tuple(out)
    for spec in info.inputs:
        if spec.name not in dims:
            dims[spec.name] = _follow(spec, fixed, variables, batch, group.text)
    variables = _with_histogram(variables, histogram, group.text)
    return ResolvedGroup(group.text or "group", group.weight, dims, variables)


def _follow(
    spec: TensorSpec, fixed: dict[str, int], variables: dict[str, Variable], batch: int, text: str
) -> tuple[int | str, ...]:
    if spec.shape == (ANY_RANK,):
        raise InputSpecError(f"the model does not record the shape of input {spec.name!r}: name it in `shapes`")
    out: list[int | str] = []
    for i, have in enumerate(spec.shape):
        key = _var_key(spec, i)
        if isinstance(have, int):
            out.append(have)
        elif key in variables:
            out.append(key)
        elif key in fixed:
            out.append(fixed[key])
        elif i == 0:
            out.append(batch)
        else:
            raise InputSpecError(
                f"shapes {text!r}: input {spec.name!r} {spec.shape_text()} has open dim {i} that no named input "
                f"fixes: name {spec.name} in the group"
            )
    return tuple(out)


def _with_histogram(variables: dict[str, Variable], histogram: Histogram | None, text: str) -> dict[str, Variable]:
    if histogram is None or not variables:
        return variables
    if len(variables) != 1:
        raise InputSpecError(
            f"shapes {text!r}: a histogram applies to one ranged dimension, this group has {len(variables)}"
        )
    ((key, var),) = variables.items()
    outside = [v for v in histogram.values if not var.range.low <= v <= var.range.high]
    if outside:
        raise InputSpecError(
            f"histogram {histogram.source}: size {outside[0]} is outside the range {var.range.text()} of {text!r}"
        )
    return {key: Variable(key, var.range, histogram)}


# -- buckets and the stream ---------------------------------------------------------------------


def default_buckets(rng: DimRange) -> list[int]:
    """Powers of two from the first one at or above ``low`` to ``high`` (which is always a bucket)."""
    edges = []
    size = 1 << max(0, math.ceil(math.log2(rng.low)))
    while size < rng.high:
        edges.append(size)
        size *= 2
    return [*edges, rng.high]


def parse_buckets(text: str | None) -> list[int] | None:
    """``64,128,256,512`` -> sorted sizes; None when not given."""
    if text is None:
        return None
    try:
        sizes = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise InputSpecError(f"bad `buckets` {text!r}: expected sizes like 64,128,256,512") from None
    if not sizes or sizes[0] <= 0:
        raise InputSpecError(f"bad `buckets` {text!r}: sizes must be positive")
    return sizes


def _bucket_of(size: int, edges: list[int]) -> int:
    for edge in edges:
        if size <= edge:
            return edge
    return size  # beyond the last bucket: the item runs at its own size (reported as a bucket of one)


def _draw(var: Variable, rng: np.random.Generator) -> int:
    if var.histogram is not None:
        h = var.histogram
        return int(h.values[int(rng.choice(len(h.values), p=np.asarray(h.weights)))])
    return int(rng.integers(var.range.low, var.range.high, endpoint=True))


def draw_stream(
    groups: list[ResolvedGroup], count: int, seed: int = 0, buckets: list[int] | None = None
) -> list[StreamItem]:
    """``count`` items: a group by weight, then each of its variables, all from one seeded generator."""
    if count <= 0:
        raise InputSpecError(f"the stream needs at least one input, got {count}")
    rng = np.random.default_rng(seed)
    weights = np.asarray([g.weight for g in groups], dtype=np.float64)
    weights /= weights.sum()
    spans: dict[str, DimRange] = {}
    for g in groups:
        for key, var in g.variables.items():
            seen = spans.get(key, var.range)
            spans[key] = DimRange(min(seen.low, var.range.low), max(seen.high, var.range.high))
    edges = {key: buckets or default_buckets(span) for key, span in spans.items()}
    items = []
    for index in range(count):
        gi = int(rng.choice(len(groups), p=weights)) if len(groups) > 1 else 0
        group = groups[gi]
        sizes = {key: _draw(var, rng) for key, var in group.variables.items()}
        padded = {key: _bucket_of(size, edges[key]) for key, size in sizes.items()}
        items.append(
            StreamItem(
                index, gi, group.shape_for(sizes), group.shape_for(padded), _bin_label(group, sizes, padded, edges)
            )
        )
    return items


def _bin_label(group: ResolvedGroup, sizes: dict[str, int], padded: dict[str, int], edges: dict[str, list[int]]) -> str:
    if not sizes:
        return group.label
    parts = []
    for key, edge in padded.items():
        below = [e for e in edges[key] if e < edge]
        low = max(below[-1] + 1 if below else group.variables[key].range.low, group.variables[key].range.low)
        name = key.split(":", 1)[1] if key.startswith("dim:") else key
        parts.append(f"{name} {low}..{edge}" if edge in edges[key] else f"{name} {sizes[key]}")
    return ", ".join(parts)


def bin_order(items: list[StreamItem]) -> list[str]:
    """Reporting groups in size order (by the elements of their bucket), each once."""
    first: dict[str, int] = {}
    for item in items:
        size = sum(math.prod(s) for s in item.bucket.values())
        first[item.bin] = min(first.get(item.bin, size), size)
    return sorted(first, key=lambda b: (first[b], b))


def bin_sizes(items: list[StreamItem]) -> dict[str, float]:
    """Mean number of input elements per reporting group (the x axis of latency against size)."""
    acc: dict[str, list[int]] = {}
    for item in items:
        acc.setdefault(item.bin, []).append(sum(math.prod(s) for s in item.shapes.values()))
    return {k: float(np.mean(v)) for k, v in acc.items()}


# -- shapes from a dataset ----------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def text_lengths(path: Path, limit: int | None) -> list[int]:
    """Approximate token counts of the lines of a text file: words and punctuation marks, plus [CLS] and [SEP].

    A WordPiece tokenizer splits rare words further, so this undercounts by some percent;
    no tokenizer vocabulary is downloaded to do better.
    """
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputSpecError(f"cannot read text file {path}: {exc}") from None
    if path.suffix == ".jsonl":
        lines = [_jsonl_text(ln, path) for ln in lines]
    lengths = [len(_TOKEN.findall(ln)) + 2 for ln in lines]
    return [min(n, limit) for n in lengths] if limit else lengths


def _jsonl_text(line: str, path: Path) -> str:
    try:
        obj = json.loads(line)
    except ValueError:
        raise InputSpecError(f"{path}: a line is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise InputSpecError(f'{path}: each JSON line needs a "text" string')
    return str(obj["text"])


def image_sizes(folder: Path) -> list[tuple[int, int]]:
    """(height, width) of every image in a folder, read from headers without decoding."""
    try:
        from PIL import Image
    except ImportError:
        raise InputSpecError("reading image sizes needs Pillow: pip install 'inferperf[photos]'") from None
    sizes = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"):
            continue
        try:
            with Image.open(p) as im:
                sizes.append((int(im.height), int(im.width)))
        except OSError:
            continue
    if not sizes:
        raise InputSpecError(f"no readable images in {folder}")
    return sizes


def groups_from_data(info: ModelInfo, data: str | Path, batch: int = 1) -> tuple[list[ResolvedGroup], str]:
    """Shape groups that follow a dataset: text lengths (one ranged group with their histogram) or image sizes."""
    path = Path(data)
    bounds = model_bounds(info)
    if path.is_dir():
        return _image_groups(info, image_sizes(path), batch), f"sizes of the images in {path}"
    if path.suffix in (".txt", ".jsonl") and path.is_file():
        spec = _sequence_input(info)
        bound = bounds.get((spec.name, 1), (1, 0))[1] or None
        lengths = text_lengths(path, bound)
        hist = histogram_from_values(lengths, f"lengths of the texts in {path}")
        rng = DimRange(min(lengths), max(lengths)) if min(lengths) < max(lengths) else None
        dims: tuple[DimSpec, ...] = (batch, rng or lengths[0])
        group = ShapeGroup({spec.name: dims}, 1.0, f"{spec.name}[{batch},{rng.text() if rng else lengths[0]}]")
        return [resolve_group(info, group, batch, hist if rng else None)], hist.source
    if not path.exists():
        raise InputSpecError(f"`data` not found: {path}")
    raise InputSpecError(f"`shapes` 'data' needs an image folder or a .txt/.jsonl file of texts, not {path}")


def _sequence_input(info: ModelInfo) -> TensorSpec:
    for spec in info.inputs:
        if len(spec.shape) == 2 and spec.dtype.startswith("int") and not isinstance(spec.shape[1], int):
            return spec
    raise InputSpecError("the model has no integer input with an open sequence dimension to take text lengths")


def _image_groups(info: ModelInfo, sizes: list[tuple[int, int]], batch: int) -> list[ResolvedGroup]:
    images = [s for s in info.inputs if len(s.shape) == 4]
    if len(images) != 1:
        raise InputSpecError("shapes from images need a model with exactly one 4-D input")
    spec = images[0]
    hw = (2, 3) if spec.shape[1] == 3 else (1, 2)
    counts: dict[tuple[int, int], int] = {}
    for size in sizes:
        counts[size] = counts.get(size, 0) + 1
    groups = []
    for (h, w), n in sorted(counts.items()):
        dims: list[DimSpec] = [batch, 0, 0, 0]
        for i in range(4):
            if i == hw[0]:
                dims[i] = h
            elif i == hw[1]:
                dims[i] = w
            elif i != 0:
                c = spec.shape[i]
                dims[i] = c if isinstance(c, int) else 3
        text = f"{spec.name}[{','.join(str(d) for d in dims)}]"
        groups.append(resolve_group(info, ShapeGroup({spec.name: tuple(dims)}, float(n), text), batch))
    return groups


def resolve_shapes_option(
    info: ModelInfo,
    text: str,
    *,
    batch: int = 1,
    histogram: str | Path | None = None,
    data: str | Path | None = None,
) -> tuple[list[ResolvedGroup], str]:
    """``--shapes`` (+ ``--shape-histogram`` / ``--data``) -> groups bound to the model, and where they came from."""
    if text.strip() == DATA:
        if data is None:
            raise InputSpecError("`shapes` 'data' needs `data` (an image folder or a text file)")
        if histogram is not None:
            raise InputSpecError("`shapes` 'data' takes its sizes from `data`: drop `histogram`")
        return groups_from_data(info, data, batch)
    hist = load_histogram(histogram) if histogram is not None else None
    groups = [resolve_group(info, g, batch, hist) for g in parse_shape_groups(text)]
    if hist is not None and not any(g.variables for g in groups):
        raise InputSpecError("`histogram` needs a ranged dimension in `shapes`, like input_ids[1,16..512]")
    source = f"--shapes {text}" + (f" with sizes from {hist.source}" if hist else "")
    return groups, source
