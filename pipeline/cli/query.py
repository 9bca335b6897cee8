"""`themes`, `people`, `search`, `similar`, `show`, `export` and `serve`: reading what the
pipeline found."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from pipeline.cli.common import (
    ConfirmedOption,
    FeedOption,
    HighOnlyOption,
    JsonOption,
    SinceOption,
    State,
    UntilOption,
    app,
    emit_json,
    err,
    handle_errors,
    out,
    print_table,
    say,
)
from pipeline.errors import PipelineError
from pipeline.query.search import Filters
from pipeline.text import markup_safe, printable
from pipeline.timecodes import clock


class Breakdown(StrEnum):
    role = "role"
    speaker = "speaker"
    month = "month"
    year = "year"


class Role(StrEnum):
    host = "host"
    guest = "guest"


class Mode(StrEnum):
    hybrid = "hybrid"
    keyword = "keyword"
    semantic = "semantic"


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
    confirmed: ConfirmedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Themes with their mention and episode counts, by how each was found."""
    from pipeline.query.reports import BY_TIME, theme_breakdown, theme_counts
    from pipeline.query.search import Filters

    filters = Filters(
        theme=theme, feed=feed, since=since, until=until, high_only=high_only, confirmed=confirmed
    )
    filtered = any((theme, feed, since, until, confirmed))
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
    columns += ["human"] if confirmed else ["low_confidence"]
    print_table([r for r in rows if r["mentions"]], columns, empty)


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


@app.command("search")
@handle_errors
def search_command(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(help='Words, "a phrase", prefix*, AND/OR/NOT (FTS5 syntax), or a question.'),
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(
            help="hybrid: words, meaning and themes fused (the default with the [semantic] "
            "extra); keyword: words only (the default without it); semantic: meaning only.",
        ),
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
    confirmed: ConfirmedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Search every transcript by words and meaning; each hit says why it was found and
    links to the moment it was said."""
    from pipeline.query.hybrid import search
    from pipeline.query.search import Filters

    filters = Filters(
        theme=theme,
        person=person,
        role=role.value if role else None,
        feed=feed,
        since=since,
        until=until,
        high_only=high_only,
        confirmed=confirmed,
    )
    print_hits(search(ctx.obj.db, query, filters, limit, mode.value if mode else None), as_json)


@app.command()
@handle_errors
def similar(
    ctx: typer.Context,
    segment: Annotated[
        int, typer.Argument(help="A segment id (search --json, show and Datasette list them).")
    ],
    feed: FeedOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help="At most this many moments.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The moments across all shows closest in meaning to one segment."""
    from pipeline.query.hybrid import similar as similar_moments
    from pipeline.query.search import Filters

    filters = Filters(feed=feed, since=since, until=until)
    print_hits(similar_moments(ctx.obj.db, segment, filters, limit), as_json)


def print_hits(hits: list[dict[str, Any]], as_json: bool) -> None:
    from pipeline.query.search import HIGHLIGHT

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


def found_by(hit: dict[str, Any]) -> str:
    """Why a hit was found: the words, its meaning (cosine), the theme the query names."""
    reasons = []
    for reason in hit.get("found_by", []):
        if reason == "meaning" and hit.get("similarity") is not None:
            reason = f"meaning {hit['similarity']:.2f}"
        elif reason == "theme" and hit.get("theme_match"):
            reason = f"theme {', '.join(hit['theme_match'])}"
        reasons.append(reason)
    return ", ".join(reasons)


def format_hit(hit: dict[str, Any], marks: tuple[str, str]) -> str:
    snippet = markup_safe(hit["snippet"]).replace(marks[0], "[bold yellow]")
    snippet = snippet.replace(marks[1], "[/]")
    speaker = f" [cyan]{markup_safe(hit['speaker'])}[/]" if hit["speaker"] else ""
    themes = f"\n  [dim]themes: {markup_safe(', '.join(hit['themes']))}[/]" if hit["themes"] else ""
    why = f"\n  [dim]found by {markup_safe(found_by(hit))}[/]" if hit.get("found_by") else ""
    link = markup_safe(hit["link"] or "")
    # The link target sits inside a tag, where escaping does not reach: brackets,
    # spaces and quotes in it are percent-encoded instead.
    target = quote(printable(hit["link"] or ""), safe="/:?#@!$&'()*+,;=%~-._")
    return (
        f"[bold]{markup_safe(hit['show'] or '')}[/] — {markup_safe(hit['episode'] or '')} "
        f"({markup_safe(hit['date'])}) [green]{hit['time']}[/]{speaker} "
        f"[dim]#{hit['segment_id']}[/]\n  {snippet}{themes}{why}\n"
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
        moment = f"[green]{clock(row['start_time'])}[/] [dim]#{row['id']}[/]"
        out.print(f"{moment} {speaker}{text}{tags}", highlight=False)


@app.command()
@handle_errors
def export(
    ctx: typer.Context,
    episode: Annotated[
        str | None,
        typer.Argument(help="Episode id (or prefix) or GUID; for qdpx and qdc, the file to write."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="srt, vtt, json, md; qdpx or qdc (REFI-QDA).")
    ] = "md",
    all_to: Annotated[
        Path | None, typer.Option("--all", help="Write every episode in every format here.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    feed: FeedOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    audio: Annotated[
        bool,
        typer.Option(
            help="qdpx: episodes whose audio is downloaded as audio sources (in the zip)."
        ),
    ] = False,
) -> None:
    """Export a transcript: SRT, WebVTT (voice tags), Podcasting 2.0 JSON, cited Markdown;
    or every coded transcript as a REFI-QDA project (qdpx) or the codebook alone (qdc)."""
    from pipeline.query.export import export_all, export_episode

    if fmt in ("qdpx", "qdc"):
        _export_qda(
            ctx.obj,
            fmt,
            output or (Path(episode) if episode else None),
            Filters(feed=feed, since=since, until=until),
            audio,
        )
        return
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


def _export_qda(state: State, fmt: str, path: Path | None, filters: Any, audio: bool) -> None:
    from pipeline.query.qdc import write_qdc
    from pipeline.query.qdpx import write_qdpx

    if path is None:
        raise PipelineError(f"Name the file to write: podinsights export --format {fmt} OUT.{fmt}")
    if fmt == "qdc":
        say(err, f"Wrote {write_qdc(state.db, path)} codes to {path}.")
        return
    stats = write_qdpx(state.db, path, filters, audio_dir=state.data_dir if audio else None)
    coders = ", ".join(f"{name} {count}" for name, count in sorted(stats.by_coder.items()))
    say(
        err,
        f"Wrote {path}: {stats.episodes} episodes ({stats.audio} with audio), "
        f"{stats.codings} codings ({coders or 'none'}), {stats.notes} memos.",
    )


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
