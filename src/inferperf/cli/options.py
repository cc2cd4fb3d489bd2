"""Every argument and option of the command line, declared once.

A command's parameter is ``name: Alias = default``: the alias carries the flag and its help text,
the default stays on the parameter (``stream: StreamOpt = 100`` here, ``= 32`` there). Where two
commands give one flag different help texts or types, each text has its own alias, named for what
it says (``ShapeOpt`` and ``SyntheticShapeOpt``); the plain name is the most common meaning.
An option typed ``str`` that its command parses into numbers carries ``PARSED`` (see ``HandParsed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


class HandParsed:
    """Marks an option given as text that its command parses into numbers by hand: a comma list (128,512),
    a duration (5m), a size (2GB), a percentage (1%), LOW,HIGH. The command parses it inside its ``command()``
    wrapper before any work, so a bad value is one ``error:`` line and exit 2.
    Typer ignores the marker; tests/test_cli_numbers.py tries every option that carries it.
    """


PARSED = HandParsed()


def duration_s(text: str | float) -> float:
    """The command line's one duration parser: ``90``, ``90s``, ``500ms``, ``5m``, ``1.5h`` -> seconds (a bare
    number is seconds; 0 is a duration too, where an option means "skip")."""
    from inferperf.config import parse_seconds
    from inferperf.errors import ConfigError

    if isinstance(text, int | float):  # a default, already seconds
        return float(text)
    if text.strip() in ("0", "0s", "0.0"):
        return 0.0
    try:
        return parse_seconds(text)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc).removeprefix("bad duration ")) from None


def duration_option(flag: str, help: str) -> Any:
    """A duration flag: taken with its unit through ``duration_s``, shown as DURATION in --help."""
    return typer.Option(flag, parser=duration_s, metavar="DURATION", help=help)


# One meaning per flag: where two meanings shared a spelling, one was renamed; the old spelling still works
# in the command that had it, with a warning, for one release (cli/common.upgrade_argv applies this).
DEPRECATED_FLAGS = {
    ("bench", "--precision"): "--target-ci",  # --precision is the precisions of `precision`
    ("profile", "--reference"): "--reference-time",  # --reference is suite's reference column
    ("generate", "--requests"): "--requests-per-level",  # --requests is requests in flight
    ("optimize", "--requests"): "--requests-per-level",
    ("generate", "--batch"): "--batches",  # --batch is one batch size everywhere else
    ("compare", "--history"): "--history-file",  # --history/--no-history records a result
    ("suite", "--history"): "--history-file",
    ("history", "list", "--history"): "--history-file",
    ("history", "show", "--history"): "--history-file",
    ("history", "export", "--history"): "--history-file",
}

# --- Arguments ------------------------------------------------------------------------------------
ModelArg = Annotated[str, typer.Argument(help="Model file (.onnx, .xml IR) or 'builtin'.")]
ConfigModelArg = Annotated[
    str | None, typer.Argument(help="Model file (.onnx, .xml IR) or 'builtin' (default: the --config's model).")
]
ProfileModelsArg = Annotated[
    list[str] | None, typer.Argument(help="Model (default builtin); with --compare, two models A B.")
]
ZooNameArg = Annotated[str, typer.Argument(help="Zoo name, e.g. resnet50.")]
ResultAArg = Annotated[Path, typer.Argument(help="Result A (bench JSON), or config A with --interleave.")]
ResultBArg = Annotated[
    Path | None,
    typer.Argument(help="Result B (bench JSON), or config B with --interleave; none with --against-history."),
]
ResultArg = Annotated[Path, typer.Argument(help="Any inferperf result JSON (bench, tune, coldstart, memory, ...).")]
ResultIdArg = Annotated[int, typer.Argument(help="Result id (from history list).")]
ExportTargetArg = Annotated[Path, typer.Argument(help="File to write.")]

# --- Output and history ---------------------------------------------------------------------------
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", help="On a runtime's error, print its whole message, not only its cause.")
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the versioned result JSON here.")]
HistoryOpt = Annotated[
    Path | None, typer.Option("--history-file", help="History file (default: $INFERPERF_HISTORY or user data).")
]
RecordHistoryOpt = Annotated[
    bool,
    typer.Option(
        "--history/--no-history",
        help="Record the result in the history ($INFERPERF_HISTORY or user data; on by default: the machine's "
        "drift between invocations is learned from it).",
    ),
]
NoHistoryOpt = Annotated[bool, typer.Option("--no-history", help="Do not record cells in the history.")]
KindOpt = Annotated[str | None, typer.Option("--kind", help="Only results of this kind (bench, ...).")]
ExportKindOpt = Annotated[str | None, typer.Option("--kind", help="Only results of this kind.")]
ModelFilterOpt = Annotated[
    str | None, typer.Option("--model", help="Only this model (sha256 prefix or part of the path).")
]
LimitOpt = Annotated[int, typer.Option("--limit", help="Newest N results.")]
ExportFormatOpt = Annotated[str, typer.Option("--format", help="jsonl (whole documents) or csv (one line per run).")]
HtmlReportOpt = Annotated[Path, typer.Option("--html", help="Where to write the self-contained HTML page.")]
DynamicHtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write an HTML report with latency against size.")
]

# --- Runtime: every command that compiles a model takes --config, --infer-precision, --property -----
ConfigFileOpt = Annotated[
    Path | None, typer.Option("--config", help="JSON runtime config (bench --config format); options here win.")
]
BenchConfigOpt = Annotated[Path | None, typer.Option("--config", help="JSON config file (options given here win).")]
InferPrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--infer-precision",
        help="Float precision to execute: f32, bf16, f16 (default: the runtime's choice for this CPU; "
        "OpenVINO picks bf16 where the CPU has AMX or AVX-512 BF16).",
    ),
]
BenchInferPrecisionOpt = Annotated[
    str | None, typer.Option("--infer-precision", help="OpenVINO precision: f32, bf16, f16.")
]
PropertyOpt = Annotated[list[str] | None, typer.Option("--property", help="Runtime property KEY=VALUE (repeatable).")]
HintOpt = Annotated[
    str | None, typer.Option("--hint", help="OpenVINO hint: latency, throughput, cumulative_throughput, none.")
]
ProfileHintOpt = Annotated[str | None, typer.Option("--hint", help="OpenVINO hint (default latency).")]
ScenarioHintOpt = Annotated[str | None, typer.Option("--hint", help="OpenVINO hint (default: by scenario).")]
StreamsOpt = Annotated[int | None, typer.Option("--streams", help="OpenVINO NUM_STREAMS.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="Inference threads (ORT: intra-op).")]
BenchThreadsOpt = Annotated[int | None, typer.Option("--threads", help="Inference threads (ORT, torch: intra-op).")]
RequestsOpt = Annotated[int | None, typer.Option("--requests", help="Requests in flight (throughput).")]
ScenarioRequestsOpt = Annotated[int | None, typer.Option("--requests", help="Requests in flight (not single-stream).")]
DynamicRequestsOpt = Annotated[int, typer.Option("--requests", help="Requests in flight (1 = latency).")]
PipelinedRequestsOpt = Annotated[int | None, typer.Option("--requests", help="Pipelined async requests in flight.")]
BatchOpt = Annotated[int | None, typer.Option("--batch", help="Batch size (first dimension).")]
FlopsBatchOpt = Annotated[int, typer.Option("--batch", help="Batch size to count FLOPs at.")]
EvalBatchOpt = Annotated[int, typer.Option("--batch", help="Batch size for evaluation.")]
InterOpThreadsOpt = Annotated[int | None, typer.Option("--inter-op-threads", help="ORT/torch inter-op threads.")]
ExecutionModeOpt = Annotated[str | None, typer.Option("--execution-mode", help="ORT: sequential or parallel.")]
GraphOptimizationOpt = Annotated[
    str | None, typer.Option("--graph-optimization", help="ORT: disable, basic, extended, all.")
]
ModelCacheOpt = Annotated[str | None, typer.Option("--cache-dir", help="OpenVINO model cache folder.")]
PinningOpt = Annotated[bool | None, typer.Option("--pinning/--no-pinning", help="OpenVINO CPU pinning.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="OpenVINO device (CPU).")]

# --- Backends -------------------------------------------------------------------------------------
BackendOpt = Annotated[str, typer.Option("--backend", help="openvino or onnxruntime.")]
BenchBackendsOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        "--backends",
        help="openvino, onnxruntime, torch, torch-inductor, or a comma list compared on identical inputs "
        "(default: the --config's, or openvino).",
    ),
]
QuantizeBackendOpt = Annotated[str, typer.Option("--backend", help="openvino (NNCF) or onnxruntime.")]
PrecisionBackendOpt = Annotated[str, typer.Option("--backend", help="openvino (ONNX Runtime has no precision hint).")]
ScenarioBackendOpt = Annotated[str, typer.Option("--backend", help="openvino, onnxruntime, ...")]
TuneBackendsOpt = Annotated[str, typer.Option("--backend", help="Backends to search, comma list.")]
OptimizeBackendsOpt = Annotated[str, typer.Option("--backend", help="Backends to measure and tune, comma list.")]
SuiteBackendsOpt = Annotated[str, typer.Option("--backends", help="Comma list of backends.")]

# --- How long to measure --------------------------------------------------------------------------
ModeOpt = Annotated[str, typer.Option("--mode", help="latency, throughput or both.")]
TimeOpt = Annotated[
    float | None,
    duration_option("--time", "Fixed measuring time per run, seconds."),
]
IterationsOpt = Annotated[int | None, typer.Option("--iterations", help="Fixed number of inferences per run.")]
StopPrecisionOpt = Annotated[
    float | None, typer.Option("--target-ci", help="Adaptive stop: median CI half-width / median, e.g. 0.01.")
]
MaxTimeOpt = Annotated[
    float | None,
    duration_option("--max-time", "Adaptive cap per run, seconds."),
]
WarmupOpt = Annotated[
    float | None,
    duration_option("--warmup", "Warm-up seconds before measuring."),
]
RepeatsOpt = Annotated[
    int | None,
    typer.Option(
        "--repeats",
        help="Independent repeats (fresh compile each, interleaved); intervals widen "
        "with their spread, so they hold across reruns.",
    ),
]
TimeoutOpt = Annotated[float, duration_option("--timeout", "Seconds before a worker is killed.")]
CellTimeoutOpt = Annotated[
    float,
    duration_option("--timeout", "Seconds before a cell's worker is killed."),
]

# --- Inputs ---------------------------------------------------------------------------------------
ShapeOpt = Annotated[str | None, typer.Option("--shape", help="Static shape for dynamic inputs.")]
SyntheticShapeOpt = Annotated[str | None, typer.Option("--shape", help="Static shape for synthetic inputs.")]
CalibrationShapeOpt = Annotated[
    str | None, typer.Option("--shape", help="Static shape for synthetic calibration inputs.")
]
ScenarioShapeOpt = Annotated[str | None, typer.Option("--shape", help="Static shape for dynamic inputs (batch 1).")]
NamedShapeOpt = Annotated[str | None, typer.Option("--shape", help="1,3,224,224 or name[1,3,224,224],other[1,128].")]
FlopsShapeOpt = Annotated[str | None, typer.Option("--shape", help="Shape to count FLOPs at (fixes dynamic dims).")]
InputsOpt = Annotated[Path | None, typer.Option("--inputs", help=".npz with arrays named like the inputs.")]
IntRangeOpt = Annotated[str | None, typer.Option("--int-range", help="LOW,HIGH for synthetic integer inputs."), PARSED]
InterleaveIntRangeOpt = Annotated[
    str | None, typer.Option("--int-range", help="With --interleave: LOW,HIGH for integer inputs."), PARSED
]
InputValueOpt = Annotated[
    list[str] | None, typer.Option("--input-value", help="name=value for an input (repeatable)."), PARSED
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of synthetic inputs.")]
TuneSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the sampler and of synthetic inputs.")]
DynamicSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the shape stream and of the synthetic inputs.")]
InputDataOpt = Annotated[str | None, typer.Option("--data", help="Real inputs: image folder, .npz/.npy, or 'builtin'.")]
LabelledDataOpt = Annotated[
    str, typer.Option("--data", help="Image folder, .npz/.npy, or 'builtin' (built-in validation split).")
]
GuardDataOpt = Annotated[
    str | None, typer.Option("--data", help="Held-out data for the guard (default: builtin for builtin).")
]
CalibrationDataOpt = Annotated[
    str | None, typer.Option("--data", help="Calibration + held-out data (default: builtin for builtin).")
]
OptimizeDataOpt = Annotated[
    str | None,
    typer.Option("--data", help="Labelled data for the accuracy guard (default: built-in split)."),
]
ImageDataOpt = Annotated[
    str | None, typer.Option("--data", help="Image folder, .npz with raw 'images' (uint8), or 'builtin'.")
]
# The same help with two types: dynamic passes the text on, tune a path.
ShapesDataOpt = Annotated[
    str | None, typer.Option("--data", help="With --shapes data: image folder or .txt/.jsonl texts.")
]
ShapesDataPathOpt = Annotated[
    Path | None, typer.Option("--data", help="With --shapes data: image folder or .txt/.jsonl texts.")
]
ImagesOpt = Annotated[Path | None, typer.Option("--images", help="Folder of image files (class subfolders allowed).")]

# --- Pre-processing (accuracy, e2e) ---------------------------------------------------------------
SizeOpt = Annotated[str | None, typer.Option("--size", help="Resize images to H,W."), PARSED]
MeanOpt = Annotated[
    str | None, typer.Option("--mean", help="Per-channel mean (pixel units), e.g. 123.7,116.3,103.5."), PARSED
]
ScaleOpt = Annotated[
    str | None, typer.Option("--scale", help="Per-channel scale (pixel units), e.g. 58.4,57.1,57.4."), PARSED
]
LayoutOpt = Annotated[str | None, typer.Option("--layout", help="NCHW or NHWC.")]
ColorOpt = Annotated[str | None, typer.Option("--color", help="RGB, BGR or GRAY.")]

# --- Shape distributions (--shapes, --shape-histogram, --stream) ----------------------------------
HistogramOpt = Annotated[
    Path | None,
    typer.Option("--shape-histogram", help="With --shapes: sizes of the ranged dim, CSV 'size,count' or JSON."),
]
DynamicHistogramOpt = Annotated[
    Path | None,
    typer.Option("--shape-histogram", help="Sizes for the ranged dim: CSV 'size,count' rows or JSON {size: count}."),
]
StreamOpt = Annotated[int, typer.Option("--stream", help="With --shapes: inputs in the seeded shape stream.")]
GuardStreamOpt = Annotated[
    int, typer.Option("--stream", help="With --shapes: held-out inputs, also the speed check's stream.")
]
ColdstartStreamOpt = Annotated[
    int, typer.Option("--stream", help="With --shapes: inputs drawn to find each group's shape.")
]
TuneStreamOpt = Annotated[
    int,
    typer.Option(
        "--stream", help="With --shapes: inputs in the stream; each trial warms on one pass and measures one."
    ),
]
DynamicStreamOpt = Annotated[int, typer.Option("--stream", help="Inputs in the stream (one pass).")]
GuardShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Judge on synthetic inputs drawn from a shape distribution, e.g. 'input_ids[1,16..512]': "
        "fidelity and speed per shape group, one open-dims engine per model.",
    ),
]
BenchShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Dynamic shapes: groups 'ids[1,32];ids[1,128]', a range 'ids[1,16..512]', or 'data'; "
        "per-group results (see inferperf dynamic).",
    ),
]
DynamicShapesOpt = Annotated[
    str,
    typer.Option(
        "--shapes",
        help="Shape groups: 'input_ids[1,32];input_ids[1,128]', a range 'input_ids[1,16..512]', "
        "weights 'g1*3;g2', or 'data' (sizes from --data).",
    ),
]
ColdstartShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Keep the varying dims open, e.g. 'input_ids[1,32];input_ids[1,512]': first inference at the "
        "smallest group, then the first and second inference at one shape of every other group.",
    ),
]
MemoryShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Run one engine with open dims over a seeded shape stream, e.g. 'input_ids[1,16..512]': "
        "the memory new shapes add, then steady state and the leak check cycling the stream.",
    ),
]
TuneShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Tune for a shape distribution: every trial runs one engine with open dims over the same "
        "seeded stream, e.g. 'input_ids[1,16..512]' or 'data' (sizes from --data).",
    ),
]
ProfileShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Profile each fixed shape group, e.g. 'input_ids[1,32];input_ids[1,512]', and show how each "
        "op type's time grows with the input.",
    ),
]
CompareShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="With --interleave: both over one seeded shape stream, e.g. 'input_ids[1,16..512]'; "
        "each round is one whole pass of it (not --round-time).",
    ),
]
OptimizeShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Optimize for a shape distribution, e.g. 'input_ids[1,16..512]': every step runs one seeded "
        "stream with the varying dims open (bench compares compile strategies on it).",
    ),
]
ScenarioShapesOpt = Annotated[
    str | None,
    typer.Option(
        "--shapes",
        help="Samples over several shapes, one engine with open dims, latency per group: "
        "'input_ids[1,32];input_ids[1,128]', 'input_ids[1,16..512]', or 'data' (sizes from --data).",
    ),
]

# --- Optimizations under an accuracy guard (quantize, prune, precision) ---------------------------
MaxDropOpt = Annotated[float, typer.Option("--max-drop", help="Largest accepted drop.")]
QuantizeMaxDropOpt = Annotated[
    float, typer.Option("--max-drop", help="Largest accepted absolute top-1 drop (or agreement drop).")
]
SpeedSecondsOpt = Annotated[
    float,
    duration_option("--seconds", "Seconds per speed run (without --shapes)."),
]
QuantizeRoundsOpt = Annotated[int, typer.Option("--rounds", help="Interleaved FP32/INT8 speed rounds.")]
PruneRoundsOpt = Annotated[int, typer.Option("--rounds", help="Interleaved dense/sparse speed rounds.")]
PrecisionRoundsOpt = Annotated[int, typer.Option("--rounds", help="Interleaved f32/candidate speed rounds.")]
Int8OutOpt = Annotated[Path | None, typer.Option("--out", help="Where the accepted INT8 model goes.")]
SparseOutOpt = Annotated[Path | None, typer.Option("--out", help="Where the accepted sparse model goes.")]
MethodOpt = Annotated[str, typer.Option("--method", help="auto, static or dynamic (ORT, weights only).")]
PresetOpt = Annotated[str, typer.Option("--preset", help="NNCF preset: performance or mixed.")]
SubsetSizeOpt = Annotated[int, typer.Option("--subset-size", help="Calibration samples (at most half the data).")]
TransformerOpt = Annotated[
    bool,
    typer.Option("--transformer/--no-transformer", help="Transformer model (NNCF model_type, ORT dynamic)."),
]
IgnoreOpt = Annotated[list[str] | None, typer.Option("--ignore", help="Node name to keep in FP32 (repeatable).")]
ActivationsOpt = Annotated[
    str, typer.Option("--activations", help="ORT static activations: auto (measure u8 and s8), u8, s8.")
]
AccuracyControlOpt = Annotated[
    bool, typer.Option("--accuracy-control/--no-accuracy-control", help="NNCF: also try accuracy control.")
]
SparsityOpt = Annotated[float, typer.Option("--sparsity", help="Fraction of each weight tensor set to zero.")]
PrecisionsOpt = Annotated[str, typer.Option("--precision", help="Comma list of f32, bf16, f16.")]

# --- Budgets and searches (tune, optimize) --------------------------------------------------------
ObjectiveOpt = Annotated[str, typer.Option("--objective", help="throughput or latency.")]
P99MaxOpt = Annotated[str | None, typer.Option("--p99-max", help="Latency budget on p99, e.g. 30ms."), PARSED]
MemoryMaxOpt = Annotated[
    str | None, typer.Option("--memory-max", help="Peak resident memory budget, e.g. 2GB."), PARSED
]
TuneBudgetOpt = Annotated[str, typer.Option("--budget", help="Time for the whole search, e.g. 5m."), PARSED]
OptimizeBudgetOpt = Annotated[str, typer.Option("--budget", help="Time for the whole flow, e.g. 10m."), PARSED]
TrialTimeOpt = Annotated[str, typer.Option("--trial-time", help="Measuring time of a short trial."), PARSED]
VerifyRoundTimeOpt = Annotated[
    str | None,
    typer.Option("--round-time", help="Length of each interleaved verification round (default max(2s, trial time))."),
    PARSED,
]
TuneVariantsOpt = Annotated[
    str | None, typer.Option("--variants", help="Other model files to try (INT8, ...), comma list.")
]
FrontOpt = Annotated[bool, typer.Option("--front/--no-front", help="Multi-objective NSGA-II over throughput and p99.")]
FinalistsOpt = Annotated[int, typer.Option("--finalists", help="Configurations verified side by side at the end.")]
MaxTrialsOpt = Annotated[int | None, typer.Option("--max-trials", help="Cap on short trials.")]
SaveConfigOpt = Annotated[
    Path, typer.Option("--save-config", help="Where the recommended config goes (for bench --config).")
]
OptimizeMaxDropOpt = Annotated[
    str, typer.Option("--max-drop", help="Largest top-1 drop allowed, e.g. 1% or 0.01."), PARSED
]
OptimizeOutOpt = Annotated[Path, typer.Option("--out", help="Folder for every result, the model, config and reports.")]
TimeScaleOpt = Annotated[
    float, typer.Option("--time-scale", help="Multiply every measuring time (e.g. 0.2 for a quick, rougher look).")
]

# --- Start-up and memory (coldstart, memory) ------------------------------------------------------
RunsOpt = Annotated[int, typer.Option("--runs", help="Fresh processes per variant.")]
ColdCacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Model cache folder: measures cold vs warm cache.")
]
VariantOpt = Annotated[list[str] | None, typer.Option("--variant", help="Another model file to compare (repeatable).")]
BatchesOpt = Annotated[str | None, typer.Option("--batches", help="Batch sizes to sweep, e.g. 1,8."), PARSED]
SteadyOpt = Annotated[
    float,
    duration_option("--steady", "Seconds of steady-state throughput per configuration."),
]
LeakIterationsOpt = Annotated[
    int, typer.Option("--leak-iterations", help="Inferences in the leak check (capped at 20 s).")
]

# --- End to end (e2e) -----------------------------------------------------------------------------
DecoderOpt = Annotated[str, typer.Option("--decoder", help="pillow or opencv (decode, resize, colour conversion).")]
SequentialSecondsOpt = Annotated[
    float,
    duration_option("--seconds", "Seconds of the interleaved sequential phase."),
]
PipelinedSecondsOpt = Annotated[
    float,
    duration_option("--pipelined-seconds", "Seconds of the pipelined run."),
]
PrepThreadsOpt = Annotated[int | None, typer.Option("--prep-threads", help="Pipelined pre-processing threads.")]
QueueSizeOpt = Annotated[
    int | None, typer.Option("--queue-size", help="Bounded queue between pre-processing and inference.")
]
TopKOpt = Annotated[int, typer.Option("--top-k", help="Classes kept by the softmax + top-k post-processing.")]
FuseOpt = Annotated[bool, typer.Option("--fuse/--no-fuse", help="Also measure pre-processing fused into the model.")]
SaveFusedOpt = Annotated[
    Path | None,
    typer.Option("--save-fused", help="Write the fused model here (.xml for openvino, .onnx for onnxruntime)."),
]

# --- Dynamic shapes (dynamic) ---------------------------------------------------------------------
StrategiesOpt = Annotated[
    str, typer.Option("--strategies", help="Comma list of dynamic, buckets, largest, bounded (OpenVINO).")
]
BucketsOpt = Annotated[
    str | None, typer.Option("--buckets", help="Bucket sizes of the ranged dim (default powers of 2)."), PARSED
]
DynamicRoundsOpt = Annotated[int, typer.Option("--rounds", help="Measured passes per strategy, interleaved.")]

# --- Profile --------------------------------------------------------------------------------------
CompareModelsOpt = Annotated[bool, typer.Option("--compare", help="Profile two models side by side, per layer.")]
TopOpt = Annotated[int, typer.Option("--top", help="Rows in the layer and op-type tables.")]
ProfileSecondsOpt = Annotated[
    float,
    duration_option("--seconds", "Seconds of profiled inferences per model."),
]
ReferenceSecondsOpt = Annotated[
    float,
    duration_option("--reference-time", "Latency-mode run with counters off, e.g. 2s (0 skips it)."),
]

# --- Compare --------------------------------------------------------------------------------------
AgainstHistoryOpt = Annotated[
    bool,
    typer.Option(
        "--against-history",
        help="A is a new result: compare it with the latest recorded one (same model hash, config, machine).",
    ),
]
InterleaveOpt = Annotated[
    bool,
    typer.Option("--interleave/--no-interleave", help="A and B are config files: measure them A B A B in one worker."),
]
InterleaveModelOpt = Annotated[
    str | None, typer.Option("--model", help="With --interleave: model (default: the configs').")
]
InterleaveScenarioOpt = Annotated[str, typer.Option("--scenario", help="With --interleave: throughput or latency.")]
InterleaveRoundsOpt = Annotated[int, typer.Option("--rounds", help="With --interleave: rounds of A then B.")]
InterleaveRoundTimeOpt = Annotated[
    str, typer.Option("--round-time", help="With --interleave: seconds per config per round."), PARSED
]
ThresholdOpt = Annotated[
    str, typer.Option("--threshold", help="Noise threshold below which no difference is declared."), PARSED
]
FailIfSlowerOpt = Annotated[
    str | None,
    typer.Option("--fail-if-slower", help="Exit 1 when B is significantly slower by more than this, e.g. 5%."),
    PARSED,
]

# --- LoadGen scenarios (scenario) -----------------------------------------------------------------
ScenarioNameOpt = Annotated[str, typer.Option("--scenario", help="single-stream, multi-stream, server or offline.")]
TargetQpsOpt = Annotated[
    float | None,
    typer.Option("--target-qps", help="Server: Poisson arrival rate (default: half the warm-up throughput)."),
]
ScenarioP99MaxOpt = Annotated[
    str | None,
    typer.Option("--p99-max", help="Server/MultiStream p99 bound, e.g. 120ms (default: 3x warm-up median)."),
    PARSED,
]
FindPeakOpt = Annotated[
    bool,
    typer.Option(
        "--find-peak/--no-find-peak",
        help="Server: bisect for the highest rate whose p99 meets the bound, then confirm.",
    ),
]
AccuracyModeOpt = Annotated[
    bool, typer.Option("--accuracy", help="LoadGen accuracy mode over labelled --data (default 'builtin').")
]
MinDurationOpt = Annotated[str, typer.Option("--min-duration", help="LoadGen minimum duration, e.g. 10s."), PARSED]
MinQueriesOpt = Annotated[
    int | None,
    typer.Option("--min-queries", help="LoadGen minimum query count (default: what early stopping needs)."),
]
MaxDurationOpt = Annotated[
    str | None,
    typer.Option("--max-duration", help="Cap on each LoadGen run, e.g. 2m (a capped run may end INVALID)."),
    PARSED,
]
SamplesPerQueryOpt = Annotated[int, typer.Option("--samples-per-query", help="MultiStream samples per query.")]
ScenarioWarmupOpt = Annotated[
    float,
    duration_option("--warmup", "Warm-up seconds (also sizes Offline and the defaults)."),
]
PeakStepsOpt = Annotated[int, typer.Option("--peak-steps", help="--find-peak bisection steps.")]
PeakRunOpt = Annotated[str, typer.Option("--peak-run", help="--find-peak length of each short run."), PARSED]
TraceOpt = Annotated[bool, typer.Option("--trace/--no-trace", help="Keep LoadGen's trace log too (large).")]
ScenarioOutOpt = Annotated[Path, typer.Option("--out", help="Folder for LoadGen's logs and scenario.json.")]

# --- Benchmark matrices (suite) -------------------------------------------------------------------
ModelsOpt = Annotated[str, typer.Option("--models", help="Comma list: zoo:NAME, model files, builtin.")]
SuiteVariantsOpt = Annotated[
    str, typer.Option("--variants", help="Comma list: fp32, int8 (by --quantizer), int8-BACKEND.")
]
ModesOpt = Annotated[str, typer.Option("--modes", help="Comma list: latency, throughput.")]
SuiteOutOpt = Annotated[Path, typer.Option("--out", help="Folder for cell results, variants and reports.")]
ResumeOpt = Annotated[
    bool,
    typer.Option("--resume/--no-resume", help="Reuse cells measured with the same model hash, config and environment."),
]
ReferenceColumnOpt = Annotated[
    str | None,
    typer.Option("--reference", help="Reference column BACKEND:VARIANT (default: first backend, first variant)."),
]
QuantizerOpt = Annotated[str, typer.Option("--quantizer", help="Backend that makes the 'int8' variant.")]
RayOpt = Annotated[str | None, typer.Option("--ray", help="Run cells on this Ray cluster (address, or 'auto').")]
NodesOpt = Annotated[
    str | None,
    typer.Option("--nodes", help="With --ray: comma list of node labels (custom resources or node labels)."),
]

# --- Machine and zoo (doctor, zoo export) ---------------------------------------------------------
PeakOpt = Annotated[bool, typer.Option("--peak/--no-peak", help="Measure matmul peaks (about 15 s).")]
ZooFormatOpt = Annotated[str, typer.Option("--format", help="onnx or openvino.")]
ZooBatchOpt = Annotated[str, typer.Option("--batch", help="'dynamic' or a fixed batch size."), PARSED]
ZooOutOpt = Annotated[Path | None, typer.Option("--out", help="Copy the export here.")]
DynamicAxesOpt = Annotated[
    bool, typer.Option("--dynamic-axes", help="Also leave the sequence length open (same as zoo:NAME:dynamic).")
]

ScenarioBatchOpt = Annotated[
    int, typer.Option("--batch", help="Offline/MultiStream: samples of a query stacked into one inference.")
]
