"""Regenerate the demo podcast from its scripts: audio, ground truth and feed.

    .venv/bin/python data/demo/build.py

Needs espeak-ng (the Debian package) and PyAV; nothing else, no network. Every line
of every script in episodes/*.toml is spoken by its speaker's espeak-ng voice
(show.toml), lines are joined with short pauses between a synthetic jingle and a
short musical outro, and the result is encoded to MP3. The exact timing of every
line is written as ground truth (epNN.turns.json and epNN.rttm; epNN.vtt for the
episode that ships a publisher transcript), and feed.xml is written to match the
audio files byte for byte.

The output is deterministic: the same scripts, espeak-ng and PyAV give the same files.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tomllib
import wave
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from html import escape as html_escape
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parent
AUDIO = HERE / "audio"
EPISODES = HERE / "episodes"

RATE = 16_000  # Hz, mono: what speech models want, and MPEG-2 layer III supports it
BITRATE = 48_000  # bit/s
JINGLE_SECONDS = 3.0
AFTER_JINGLE = 0.8
BEFORE_OUTRO = 1.2  # after the last line
OUTRO_SECONDS = 2.0
PEAK = 10 ** (-3 / 20)  # -3 dBFS

NS = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
}


# --- Audio ----------------------------------------------------------------------------


def spoken(text: str, pronounce: dict[str, str]) -> str:
    """The text as espeak-ng should read it: whole words respelled per show.toml [pronounce]."""
    for word, respelling in pronounce.items():
        text = re.sub(rf"\b{re.escape(word)}\b", respelling, text)
    return text


def synthesize(text: str, voice: dict) -> np.ndarray:
    """One line through espeak-ng, as RATE Hz mono float32 (text passed as one argv item)."""
    command = [
        "espeak-ng",
        "-v", voice["voice"],
        "-p", str(voice["pitch"]),
        "-s", str(voice["speed"]),
        "--stdout",
        "--", text,
    ]  # fmt: skip
    return read_wav(subprocess.run(command, check=True, capture_output=True).stdout)


def read_wav(wav: bytes) -> np.ndarray:
    """A synthesiser's WAV output as RATE Hz mono float32."""
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        channels = reader.getnchannels()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples, rate)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Linear interpolation to RATE (espeak-ng speaks at 22050 Hz)."""
    if rate == RATE:
        return samples.astype(np.float32)
    count = int(samples.size * RATE / rate)
    positions = np.arange(count) * (rate / RATE)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def trim(samples: np.ndarray, threshold: float = 0.005) -> np.ndarray:
    """espeak-ng pads every line with silence; the pauses between lines are ours to set."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if not loud.size:
        return samples
    start = max(0, loud[0] - int(0.01 * RATE))
    end = min(samples.size, loud[-1] + int(0.02 * RATE))
    return samples[start:end]


INTRO_CHORDS = [
    (261.63, 329.63, 392.00, 523.25),  # C
    (220.00, 261.63, 329.63, 440.00),  # Am
    (174.61, 220.00, 261.63, 349.23),  # F
    (196.00, 246.94, 293.66, 392.00),  # G
]
OUTRO_CHORDS = [INTRO_CHORDS[2], INTRO_CHORDS[0]]  # F, C: a plagal close


def jingle(seconds: float = JINGLE_SECONDS, chords: list = INTRO_CHORDS) -> np.ndarray:
    """Soft chords of sine tones, each swelling and fading, the whole faded in and out:
    music that voice activity detection should skip."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    step = t.size // len(chords)
    for i, chord in enumerate(chords):
        part = slice(i * step, t.size if i == len(chords) - 1 else (i + 1) * step)
        local = t[part] - t[part][0]
        length = local[-1] if local.size > 1 else 1.0
        swell = np.sin(np.pi * local / length) ** 0.6  # no clicks between chords
        tone = sum(
            np.sin(2 * np.pi * f * local) + 0.25 * np.sin(4 * np.pi * f * local) for f in chord
        )
        out[part] = swell * tone / (1.25 * len(chord))
    fade = np.minimum(1.0, np.minimum(t / 0.6, (t[-1] - t) / 0.9))
    return (0.35 * out * fade).astype(np.float32)


def pause(index: int) -> float:
    """The gap after line `index`: deterministic, natural-looking, 0.35 to 0.70 s."""
    return 0.35 + ((index * 5 + 3) % 8) * 0.05


def render(
    episode: dict, voices: dict, pronounce: dict[str, str], speak: Callable = synthesize
) -> tuple[np.ndarray, list[dict]]:
    """The episode's samples (peak -3 dBFS) and one timed turn per script line, each line
    spoken by ``speak(text, voice)`` (espeak-ng; benchmarks/loops.py also uses flite)."""
    pieces = [jingle(), np.zeros(int(AFTER_JINGLE * RATE), np.float32)]
    position = sum(p.size for p in pieces)  # in samples, so the timings are exact
    turns = []
    for index, line in enumerate(episode["lines"]):
        voice = voices[line["speaker"]]
        speech = trim(speak(spoken(line["text"], pronounce), voice))
        gap = np.zeros(int(round(pause(index) * RATE)), np.float32)
        turns.append(
            {
                "index": index,
                "speaker": line["speaker"],
                "name": voice["name"],
                "start": round(position / RATE, 3),
                "end": round((position + speech.size) / RATE, 3),
                "text": line["text"],
                "themes": list(line.get("themes", [])),
            }
        )
        pieces += [speech, gap]
        position += speech.size + gap.size
    pieces += [np.zeros(int(BEFORE_OUTRO * RATE), np.float32), jingle(OUTRO_SECONDS, OUTRO_CHORDS)]
    samples = np.concatenate(pieces)
    return (samples * (PEAK / np.abs(samples).max())).astype(np.float32), turns


def encode_mp3(samples: np.ndarray, path: Path, title: str, artist: str) -> None:
    with av.open(str(path), "w", format="mp3") as container:
        container.metadata["title"] = title
        container.metadata["artist"] = artist
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = BITRATE
        chunk = 1152 * 32
        for start in range(0, samples.size, chunk):
            block = np.ascontiguousarray(samples[start : start + chunk].reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decode(path: Path) -> np.ndarray:
    """The MP3 decoded again with PyAV, as RATE Hz mono float32."""
    with av.open(str(path)) as container:
        blocks = [
            frame.to_ndarray().reshape(frame.samples, -1).mean(axis=1)
            if frame.format.is_packed
            else frame.to_ndarray().mean(axis=0)
            for frame in container.decode(audio=0)
        ]
        rate = container.streams.audio[0].rate
    return resample(np.concatenate(blocks).astype(np.float32), rate)


def check_mp3(path: Path, original: np.ndarray, turns: list[dict]) -> tuple[float, float]:
    """Decode the file again: its length must match, and its timing must not have shifted
    (encoder delay not stripped would move every ground-truth turn). Returns
    (seconds, lag in ms)."""
    decoded = decode(path)
    seconds = decoded.size / RATE
    expected = original.size / RATE
    if abs(seconds - expected) > 0.1:
        sys.exit(f"{path.name} decodes to {seconds:.3f} s, expected {expected:.3f} s")
    # Lag of the decoded audio against the original, around the first spoken line.
    start = int(turns[0]["start"] * RATE)
    ref = original[start : start + 4 * RATE]
    best, lag = -np.inf, 0
    for shift in range(-800, 801, 4):
        seg = decoded[start + shift : start + shift + ref.size]
        if seg.size == ref.size:
            score = float(np.dot(seg, ref))
            if score > best:
                best, lag = score, shift
    if abs(lag) > 0.02 * RATE:
        sys.exit(f"{path.name} is shifted by {lag / RATE * 1000:.0f} ms against its turns")
    # Pauses really are silent in the decoded file.
    for turn, following in zip(turns, turns[1:], strict=False):
        gap = decoded[int((turn["end"] + 0.08) * RATE) : int((following["start"] - 0.08) * RATE)]
        if gap.size and np.abs(gap).max() > 0.05:
            sys.exit(f"{path.name}: the pause after line {turn['index']} is not silent")
    return seconds, lag / RATE * 1000


# --- Ground truth -----------------------------------------------------------------------


def write_turns(turns: list[dict], path: Path) -> None:
    path.write_text(json.dumps(turns, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_rttm(name: str, turns: list[dict], path: Path) -> None:
    lines = [
        f"SPEAKER {name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> "
        f"{t['speaker']} <NA> <NA>"
        for t in turns
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def vtt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_vtt(turns: list[dict], path: Path) -> None:
    """WebVTT, one cue per line, with <v Full Name> voice tags."""
    cues = ["WEBVTT", ""]
    for turn in turns:
        text = html_escape(turn["text"], quote=False)
        cues += [
            str(turn["index"] + 1),
            f"{vtt_time(turn['start'])} --> {vtt_time(turn['end'])}",
            f"<v {turn['name']}>{text}</v>",
            "",
        ]
    path.write_text("\n".join(cues), encoding="utf-8")


# --- Feed -------------------------------------------------------------------------------


def q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def episode_people(episode: dict, voices: dict) -> list[tuple[str, str]]:
    """(name as the feed gives it, role) for each person on the episode."""
    return [(p.get("feed_name") or voices[p["key"]]["name"], p["role"]) for p in episode["people"]]


def add_item(channel: ET.Element, episode: dict, voices: dict, mp3: Path, seconds: float) -> None:
    item = sub(channel, "item")
    published = datetime.fromisoformat(episode["published"].replace("Z", "+00:00"))
    people = episode_people(episode, voices)
    sub(item, "title", episode["title"])
    sub(item, "guid", episode["guid"], isPermaLink="false")
    sub(item, "pubDate", format_datetime(published, usegmt=True))
    sub(item, "description", episode["summary"])
    guests = "".join(f"<li>{html_escape(n, quote=False)}</li>" for n, r in people if r == "guest")
    html = f"<p>{html_escape(episode['summary'], quote=False)}</p><p>Guests:</p><ul>{guests}</ul>"
    sub(item, q("content", "encoded"), html)
    sub(
        item,
        "enclosure",
        url=f"audio/{mp3.name}",
        type="audio/mpeg",
        length=str(mp3.stat().st_size),
    )
    sub(item, q("itunes", "title"), episode["title"])
    sub(item, q("itunes", "duration"), clock(seconds))
    sub(item, q("itunes", "season"), str(episode["season"]))
    sub(item, q("itunes", "episode"), str(episode["number"]))
    sub(item, q("itunes", "episodeType"), "full")
    sub(item, q("itunes", "explicit"), "false")
    for name, role in people:
        sub(item, q("podcast", "person"), name, role=role, group="cast")
    if episode.get("transcript"):
        sub(
            item,
            q("podcast", "transcript"),
            url=f"audio/{mp3.stem}.vtt",
            type="text/vtt",
            language="en",
            rel="captions",
        )


def build_feed(show: dict, items: list[tuple[dict, Path, float]]) -> bytes:
    for prefix, uri in NS.items():
        ET.register_namespace(prefix, uri)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = sub(rss, "channel")
    sub(channel, "title", show["title"])
    sub(channel, "link", show["link"])
    sub(channel, "description", show["description"])
    sub(channel, "language", show["language"])
    sub(channel, "generator", "podinsights data/demo/build.py")
    sub(
        channel,
        q("atom", "link"),
        href=show["link"].rstrip("/") + "/feed.xml",
        rel="self",
        type="application/rss+xml",
    )
    sub(channel, q("itunes", "author"), show["author"])
    sub(channel, q("itunes", "summary"), show["description"])
    sub(channel, q("itunes", "image"), href=show["image"])
    category = ET.SubElement(channel, q("itunes", "category"), {"text": "Business"})
    ET.SubElement(category, q("itunes", "category"), {"text": "Management"})
    sub(channel, q("itunes", "explicit"), "false")
    sub(channel, q("itunes", "type"), "episodic")
    sub(channel, q("podcast", "person"), show["author"], role="host", group="cast")
    newest_first = sorted(items, key=lambda i: i[0]["published"], reverse=True)
    for episode, mp3, seconds in newest_first:
        add_item(channel, episode, show["voices"], mp3, seconds)
    ET.indent(rss, space="  ")
    body = ET.tostring(rss, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


# --- Main -------------------------------------------------------------------------------


def check_voices(voices: dict) -> None:
    """Every voice's variant must really change the sound: espeak-ng ignores some
    (e.g. "en-gb+f3" sounds exactly like "en-gb"; "en+f3" works)."""
    for key, voice in voices.items():
        base, plus, _ = voice["voice"].partition("+")
        if not plus:
            continue
        outputs = {
            subprocess.run(
                ["espeak-ng", "-v", spec, "--stdout", "--", "Testing one two three."],
                check=True,
                capture_output=True,
            ).stdout
            for spec in (base, voice["voice"])
        }
        if len(outputs) == 1:
            sys.exit(f"{key}: espeak-ng ignores the variant in {voice['voice']!r}")


def load() -> tuple[dict, list[dict]]:
    show = tomllib.loads((HERE / "show.toml").read_text(encoding="utf-8"))
    episodes = [
        tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(EPISODES.glob("ep*.toml"))
    ]
    guids = [e["guid"] for e in episodes]
    if len(set(guids)) != len(guids):
        sys.exit("episode GUIDs must be unique")
    if sum(bool(e.get("transcript")) for e in episodes) > 1:
        sys.exit("only one episode ships a publisher transcript")
    for episode in episodes:
        for line in episode["lines"]:
            if line["speaker"] not in show["voices"]:
                sys.exit(f"{episode['guid']}: unknown speaker {line['speaker']!r}")
    return show, episodes


def main() -> None:
    show, episodes = load()
    check_voices(show["voices"])
    AUDIO.mkdir(exist_ok=True)
    items = []
    total_bytes = 0
    for episode in episodes:
        name = f"ep{episode['number']:02d}"
        samples, turns = render(episode, show["voices"], show.get("pronounce", {}))
        mp3 = AUDIO / f"{name}.mp3"
        encode_mp3(samples, mp3, episode["title"], show["title"])
        seconds, lag_ms = check_mp3(mp3, samples, turns)
        write_turns(turns, AUDIO / f"{name}.turns.json")
        write_rttm(name, turns, AUDIO / f"{name}.rttm")
        vtt = AUDIO / f"{name}.vtt"
        if episode.get("transcript"):
            write_vtt(turns, vtt)
        elif vtt.exists():
            vtt.unlink()
        items.append((episode, mp3, seconds))
        size = mp3.stat().st_size
        total_bytes += size
        words = sum(len(t["text"].split()) for t in turns)
        speakers = sorted({t["speaker"] for t in turns})
        print(
            f"{name}: {clock(seconds)} ({seconds:6.1f} s), {size / 1e6:.2f} MB, "
            f"{len(turns)} lines, {words} words, speakers {', '.join(speakers)}, "
            f"timing lag {lag_ms:+.1f} ms" + (", + WebVTT" if episode.get("transcript") else "")
        )
    (HERE / "feed.xml").write_bytes(build_feed(show, items))
    print(f"total {total_bytes / 1e6:.2f} MB; wrote {HERE / 'feed.xml'}")


if __name__ == "__main__":
    main()
