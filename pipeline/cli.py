"""The `podinsights` command: thin wrappers that parse options and call the library."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

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

import pipeline.feeds.subscriptions as feeds_mod
import pipeline.store.db as dbmod
import pipeline.store.episodes as episodes_mod
from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.feeds.download import DOWNLOADS, download_episodes
from pipeline.feeds.opml import write_opml
from pipeline.run.ingest import LOCAL_WORKERS, PipelineSettings, run_ingest, run_log
from pipeline.run.lock import Stopped, run_lock, stop_on_signals
from pipeline.text import PrintableFormatter, markup_safe, printable
from pipeline.timecodes import clock
from pipeline.transcribe.engines import DEFAULT_ENGINE, ENGINES, AsrOptions, load_engine
from pipeline.transcribe.weights import DEFAULT_MODEL, check_model_name

app = typer.Typer(
    help="Podcast transcript insights: feeds in, transcripts and leadership themes out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
feeds_app = typer.Typer(
    help="Manage subscriptions (rows in the feeds table).", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")

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


# Feeds -------------------------------------------------------------------------


@feeds_app.command("add")
@handle_errors
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Feed URL, or path to a local feed file.")],
    model: FeedModelOption = None,
) -> None:
    """Subscribe to a feed (nothing is fetched until `poll` or `ingest`)."""
    feed = feeds_mod.add_feed(ctx.obj.db, url, model=check_model_name(model))
    say(err, f"Subscribed: feed {feed['id']} {feed['url']}")


@feeds_app.command("set")
@handle_errors
def feeds_set(
    ctx: typer.Context,
    feed: Annotated[str, typer.Argument(help="Feed id, URL or path.")],
    model: FeedModelOption = None,
) -> None:
    """Change a subscription's settings: `--model base` for a show with hard audio,
    `--model ""` to go back to the run's model."""
    if model is None:
        raise PipelineError('Nothing to change: give --model NAME (or --model "").')
    row = feeds_mod.set_feed_model(ctx.obj.db, feed, check_model_name(model))
    say(err, f"Feed {row['id']}: transcribed with {row['model'] or 'the run model'}")


@feeds_app.command("list")
@handle_errors
def feeds_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List subscriptions with their state and episode counts."""
    rows = feeds_mod.list_feeds(ctx.obj.db)
    if as_json:
        emit_json(rows)
        return
    columns = ["id", "title", "url", "status", "model", "private", "episodes", "polled_at"]
    columns.append("last_error")
    print_table(rows, columns, "No subscriptions: add one with `podinsights feeds add URL`.")


@feeds_app.command("remove")
@handle_errors
def feeds_remove(
    ctx: typer.Context,
    feed: Annotated[str, typer.Argument(help="Feed id, URL or path.")],
) -> None:
    """Unsubscribe, deleting the feed's episodes from the database (audio files stay)."""
    removed = feeds_mod.remove_feed(ctx.obj.db, feed)
    say(err, f"Removed feed {removed['id']} {removed['url']}")


@feeds_app.command("import")
@handle_errors
def feeds_import(
    ctx: typer.Context,
    opml: Annotated[Path, typer.Argument(help="OPML file, as exported by podcast apps.")],
) -> None:
    """Subscribe to every feed in an OPML file."""
    added = feeds_mod.import_opml(ctx.obj.db, opml)
    say(err, f"{len(added)} feeds in {opml}; subscribed to all of them.")


@feeds_app.command("export")
@handle_errors
def feeds_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the subscriptions as OPML."""
    text = write_opml(feeds_mod.list_feeds(ctx.obj.db))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(printable(text))


# Stages ------------------------------------------------------------------------


@app.command()
@handle_errors
def poll(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option(help="Ignore ETag/Last-Modified; fetch everything.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch every subscribed feed and record new and changed episodes."""
    with writer(ctx.obj, "poll"):
        polled = feeds_mod.poll_feeds(ctx.obj.db, force=force)
        results = [vars(r) for r in sorted(polled, key=lambda result: result.feed_id)]
    if as_json:
        emit_json(results)
    else:
        columns = ["feed_id", "title", "outcome", "new", "updated", "error"]
        print_table(results, columns, "No subscriptions to poll.")
    if any(r["error"] for r in results):
        raise typer.Exit(1)


@app.command()
@handle_errors
def download(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes.")] = None,
    workers: Annotated[int, typer.Option(help="Downloads at once.")] = DOWNLOADS,
) -> None:
    """Download the audio of new episodes (and retry failed ones that are due)."""
    state: State = ctx.obj
    failures = done = 0
    with writer(state, "download"), progress_bars(state) as bars:
        for result in download_episodes(
            state.db, state.data_dir, limit=limit, workers=workers, progress=bars
        ):
            if result.ok:
                done += 1
            else:
                failures += 1
                say(
                    err,
                    f"Failed: {result.title or result.episode_id}: {result.error}",
                )
    err.print(f"{done} downloaded, {failures} failed.")
    if failures:
        raise typer.Exit(1)


@app.command()
@handle_errors
def ingest(
    ctx: typer.Context,
    feeds: Annotated[
        Path | None, typer.Option(help="OPML file: subscribe to every feed in it first.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes per stage.")] = None,
    engine: EngineOption = DEFAULT_ENGINE,
    model: ModelOption = DEFAULT_MODEL,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler (tcp://HOST:8786) to transcribe and analyse on."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Local worker processes (without --scheduler).")
    ] = LOCAL_WORKERS,
    send_audio: Annotated[
        bool, typer.Option(help="Send audio bytes to workers (no shared storage).")
    ] = False,
    codebook: CodebookOption = None,
    vocabulary: VocabularyOption = True,
    recover: RecoverOption = True,
) -> None:
    """Run every stage, each incremental and overlapping: poll, download, transcribe, analyse."""
    state: State = ctx.obj
    settings = PipelineSettings(
        engine=engine,
        model=model,
        options=AsrOptions(vocabulary=vocabulary, recover=recover),
        codebook=codebook,
        scheduler=scheduler,
        workers=workers,
        send_audio=send_audio,
    )
    with (
        writer(state, "ingest"),
        run_log(state.data_dir) as log_path,
        progress_bars(state, TextColumn("{task.percentage:>3.0f}%")) as bars,
    ):
        summary = run_ingest(
            state.db,
            state.data_dir,
            feeds_file=feeds,
            limit=limit,
            progress=bars,
            settings=settings,
            log_path=log_path,
        )
    for error in summary.errors:
        say(err, f"Failed: {error}")
    say(out, summary.line())
    if summary.failed:
        raise typer.Exit(1)


@app.command()
@handle_errors
def episodes(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help=f"Only this state: {', '.join(dbmod.STATUSES)}.")
    ] = None,
    feed: Annotated[int | None, typer.Option(help="Only this feed id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List episodes with their state (and, for failed ones, why)."""
    if status and status not in dbmod.STATUSES:
        raise PipelineError(f"Unknown status {status!r}: use one of {', '.join(dbmod.STATUSES)}.")
    rows = episodes_mod.list_episodes(ctx.obj.db, status=status, feed=feed)
    if as_json:
        emit_json(rows)
        return
    columns = ["id", "feed", "title", "published", "status", "last_error"]
    print_table(rows, columns, "No episodes.")


# Transcription -------------------------------------------------------------------


class RtfProgress(BarProgress):
    """Bars in audio seconds, with the real-time factor so far."""

    def start(self, key: str, label: str, total: float | None) -> None:
        self.tasks[key] = self.bar.add_task(markup_safe(label), total=total, rtf="-")

    def advance(self, key: str, amount: float) -> None:
        task_id = self.tasks[key]
        self.bar.advance(task_id, amount)
        task = next(t for t in self.bar.tasks if t.id == task_id)
        if task.completed:
            self.bar.update(task_id, rtf=f"{(task.elapsed or 0) / task.completed:.3f}")


@app.command()
@handle_errors
def transcribe(
    ctx: typer.Context,
    engine: EngineOption = DEFAULT_ENGINE,
    model: ModelOption = DEFAULT_MODEL,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes.")] = None,
    force: Annotated[bool, typer.Option(help="Transcribe again episodes that have one.")] = False,
    force_asr: Annotated[
        bool, typer.Option(help="Use Whisper even where the publisher offers a transcript.")
    ] = False,
    beam_size: BeamOption = AsrOptions.beam_size,
    vad: VadOption = True,
    vocabulary: VocabularyOption = True,
    recover: RecoverOption = True,
    codebook: CodebookOption = None,
) -> None:
    """Transcribe downloaded episodes (the publisher's transcript first, else Whisper)."""
    from pipeline.transcribe.stage import transcribe_episodes

    state: State = ctx.obj
    options = AsrOptions(beam_size=beam_size, vad=vad, vocabulary=vocabulary, recover=recover)
    failures = done = 0
    with (
        writer(state, "transcribe"),
        progress_bars(
            state,
            TextColumn("{task.completed:.0f}/{task.total:.0f} s audio"),
            TextColumn("RTF {task.fields[rtf]}"),
            kind=RtfProgress,
        ) as bars,
    ):
        for result in transcribe_episodes(
            state.db,
            state.data_dir,
            engine=engine,
            model=model,
            options=options,
            limit=limit,
            force=force,
            force_asr=force_asr,
            progress=bars,
            codebook=codebook,
        ):
            if result.ok and result.transcript:
                done += 1
                t = result.transcript
                rtf = f", RTF {t.real_time_factor:.3f}" if t.real_time_factor else ""
                say(
                    err,
                    f"{result.title}: {len(t.segments)} segments ({t.source}{rtf})",
                )
            else:
                failures += 1
                say(
                    err,
                    f"Failed: {result.title or result.episode_id}: {result.error}",
                )
    err.print(f"{done} transcribed, {failures} failed.")
    if failures:
        raise typer.Exit(1)


@app.command("transcribe-file")
@handle_errors
def transcribe_file_command(
    ctx: typer.Context,
    audio: Annotated[
        Path, typer.Argument(help="Audio or video file (mp3, m4a, ogg, flac, wav...).")
    ],
    engine: EngineOption = DEFAULT_ENGINE,
    model: ModelOption = DEFAULT_MODEL,
    beam_size: BeamOption = AsrOptions.beam_size,
    vad: VadOption = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the segments as a JSON array, with word timings.")
    ] = False,
    diarize: Annotated[
        bool, typer.Option("--diarize", help="Label each segment and word with its speaker.")
    ] = False,
    vocabulary: VocabularyOption = True,
    term: Annotated[
        list[str] | None,
        typer.Option("--term", help="A name or term to expect (repeatable), first in line."),
    ] = None,
    recover: RecoverOption = True,
    codebook: CodebookOption = None,
) -> None:
    """Transcribe one file and print its segments (nothing is stored)."""
    from pipeline.transcribe.stage import transcribe_file
    from pipeline.transcribe.vocabulary import transcription_terms, unique

    state: State = ctx.obj
    if not audio.is_file():
        raise PipelineError(f"No audio file at {audio}.")
    options = AsrOptions(beam_size=beam_size, vad=vad, vocabulary=vocabulary, recover=recover)
    words = unique([*(term or []), *(transcription_terms(codebook) if vocabulary else [])])
    asr = load_engine(engine, model, state.data_dir / "models", options)
    with progress_bars(
        state,
        TextColumn("{task.completed:.0f}/{task.total:.0f} s audio"),
        TextColumn("RTF {task.fields[rtf]}"),
        kind=RtfProgress,
    ) as bars:
        if bars:
            from pipeline.audio.decode import duration

            bars.start("audio", audio.name, duration(audio))
        transcript = transcribe_file(audio, asr, options, progress=bars, vocabulary=words)
    if diarize:
        transcript = label_speakers(audio, transcript, asr, options)
    if as_json:
        emit_json([segment_json(s) for s in transcript.segments])
    else:
        for s in transcript.segments:
            flag = "" if s.quality == "ok" else f"  [{s.quality}]"
            speaker = f"{s.speaker}: " if s.speaker else ""
            say(
                out,
                f"[{clock(s.start)} - {clock(s.end)}] {speaker}{s.text}{flag}",
            )
    say(
        err,
        f"{transcript.audio_duration:.1f} s of audio, language {transcript.language}, "
        f"RTF {transcript.real_time_factor or 0:.3f} ({transcript.engine} {transcript.model})",
    )


def label_speakers(audio: Path, transcript: Any, asr: Any, options: AsrOptions) -> Any:
    """Speaker 1, Speaker 2, ... on each segment and word of one file; a stereo file with
    one person per channel is transcribed channel by channel instead."""
    from pipeline.speakers.diarize import (
        VoiceEncoder,
        assign_speakers,
        available,
        default_names,
        split_channels,
    )
    from pipeline.transcribe.stage import with_speakers

    if not available() and not split_channels(audio):
        raise PipelineError("--diarize needs the extra: pip install 'podinsights[diarize]'.")
    transcript, diarization = with_speakers(audio, transcript, asr, options, VoiceEncoder())
    assign_speakers(transcript.segments, diarization, default_names(diarization))
    return transcript


def segment_json(segment: Any) -> dict[str, Any]:
    return {
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "speaker": segment.speaker,
        "speaker_confidence": segment.speaker_confidence,
        "quality": segment.quality,
        "avg_logprob": segment.avg_logprob,
        "no_speech_prob": segment.no_speech_prob,
        "words": [
            {
                "start": w.start,
                "end": w.end,
                "word": w.word,
                "probability": w.probability,
                "speaker": w.speaker,
            }
            for w in segment.words
        ],
    }


# Analysis ------------------------------------------------------------------------


@app.command()
@handle_errors
def analyze(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes.")] = None,
    force: Annotated[bool, typer.Option(help="Analyse again episodes that have been.")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Find themes, people and key phrases in transcribed episodes."""
    from pipeline.analysis.stage import analyze_episodes

    state: State = ctx.obj
    done = failures = mentions = 0
    with (
        writer(state, "analyze"),
        progress_bars(state, TextColumn("{task.completed:.0f}/{task.total:.0f}")) as bars,
    ):
        for result in analyze_episodes(
            state.db, codebook_path=codebook, limit=limit, force=force, progress=bars
        ):
            if result.ok and result.analysis:
                done += 1
                mentions += len(result.analysis.mentions)
            else:
                failures += 1
                say(err, f"Failed: {result.title}: {result.error}")
    err.print(f"{done} analysed ({mentions} theme mentions), {failures} failed.")
    if failures:
        raise typer.Exit(1)


@app.command("analyze-text")
@handle_errors
def analyze_text(
    source: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    codebook: CodebookOption = None,
    semantic: Annotated[
        bool, typer.Option("--semantic/--no-semantic", help="Also match themes by meaning.")
    ] = True,
) -> None:
    """Run the analysis on any text: themes (with method and score) and people with roles."""
    from pipeline.analysis.codebook import load_codebook
    from pipeline.analysis.engine import Analyzer
    from pipeline.analysis.stage import analysis_json

    text = sys.stdin.read() if source == "-" else _read_text(Path(source))
    analyzer = Analyzer(load_codebook(codebook), use_semantic=None if semantic else False)
    result = analysis_json(analyzer.analyze_text(text))
    if as_json:
        emit_json(result)
        return
    print_table(result["themes"], ["id", "text", "method", "score"], "No themes found.")
    print_table(result["people"], ["name", "role", "mentions"], "No people found.")


@app.command("train-classifier")
@handle_errors
def train_classifier_command(
    training: Annotated[
        Path | None, typer.Option(help="Folder of labelled passages (default: data/training).")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="Labelled passages to set its threshold on (default: tests/eval dev)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write it (default: the codebook's classifier).")
    ] = None,
    codebook: CodebookOption = None,
) -> None:
    """Retrain the theme classifier after editing the codebook or the training passages."""
    from pipeline.analysis.codebook import load_codebook
    from pipeline.analysis.training import TRAINING, retrain

    classifier = retrain(
        load_codebook(codebook),
        training=training or TRAINING,
        calibration=calibration,
        output=output,
    )
    err.print(
        f"Trained on {len(classifier.vocabulary)} words and pairs for {len(classifier.themes)}"
        f" themes; threshold {classifier.threshold}."
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PipelineError(f"Cannot read {path}: {exc.strerror}.") from exc


class Breakdown(StrEnum):
    role = "role"
    speaker = "speaker"
    month = "month"
    year = "year"


class Role(StrEnum):
    host = "host"
    guest = "guest"


@app.command()
@handle_errors
def themes(
    ctx: typer.Context,
    by: Annotated[
        Breakdown | None,
        typer.Option(
            help="Break the counts down by who said it (their role, host or guest; or the "
            "speaker) or by when (month or year of publication).",
        ),
    ] = None,
    theme: Annotated[str | None, typer.Option(help="Only this theme.")] = None,
    feed: FeedOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    high_only: HighOnlyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Themes with their mention and episode counts, by how each was found."""
    from pipeline.query.reports import BY_TIME, theme_breakdown, theme_counts
    from pipeline.query.search import Filters

    filters = Filters(theme=theme, feed=feed, since=since, until=until, high_only=high_only)
    filtered = any((theme, feed, since, until))
    empty = "No theme mentions match." if filtered else "No theme mentions yet: run analyze."
    if by:
        rows = theme_breakdown(ctx.obj.db, by.value, filters)
        columns = [by.value, "theme"] if by in BY_TIME else ["theme", by.value]
        emit_json(rows) if as_json else print_table(rows, [*columns, "mentions", "episodes"], empty)
        return
    rows = theme_counts(ctx.obj.db, filters)
    if as_json:
        emit_json(rows)
        return
    columns = ["id", "category", "mentions", "episodes", "keyword", "classifier", "semantic"]
    print_table([r for r in rows if r["mentions"]], [*columns, "low_confidence"], empty)


@app.command()
@handle_errors
def people(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """People across all episodes: hosts, guests and people mentioned."""
    from pipeline.query.reports import people_summary

    rows = people_summary(ctx.obj.db)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        row["aliases"] = ", ".join(row["aliases"])
    columns = ["name", "episodes", "host", "guest", "mentioned", "aliases"]
    print_table(rows, columns, "No people yet: run analyze.")


# Search and explore ---------------------------------------------------------------


@app.command("search")
@handle_errors
def search_command(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(help='Words, "a phrase", prefix*, AND/OR/NOT (FTS5 syntax).'),
    ] = None,
    theme: Annotated[str | None, typer.Option(help="Only segments tagged with this theme.")] = None,
    person: Annotated[str | None, typer.Option(help="Only what this person said.")] = None,
    role: Annotated[
        Role | None, typer.Option(help="Only what the episode's host, or a guest, said.")
    ] = None,
    feed: FeedOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help="At most this many hits.")] = 20,
    high_only: HighOnlyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Search every transcript; each hit links to the moment it was said."""
    from pipeline.query.search import HIGHLIGHT, Filters, search

    filters = Filters(
        theme=theme,
        person=person,
        role=role.value if role else None,
        feed=feed,
        since=since,
        until=until,
        high_only=high_only,
    )
    hits = search(ctx.obj.db, query, filters, limit)
    if as_json:
        for hit in hits:
            hit["snippet"] = hit["snippet"].replace(HIGHLIGHT[0], "**").replace(HIGHLIGHT[1], "**")
        emit_json(hits)
        return
    if not hits:
        say(err, "No results.")
        return
    for hit in hits:
        out.print(format_hit(hit, HIGHLIGHT))


def format_hit(hit: dict[str, Any], marks: tuple[str, str]) -> str:
    snippet = markup_safe(hit["snippet"]).replace(marks[0], "[bold yellow]")
    snippet = snippet.replace(marks[1], "[/]")
    speaker = f" [cyan]{markup_safe(hit['speaker'])}[/]" if hit["speaker"] else ""
    themes = f"\n  [dim]themes: {markup_safe(', '.join(hit['themes']))}[/]" if hit["themes"] else ""
    link = markup_safe(hit["link"] or "")
    # The link target sits inside a tag, where escaping does not reach: brackets,
    # spaces and quotes in it are percent-encoded instead.
    target = quote(printable(hit["link"] or ""), safe="/:?#@!$&'()*+,;=%~-._")
    return (
        f"[bold]{markup_safe(hit['show'] or '')}[/] — {markup_safe(hit['episode'] or '')} "
        f"({markup_safe(hit['date'])}) [green]{hit['time']}[/]{speaker}\n  {snippet}{themes}\n"
        f"  [link={target}]{link}[/link]\n"
    )


@app.command()
@handle_errors
def show(
    ctx: typer.Context,
    episode: Annotated[str, typer.Argument(help="Episode id (or a unique prefix) or GUID.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An episode's transcript with timestamps, speakers and theme tags."""
    from pipeline.query.export import episode_context, transcript_rows

    context = episode_context(ctx.obj.db, episode)
    rows = transcript_rows(ctx.obj.db, context["id"])
    if as_json:
        emit_json({"episode": context, "segments": rows})
        return
    out.print(
        f"[bold]{markup_safe(context['title'] or '')}[/] ({markup_safe(context['show'] or '')}, "
        f"{markup_safe((context['published'] or '')[:10])})"
    )
    if not rows:
        err.print("No transcript yet: run `podinsights transcribe`.")
    for row in rows:
        speaker = f"[cyan]{markup_safe(row['speaker'])}:[/] " if row["speaker"] else ""
        tags = f"  [dim]{{{markup_safe(', '.join(row['themes']))}}}[/]" if row["themes"] else ""
        text = markup_safe(row["text"])
        out.print(f"[green]{clock(row['start_time'])}[/] {speaker}{text}{tags}", highlight=False)


@app.command()
@handle_errors
def export(
    ctx: typer.Context,
    episode: Annotated[str | None, typer.Argument(help="Episode id (or prefix) or GUID.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="srt, vtt, json or md.")] = "md",
    all_to: Annotated[
        Path | None, typer.Option("--all", help="Write every episode in every format here.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Export a transcript: SRT, WebVTT (voice tags), Podcasting 2.0 JSON, cited Markdown."""
    from pipeline.query.export import export_all, export_episode

    if all_to:
        written = export_all(ctx.obj.db, all_to)
        err.print(f"Wrote {len(written)} files to {all_to}.")
        return
    if not episode:
        raise PipelineError("Name an episode to export, or use --all FOLDER.")
    text = export_episode(ctx.obj.db, episode, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(printable(text if text.endswith("\n") else text + "\n"))


@app.command()
@handle_errors
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    host: Annotated[
        str, typer.Option(help="Interface; anything but loopback needs --allow-remote.")
    ] = "127.0.0.1",
    allow_remote: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host (the whole database becomes public).")
    ] = False,
) -> None:
    """Browse the database in Datasette (read-only): search, facets, canned queries, charts."""
    from pipeline.serve.app import is_loopback, prepare, run

    state: State = ctx.obj
    command = prepare(
        state.db_path, state.data_dir, host=host, port=port, allow_remote=allow_remote
    )
    if not is_loopback(host):
        say(err, f"Warning: serving the database to the network on {host}:{port}.")
    say(err, f"Datasette on http://{host}:{port}/ (Ctrl-C to stop)")
    run(command)


# Nightly operation -----------------------------------------------------------------


@app.command()
@handle_errors
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The last runs, the backlog per episode state, and the failures with their reasons."""
    report = episodes_mod.status_report(ctx.obj.db)
    if as_json:
        emit_json(report)
        return
    runs = [
        {**r, "summary": ", ".join(f"{k} {v:g}" for k, v in r["counts"].items() if v)}
        for r in report["runs"]
    ]
    print_table(
        runs, ["id", "started_at", "finished_at", "status", "errors", "summary"], "No runs yet."
    )
    backlog = [{"status": k, "episodes": v} for k, v in report["backlog"].items()]
    print_table(backlog, ["status", "episodes"], "No episodes.")
    print_table(
        report["failures"],
        ["id", "title", "failed_stage", "attempts", "retry_after", "last_error"],
        "No failures.",
    )


@app.command()
@handle_errors
def retry(
    ctx: typer.Context,
    episode: Annotated[str, typer.Argument(help="A failed episode's id (or prefix) or GUID.")],
) -> None:
    """Give a failed or parked episode a fresh start on the next run."""
    row = episodes_mod.retry_episode(ctx.obj.db, episode)
    say(err, f"Episode {row['id']} is {row['status']} again; the next run takes it.")


# Speakers -----------------------------------------------------------------------------

speakers_app = typer.Typer(
    help="Speakers: who talks in each episode, and corrections.", invoke_without_command=True
)
app.add_typer(speakers_app, name="speakers")


@app.command()
@handle_errors
def diarize(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Diarize again episodes that have speakers.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many episodes.")] = None,
) -> None:
    """Split transcribed episodes into speakers and put names on them (extra [diarize])."""
    from pipeline.speakers.diarize import available
    from pipeline.speakers.naming import diarize_episodes

    if not available():
        raise PipelineError("Diarization needs the extra: pip install 'podinsights[diarize]'.")
    state: State = ctx.obj
    done = 0
    with writer(state, "diarize"):
        for episode, names in diarize_episodes(state.db, state.data_dir, force=force, limit=limit):
            done += 1
            voices = ", ".join(f"{n.name} ({n.source})" for n in names.values())
            say(err, f"{episode['title']}: {voices}")
    err.print(f"{done} episodes diarized.")


@speakers_app.callback()
@handle_errors
def speakers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """People with their talk time per episode, how each voice was named, and the share
    of its talk diarization is unsure of (its themes count as unattributed there)."""
    from pipeline.speakers.naming import speakers_summary

    if ctx.invoked_subcommand:
        return
    rows = speakers_summary(ctx.obj.db)
    if as_json:
        emit_json(rows)
        return
    print_table(
        rows,
        ["name", "episode", "label", "talk_time", "uncertain", "source"],
        "No speakers yet: run ingest or diarize (extra [diarize]).",
    )


@speakers_app.command("name")
@handle_errors
def speakers_name(
    ctx: typer.Context,
    episode: Annotated[str, typer.Argument(help="Episode id (or prefix) or GUID.")],
    speaker: Annotated[str, typer.Argument(help='The speaker as shown now, e.g. "Speaker 2".')],
    name: Annotated[str, typer.Argument(help="Who it really is.")],
) -> None:
    """Correct a speaker's name; the voiceprint registry learns it for later episodes."""
    from pipeline.speakers.naming import correct

    row = episodes_mod.find_episode(ctx.obj.db, episode)
    with writer(ctx.obj, "speakers name"):
        correct(ctx.obj.db, row["id"], speaker, name)
    say(err, f"{speaker} is now {name} in {row['title']}.")
