"""Second-pass settings on the loops benchmark's audio (docs/benchmarks.md, "Second-pass
settings tried"): the first pass is decoded once per episode, then the second pass
(pipeline.transcribe.recovery.recover, the guard, then an acceptance test) runs with each
setting and seed. Share recovered and WER are computed as `python -m benchmarks loops`
computes them; the table is printed, not written into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.models import Segment

from . import table
from .asr import normalizer
from .loops import SNRS, degrade, episodes, flagged_seconds, touched_turns, weighted_wer, write_wav

Accept = Callable[[Segment], bool]


def lowpass(samples: np.ndarray, hz: float = 3400.0) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, hz, fs=16000, output="sos"), samples).astype(np.float32)


def wiener(samples: np.ndarray, alpha: float = 1.0, floor: float = 0.1) -> np.ndarray:
    """Spectral noise reduction: the noise in each band is its 10th-percentile power over
    the stretch (scaled to a mean, as for exponentially distributed power)."""
    from scipy.signal import istft, stft

    _, _, spectrum = stft(samples, fs=16000, nperseg=512)
    power = np.abs(spectrum) ** 2
    noise = np.percentile(power, 10, axis=1, keepdims=True) / -np.log(0.9)
    gain = np.maximum(1 - alpha * noise / np.maximum(power, 1e-12), floor)
    _, clean = istft(spectrum * gain, fs=16000, nperseg=512)
    return np.asarray(clean[: samples.size], dtype=np.float32)


# name -> model, changes to the second pass's decoding options, what is done to the audio
SETTINGS: dict[str, tuple[str, dict[str, Any], Callable[[np.ndarray], np.ndarray] | None]] = {
    "tiny.en, beam 2, VAD 0.6 (the default)": ("tiny.en", {}, None),
    "tiny.en, beam 5": ("tiny.en", {"beam_size": 5}, None),
    "base, beam 2": ("base", {}, None),
    "VAD threshold 0.5": ("tiny.en", {"vad": 0.5}, None),
    "VAD threshold 0.75": ("tiny.en", {"vad": 0.75}, None),
    "no VAD": ("tiny.en", {"vad_filter": False}, None),
    "temperatures 0-0.4 only": ("tiny.en", {"temperature": (0.0, 0.2, 0.4)}, None),
    "low-pass 3.4 kHz first": ("tiny.en", {}, lowpass),
    "Wiener noise reduction first": ("tiny.en", {}, wiener),
    "Wiener, 2x over-subtraction": ("tiny.en", {}, lambda x: wiener(x, 2.0, 0.05)),
}


def _mean_word_probability(segment: Segment) -> float:
    probabilities = [w.probability for w in segment.words if w.probability is not None]
    return float(np.mean(probabilities)) if probabilities else 1.0


ACCEPTS: dict[str, Accept] = {
    "": lambda s: True,
    "accept avg_logprob >= -0.7": lambda s: (s.avg_logprob or 0.0) >= -0.7,
    "accept mean word probability >= 0.5": lambda s: _mean_word_probability(s) >= 0.5,
    "accept no_speech_prob < 0.5": lambda s: (s.no_speech_prob or 0.0) < 0.5,
}


def first_passes(count: int, cache: Path) -> dict[tuple[float, str], Any]:
    """Per SNR and episode: the degraded samples, the first pass judged by the guard,
    the detected speech (as transcribe_file has them for a one-window episode) and the
    script's timed turns."""
    import pipeline.transcribe.guard as guard
    from pipeline.audio.decode import load_audio
    from pipeline.audio.vad import speech_spans
    from pipeline.transcribe.engines import AsrOptions, load_engine

    engine = load_engine("faster-whisper", "tiny.en", cache, AsrOptions(workers=1))
    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        for snr in SNRS["espeak-ng"]:
            for name, clean, turns in list(episodes("espeak-ng"))[:count]:
                path = Path(scratch) / "degraded.wav"
                write_wav(path, degrade(clean, snr))
                samples = load_audio(path)
                segments = guard.flag(engine.transcribe(samples, None, None).segments)
                found[(snr, name)] = (samples, segments, speech_spans(samples), turns)
    return found


def redecoder(name: str, cache: Path) -> Callable[[np.ndarray, int], list[Segment]]:
    import ctranslate2

    from pipeline.transcribe.engines import (
        LOOP_BREAKING,
        STRICT_VAD,
        AsrOptions,
        FasterWhisperEngine,
        _clean,
        _from_faster,
        load_engine,
    )

    model, changes, prepare = SETTINGS[name]
    engine = load_engine("faster-whisper", model, cache, AsrOptions(workers=1))
    assert isinstance(engine, FasterWhisperEngine)
    changes = dict(changes)
    vad = {**STRICT_VAD, "threshold": changes.pop("vad")} if "vad" in changes else STRICT_VAD
    memo: dict[tuple[int, bytes], list[Segment]] = {}

    def redecode(piece: np.ndarray, seed: int) -> list[Segment]:
        key = (seed, piece.tobytes())
        if key not in memo:  # the acceptance tests reuse the decodings
            kwargs = {**engine._kwargs("en", None), **LOOP_BREAKING, "vad_parameters": vad}
            kwargs.update(changes)
            if not kwargs["vad_filter"]:
                kwargs.pop("vad_parameters")
            ctranslate2.set_random_seed(seed)
            pieces, _ = engine.model.transcribe(prepare(piece) if prepare else piece, **kwargs)
            memo[key] = [_clean(_from_faster(p)) for p in pieces]
        return copy.deepcopy(memo[key])

    return redecode


def measure(
    found: dict[tuple[float, str], Any],
    redecode: Callable[[np.ndarray, int], list[Segment]],
    accept: Accept,
    snr: float,
    seed: int,
) -> tuple[float, float]:
    """Share of flagged seconds recovered and WER on the recovered turns, as loops.py."""
    import pipeline.transcribe.guard as guard
    from pipeline.transcribe.recovery import recover

    normalize = normalizer()
    before = after = errors = words = 0.0
    for (level, _), (samples, segments, speech, turns) in found.items():
        if level != snr:
            continue
        kept, _ = recover(
            samples, copy.deepcopy(segments), speech, lambda p: redecode(p, seed), accept
        )
        guard.flag(kept)
        for segment in kept:
            segment.recovered = segment.recovered and segment.quality in guard.SEARCHABLE
        before += flagged_seconds(segments)
        after += flagged_seconds(kept)
        touched = touched_turns(kept, turns)
        more_errors, more_words = weighted_wer(kept, touched, normalize)
        errors += more_errors
        words += more_words
    return (1 - after / before if before else float("nan")), (
        errors / words if words else float("nan")
    )


def _cell(values: list[float], digits: int) -> str:
    if any(np.isnan(v) for v in values):
        return "-"
    mean, low, high = np.mean(values), min(values), max(values)
    spread = f" ({low:.{digits}f}-{high:.{digits}f})" if high - low >= 10**-digits else ""
    return f"{mean:.{digits}f}{spread}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks loops-settings")
    parser.add_argument(
        "--setting", action="append", choices=list(SETTINGS), help="one (repeatable); default: all"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--cache", default="data/models")
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    found = first_passes(args.episodes, cache)
    rows = []
    for name in args.setting or list(SETTINGS):
        redecode = redecoder(name, cache)
        for label, accept in ACCEPTS.items():
            cells = [f"{name}, {label}" if label else name]
            for snr in SNRS["espeak-ng"]:
                runs = [measure(found, redecode, accept, snr, seed) for seed in range(args.seeds)]
                cells += [_cell([r[0] for r in runs], 2), _cell([r[1] for r in runs], 3)]
            rows.append(cells)
            print(" | ".join(cells), file=sys.stderr, flush=True)
    header = ["second pass"] + [
        f"{snr:.0f} dB: {m}" for snr in SNRS["espeak-ng"] for m in ("share", "WER")
    ]
    print(table(header, rows))
    return 0
