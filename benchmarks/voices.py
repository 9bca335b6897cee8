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
import tarfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import REALDATA, ROOT

SAMPLE_RATE = 16000
CACHE = ROOT / "data" / "bench" / "voices"
# pyannote.audio's source distribution on PyPI (MIT licence) carries a 30 s two-person
# call with its reference (src/pyannote/audio/sample/) and fourteen 30 s excerpts of AMI
# meetings (CC BY 4.0) with RTTM references (tests/data/), which it splits into train,
# development and test recordings.
PYANNOTE_SDIST = "pyannote-audio==4.0.7"
Turn = tuple[float, float, str]

# Calibration: pyannote's ten "train" meetings and the single-speaker files of
# ../shared/realdata. Held out: its development and test meetings and the call, and
# every conversation built from their voices. Nothing held out chose a setting.
CALIBRATION_MEETINGS = tuple(f"trn{n:02d}" for n in range(10))
HELD_OUT_MEETINGS = ("dev00", "dev01", "tst00", "tst01")
SINGLE_SPEAKER_FILES = ("jfk", "stereo-left", "stereo-right", "hotwords", "multilingual")
MIN_VOICE = 3.0  # seconds of one-voice speech a voice needs to take part in a conversation
# Silero as the one-person files' speech was first cut for the conversations (its
# default threshold and padding): fixed here, so that changing the product's detector
# (diarize.SPEECH_VAD) never changes the material it is measured on.
MATERIAL_VAD = {"min_silence_duration_ms": 300}


@dataclass
class Recording:
    name: str
    path: Path
    reference: list[Turn]
    scored: tuple[float, float] | None = None
    group: str = "held out"  # or "demo", "calibration"


def fetch_pyannote(cache: Path = CACHE) -> Path | None:
    """The folder of pyannote.audio's recordings and references, downloaded once from
    PyPI (the source distribution alone, without dependencies: only its data is used)."""
    folder = cache / "pyannote"
    if (folder / "sample.rttm").exists():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    try:
        subprocess.run(
            [*download, "-q", "-d", str(cache), PYANNOTE_SDIST],
            check=True,
            timeout=600,
            capture_output=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for archive in cache.glob("pyannote_audio-*.tar.gz"):
        folder.mkdir(exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                wanted = parts[-2:-1] in (("sample",), ("data",)) and member.isfile()
                if wanted and Path(member.name).suffix in (".wav", ".rttm"):
                    source = tar.extractfile(member)
                    if source is not None:  # trñ00.wav is trn00 in the references
                        name = unicodedata.normalize("NFKD", parts[-1]).encode("ascii", "ignore")
                        (folder / name.decode()).write_bytes(source.read())
        archive.unlink()
    return folder if (folder / "sample.rttm").exists() else None


def read_rttm(path: Path, recording: str | None = None) -> list[Turn]:
    """(start, end, speaker) turns of one recording in the file (or of all of them)."""
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


def real_recordings() -> list[Recording]:
    """pyannote.audio's AMI meeting excerpts and its two-person call, where the download
    worked. Each AMI excerpt is scored over its 30 s (its UEM)."""
    folder = fetch_pyannote()
    if folder is None:
        return []
    references = {
        name: turns
        for rttm in folder.glob("debug.*.rttm")
        for name in (*CALIBRATION_MEETINGS, *HELD_OUT_MEETINGS)
        if (turns := read_rttm(rttm, name))
    }
    found = [
        Recording(
            name,
            folder / f"{name}.wav",
            references[name],
            (0.0, 30.0),
            "calibration" if name in CALIBRATION_MEETINGS else "held out",
        )
        for name in (*CALIBRATION_MEETINGS, *HELD_OUT_MEETINGS)
        if name in references and (folder / f"{name}.wav").exists()
    ]
    call = read_rttm(folder / "sample.rttm")
    return [*found, Recording("pyannote sample call", folder / "sample.wav", call)]


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
    from pipeline.speakers.diarize import speech_regions

    regions = speech_regions(samples, vad=MATERIAL_VAD)
    return [
        samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in regions if b - a >= 0.4
    ]


def single_speaker_voices(realdata: Path = REALDATA) -> dict[str, list[np.ndarray]]:
    """The voices of ../shared/realdata's one-person files (each stereo channel is one
    person): name -> its speech pieces."""
    from pipeline.audio.decode import load_audio

    files: dict[str, tuple[str, int | None]] = {
        "jfk": ("jfk.wav", None),
        "hotwords": ("hotwords.mp3", None),
        "multilingual": ("multilingual.mp3", None),
        "stereo-left": ("stereo_diarization.wav", 0),
        "stereo-right": ("stereo_diarization.wav", 1),
    }
    found = {
        name: _speech(load_audio(realdata / "audio" / file, channel=channel))
        for name, (file, channel) in files.items()
        if (realdata / "audio" / file).exists()
    }
    return {name: pieces for name, pieces in found.items() if pieces}


def built_conversations(
    recordings: list[Recording],
) -> Iterator[tuple[str, str, np.ndarray, list[Turn]]]:
    """(set, name, samples, turns) of conversations built from real voices, each at full
    band and by telephone: six mixing the one-person files' voices (calibration), and
    one per real recording from its own people's one-voice stretches (the recording's
    set), so its voices share one room and microphone as a podcast's do."""
    from pipeline.audio.decode import load_audio

    sources = [("calibration", "one-person files", single_speaker_voices(), 6)]
    for recording in recordings:
        pieces = one_voice_pieces(load_audio(recording.path), recording.reference)
        sources.append((recording.group, recording.name, pieces, 1))
    for seed, (group, origin, pieces, count) in enumerate(sources):
        present = [
            n for n in sorted(pieces) if sum(p.size for p in pieces[n]) >= MIN_VOICE * SAMPLE_RATE
        ]
        rng = np.random.default_rng(seed)
        for index in range(count):
            size = min(len(present), 2 + index % 3)
            if size < 2:
                break
            people = [str(p) for p in rng.choice(present, size, replace=False)]
            samples, turns = conversation(pieces, people, seed * 100 + index)
            name = f"{size} voices of {origin}" + (f" #{index + 1}" if count > 1 else "")
            yield group, name, samples, turns
            yield group, f"{name}, telephone", telephone(samples, seed), turns


def conversation(
    pieces: dict[str, list[np.ndarray]], people: list[str], seed: int, seconds: float = 45.0
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


def stereo_pair(realdata: Path = REALDATA) -> tuple[np.ndarray, list[Turn]] | None:
    """The stereo test file's two people one after the other, in mono: a two-speaker
    recording with exact turns."""
    from pipeline.audio.decode import load_audio

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
