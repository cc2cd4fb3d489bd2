"""What every command shares: the app, its consoles, the wrapper every command runs in, and flags to objects.

``command(json_path)`` is that wrapper: errors become one line and an exit code (exit codes: 0 ok,
1 internal error, 2 user mistake, 3 runtime failure, 130 interrupted), and the ``Command`` it
yields shows progress on stderr, renders the result on stdout and writes it to --json.
``runtime_config`` is the one way runtime flags (and a --config file) become a ``RuntimeConfig``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from inferperf import api
from inferperf.cli.options import DebugOpt, VerboseOpt
from inferperf.config import RunLimits, RuntimeConfig, load_config_file
from inferperf.errors import ConfigError, InferperfError, ResultError, as_flags, runtime_text
from inferperf.results.schema import save_json

app = typer.Typer(
    name="inferperf",
    help="Measure and improve how fast trained models run at inference time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)
_state = {"debug": False, "verbose": False}

Status = Callable[[str], None]
"""Shows a status text on the line of a running step."""
Update = Callable[[float, str], None]
"""Moves a progress bar: fraction done, status text."""
BarFactory = Callable[[str], Update]
"""Adds a progress bar with this label."""
Render = Callable[[Any, Console], object]
"""Prints a result on a console (the report renderers: ``render_x(doc, console)``)."""


@app.callback()
def _root(debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    _state["debug"] = debug
    _state["verbose"] = verbose


def main() -> None:
    """Console-script entry point."""
    argv, warnings = upgrade_argv(sys.argv[1:])
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    app(args=argv, prog_name="inferperf")


def upgrade_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` with each deprecated flag spelling of its command (``DEPRECATED_FLAGS``) replaced by the new
    one, and a warning for each replaced."""
    from inferperf.cli.options import DEPRECATED_FLAGS

    start = next((i for i, token in enumerate(argv) if not token.startswith("-")), len(argv))  # after --debug
    out, warnings = list(argv), []
    for (*path, old), new in DEPRECATED_FLAGS.items():
        if argv[start : start + len(path)] != path:
            continue
        for i in range(start + len(path), len(out)):
            if out[i] == "--":  # what follows is not an option
                break
            if out[i] == old or out[i].startswith(old + "="):
                out[i] = new + out[i][len(old) :]
                warnings.append(
                    f"inferperf {' '.join(path)}: {old} is now {new} (the old spelling goes in the next release)"
                )
    return out, warnings


class Command:
    """One run of a command: progress on stderr, the result rendered on stdout and written to --json."""

    def __init__(self, json_path: Path | None) -> None:
        self.json_path = json_path

    @contextmanager
    def status(self, label: str, first: str | None = None) -> Iterator[Status]:
        """A transient status line on stderr (label, status text, time) while the work runs."""
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        task = bar.add_task(label, total=None, status="")

        def update(status: str) -> None:
            bar.update(task, status=status)

        with bar:
            if first is not None:
                update(first)
            yield update

    @contextmanager
    def bars(self) -> Iterator[BarFactory]:
        """Progress bars on stderr, one per label asked for, left on screen when done."""
        bar = Progress(
            TextColumn("[bold]{task.description:<26}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )

        def factory(label: str) -> Update:
            task = bar.add_task(label, total=1.0, status="compiling")

            def update(fraction: float, status: str) -> None:
                bar.update(task, completed=fraction, status=status)

            return update

        with bar:
            yield factory

    def checkpoint(self, doc: Mapping[str, Any]) -> None:
        """Write ``doc`` to --json (if given) without a word: what is done survives a Ctrl-C or a crash."""
        if self.json_path:
            save_json(doc, self.json_path)

    def show(
        self,
        doc: Mapping[str, Any],
        render: Render,
        *,
        announce: bool = True,
        save_first: bool = False,
        also: Sequence[Path] = (),
    ) -> None:
        """Render ``doc`` on stdout; write it to --json and the ``also`` paths, each followed by "wrote PATH"
        when ``announce``. ``save_first`` writes before rendering: a display problem never costs the result.
        """
        targets = [self.json_path] if self.json_path else []
        targets += also
        if save_first:
            for target in targets:
                save_json(doc, target)
        render(doc, out)
        for target in targets:
            if not save_first:
                save_json(doc, target)
            if announce:
                out.print(f"wrote {target}")
        _check_typed(doc)


def _check_typed(doc: Mapping[str, Any]) -> None:
    """A document this command wrote must read as its kind's type: written first (nothing is lost), a
    mismatch is then an internal error, the writer's bug, not the user's. A typed document was checked
    when it was built."""
    from inferperf.results import documents

    if not isinstance(doc, documents.Document) and str(doc.get("schema", "")).startswith("inferperf.result/"):
        try:
            documents.parse(doc)
        except ResultError as exc:
            raise RuntimeError(f"the {doc.get('kind')} result does not match its type: {exc}") from None


@contextmanager
def command(json_path: Path | None = None) -> Iterator[Command]:
    """The wrapper every command runs in: inferperf errors become one line (parameters shown as flags)
    and their exit code, anything else an internal error (exit 1); tracebacks only with --debug.
    """
    try:
        yield Command(json_path)
    except InferperfError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/red] {escape(as_flags(exc.one_line()))}", highlight=False, soft_wrap=True)
        full = runtime_text(exc) if _state["verbose"] else None
        if full is not None:
            err.print(f"the runtime's full message:\n{escape(full)}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if _state["debug"]:
            raise
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {escape(str(exc))} "
            "(rerun with --debug for the traceback)"
        )
        raise typer.Exit(1) from None


def record_history(doc: Mapping[str, Any], source: str) -> None:
    """Record in the history (on by default): a store that cannot be written warns, it does not fail the run."""
    try:
        rid = api.history_record(doc, source=source)
    except ResultError as exc:
        warn(f"not recorded in the history: {exc.one_line()}")
        return
    out.print(f"recorded in history as #{rid} (--no-history: not recorded)")


def warn(message: str) -> None:
    """A warning on stderr."""
    err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")


def percent(status: Status) -> Update:
    """Progress as "NN% text" on a status line."""
    return lambda fraction, text: status(f"{fraction * 100:.0f}% {text}")


# --- Flags to objects -----------------------------------------------------------------------------


def runtime_config(
    config: Path | dict[str, Any] | None,
    precision: str | None = None,
    props: list[str] | None = None,
    *,
    file_backend: bool = False,
    **flags: Any,
) -> RuntimeConfig | None:
    """The RuntimeConfig of --config, --infer-precision, --property and the other runtime flags given
    (``flags``: RuntimeConfig fields, None when not given, e.g. ``hint=hint``); None if none says anything.

    ``config`` is the --config file, or its runtime part already read. Flags given win over the file.
    The file's backend is left out (the command's --backend decides), except with ``file_backend``
    (bench, whose default backend is the file's).
    """
    if isinstance(config, Path):
        config = load_config_file(config)[0]
    file_runtime = dict(config or {})
    if not file_backend:
        file_runtime.pop("backend", None)
    given = {"inference_precision": precision, "properties": properties(props) or None, **flags}
    merged = merge(file_runtime, given)
    return RuntimeConfig.from_dict(merged) if merged else None


def run_limits(file_limits: dict[str, Any], **given: Any) -> RunLimits:
    """RunLimits of a config file's limits and the limit flags given (they win; None: not given)."""
    return RunLimits.from_dict(merge(file_limits, given))


def merge(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with the options given on the command line; unset ones (None) do not count."""
    return {**base, **{k: v for k, v in given.items() if v is not None}}


def properties(items: list[str] | None) -> dict[str, str]:
    """--property KEY=VALUE flags as a dict."""
    props: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --property {item!r}: expected KEY=VALUE")
        props[key.strip()] = value.strip()
    return props


def shape_spec(
    shapes: str | None, histogram: Path | None, stream: int, data: str | Path | None = None, seed: int = 0
) -> api.ShapeSpec | None:
    """--shapes with --shape-histogram, --stream (and --data as the sizes of '--shapes data'), as one spec."""
    if shapes is None:
        if histogram is not None:
            raise ConfigError("--shape-histogram needs --shapes with a range")
        return None
    return api.ShapeSpec(shapes, histogram, stream, seed, data)


class Preprocess(TypedDict):
    """The image pre-processing flags as the API's ``preprocess`` takes them (None: the model's own)."""

    size: tuple[Any, ...] | None
    mean: tuple[Any, ...] | None
    scale: tuple[Any, ...] | None
    layout: str | None
    color: str | None


def preprocess(
    size: str | None, mean: str | None, scale: str | None, layout: str | None, color: str | None
) -> Preprocess:
    """The image pre-processing flags (--size, --mean, --scale, --layout, --color) as the API takes them."""
    return {
        "size": numbers(size, "size", int),
        "mean": numbers(mean, "mean"),
        "scale": numbers(scale, "scale"),
        "layout": layout,
        "color": color,
    }


def numbers(text: str | None, name: str, kind: type = float) -> tuple[Any, ...] | None:
    """Comma-separated numbers of flag --``name``, as ``kind``; None if not given."""
    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"bad --{name} {text!r}: expected comma-separated numbers") from None


def csv_list(text: str | None) -> list[str]:
    """A comma list flag as its non-empty items, stripped."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]
