"""`analyze`, `analyze-text` and `train-classifier`: themes and people in the transcripts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    TextColumn,
)

from pipeline.cli.common import (
    CodebookOption,
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
    ctx: typer.Context,
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
    with_reviews: Annotated[
        bool,
        typer.Option(
            "--with-reviews",
            help="Also train on the segments people reviewed (accepted and rejected codes).",
        ),
    ] = False,
) -> None:
    """Retrain the theme classifier after editing the codebook or the training passages."""
    from pipeline.analysis.codebook import load_codebook
    from pipeline.analysis.training import TRAINING, retrain
    from pipeline.review.codings import reviewed_passages

    reviews = reviewed_passages(ctx.obj.db) if with_reviews else []
    if with_reviews and not reviews:
        raise PipelineError("No reviewed segments yet: `podinsights review` first.")
    classifier = retrain(
        load_codebook(codebook),
        training=training or TRAINING,
        calibration=calibration,
        output=output,
        extra=reviews,
    )
    extra = f", with {len(reviews)} reviewed segments" if reviews else ""
    err.print(
        f"Trained on {len(classifier.vocabulary)} words and pairs for {len(classifier.themes)}"
        f" themes{extra}; threshold {classifier.threshold}."
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PipelineError(f"Cannot read {path}: {exc.strerror}.") from exc
