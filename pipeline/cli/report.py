"""`report`: the shareable insight report, one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    FeedOption,
    SinceOption,
    UntilOption,
    app,
    err,
    handle_errors,
    out,
    say,
)


@app.command()
@handle_errors
def report(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--out", help="The HTML file to write (replaced if it exists).")
    ] = Path("report.html"),
    feed: FeedOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    theme: Annotated[
        list[str] | None, typer.Option(help="Only this theme (repeat for several).")
    ] = None,
) -> None:
    """An HTML insight report: themes over time, who raised them, quotes, how far to trust it."""
    from pipeline.report import charts
    from pipeline.report.build import write_report
    from pipeline.report.data import ReportRequest

    request = ReportRequest(feed=feed, since=since, until=until, themes=theme or [])
    path = write_report(ctx.obj.db, request, output)
    if not charts.available():
        say(err, f"Written without charts. {charts.MISSING}")
    say(out, str(path))
