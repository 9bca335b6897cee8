"""Regenerate the demo podcast from its scripts: audio, ground truth and feed.

    .venv/bin/python data/demo/build.py

Needs espeak-ng (Debian package) and PyAV. Every line of every script in
episodes/*.toml is spoken by its speaker's espeak-ng voice (show.toml), lines are
joined with short pauses after a synthetic jingle, and the result is encoded to
MP3. The exact timing of every line is written as ground truth (turns.json and
RTTM), and feed.xml is written to match the files byte for byte.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
import wave
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import av
import numpy as np

HERE = Path(__file__).resolve().parent
AUDIO = HERE / "audio"
RATE = 16000
JINGLE_SECONDS = 3.0
AFTER_JINGLE = 0.8
BITRATE = 48_000


def synthesize(text: str, voice: dict) -> np.ndarray:
    """One line through espeak-ng, as 16 kHz mono float32."""
    command = [
        "espeak-ng", "-v", voice["voice"], "-p", str(voice["pitch"]), "-s", str(voice["speed"]),
        "--stdout", text,
    ]
    wav = subprocess.run(command, check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    positions = np.arange(0, samples.size * RATE / rate) * rate / RATE
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """espeak pads lines with silence; the pauses between lines are ours to choose."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def jingle() -> np.ndarray:
    """A few soft sine chords with a fade: music for voice activity detection to skip."""
    t = np.arange(int(JINGLE_SECONDS * RATE)) / RATE
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6)]
    out = np.zeros_like(t)
    step = t.size // len(chords)
    for i, chord in enumerate(chords):
        part = slice(i * step, (i + 1) * step)
        out[part] = sum(np.sin(2 * np.pi * f * t[part]) for f in chord) / len(chord)
    envelope = np.minimum(1.0, np.minimum(t / 0.5, (t[-1] - t) / 0.8))
    return (0.25 * out * envelope).astype(np.float32)


def pause(index: int) -> float:
    """Deterministic, natural-sounding gaps between 0.35 and 0.7 s."""
    return 0.35 + (index * 7 % 8) * 0.05


def render(episode: dict, voices: dict) -> tuple[np.ndarray, list[dict]]:
    pieces = [jingle(), np.zeros(int(AFTER_JINGLE * RATE), np.float32)]
    cursor = JINGLE_SECONDS + AFTER_JINGLE
    turns = []
    for index, line in enumerate(episode["lines"]):
        voice = voices[line["speaker"]]
        speech = trim(synthesize(line["text"], voice))
        start = cursor
        cursor += speech.size / RATE
        turns.append(
            {
                "index": index,
                "speaker": line["speaker"],
                "name": voice["name"],
                "start": round(start, 3),
                "end": round(cursor, 3),
                "text": line["text"],
                "themes": line.get("themes", []),
            }
        )
        gap = pause(index)
        pieces += [speech, np.zeros(int(gap * RATE), np.float32)]
        cursor += int(gap * RATE) / RATE
    samples = np.concatenate(pieces)
    return (samples * (0.7 / np.abs(samples).max())).astype(np.float32), turns


def encode_mp3(samples: np.ndarray, path: Path) -> None:
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = BITRATE
        frame_size = 1152
        for start in range(0, samples.size, frame_size * 64):
            chunk = samples[start : start + frame_size * 64]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0)) / RATE


def write_rttm(name: str, turns: list[dict], path: Path) -> None:
    lines = [
        f"SPEAKER {name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> "
        f"{t['speaker']} <NA> <NA>"
        for t in turns
    ]
    path.write_text("\n".join(lines) + "\n")


def vtt_time(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{round(seconds % 1 * 1000) % 1000:03d}"


def write_vtt(turns: list[dict], path: Path) -> None:
    cues = ["WEBVTT", ""]
    for turn in turns:
        cues += [
            str(turn["index"] + 1),
            f"{vtt_time(turn['start'])} --> {vtt_time(turn['end'])}",
            f"<v {turn['name']}>{escape(turn['text'])}",
            "",
        ]
    path.write_text("\n".join(cues))


def clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def person(name: str, role: str) -> str:
    return f'<podcast:person role="{role}" group="cast">{escape(name)}</podcast:person>'


def item_xml(episode: dict, voices: dict, mp3: Path, seconds: float) -> str:
    published = datetime.fromisoformat(episode["published"].replace("Z", "+00:00"))
    names = [(p.get("feed_name") or voices[p["key"]]["name"], p["role"]) for p in episode["people"]]
    guests = "".join(f"<li>{escape(n)}</li>" for n, role in names if role == "guest")
    notes = f"<p>{escape(episode['summary'])}</p><p>Guests:</p><ul>{guests}</ul>"
    parts = [
        f"<title>{escape(episode['title'])}</title>",
        f'<guid isPermaLink="false">{escape(episode["guid"])}</guid>',
        f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>",
        f"<description>{escape(episode['summary'])}</description>",
        f"<content:encoded><![CDATA[{notes}]]></content:encoded>",
        f'<enclosure url="audio/{mp3.name}" type="audio/mpeg" length="{mp3.stat().st_size}"/>',
        f"<itunes:duration>{clock(seconds)}</itunes:duration>",
        f"<itunes:season>{episode['season']}</itunes:season>",
        f"<itunes:episode>{episode['number']}</itunes:episode>",
        *(person(name, role) for name, role in names),
    ]
    if episode.get("transcript"):
        vtt = f"audio/{mp3.stem}.vtt"
        parts.append(
            f'<podcast:transcript url="{vtt}" type="text/vtt" language="en" rel="captions"/>'
        )
    return "<item>\n      " + "\n      ".join(parts) + "\n    </item>"


def feed_xml(show: dict, items: list[str]) -> str:
    host = next(v["name"] for v in show["voices"].values() if v["name"] == show["author"])
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{escape(show["title"])}</title>
    <link>{escape(show["link"])}</link>
    <description>{escape(show["description"])}</description>
    <language>{show["language"]}</language>
    <itunes:author>{escape(show["author"])}</itunes:author>
    <itunes:image href={quoteattr(show["image"])}/>
    <itunes:category text="Business"><itunes:category text="Management"/></itunes:category>
    {person(host, "host")}
    {(chr(10) + "    ").join(items)}
  </channel>
</rss>
"""


def main() -> None:
    show = tomllib.loads((HERE / "show.toml").read_text())
    AUDIO.mkdir(exist_ok=True)
    episodes = [tomllib.loads(p.read_text()) for p in sorted((HERE / "episodes").glob("ep*.toml"))]
    items = []
    for number, episode in enumerate(episodes, start=1):
        name = f"ep{number:02d}"
        samples, turns = render(episode, show["voices"])
        mp3 = AUDIO / f"{name}.mp3"
        encode_mp3(samples, mp3)
        seconds = decoded_seconds(mp3)
        if abs(seconds - samples.size / RATE) > 0.2:
            sys.exit(f"{mp3} decodes to {seconds:.2f} s, expected {samples.size / RATE:.2f} s")
        (AUDIO / f"{name}.turns.json").write_text(json.dumps(turns, indent=1) + "\n")
        write_rttm(name, turns, AUDIO / f"{name}.rttm")
        if episode.get("transcript"):
            write_vtt(turns, AUDIO / f"{name}.vtt")
        items.append(item_xml(episode, show["voices"], mp3, seconds))
        print(f"{name}: {seconds:6.1f} s, {mp3.stat().st_size / 1e6:.2f} MB, {len(turns)} lines")
    (HERE / "feed.xml").write_text(feed_xml(show, items[::-1]))  # newest first


if __name__ == "__main__":
    main()
