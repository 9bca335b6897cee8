"""Diarization error rate on the demo episodes (ground truth from their scripts) and on
the AMI meeting clip, plus speaker-count accuracy and the time diarization adds.

DER follows the standard definition (NIST md-eval): missed speech + false alarm +
speaker confusion, over the total reference speech, with a 0.25 s no-score collar
around every reference boundary and the best one-to-one mapping of hypothesis to
reference speakers. Overlapping reference speech counts once per speaker.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from . import DEMO_AUDIO, REALDATA, ROOT, machine, table, write_section

STEP = 0.01  # seconds per scoring frame


def read_rttm(path: Path, recording: str | None = None) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if (
            len(fields) >= 8
            and fields[0] == "SPEAKER"
            and (recording is None or fields[1] == recording)
        ):
            start, duration = float(fields[3]), float(fields[4])
            turns.append((start, start + duration, fields[7]))
    return turns


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
) -> dict[str, float]:
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
    overlap = np.array([[np.sum(ref[r] & hyp[h] & keep) for h in hyp_names] for r in ref_names])
    mapping = {}
    if overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
        mapping = {hyp_names[c]: ref_names[r] for r, c in zip(rows, cols, strict=True)}
    ref_count = sum(ref[r] for r in ref_names) if ref_names else np.zeros(length, int)
    hyp_count = sum(hyp[h] for h in hyp_names) if hyp_names else np.zeros(length, int)
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
    from ..audio import SAMPLE_RATE, load_audio
    from ..engines import AsrOptions, load_engine
    from ..transcribe import transcribe_file

    options = AsrOptions()
    engine = load_engine("faster-whisper", "tiny.en", ROOT / "data" / "models", options)
    speech = load_audio(paths[0])[: 10 * SAMPLE_RATE]
    engine.transcribe(speech, None)
    encoder.embed(speech, [(0.0, 1.5)])
    started = time.process_time()
    for path in paths:
        transcribe_file(path, engine, options)
    return time.process_time() - started


def main(argv: list[str]) -> int:
    from ..diarize import THRESHOLD, VoiceEncoder, diarize_file

    parser = argparse.ArgumentParser(prog="python -m pipeline.bench diarization")
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args(argv)
    encoder = VoiceEncoder()
    cases: list[tuple[Path, Path, str | None, tuple[float, float] | None]] = [
        (DEMO_AUDIO / f"{p.stem}.mp3", p, None, None) for p in sorted(DEMO_AUDIO.glob("ep*.rttm"))
    ]
    ami = REALDATA / "audio" / "ami_tst00.wav"
    if ami.exists():
        cases.append((ami, REALDATA / "audio" / "ami_debug.test.rttm", "tst00", (0.0, 30.0)))
    # Transcription first, as ingest does: the two share one VAD pass per window.
    asr_cpu = transcription_cpu_seconds(
        [a for a, _, recording, _ in cases if not recording], encoder
    )
    rows, added, demo_cpu = [], [], 0.0
    for audio, rttm, recording, scored in cases:
        reference = read_rttm(rttm, recording)
        started, cpu_started = time.perf_counter(), time.process_time()
        kwargs = {"threshold": args.threshold} if args.threshold else {}
        hypothesis = diarize_file(audio, encoder, **kwargs)
        seconds = time.perf_counter() - started
        if recording is None:
            demo_cpu += time.process_time() - cpu_started
        duration = max(e for _, e, _ in reference)
        added.append((seconds, duration))
        score = der(reference, hypothesis.turns, scored=scored)
        floor = der(reference, one_voice_oracle(reference), scored=scored)["der"]
        true_count = len({label for _, _, label in reference})
        found = len(hypothesis.talk_time())
        rows.append(
            [
                audio.name,
                f"{score['der']:.3f}",
                f"{score['miss']:.3f}",
                f"{score['false_alarm']:.3f}",
                f"{score['confusion']:.3f}",
                f"{found} / {true_count}",
                f"{overlap_share(reference, scored):.0%}",
                f"{floor:.3f}",
            ]
        )
        print(audio.name, rows[-1][1:], file=sys.stderr, flush=True)
    demo = [r for r in rows if r[0].startswith("ep")]
    seconds = sum(s for s, _ in added)
    audio_seconds = sum(d for _, d in added)
    text = "\n".join(
        [
            "## Diarization (`python -m pipeline.bench diarization`)",
            "",
            f"Machine: {machine()}.",
            "Resemblyzer embeddings of 1.5 s windows every 1.0 s of speech (Silero VAD),"
            " agglomerative clustering (average linkage, cosine distance threshold"
            f" {args.threshold or THRESHOLD}), tiny clusters folded into their nearest."
            " DER with a 0.25 s collar and the best speaker mapping; the demo's reference is"
            " its scripts' line timings (data/demo/audio/*.rttm), the AMI clip's is"
            " `ami_debug.test.rttm` (scored 0-30 s, overlapping speech counts for every speaker).",
            "",
            table(
                [
                    "recording",
                    "DER",
                    "missed",
                    "false alarm",
                    "confusion",
                    "speakers found / true",
                    "speech with 2+ voices",
                    "best DER with one voice at a time",
                ],
                rows,
            ),
            "",
            f"- Demo mean DER: {np.mean([float(r[1]) for r in demo]):.3f}; speaker count right in"
            f" {sum(r[5].split(' / ')[0] == r[5].split(' / ')[1] for r in rows)} of {len(rows)}"
            " recordings.",
            "- The last column scores the reference cut to one speaker per moment: where"
            " people talk at once, a system that labels one voice at a time (this one) cannot"
            " score better.",
            f"- Time: {seconds:.1f} s for {audio_seconds / 60:.1f} minutes of audio, or"
            f" {seconds / audio_seconds * 3600:.0f} s per hour of audio (one thread; the demo"
            " episodes reuse their transcription's VAD pass, the AMI clip runs its own).",
            f"- On the demo episodes, diarization took {demo_cpu:.1f} CPU seconds against"
            f" {asr_cpu:.1f} for transcribing them first (tiny.en, our defaults, same process,"
            " as in ingest):"
            f" it adds {demo_cpu / asr_cpu:.0%} to transcription's CPU time.",
        ]
    )
    print(text)
    print(f"wrote {write_section('diarization', text)}", file=sys.stderr)
    return 0
