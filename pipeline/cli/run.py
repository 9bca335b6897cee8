"""`ingest`, `episodes`, `status` and `retry`: the nightly run and the state it leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    TextColumn,
)

import pipeline.store.db as dbmod
import pipeline.store.episodes as episodes_mod
from pipeline.cli.common import (
    CodebookOption,
    EngineOption,
    JsonOption,
    ModelOption,
    RecoverModelOption,
    RecoverOption,
    State,
    VocabularyOption,
    app,
    asr_options,
    emit_json,
    err,
    handle_errors,
    out,
    print_table,
    progress_bars,
    say,
    writer,
)
from pipeline.errors import PipelineError
from pipeline.run.ingest import LOCAL_WORKERS, PipelineSettings, run_ingest, run_log
from pipeline.transcribe.engines import DEFAULT_ENGINE, AsrOptions
from pipeline.transcribe.weights import DEFAULT_MODEL


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
    recover_model: RecoverModelOption = AsrOptions.recover_model,
    report: Annotated[
        bool,
        typer.Option(
            "--report/--no-report",
            help="Write the day's digest: <data-dir>/reports/YYYY-MM-DD.html and index.html.",
        ),
    ] = True,
) -> None:
    """Run every stage, each incremental and overlapping: poll, download, transcribe, analyse."""
    state: State = ctx.obj
    settings = PipelineSettings(
        engine=engine,
        model=model,
        options=asr_options(vocabulary=vocabulary, recover=recover, recover_model=recover_model),
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
            report=report,
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
