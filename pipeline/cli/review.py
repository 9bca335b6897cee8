"""`review` (interactive, `set`, `import`), `agreement` and `codebook import`: people's
codes on the transcripts, how far coders agree, and codebooks from QDA software.

Reviews do not take the run lock: each decision is one short transaction, and a review
session that lasts an hour must not hold up the nightly ingest."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.common import (
    JsonOption,
    app,
    emit_json,
    err,
    handle_errors,
    out,
    print_table,
    say,
)
from pipeline.errors import PipelineError

review_app = typer.Typer(
    help="Review the machine's theme codes: accept, reject, recode, add, memo (interactive).",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(review_app, name="review")
codebook_app = typer.Typer(
    help="Codebooks from QDA software (REFI-QDA .qdc).", no_args_is_help=True
)
app.add_typer(codebook_app, name="codebook")

CoderOption = Annotated[
    str | None,
    typer.Option("--coder", help="Your name as a coder [default: $PODINSIGHTS_CODER or login]."),
]


class Confidence(StrEnum):
    low = "low"


@review_app.callback()
@handle_errors
def review(
    ctx: typer.Context,
    coder: CoderOption = None,
    theme: Annotated[
        str | None, typer.Option(help="Only the machine's codes of this theme.")
    ] = None,
    episode: Annotated[
        str | None, typer.Option(help="Only this episode (id, prefix, GUID).")
    ] = None,
    confidence: Annotated[
        Confidence | None, typer.Option(help="low: only keyword hits the classifier disputes.")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(help="A random sample of N segments (coded or not) for an agreement study."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="The sample's seed: the same seed, the same sample.")
    ] = 18,
) -> None:
    """Work through the machine's codes in the terminal; decisions are saved as you go."""
    if ctx.invoked_subcommand:
        return
    from pipeline.review.codings import check_coder, default_coder
    from pipeline.review.queue import QueueFilter, review_queue

    name = check_coder(coder or default_coder())
    filters = QueueFilter(theme, episode, confidence is Confidence.low, sample, seed)
    items = review_queue(ctx.obj.db, name, filters)
    if not items:
        say(err, "Nothing left to review with these filters.")
        return
    from pipeline.cli.reviewing import Session

    Session(ctx.obj.db, name).run(items)


@review_app.command("set")
@handle_errors
def review_set(
    ctx: typer.Context,
    segment: Annotated[
        str, typer.Argument(help="EPISODE:IDX (or EPISODE:IDX-END, a span), or a segment id.")
    ],
    theme: Annotated[str, typer.Argument(help="Theme id.")],
    accept: Annotated[
        bool, typer.Option("--accept/--reject", help="Apply the theme here, or reject it.")
    ] = True,
    memo: Annotated[str | None, typer.Option(help="A memo on this decision.")] = None,
    chars: Annotated[
        str | None, typer.Option(help="START:END, a character range of the segment's text.")
    ] = None,
    coder: CoderOption = None,
) -> None:
    """Record one decision without prompts (for scripts)."""
    from pipeline.review.codings import (
        APPLIED,
        REJECTED,
        Coding,
        check_coder,
        default_coder,
        find_segment,
        save_codings,
    )

    db = ctx.obj.db
    episode, idx, end = find_segment(db, segment)
    start_char, end_char = _chars(chars)
    coding = Coding(
        check_coder(coder or default_coder()),
        episode,
        idx,
        theme,
        APPLIED if accept else REJECTED,
        memo,
        end,
        start_char,
        end_char,
    )
    save_codings(db, [coding])
    say(err, f"{coding.coder}: {coding.decision} {theme} on {episode}:{idx}.")


def _chars(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    start, _, end = value.partition(":")
    if not (start.isdigit() and end.isdigit()):
        raise PipelineError(f"--chars {value!r}: give START:END, two character positions.")
    return int(start), int(end)


@review_app.command("import")
@handle_errors
def review_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv (with a header) or .jsonl file.")],
    coder: CoderOption = None,
) -> None:
    """Import decisions: columns segment (or episode, idx), theme, decision, memo, coder."""
    from pipeline.review.codings import default_coder, read_codings_file, save_codings

    db = ctx.obj.db
    codings = read_codings_file(db, file, coder or default_coder())
    count = save_codings(db, codings)
    say(err, f"Imported {count} decisions from {file.name}.")


@app.command("agreement")
@handle_errors
def agreement_command(
    ctx: typer.Context,
    coder: Annotated[
        list[str], typer.Option("--coder", help="Two coders (machine is the pipeline).")
    ],
    theme: Annotated[str | None, typer.Option(help="Only this theme.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Agreement between two coders: percent, Cohen's kappa, Krippendorff's alpha."""
    from dataclasses import asdict

    from pipeline.query.search import check_theme
    from pipeline.review.agreement import agreement

    if len(coder) != 2:
        raise PipelineError("Name two coders: --coder A --coder B (machine is the pipeline).")
    db = ctx.obj.db
    check_theme(db, theme)
    report = agreement(db, coder[0], coder[1], theme)
    if as_json:
        emit_json(asdict(report))
        return
    _print_agreement(report)


def _print_agreement(report: Any) -> None:
    a, b = report.coders
    say(out, f"{a} and {b}: {report.segments} segments coded by both.")
    rows = [{"theme": name, **_cells(s, a, b)} for name, s in report.themes.items()]
    if report.overall:
        rows.append({"theme": "overall", **_cells(report.overall, a, b)})
    columns = ["theme", "units", "agreement %", "kappa", "alpha", a, b, "disagreements"]
    print_table(rows, columns, "No theme was applied on the segments both coded.")


def _cells(scores: Any, a: str, b: str) -> dict[str, Any]:
    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}".replace("-0.000", "0.000")

    kinds = ", ".join(f"{k}: {n}" for k, n in scores.disagreements.items())
    return {
        "units": scores.units,
        "agreement %": "n/a" if scores.percent_agreement is None else scores.percent_agreement,
        "kappa": shown(scores.kappa),
        "alpha": shown(scores.alpha),
        a: scores.applied[a],
        b: scores.applied[b],
        "disagreements": kinds,
    }


@codebook_app.command("import")
@handle_errors
def codebook_import(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA codebook (.qdc) from any QDA tool.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the themes.toml here.")
    ] = None,
) -> None:
    """Turn another tool's codebook into a themes.toml skeleton (patterns left to you)."""
    import sys

    from pipeline.query.qdc import read_codebook, skeleton_toml

    text = skeleton_toml(read_codebook(file), source=file.name)
    if output:
        if output.exists():
            raise PipelineError(f"{output} exists: give another --output, or move it first.")
        output.write_text(text, encoding="utf-8")
        say(err, f"Wrote {output}: add phrases or patterns, then `podinsights analyze-text`.")
    else:
        sys.stdout.write(text)
