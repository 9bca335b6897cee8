"""Diarization error rate on the demo episodes (ground truth from their scripts) and on
the AMI meeting clip, plus speaker-count accuracy and the time diarization adds.

DER follows the standard definition (NIST md-eval): missed speech + false alarm +
speaker confusion, over the total reference speech, with a 0.25 s no-score collar
around every reference boundary and the best one-to-one mapping of hypothesis to
reference speakers. Overlapping reference speech counts once per speaker.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import DEMO_AUDIO, ROOT, append_row, machine, table, write_section
from .voices import Recording, read_rttm

STEP = 0.01  # seconds per scoring frame


def _frames(turns: list[tuple[float, float, str]], length: int) -> dict[str, np.ndarray]:
    active: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(length, bool))
    for start, end, label in turns:
        active[label][int(round(start / STEP)) : int(round(end / STEP))] = True
    return dict(active)


def der(
    reference: list[tuple[float, float, str]],
    hypothesis: list[tuple[float, float, str]],
    collar: float = 0.25,
    scored: tuple[float, float] | None = None,
    one_voice: bool = False,
) -> dict[str, float]:
    """DER; ``one_voice`` scores only the moments where the reference has exactly one
    speaker (overlapped speech left out, as the issue's AMI target asks)."""
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, e, _ in reference + hypothesis] + [scored[1] if scored else 0])
    length = int(np.ceil(end / STEP)) + 1
    ref, hyp = _frames(reference, length), _frames(hypothesis, length)
    keep = np.ones(length, bool)
    width = int(round(collar / STEP))
    for start, stop, _ in reference:
        for edge in (start, stop):
            frame = int(round(edge / STEP))
            keep[max(0, frame - width) : frame + width] = False
    if scored:
        keep[: int(scored[0] / STEP)] = False
        keep[int(scored[1] / STEP) :] = False
    ref_names, hyp_names = list(ref), list(hyp)
    ref_count = sum(ref[r] for r in ref_names) if ref_names else np.zeros(length, int)
    hyp_count = sum(hyp[h] for h in hyp_names) if hyp_names else np.zeros(length, int)
    if one_voice:
        keep &= np.asarray(ref_count) == 1
    overlap = np.array([[np.sum(ref[r] & hyp[h] & keep) for h in hyp_names] for r in ref_names])
    mapping = {}
    if overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
        mapping = {hyp_names[c]: ref_names[r] for r, c in zip(rows, cols, strict=True)}
    correct = np.zeros(length, int)
    for h, r in mapping.items():
        correct += hyp[h] & ref[r]
    total = float(np.sum(ref_count * keep))
    miss = float(np.sum(np.maximum(ref_count - hyp_count, 0) * keep))
    false_alarm = float(np.sum(np.maximum(hyp_count - ref_count, 0) * keep))
    confusion = float(np.sum((np.minimum(ref_count, hyp_count) - correct) * keep))
    return {
        "der": (miss + false_alarm + confusion) / total if total else 0.0,
        "miss": miss / total if total else 0.0,
        "false_alarm": false_alarm / total if total else 0.0,
        "confusion": confusion / total if total else 0.0,
    }


def _reference_frames(reference: list[tuple[float, float, str]]) -> dict[str, np.ndarray]:
    """Each speaker's active frames, from 0 to the reference's last turn."""
    return _frames(reference, int(np.ceil(max(e for _, e, _ in reference) / STEP)) + 1)


def one_voice_oracle(reference: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The reference itself, cut to one speaker per moment: the best that any system
    labelling one voice at a time (ours included) can score where people talk at once."""
    frames = _reference_frames(reference)
    taken = np.zeros(len(next(iter(frames.values()))), bool)
    turns: list[tuple[float, float, str]] = []
    for name in sorted(frames):
        own = frames[name] & ~taken  # where an earlier speaker talks too, they keep it
        taken |= own
        edges = np.flatnonzero(np.diff(np.concatenate([[0], own.astype(np.int8), [0]])))
        turns += [(a * STEP, b * STEP, name) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return turns


def overlap_share(
    reference: list[tuple[float, float, str]], scored: tuple[float, float] | None = None
) -> float:
    """The share of the speech time in which two or more people talk at once."""
    voices = np.sum(list(_reference_frames(reference).values()), axis=0)
    if scored:
        voices = voices[int(scored[0] / STEP) : int(scored[1] / STEP)]
    speech = np.count_nonzero(voices)
    return float(np.count_nonzero(voices >= 2) / speech) if speech else 0.0


def transcription_cpu_seconds(paths: list[Path], encoder: Any) -> float:
    """CPU seconds the default transcription (tiny.en, faster-whisper) spends on these
    files in this process: the yardstick for what diarization adds. Both models first
    make one untimed pass over 10 s of speech, so their one-time start-up costs stay
    out of the figures, as model loading does."""
    from pipeline.audio.decode import SAMPLE_RATE, load_audio
    from pipeline.transcribe.engines import AsrOptions, load_engine
    from pipeline.transcribe.stage import transcribe_file

    options = AsrOptions()
    engine = load_engine("faster-whisper", "tiny.en", ROOT / "data" / "models", options)
    speech = load_audio(paths[0])[: 10 * SAMPLE_RATE]
    engine.transcribe(speech, None)
    encoder.embed(speech, [(0.0, 1.5)])
    started = time.process_time()
    for path in paths:
        transcribe_file(path, engine, options)
    return time.process_time() - started


def baseline(path: Path, encoder: Any) -> Any:
    """Diarization as it was before real voices were measured (kept here to compare):
    Silero's default threshold, windows every 1.0 s, average-linkage clusters cut at
    cosine distance 0.3, clusters with under 8% of the windows folded into their
    nearest, no re-segmentation."""
    from collections import Counter

    from scipy.cluster.hierarchy import fcluster, linkage

    from pipeline.speakers.diarize import _centroids, embed_file, turns_of

    from .voices import MATERIAL_VAD

    spans, embeddings = embed_file(path, encoder, hop=1.0, vad=MATERIAL_VAD)
    if len(embeddings) < 2:
        labels = np.zeros(len(embeddings), int)
    else:
        tree = linkage(embeddings, method="average", metric="cosine")
        labels = fcluster(tree, 0.3, criterion="distance")
        counts = Counter(labels.tolist())
        big = [n for n, c in counts.items() if c >= max(2, 0.08 * len(labels))]
        if big:
            names, centroids = _centroids(
                embeddings[np.isin(labels, big)], labels[np.isin(labels, big)]
            )
            small = ~np.isin(labels, big)
            labels[small] = np.array(names)[np.argmax(embeddings[small] @ centroids.T, axis=1)]
        else:
            labels[:] = 0
    return turns_of(spans, labels, embeddings, np.ones(len(labels)))


def cases() -> list[Recording]:
    """Every recording measured: the demo, the real multi-speaker recordings, the stereo
    pair played one after the other, and conversations built from real voices."""
    from .loops import write_wav
    from .voices import CACHE, built_conversations, real_recordings, stereo_pair

    found = [
        Recording(p.stem, DEMO_AUDIO / f"{p.stem}.mp3", read_rttm(p), group="demo")
        for p in sorted(DEMO_AUDIO.glob("ep*.rttm"))
    ]
    real = real_recordings()
    built = CACHE / "conversations"
    built.mkdir(parents=True, exist_ok=True)
    pair = stereo_pair()
    if pair is not None:
        write_wav(built / "stereo-pair.wav", pair[0])
        name = "stereo pair, one after the other"
        found.append(Recording(name, built / "stereo-pair.wav", pair[1], group="calibration"))
    found += real
    for group, name, samples, reference in built_conversations(real):
        path = built / (re.sub(r"[^a-z0-9]+", "-", f"{group} {name}".lower()) + ".wav")
        write_wav(path, samples)
        found.append(Recording(name, path, reference, group=group))
    return found


def audible_speakers(reference: list[tuple[float, float, str]]) -> set[str]:
    """The reference speakers who talk enough to be told apart by the product's rule
    (diarize.least_talk): someone heard for half a second in a 30 s meeting excerpt is
    in the reference, but no voice embedding can find them."""
    from pipeline.speakers.diarize import least_talk

    talk: dict[str, float] = defaultdict(float)
    for start, end, name in reference:
        talk[name] += end - start
    least = least_talk(sum(talk.values()))
    return {name for name, seconds in talk.items() if seconds >= least}


Score = tuple[float, float, int]  # DER, DER on one-voice moments, speakers found


def _score(reference: list[Any], turns: list[Any], scored: Any) -> Score:
    return (
        der(reference, turns, scored=scored)["der"],
        der(reference, turns, scored=scored, one_voice=True)["der"],
        len({label for _, _, label in turns}),
    )


SUMMARY_COLUMNS = [
    "set",
    "recordings",
    "speaker count right (today / new)",
    "count of people who talk enough right (today / new)",
    "mean DER (today / new)",
    "mean DER, one voice (today / new)",
]
LOOKS_HEADER = """## Diarization, held-out set: every look

Each run of `python -m benchmarks diarization --held-out NOTE` on the held-out
recordings and conversations is a row, none is ever removed.
Look 1 used an earlier split, by voice rather than by recording: the calibration
conversations mixed one-person files from different recordings, which their microphones
tell apart more than their voices; it showed the split was unrepresentative, and the
calibration set was rebuilt from pyannote.audio's AMI train excerpts (which look 1 had
not included). Figures are today / new."""


def measure(
    measured: list[Recording], encoder: Any
) -> tuple[list[list[Any]], list[list[Any]], dict[str, float]]:
    """Per-recording rows and per-set summary rows, today's method beside the new one,
    and the CPU seconds each spent on the demo."""
    from pipeline.speakers.diarize import diarize_file

    rows: list[list[Any]] = []
    results: list[tuple[str, int, int, tuple[Score, Score]]] = []
    cpu = {"today": 0.0, "new": 0.0}
    for case in measured:
        runs = {}
        for method, run in (("today", baseline), ("new", diarize_file)):
            started = time.process_time()
            runs[method] = run(case.path, encoder)
            if case.group == "demo":
                cpu[method] += time.process_time() - started
        old = _score(case.reference, runs["today"].turns, case.scored)
        new = _score(case.reference, runs["new"].turns, case.scored)
        true = len({label for _, _, label in case.reference})
        audible = len(audible_speakers(case.reference))
        talk = sum(runs["new"].talk_time().values()) or 1.0
        unsure = sum(runs["new"].uncertain_time().values()) / talk
        results.append((case.group, true, audible, (old, new)))
        rows.append(
            [case.group, case.name, f"{true} ({audible})", old[2], f"{old[0]:.3f}"]
            + [f"{old[1]:.3f}", new[2], f"{new[0]:.3f}", f"{new[1]:.3f}", f"{unsure:.0%}"]
        )
        print(rows[-1], file=sys.stderr, flush=True)
    summary = []
    for group in ("demo", "calibration", "held out"):
        mine = [r for r in results if r[0] == group]
        if mine:
            summary.append([group, len(mine), *_summary(mine)])
    return rows, summary, cpu


def _summary(results: list[tuple[str, int, int, tuple[Score, Score]]]) -> list[str]:
    right = [sum(r[3][k][2] == r[1] for r in results) for k in (0, 1)]
    heard = [sum(r[3][k][2] == r[2] for r in results) for k in (0, 1)]
    mean = [np.mean([r[3][k][0] for r in results]) for k in (0, 1)]
    one = [np.mean([r[3][k][1] for r in results]) for k in (0, 1)]
    return [
        f"{right[0]} / {right[1]}",
        f"{heard[0]} / {heard[1]}",
        f"{mean[0]:.3f} / {mean[1]:.3f}",
        f"{one[0]:.3f} / {one[1]:.3f}",
    ]


def recording_table(rows: list[list[Any]]) -> str:
    from pipeline.speakers.diarize import LOW_CONFIDENCE

    columns = ["set", "recording", "speakers (who talk enough)", "today: found"]
    columns += ["today: DER", "today: DER one voice", "new: found", "new: DER"]
    columns += ["new: DER one voice", f"new: talk below confidence {LOW_CONFIDENCE}"]
    return table(columns, rows)


def method_text() -> str:
    from pipeline.speakers.diarize import (
        HOP,
        MIN_FLOOR,
        MIN_SHARE,
        MIN_TALK,
        SPEECH_VAD,
        SWITCH_COST,
        THRESHOLD,
    )

    return (
        "Both methods embed windows of 1.5 s of speech (Silero VAD) with Resemblyzer."
        " **Today** (before real voices were measured): speech where Silero's probability"
        " is over 0.5 (its default), padded by 0.4 s, a window every 1.0 s,"
        " average-linkage clusters cut at cosine distance 0.3, clusters with under 8% of the"
        f" windows folded into their nearest. **New**: speech where the probability is over"
        f" {SPEECH_VAD['threshold']}, padded by {SPEECH_VAD['speech_pad_ms'] / 1000} s,"
        f" a window every {HOP} s, cut at"
        f" {THRESHOLD}, clusters speaking under {MIN_TALK:.0f} s (in a short recording under"
        f" {MIN_SHARE:.0%} of the talk, but at least {MIN_FLOOR:.0f} s) folded, then two"
        " Viterbi passes re-assign every window to its nearest"
        f" speaker centroid with a cost of {SWITCH_COST} cosine similarity per change of"
        " speaker. Tried on the calibration set and dropped: counting speakers by the"
        " eigengap of the pruned affinity matrix (NME-SC), which split every two-person"
        " conversation into 5-8; centring each recording's embeddings before clustering;"
        " merging clusters whose centroids are closer than their own windows' spread (no"
        " change).\n\n"
        "The new settings were chosen on the **calibration** set and the demo only:"
        ' pyannote.audio\'s ten AMI "train" excerpts, the stereo pair, and conversations built'
        " from them and from ../shared/realdata's one-person files. The **held-out** set (AMI"
        " dev00, dev01, tst00, tst01, pyannote's two-person call, and conversations built from"
        " their people) chose nothing; its figures and every look at it are in the next two"
        " sections. A built conversation (benchmarks/voices.py) interleaves one-voice"
        " stretches of real people: turns of 1-8 s, one in seven a 0.3-0.8 s backchannel,"
        " 0.1-0.6 s pauses, one loudness for all, 45 s long (a voice with little material"
        " repeats it), each also through a telephone line (300-3400 Hz, 8 kHz, mu-law, hiss at"
        " -30 dB). A conversation built from one recording's people keeps their shared room"
        " and microphone, as a podcast's people share one recording chain.\n\n"
        'DER with a 0.25 s collar and the best speaker mapping; "one voice" scores only the'
        " moments where the reference has exactly one speaker. AMI excerpts are scored over"
        ' their 30 s (UEM). "Who talk enough": the reference speakers with at least'
        f" {MIN_TALK:.0f} s of talk (or as above in a short recording), the rule by which"
        " the product"
        " folds a smaller cluster into its neighbour (AMI excerpts have people heard for under"
        " a second). The stereo pair is the stereo test file's two channels played one after"
        " the other, in mono (the product splits a stereo file like it by channel)."
    )


def main(argv: list[str]) -> int:
    from pipeline.speakers.diarize import VoiceEncoder

    parser = argparse.ArgumentParser(prog="python -m benchmarks diarization")
    parser.add_argument(
        "--held-out",
        metavar="NOTE",
        help="Measure the held-out set and log the look with NOTE (the design decision).",
    )
    args = parser.parse_args(argv)
    encoder = VoiceEncoder()
    if args.held_out:
        return held_out(args.held_out, encoder)
    measured = [case for case in cases() if case.group != "held out"]
    # Transcription first, as ingest does: the two share one VAD pass per window.
    asr_cpu = transcription_cpu_seconds([c.path for c in measured if c.group == "demo"], encoder)
    rows, summary, cpu = measure(measured, encoder)
    text = "\n".join(
        [
            "## Diarization (`python -m benchmarks diarization`)",
            "",
            f"Machine: {machine()}.",
            method_text(),
            "",
            table(SUMMARY_COLUMNS, summary),
            "",
            recording_table(rows),
            "",
            f"- Time on the demo episodes: today {cpu['today']:.1f} CPU s, new"
            f" {cpu['new']:.1f} CPU s, against {asr_cpu:.1f} for transcribing them first"
            " (tiny.en, our defaults, same process, as in ingest): the new diarization adds"
            f" {cpu['new'] / asr_cpu:.0%} to transcription's CPU time (today's"
            f" {cpu['today'] / asr_cpu:.0%}).",
        ]
    )
    print(text)
    print(f"wrote {write_section('diarization', text)}", file=sys.stderr)
    return 0


def held_out(note: str, encoder: Any) -> int:
    rows, summary, _ = measure([c for c in cases() if c.group == "held out"], encoder)
    text = "\n".join(
        [
            "## Diarization, held-out set (latest look)",
            "",
            f"Machine: {machine()}. Method and scoring as in the diarization section above.",
            "",
            table(SUMMARY_COLUMNS, summary),
            "",
            recording_table(rows),
        ]
    )
    print(text)
    write_section("diarization-held-out", text)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    columns = ["when (UTC)", "design", *SUMMARY_COLUMNS[1:]]
    written = append_row("diarization-looks", LOOKS_HEADER, columns, [when, note, *summary[0][1:]])
    print(f"wrote {written}", file=sys.stderr)
    return 0
