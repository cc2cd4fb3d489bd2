"""The runtime-configuration search (tune)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack, cast

from inferperf.backends import get_backend
from inferperf.config import RuntimeConfig, TuneOptions
from inferperf.errors import ConfigError
from inferperf.inputs import Feed
from inferperf.jsonform import known_keywords
from inferperf.measure.environment import collect_environment
from inferperf.measure.target import ShapeSpec, ShapesRecord, StreamSpec, as_spec, header, plan_streams
from inferperf.measure.trials import TrialInputs
from inferperf.model import ModelInfo, load_model_info, parse_shape_spec, reconcile_batch, resolve_shapes
from inferperf.results.documents import TuneDocument

if TYPE_CHECKING:
    from inferperf.optimize.tuner import Target

TUNE_STREAM = 32  # inputs in the stream every trial runs, when `shapes` is a text


def tune(
    model: str | Path = "builtin",
    *,
    backends: Sequence[str] = ("openvino",),
    variants: Sequence[str | Path] = (),
    options: TuneOptions | None = None,
    config: RuntimeConfig | None = None,
    progress: Callable[[float, str], None] | None = None,
    checkpoint: Callable[[TuneDocument], None] | None = None,
    shapes: ShapeSpec | str | None = None,
    **feed: Unpack[Feed],
) -> TuneDocument:
    """Search the runtime knobs (and model variants) under latency and memory budgets; verify the winner.

    Returns a result document; ``recommendation.runtime`` is what ``bench --config`` reads back.
    The reference is the first backend's own defaults for the scenario on the first model.
    With ``shapes`` (the ``--shapes`` grammar) every trial runs one engine with the varying dims open
    over the same seeded stream of inputs (32 when ``shapes`` is a text), so the objective is that of
    the distribution. ``feed``: how every trial's inputs are fed without ``shapes``, as bench takes it.
    """
    from inferperf.optimize.tuner import Target, TrialRunner, Tuner

    known_keywords("tune", feed, Feed)
    options = options or TuneOptions()
    scenario = "throughput" if options.objective == "throughput" else "latency"
    plugins = [get_backend(name) for name in backends]
    infos = [("model", load_model_info(model))]
    for path in variants:
        infos.append((Path(str(path)).stem, load_model_info(path)))
    base = config or RuntimeConfig()
    spec = cast(TrialInputs, dict(feed))
    if feed.get("inputs") is not None:
        spec["inputs"] = str(feed.get("inputs"))  # the workers get plain JSON
    targets, skipped, stream_doc = _targets(
        plugins, infos, scenario, base, spec, as_spec(shapes, stream=TUNE_STREAM, seed=feed.get("seed", 0))
    )
    ref = targets[0]
    reference = Target(ref.backend, ref.variant, ref.info, (), name=f"reference ({ref.backend} {scenario} defaults)")
    tuner = Tuner(targets, reference, TrialRunner(base, options, scenario, spec))

    def doc(body: dict[str, Any]) -> TuneDocument:
        extra = {"shapes": stream_doc} if stream_doc else {}
        return TuneDocument.from_dict(
            {
                **header("tune", plugins[0]),
                "model": infos[0][1].to_dict(),
                "skipped_targets": skipped,
                **extra,
                **body,
            }
        )

    result = tuner.run(progress, (lambda body: checkpoint(doc(body))) if checkpoint else None)
    return doc(result.to_dict())


def _targets(
    plugins: Sequence[Any],
    infos: list[tuple[str, ModelInfo]],
    scenario: str,
    base: RuntimeConfig,
    spec: TrialInputs,
    stream: ShapeSpec | None,
) -> tuple[list[Any], list[str], ShapesRecord | None]:
    """What the tuner searches (backend x variant, with their knobs), what it skips and why, the stream's record."""
    cpu = collect_environment()["cpu"]
    targets, skipped = build_targets(plugins, infos, scenario, int(cpu["cores"] or 1), cpu["features"])
    if not targets:
        raise ConfigError("nothing to tune: " + "; ".join(skipped))
    if stream is not None:
        targets, spec["shapes"], record = _tune_stream(targets, infos, base, spec, stream)
        return targets, [*skipped, "batch knob: with --shapes each input's shape comes from the stream"], record
    targets, reason = _batch_knob(targets, infos, base, spec)
    return targets, [*skipped, *([f"batch knob: {reason}"] if reason else [])], None


def _batch_knob(
    targets: list[Any], infos: list[tuple[str, ModelInfo]], base: RuntimeConfig, spec: TrialInputs
) -> tuple[list[Any], str | None]:
    """The targets, without the batch knob where the batch dim cannot change; and why it was dropped.

    Given shapes or an inputs file fix every input's dim 0: a trial at another batch would feed the
    same tensors and count items that never ran (or be refused), so the knob is not searched. The
    shapes are resolved here once, so a batch in ``base`` that conflicts with them is a one-line error.
    """
    from inferperf.optimize.tuner import Target

    if spec.get("inputs") is not None:
        reason = "the inputs file fixes every input's shape; batch is not searched"
    elif spec.get("shape") is not None:
        fed = {
            reconcile_batch(i, resolve_shapes(i, parse_shape_spec(spec.get("shape")), base.batch), base.batch)
            for _, i in infos
        }
        reason = f"the given shape fixes the batch dim to {', '.join(map(str, sorted(fed)))}; batch is not searched"
    else:
        return targets, None
    kept = [Target(t.backend, t.variant, t.info, tuple(k for k in t.knobs if k.name != "batch")) for t in targets]
    return kept, reason


def _tune_stream(
    targets: list[Any], infos: list[tuple[str, ModelInfo]], base: RuntimeConfig, spec: TrialInputs, stream: ShapeSpec
) -> tuple[list[Any], StreamSpec, ShapesRecord]:
    """The tuner's targets without the batch knob, and the stream for its workers."""
    from inferperf.optimize.tuner import Target

    if spec.get("shape") is not None or spec.get("inputs") is not None or spec.get("input_values"):
        raise ConfigError(
            "`shapes` sets the shapes and draws the inputs: leave out `shape`, `inputs` and `input_values`"
        )
    if base.batch != 1:
        raise ConfigError("`shapes` gives every input its own shape: `batch` is not supported with it")
    spec["seed"] = stream.seed  # the workers redraw the stream with the spec's seed
    _, record = plan_streams([i for _, i in infos], stream)
    kept = [Target(t.backend, t.variant, t.info, tuple(k for k in t.knobs if k.name != "batch")) for t in targets]
    return kept, stream.to_dict(), record


def build_targets(
    backends: Sequence[Any],
    variants: Sequence[tuple[str, ModelInfo]],
    scenario: str,
    cores: int,
    features: Sequence[str],
) -> tuple[list[Target], list[str]]:
    """Every (backend, variant) pair the backend can load, with its declared knobs; and the pairs skipped."""
    from inferperf.optimize.tuner import Target

    targets, skipped = [], []
    for plugin in backends:
        knobs = tuple(plugin.search_space(scenario, cores, features))
        for label, info in variants:
            if plugin.supports_format(info.format):
                targets.append(Target(plugin.name, label, info, knobs))
            else:
                skipped.append(f"{plugin.name}:{label} ({plugin.name} cannot load {info.format})")
    return targets, skipped
