"""Real voices for diarization: the recordings in ../shared/realdata, the two-person
call that pyannote.audio ships in its PyPI wheel, and conversations built from them
with known turns.

Every voice here is a real person recorded by someone else; nothing is synthetic
speech. A built conversation interleaves pieces of several voices (varied turn
lengths, a few short backchannels, short pauses), at full band or through a
telephone line, so its reference turns are exact.

Voices are split in two: the calibration set, on which the clustering's settings were
chosen, and the held-out set, which nobody looked at while choosing them.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import REALDATA, ROOT

SAMPLE_RATE = 16000
CACHE = ROOT / "data" / "bench" / "voices"
# pyannote.audio's wheel carries a 30 s, two-person telephone-style call with its
# reference turns (pyannote/audio/sample/sample.wav + sample.rttm, MIT licence).
PYANNOTE_WHEEL = "pyannote-audio==4.0.7"
Turn = tuple[float, float, str]

# Which voice belongs to which set. Calibration: the single-speaker files. Held out:
# the people of the two real multi-speaker recordings, so the conversations built from
# them and the recordings themselves were never used to choose a setting.
CALIBRATION = ("jfk", "stereo-left", "stereo-right", "hotwords", "multilingual")
HELD_OUT = ("speaker90", "speaker91", "MEE071", "MEE073", "FEO070", "FEO072")
MIN_VOICE = 3.0  # seconds of one-voice speech a voice needs to take part in a conversation


@dataclass
class Recording:
    name: str
    path: Path
    reference: list[Turn]
    scored: tuple[float, float] | None = None
    group: str = "real"  # or "demo", "calibration", "held out"


def fetch_pyannote_sample(cache: Path = CACHE) -> Path | None:
    """sample.wav and sample.rttm from pyannote.audio's wheel, downloaded once from
    PyPI (without its dependencies: we only want the two data files)."""
    wav, rttm = cache / "sample.wav", cache / "sample.rttm"
    if wav.exists() and rttm.exists():
        return wav
    cache.mkdir(parents=True, exist_ok=True)
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache)]
    try:
        subprocess.run([*download, PYANNOTE_WHEEL], check=True, timeout=300, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        return None
    for wheel in cache.glob("pyannote_audio-*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            for name in ("sample.wav", "sample.rttm"):
                (cache / name).write_bytes(archive.read(f"pyannote/audio/sample/{name}"))
        wheel.unlink()
    return wav if wav.exists() else None


def read_rttm(path: Path, recording: str | None = None) -> list[Turn]:
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


def real_recordings(realdata: Path = REALDATA) -> list[Recording]:
    """The real multi-speaker recordings that are present on this machine."""
    found = []
    ami = realdata / "audio" / "ami_tst00.wav"
    if ami.exists():
        rttm = realdata / "audio" / "ami_debug.test.rttm"
        found.append(Recording("ami_tst00.wav", ami, read_rttm(rttm, "tst00"), (0.0, 30.0)))
    sample = fetch_pyannote_sample()
    if sample:
        found.append(
            Recording("pyannote sample.wav", sample, read_rttm(sample.with_suffix(".rttm")))
        )
    return found


def one_voice_pieces(samples: np.ndarray, reference: list[Turn]) -> dict[str, list[np.ndarray]]:
    """Each speaker's stretches where nobody else talks (0.1 s trimmed off each end)."""
    pieces: dict[str, list[np.ndarray]] = {}
    for start, end, name in reference:
        others = [(s, e) for s, e, n in reference if n != name and s < end and e > start]
        cuts = [start]
        for s, e in sorted(others):
            cuts += [s, e]
        cuts.append(end)
        for a, b in zip(cuts[::2], cuts[1::2], strict=True):
            a, b = max(a, start) + 0.1, min(b, end) - 0.1
            if b - a >= 0.4:
                pieces.setdefault(name, []).append(
                    samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
                )
    return pieces


def _speech(samples: np.ndarray) -> list[np.ndarray]:
    from ..diarize import speech_regions

    regions = speech_regions(samples)
    return [
        samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in regions if b - a >= 0.4
    ]


def voices(realdata: Path = REALDATA) -> dict[str, list[np.ndarray]]:
    """Every real voice present on this machine: name -> its one-voice speech pieces."""
    from ..audio import load_audio

    audio = realdata / "audio"
    found: dict[str, list[np.ndarray]] = {}
    singles: dict[str, tuple[str, int | None]] = {
        "jfk": ("jfk.wav", None),
        "hotwords": ("hotwords.mp3", None),
        "multilingual": ("multilingual.mp3", None),
        "stereo-left": ("stereo_diarization.wav", 0),
        "stereo-right": ("stereo_diarization.wav", 1),
    }
    for name, (file, channel) in singles.items():
        if (audio / file).exists():
            found[name] = _speech(load_audio(audio / file, channel=channel))
    for recording in real_recordings(realdata):
        found |= one_voice_pieces(load_audio(recording.path), recording.reference)
    return {name: pieces for name, pieces in found.items() if pieces}


def conversation(
    pieces: dict[str, list[np.ndarray]], people: list[str], seed: int, seconds: float = 60.0
) -> tuple[np.ndarray, list[Turn]]:
    """A conversation of ``people`` with known turns: each turn the next 1-8 s of one
    voice's speech (its pieces read in order, from the start again when used up), one
    turn in seven a short backchannel (0.3-0.8 s), pauses of 0.1-0.6 s between turns,
    every voice at one loudness so level is no clue."""
    rng = np.random.default_rng(seed)
    streams = {p: np.concatenate(pieces[p]) for p in people}
    read = dict.fromkeys(people, 0)
    out: list[np.ndarray] = []
    turns: list[Turn] = []
    at, last = 0.0, None
    while at < seconds:
        speaker = str(rng.choice([p for p in people if p != last]))
        want = rng.uniform(0.3, 0.8) if rng.random() < 1 / 7 else rng.uniform(1.0, 8.0)
        stream = streams[speaker]
        size = min(int(want * SAMPLE_RATE), stream.size)
        first = read[speaker] % stream.size
        clip = np.roll(stream, -first)[:size]
        read[speaker] += size
        clip = clip / (np.sqrt(np.mean(clip**2)) or 1.0) * 0.05
        pause = np.zeros(int(rng.uniform(0.1, 0.6) * SAMPLE_RATE), np.float32)
        out += [clip.astype(np.float32), pause]
        turns.append((at, at + size / SAMPLE_RATE, speaker))
        at += (size + pause.size) / SAMPLE_RATE
        last = speaker
    return np.concatenate(out), turns


def telephone(samples: np.ndarray, seed: int) -> np.ndarray:
    """The same conversation through a telephone line: 300-3400 Hz, 8 kHz, mu-law, hiss
    30 dB below the speech."""
    from scipy.signal import butter, resample_poly, sosfilt

    band = sosfilt(butter(6, [300, 3400], btype="band", fs=SAMPLE_RATE, output="sos"), samples)
    narrow = resample_poly(resample_poly(band, 1, 2), 2, 1)
    mu = 255.0
    coded = np.sign(narrow) * np.log1p(mu * np.abs(np.clip(narrow * 8, -1, 1))) / np.log1p(mu)
    coded = np.round(coded * 127) / 127
    narrow = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu / 8
    hiss = (
        np.random.default_rng(seed).standard_normal(narrow.size)
        * np.sqrt(np.mean(narrow**2))
        * 10 ** (-30 / 20)
    )
    return (narrow + hiss).astype(np.float32)


def conversations(
    pieces: dict[str, list[np.ndarray]], names: tuple[str, ...], count: int, seed: int
) -> Iterator[tuple[str, np.ndarray, list[Turn]]]:
    """``count`` conversations of 2, 3 or 4 of ``names`` (those present), each at full
    band and by telephone."""
    present = [
        n for n in names if sum(p.size for p in pieces.get(n, [])) >= MIN_VOICE * SAMPLE_RATE
    ]
    rng = np.random.default_rng(seed)
    for index in range(count):
        size = min(len(present), 2 + index % 3)
        if size < 2:
            return
        people = [str(p) for p in rng.choice(present, size, replace=False)]
        samples, turns = conversation(pieces, people, seed + index)
        yield f"{size} voices #{index + 1}", samples, turns
        yield f"{size} voices #{index + 1}, telephone", telephone(samples, seed + index), turns


def stereo_pair(realdata: Path = REALDATA) -> tuple[np.ndarray, list[Turn]] | None:
    """The stereo test file's two people one after the other, in mono: a two-speaker
    recording with exact turns."""
    from ..audio import load_audio

    path = realdata / "audio" / "stereo_diarization.wav"
    if not path.exists():
        return None
    out, turns, at = [], [], 0.0
    for name, channel in (("left", 0), ("right", 1)):
        for piece in _speech(load_audio(path, channel=channel)):
            out += [piece, np.zeros(SAMPLE_RATE // 2, np.float32)]
            turns.append((at, at + piece.size / SAMPLE_RATE, name))
            at += piece.size / SAMPLE_RATE + 0.5
    return np.concatenate(out), turns
