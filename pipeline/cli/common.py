"""The `podinsights` app, its global options and what every command shares:
error handling, the writer lock, safe printing, tables and progress bars."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlite_utils
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgressBar
from rich.table import Table

import pipeline.store.db as dbmod
from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.run.lock import Stopped, run_lock, stop_on_signals
from pipeline.text import PrintableFormatter, markup_safe, printable
from pipeline.transcribe.engines import ENGINES

app = typer.Typer(
    help="Podcast transcript insights: feeds in, transcripts and leadership themes out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Piped output is not squeezed to 80 columns.
out = Console(soft_wrap=True, width=shutil.get_terminal_size((160, 24)).columns)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])
CodebookOption = Annotated[
    Path | None,
    typer.Option(
        "--codebook",
        help="Theme codebook [default: the packaged one, data/themes.toml in a checkout].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")]
FeedOption = Annotated[str | None, typer.Option(help="Feed id, URL or part of its title.")]
HighOnlyOption = Annotated[
    bool,
    typer.Option(
        "--high-only", help="Leave out keyword hits the classifier disputes (confidence low)."
    ),
]
ConfirmedOption = Annotated[
    bool,
    typer.Option(
        "--confirmed",
        help="Count only codes a person confirmed (`podinsights review`) and nobody rejected.",
    ),
]
SinceOption = Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")]
EngineOption = Annotated[str, typer.Option("--engine", help=f"ASR engine: {' or '.join(ENGINES)}.")]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model", help="Whisper model: tiny.en, base (packaged), another name, or a folder."
    ),
]
FeedModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", help="Whisper model for this feed's episodes, instead of the run's --model."
    ),
]
BeamOption = Annotated[int, typer.Option(help="Beam size (1 = greedy).")]
VadOption = Annotated[bool, typer.Option("--vad/--no-vad", help="Skip music and silence.")]
VocabularyOption = Annotated[
    bool,
    typer.Option(
        "--vocabulary/--no-vocabulary",
        help="Tell Whisper the episode's names and the codebook's terms (data/vocabulary.txt too).",
    ),
]
RecoverOption = Annotated[
    bool,
    typer.Option(
        "--recover/--no-recover", help="Transcribe again what Whisper looped on or skipped."
    ),
]
RecoverModelOption = Annotated[
    str | None,
    typer.Option(
        "--recover-model",
        help="Model for that second pass (a name or folder); default: --model's own.",
    ),
]


def asr_options(vocabulary: bool, recover: bool, recover_model: str | None, **settings: Any) -> Any:
    """The transcription options the commands share, the second pass's model checked."""
    from pipeline.transcribe.engines import AsrOptions
    from pipeline.transcribe.weights import check_model_name

    return AsrOptions(
        vocabulary=vocabulary,
        recover=recover,
        recover_model=check_model_name(recover_model or None),
        **settings,
    )


@dataclass
class State:
    db_path: Path
    data_dir: Path
    quiet: bool
    _db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = dbmod.connect(self.db_path)
        return self._db


def version_callback(value: bool) -> None:
    if value:
        out.print(f"podinsights {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        Path,
        typer.Option(envvar="PODINSIGHTS_DB", help="SQLite database file."),
    ] = Path("data/podinsights.db"),
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for audio, models and logs [default: the database's folder]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """Podcast transcript insights: feeds in, transcripts and leadership themes out."""
    level = logging.WARNING - 10 * min(verbose, 2)
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(handlers=[terminal])  # does nothing when logging is already set up
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # a run's log file may take more detail than the terminal
    ctx.obj = State(db_path=db, data_dir=data_dir or db.parent, quiet=quiet)


def handle_errors(func: F) -> F:
    """A PipelineError becomes one sentence on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            say(err, f"Error: {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def writer(state: State, what: str) -> Iterator[None]:
    """Commands that write take the run lock, and stop cleanly on SIGINT or SIGTERM:
    the current transaction rolls back, finished work stays, exit code 130 or 143."""
    with run_lock(state.data_dir, what):
        try:
            with stop_on_signals():
                yield
        except Stopped as stop:
            err.print(
                f"Stopped by {stop}; finished work is saved, the rest waits for the next run."
            )
            sys.stdout.flush()
            sys.stderr.flush()
            # Abandoned worker threads (a transcription in progress) must not hold the
            # exit: nothing they do is saved without the main thread.
            os._exit(stop.exit_code)


def say(console: Console, text: str) -> None:
    """Plain text, shown as it is: no markup, no highlighting, no control characters
    (feed titles, URLs and errors are in it)."""
    console.print(printable(text), markup=False, highlight=False)


def emit_json(rows: Any) -> None:
    # json escapes C0 controls itself; C1 and bidi marks it would write raw.
    sys.stdout.write(printable(json.dumps(rows, indent=2, ensure_ascii=False, default=str)) + "\n")


def print_table(rows: list[dict[str, Any]], columns: list[str], empty: str) -> None:
    if not rows:
        err.print(empty)
        return
    table = Table(*columns, show_lines=False)
    for row in rows:  # cells are rich markup: database text is escaped into them
        table.add_row(*("" if row.get(c) is None else markup_safe(row[c]) for c in columns))
    out.print(table)


class BarProgress:
    """The library's Progress hook drawn as rich bars (one per task)."""

    def __init__(self, bar: RichProgressBar):
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}

    def start(self, key: str, label: str, total: float | None) -> None:
        self.tasks[key] = self.bar.add_task(markup_safe(label), total=total)  # a feed's title

    def advance(self, key: str, amount: float) -> None:
        self.bar.advance(self.tasks[key], amount)

    def finish(self, key: str) -> None:
        self.bar.remove_task(self.tasks.pop(key))


@contextmanager
def progress_bars(
    state: State, *columns: Any, kind: type[BarProgress] = BarProgress
) -> Iterator[BarProgress | None]:
    """Bars on a terminal; nothing under --quiet or when output is piped."""
    if state.quiet or not err.is_terminal:
        yield None
        return
    columns = columns or (DownloadColumn(), TimeRemainingColumn())
    with RichProgressBar(
        TextColumn("{task.description}"), BarColumn(), *columns, console=err, transient=True
    ) as bar:
        yield kind(bar)
