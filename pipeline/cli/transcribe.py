"""`transcribe`, `transcribe-file`, `diarize` and `speakers`: from audio to who said what."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    TextColumn,
)

import pipeline.store.episodes as episodes_mod
from pipeline.cli.common import (
    BarProgress,
    BeamOption,
    CodebookOption,
    EngineOption,
    JsonOption,
    ModelOption,
    RecoverModelOption,
    RecoverOption,
    State,
    VadOption,
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
from pipeline.text import markup_safe
from pipeline.timecodes import clock
from pipeline.transcribe.engines import DEFAULT_ENGINE, AsrOptions, load_engine
from pipeline.transcribe.weights import DEFAULT_MODEL


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
    recover_model: RecoverModelOption = AsrOptions.recover_model,
    codebook: CodebookOption = None,
) -> None:
    """Transcribe downloaded episodes (the publisher's transcript first, else Whisper)."""
    from pipeline.transcribe.stage import transcribe_episodes

    state: State = ctx.obj
    options = asr_options(vocabulary, recover, recover_model, beam_size=beam_size, vad=vad)
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
    recover_model: RecoverModelOption = AsrOptions.recover_model,
    codebook: CodebookOption = None,
) -> None:
    """Transcribe one file and print its segments (nothing is stored)."""
    from pipeline.transcribe.stage import transcribe_file
    from pipeline.transcribe.vocabulary import transcription_terms, unique

    state: State = ctx.obj
    if not audio.is_file():
        raise PipelineError(f"No audio file at {audio}.")
    options = asr_options(vocabulary, recover, recover_model, beam_size=beam_size, vad=vad)
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
    second = transcript.options.get("recover_model")
    again = f", loops decoded again by {second}" if second and second != transcript.model else ""
    say(
        err,
        f"{transcript.audio_duration:.1f} s of audio, language {transcript.language}, "
        f"RTF {transcript.real_time_factor or 0:.3f} ({transcript.engine} {transcript.model}"
        f"{again})",
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
