"""Recovered loops: speech degraded until Whisper loops, transcribed without and with the
second pass (pipeline.transcribe.recovery); how many flagged seconds come back, and how good.

The demo episodes are made "8 kbps radio": low-passed to 3 kHz, resampled to 8 kHz and
back, 8-bit mu-law, then white noise at a given SNR. Text quality on what came back is
the WER of the reference turns the recovered segments fall in, against all the
searchable text in those turns' time spans (turn times come from the demo scripts).

The scripts are read by two sets of voices: espeak-ng's (the demo's own audio) and
flite's (Debian's ``flite``), rendered here by the demo's own build.py. espeak-ng's
formant speech is hard for tiny.en once narrow-band: where it does not loop, its turns
already have a WER near 0.5 at every SNR, which leaves a second pass nothing legible to
recover. flite's voices are closer to human speech.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.transcribe.engines import AsrOptions

from . import DEMO_AUDIO, ROOT, machine, table, write_section
from .asr import normalizer, wer

# dB. espeak-ng: at 15 and 20 dB tiny.en flagged nothing (2026-12-07). flite: at 20 dB
# nothing, at 0 dB nearly everything (542 of 782 s; its clean turns' WER 0.98).
SNRS = {"espeak-ng": (10.0, 5.0, 0.0, -3.0), "flite": (12.0, 10.0, 8.0, 5.0)}
# The demo's speakers in flite's voices: slt is its only woman's voice.
FLITE_VOICES = {"dana": "slt", "priya": "slt", "grace": "slt", "tony": "rms", "marcus": "awb"}


def degrade(samples: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """16 kHz speech as a narrow-band, noisy radio line would carry it."""
    from scipy.signal import butter, resample_poly, sosfilt

    narrow = sosfilt(butter(8, 3000, fs=16000, output="sos"), samples)
    narrow = resample_poly(resample_poly(narrow, 1, 2), 2, 1)
    mu = 255.0
    coded = np.sign(narrow) * np.log1p(mu * np.abs(np.clip(narrow, -1, 1))) / np.log1p(mu)
    coded = np.round(coded * 127) / 127
    narrow = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu
    noise = np.random.default_rng(seed).standard_normal(narrow.size)
    power = np.mean(narrow**2) / 10 ** (snr_db / 10)
    return (narrow + noise * np.sqrt(power)).astype(np.float32)


def episodes(voices: str) -> Iterator[tuple[str, np.ndarray, list[dict[str, Any]]]]:
    """(name, 16 kHz samples, timed script turns) for each demo episode in the voices."""
    from pipeline.audio.decode import load_audio

    if voices == "espeak-ng":
        for turns in sorted(DEMO_AUDIO.glob("ep*.turns.json")):
            name = turns.name[:4]
            yield name, load_audio(DEMO_AUDIO / f"{name}.mp3"), json.loads(turns.read_text())
    else:
        yield from flite_episodes()


@functools.cache
def flite_episodes() -> tuple[tuple[str, np.ndarray, list[dict[str, Any]]], ...]:
    if shutil.which("flite") is None:
        raise SystemExit("flite voices need flite: apt-get install flite")
    spec = importlib.util.spec_from_file_location("demo_build", ROOT / "data/demo/build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    show, scripts = build.load()
    voices = {key: {**voice, "flite": FLITE_VOICES[key]} for key, voice in show["voices"].items()}

    def speak(text: str, voice: dict[str, Any]) -> np.ndarray:
        command = ["flite", "-voice", voice["flite"], "-t", text, "-o", "/dev/stdout"]
        return build.read_wav(subprocess.run(command, check=True, capture_output=True).stdout)

    return tuple(
        (f"ep{script['number']:02d}", *build.render(script, voices, {}, speak=speak))
        for script in scripts
    )


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    """16-bit mono WAV, peak-normalised so the noise cannot clip."""
    import wave

    peak = float(np.max(np.abs(samples))) or 1.0
    pcm = (samples / max(peak, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def flagged_seconds(segments: list[Any]) -> float:
    """Seconds the second pass would retry: loops and low confidence."""
    from pipeline.transcribe.recovery import RETRY

    return sum(s.end - s.start for s in segments if s.quality in RETRY)


def touched_turns(segments: list[Any], turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference turns a recovered segment falls in."""
    return [t for t in turns if any(s.recovered and _inside(s, t) for s in segments)]


def clean_turns(segments: list[Any], turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference turns the first pass flagged nothing in: what the same audio and model
    give where they do not loop, the most a second pass over the flagged turns can hope for."""
    from pipeline.transcribe.recovery import RETRY

    return [t for t in turns if not any(s.quality in RETRY and _inside(s, t) for s in segments)]


def _inside(segment: Any, turn: dict[str, Any]) -> bool:
    return turn["start"] - 0.5 <= (segment.start + segment.end) / 2 <= turn["end"] + 0.5


def turns_wer(segments: list[Any], turns: list[dict[str, Any]], normalize: Any) -> float:
    """WER of the searchable text in the turns' time spans against their script."""
    from pipeline.transcribe.guard import SEARCHABLE

    reference = " ".join(t["text"] for t in turns)
    hypothesis = " ".join(
        s.text for s in segments if s.quality in SEARCHABLE and any(_inside(s, t) for t in turns)
    )
    return wer(reference, hypothesis, normalize)


def weighted_wer(
    segments: list[Any], turns: list[dict[str, Any]], normalize: Any
) -> tuple[float, int]:
    """(WER x words, words) over the turns, to sum across episodes: (0, 0) for none."""
    words = sum(len(t["text"].split()) for t in turns)
    return (turns_wer(segments, turns, normalize) * words if words else 0.0), words


def measure(
    model: str, snr: float, cache: Path, recover_model: str | None = None, voices: str = "espeak-ng"
) -> dict[str, Any]:
    from pipeline.transcribe.engines import load_engine
    from pipeline.transcribe.stage import transcribe_file

    normalize = normalizer()
    keys = ("before", "after", "recovered", "wer1", "wer2", "n", "wall1", "wall2", "wer0", "n0")
    row: dict[str, Any] = dict.fromkeys(keys, 0.0)
    with tempfile.TemporaryDirectory() as scratch:
        for name, samples, turns in episodes(voices):
            path = Path(scratch) / f"{name}.wav"
            write_wav(path, degrade(samples, snr))
            runs, wall = {}, {}
            for recover in (False, True):
                options = AsrOptions(recover=recover, recover_model=recover_model)
                engine = load_engine("faster-whisper", model, cache, options)
                transcript = transcribe_file(path, engine, options)
                runs[recover], wall[recover] = transcript.segments, transcript.wall_time or 0.0
            row["wall1"] += wall[False]
            row["wall2"] += wall[True]
            row["before"] += flagged_seconds(runs[False])
            row["after"] += flagged_seconds(runs[True])
            row["recovered"] += sum(s.end - s.start for s in runs[True] if s.recovered)
            errors, words = weighted_wer(runs[False], clean_turns(runs[False], turns), normalize)
            row["wer0"] += errors
            row["n0"] += words
            touched = touched_turns(runs[True], turns)
            for key, segments in (("wer1", runs[False]), ("wer2", runs[True])):
                errors, words = weighted_wer(segments, touched, normalize)
                row[key] += errors
            row["n"] += words
    return {
        **row,
        "model": model,
        "snr": snr,
        "recover_model": recover_model or model,
        "voices": voices,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks loops")
    parser.add_argument("--models", default="tiny.en")
    parser.add_argument("--cache", default="data/models")
    parser.add_argument(
        "--recover-model", default=None, help="The second pass's model (default: the model's own)."
    )
    parser.add_argument("--voices", default=",".join(SNRS), help="espeak-ng, flite or both.")
    args = parser.parse_args(argv)
    rows = []
    for voices in args.voices.split(","):
        for model in args.models.split(","):
            for snr in SNRS[voices]:
                rows.append(measure(model, snr, Path(args.cache), args.recover_model, voices))
                print(rows[-1], file=sys.stderr, flush=True)
    path = write_section("loops", report(rows))
    print(f"wrote {path}", file=sys.stderr)
    return 0


# Figures from before the second pass was seeded (2026-12-06 23:39 UTC, same audio and
# settings otherwise), kept beside each new run: one draw of its random samples.
EARLIER = [
    ["2026-12-06 23:39 (unseeded)", "espeak-ng", "tiny.en", "tiny.en", "0", "59.6", "20.3"]
    + ["39.9", "0.66", "0.865", "0.678", "-", "-", "-"],
    ["2026-12-06 23:39 (unseeded)", "espeak-ng", "tiny.en", "tiny.en", "-3", "101.6", "0.0"]
    + ["148.3", "1.00", "0.926", "0.926", "-", "-", "-"],
]


def report(rows: list[dict[str, Any]]) -> str:
    header = [
        "run",
        "voices",
        "model",
        "second pass",
        "SNR dB",
        "flagged s, one pass",
        "flagged s, with recovery",
        "recovered s",
        "share of flagged recovered",
        "WER on recovered turns, one pass",
        "WER on recovered turns, with recovery",
        "wall s, one pass",
        "wall s, with recovery",
        "WER on turns nothing was flagged in, one pass",
    ]
    lines = []
    for row in rows:
        share = 1 - row["after"] / row["before"] if row["before"] else 0.0
        n = row["n"]
        lines.append(
            [
                "this run (seeded)",
                row["voices"],
                row["model"],
                row["recover_model"],
                f"{row['snr']:.0f}",
                f"{row['before']:.1f}",
                f"{row['after']:.1f}",
                f"{row['recovered']:.1f}",
                f"{share:.2f}" if row["before"] else "-",
                f"{row['wer1'] / n:.3f}" if n else "-",
                f"{row['wer2'] / n:.3f}" if n else "-",
                f"{row['wall1']:.0f}",
                f"{row['wall2']:.0f}",
                f"{row['wer0'] / row['n0']:.3f}" if row.get("n0") else "-",
            ]
        )
    lines = EARLIER + lines
    return "\n".join(
        [
            "## Recovered loops (`python -m benchmarks loops`)",
            "",
            f"Machine: {machine()}.",
            "Audio: the 4 demo episodes' scripts, read by the demo's espeak-ng voices (14.5"
            " min) and by flite's (13.2 min), made narrow-band radio (3 kHz low-pass,"
            " 8 kHz, 8-bit mu-law) with white noise at the SNR shown; default settings."
            " Flagged seconds are those of segments the guard marks as a loop or low"
            " confidence (what the second pass retries); recovered seconds include speech the"
            " first pass skipped. WER is over the reference turns that recovered segments"
            " fall in, against the searchable text in their time spans: one pass (flagged"
            " text left out, as search leaves it out) and with recovery. The last column is"
            " the first pass's WER on the turns it flagged nothing in: what this audio and"
            " model give where they do not loop, a ceiling for the second pass.",
            "",
            table(header, lines),
        ]
    )
