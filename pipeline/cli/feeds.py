"""`podinsights feeds ...`, `poll` and `download`: subscriptions and the audio they bring."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import pipeline.feeds.subscriptions as feeds_mod
from pipeline.cli.common import (
    FeedModelOption,
    JsonOption,
    State,
    app,
    emit_json,
    err,
    handle_errors,
    print_table,
    progress_bars,
    say,
    writer,
)
from pipeline.errors import PipelineError
from pipeline.feeds.download import DOWNLOADS, download_episodes
from pipeline.feeds.opml import write_opml
from pipeline.text import printable
from pipeline.transcribe.weights import check_model_name

feeds_app = typer.Typer(
    help="Manage subscriptions (rows in the feeds table).", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")


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
