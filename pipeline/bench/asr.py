"""ASR benchmark: both engines on the same audio and weights; speed, memory, WER.

Every configuration runs in its own process, so its peak memory is its own and
models loaded by one never warm up another. Word error rate uses Whisper's
English text normalizer, against the demo scripts and the real clips' references.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..engines import AsrOptions
from . import DEMO_AUDIO, REALDATA, machine, peak_rss_mb, table, write_section


@dataclass(frozen=True)
class Config:
    label: str
    engine: str = "faster-whisper"
    model: str = "tiny.en"
    beam: int = AsrOptions.beam_size
    batch: int = AsrOptions.batch_size
    threads: int = AsrOptions.cpu_threads
    workers: int = AsrOptions.workers
    vad: bool = True
    words: bool = True


DEFAULT = Config("faster-whisper, our defaults")
OPENAI = Config("openai-whisper, its defaults", "openai-whisper", beam=0, vad=False, words=False)
# Its defaults skip word timings, which ours include: this row is like for like.
OPENAI_WORDS = Config("openai-whisper, with word timings", "openai-whisper", beam=0, vad=False)
SWEEP = [
    OPENAI_WORDS,
    Config("faster: 1 worker x 2 threads", workers=1, threads=2),
    Config("faster: 1 worker x 1 thread", workers=1, threads=1),
    Config("faster: beam 1", beam=1),
    Config("faster: beam 5", beam=5),
    Config("faster: batch 4", batch=4),
    Config("faster: batch 8", batch=8),
    Config("faster: sequential (no batching)", batch=1),
    Config("faster: no word timings", words=False),
]


def corpus() -> list[tuple[str, Path, str]]:
    """(name, audio, reference text) for every clip with a reference."""
    clips = []
    for turns in sorted(DEMO_AUDIO.glob("ep*.turns.json")):
        text = " ".join(t["text"] for t in json.loads(turns.read_text()))
        clips.append((f"demo {turns.name[:4]}", turns.with_name(turns.name[:4] + ".mp3"), text))
    audio = REALDATA / "audio"
    if (audio / "jfk.flac").exists():
        clips.append(("jfk.flac", audio / "jfk.flac", (audio / "jfk.ref.txt").read_text()))
        clips.append(
            (
                "multilingual.mp3 (silver)",
                audio / "multilingual.mp3",
                (audio / "multilingual.silver.txt").read_text(),
            )
        )
    return clips


def run_worker(argv: list[str]) -> int:
    """One configuration over the files, in this process; prints JSON on stdout."""
    from ..engines import load_engine
    from ..transcribe import transcribe_file

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    config = Config(**json.loads(args.config))
    options = AsrOptions(
        beam_size=config.beam,
        batch_size=config.batch,
        vad=config.vad,
        word_timestamps=config.words,
        cpu_threads=config.threads,
        workers=config.workers,
    )
    started = time.perf_counter()
    engine = load_engine(config.engine, config.model, Path(args.cache), options)
    load_seconds = time.perf_counter() - started

    def one(path: str) -> dict[str, Any]:
        transcript = transcribe_file(path, engine, options)
        return {
            "text": " ".join(s.text for s in transcript.segments if s.quality == "ok"),
            "seconds": transcript.audio_duration,
        }

    # Clips run as the transcribe stage runs episodes: `workers` at a time.
    cpu_before = os.times()
    started = time.perf_counter()
    with ThreadPoolExecutor(options.resolved_workers(config.engine)) as pool:
        results = list(pool.map(one, args.files))
    wall = time.perf_counter() - started
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    peak = peak_rss_mb()
    print(
        json.dumps(
            {"load": load_seconds, "wall": wall, "cpu": cpu, "peak_mb": peak, "files": results}
        )
    )
    return 0


def run_config(config: Config, clips: list[tuple[str, Path, str]], cache: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "pipeline.bench",
        "asr-run",
        "--config",
        json.dumps(asdict(config)),
        "--cache",
        str(cache),
        *(str(path) for _, path, _ in clips),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def normalizer() -> Any:
    try:
        from whisper.normalizers import EnglishTextNormalizer

        return EnglishTextNormalizer()
    except ImportError:
        return lambda text: " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def wer(reference: str, hypothesis: str, normalize: Any) -> float:
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    return float(jiwer.wer(ref, hyp)) if ref.strip() else 0.0


def term_errors(
    reference: str, hypothesis: str, terms: list[str], normalize: Any
) -> tuple[int, int]:
    """(errors, words) over the reference words that belong to a name or codebook term:
    a term word the alignment substitutes or deletes is an error. Names count by their
    parts too, since talk says "Dana" as often as "Dana Whitfield"."""
    import jiwer

    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    marked = [False] * len(ref)
    for term in terms:
        tokens = normalize(term).split()
        for start in range(len(ref) - len(tokens) + 1):
            if tokens and ref[start : start + len(tokens)] == tokens:
                marked[start : start + len(tokens)] = [True] * len(tokens)
    if not ref:
        return 0, 0
    errors = 0
    for chunk in jiwer.process_words(" ".join(ref), " ".join(hyp) or "-").alignments[0]:
        if chunk.type in ("substitute", "delete"):
            errors += sum(marked[chunk.ref_start_idx : chunk.ref_end_idx])
    return errors, sum(marked)


def demo_vocabularies() -> dict[str, list[str]]:
    """What the transcribe stage gives Whisper for each demo episode (by audio name)."""
    from ..feedparse import parse_feed
    from ..vocabulary import episode_vocabulary, transcription_terms

    feed = DEMO_AUDIO.parent / "feed.xml"
    parsed = parse_feed(feed.read_bytes(), feed.resolve().as_uri())
    terms = transcription_terms()
    return {
        Path(e.enclosure_url or "").stem: episode_vocabulary(asdict(e), terms, asdict(parsed.info))
        for e in parsed.episodes
    }


def evaluation_terms(vocabulary: list[str]) -> list[str]:
    """The names and terms scored: the glossary, and each name's parts."""
    parts = [w for term in vocabulary for w in term.split() if w[:1].isupper() and len(w) > 2]
    return [*vocabulary, *parts]


def summarize(config: Config, result: dict, clips: list, normalize: Any) -> dict[str, Any]:
    files = result["files"]
    audio = sum(f["seconds"] for f in files)
    wall = result["wall"]
    demo = [(c, f) for c, f in zip(clips, files, strict=True) if c[0].startswith("demo")]
    demo_wer = sum(wer(c[2], f["text"], normalize) * len(c[2].split()) for c, f in demo) / max(
        1, sum(len(c[2].split()) for c, _ in demo)
    )
    per_clip = {c[0]: wer(c[2], f["text"], normalize) for c, f in zip(clips, files, strict=True)}
    return {
        "config": config,
        "rtf": wall / audio,
        "throughput": audio / result["cpu"],  # audio seconds per CPU second
        "audio": audio,
        "wall": wall,
        "peak_mb": result["peak_mb"],
        "demo_wer": demo_wer,
        "per_clip": per_clip,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench asr")
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--no-sweep", action="store_true", help="Skip the settings sweep.")
    parser.add_argument("--cache", default="data/models")
    args = parser.parse_args(argv)
    clips = corpus()
    normalize = normalizer()
    cache = Path(args.cache)
    rows = []
    for model in args.models.split(","):
        configs = [
            Config(**{**asdict(DEFAULT), "model": model}),
            Config(**{**asdict(OPENAI), "model": model}),
        ]
        if model == "tiny.en" and not args.no_sweep:
            configs += SWEEP
        for config in configs:
            print(f"{model}: {config.label} ...", file=sys.stderr, flush=True)
            rows.append(summarize(config, run_config(config, clips, cache), clips, normalize))
            print(
                f"  RTF {rows[-1]['rtf']:.4f}, demo WER {rows[-1]['demo_wer']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    path = write_section("asr", report(rows, clips))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def report(rows: list[dict[str, Any]], clips: list) -> str:
    audio_minutes = rows[0]["audio"] / 60
    body = [
        "## Transcription (`python -m pipeline.bench asr`)",
        "",
        f"Machine: {machine()}.",
        f"Audio: {len(clips)} clips, {audio_minutes:.1f} minutes: the 4 demo episodes (espeak-ng"
        " speech), `jfk.flac` and `multilingual.mp3` (English then German; its reference is"
        " Whisper tiny's own output, so it only shows drift). Every configuration ran in its"
        " own process and transcribed the clips as the transcribe stage does, `workers` clips"
        " at a time (faster-whisper: one worker per core, one thread each, unless the row says"
        " otherwise; openai-whisper: one at a time, torch using every core). RTF = wall time"
        " for all clips / their total duration; model loading (under 2 s) is excluded."
        " WER uses Whisper's English normalizer; flagged (hallucinated) segments are left"
        " out of the text, as search leaves them out.",
        "",
    ]
    header = [
        "model",
        "configuration",
        "RTF",
        "x real time",
        "audio h / CPU h",
        "peak RSS MB",
        "WER demo",
        "WER jfk",
        "WER multilingual",
    ]
    lines = []
    for row in rows:
        per = row["per_clip"]
        lines.append(
            [
                row["config"].model,
                row["config"].label,
                f"{row['rtf']:.4f}",
                f"{1 / row['rtf']:.0f}x",
                f"{row['throughput']:.0f}",
                f"{row['peak_mb']:.0f}",
                f"{row['demo_wer']:.3f}",
                f"{per.get('jfk.flac', float('nan')):.3f}",
                f"{per.get('multilingual.mp3 (silver)', float('nan')):.3f}",
            ]
        )
    body.append(table(header, lines))
    body += ["", *speedups(rows)]
    return "\n".join(body)


def speedups(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    by = {(r["config"].model, r["config"].engine, r["config"].label): r for r in rows}
    for model in dict.fromkeys(r["config"].model for r in rows):
        ours = by.get((model, DEFAULT.engine, DEFAULT.label))
        theirs = by.get((model, OPENAI.engine, OPENAI.label))
        if ours and theirs:
            lines.append(
                f"- {model}: faster-whisper (our defaults) is {theirs['rtf'] / ours['rtf']:.1f}x"
                f" faster than openai-whisper (its defaults) on the same weights, and transcribes"
                f" {ours['throughput']:.0f} against {theirs['throughput']:.0f} audio-hours per"
                f" CPU-hour; demo WER {ours['demo_wer']:.3f} vs {theirs['demo_wer']:.3f}."
            )
        alike = by.get((model, OPENAI_WORDS.engine, OPENAI_WORDS.label))
        if ours and alike:
            lines.append(
                f"- {model}, both with word timings: {alike['rtf'] / ours['rtf']:.1f}x faster."
            )
    return lines
