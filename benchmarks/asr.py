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

from pipeline.transcribe.engines import AsrOptions

from . import DEMO_AUDIO, REALDATA, ROOT, machine, peak_rss_mb, table, write_section


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
    vocabulary: bool = True


DEFAULT = Config("faster-whisper, our defaults")
NO_VOCABULARY = Config("faster-whisper, no vocabulary", vocabulary=False)
OPENAI = Config(
    "openai-whisper, its defaults",
    "openai-whisper",
    beam=0,
    vad=False,
    words=False,
    vocabulary=False,
)
# Its defaults skip word timings, which ours include: this row is like for like.
OPENAI_WORDS = Config(
    "openai-whisper, with word timings", "openai-whisper", beam=0, vad=False, vocabulary=False
)
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
    from pipeline.transcribe.engines import load_engine
    from pipeline.transcribe.guard import SEARCHABLE
    from pipeline.transcribe.stage import transcribe_file
    from pipeline.transcribe.vocabulary import transcription_terms

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
        vocabulary=config.vocabulary,
    )
    started = time.perf_counter()
    engine = load_engine(config.engine, config.model, Path(args.cache), options)
    load_seconds = time.perf_counter() - started
    glossaries = demo_vocabularies() if config.vocabulary else {}
    terms = transcription_terms() if config.vocabulary else []

    def one(path: str) -> dict[str, Any]:
        vocabulary = glossaries.get(Path(path).stem, terms)
        transcript = transcribe_file(path, engine, options, vocabulary=vocabulary)
        kept = [s for s in transcript.segments if s.quality in SEARCHABLE]
        return {
            "text": " ".join(s.text for s in kept),
            "segments": [[s.start, s.end, s.text] for s in kept],
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
        "benchmarks",
        "asr-run",
        "--config",
        json.dumps(asdict(config)),
        "--cache",
        str(cache),
        *(str(path) for _, path, _ in clips),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
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


def demo_turns() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name[:4]: json.loads(path.read_text())
        for path in sorted(DEMO_AUDIO.glob("ep*.turns.json"))
    }


def theme_scores(segments: dict[str, list[list[Any]]], analyzer: Any) -> tuple[float, float, float]:
    """Precision, recall and F1 of themes against the scripts' turn labels: a labelled
    (turn, theme) is found when a mention of the theme starts in the turn's minutes or
    the next one; a mention is right when such a turn lies within the same reach."""
    from pipeline.models import Segment

    tp_turns = turns_total = tp_mentions = mentions_total = 0
    for stem, turns in demo_turns().items():
        timed = [Segment(i, a, b, text) for i, (a, b, text) in enumerate(segments.get(stem, []))]
        found = [(m.theme, int(m.start // 60)) for m in analyzer.analyze(timed).mentions]
        labelled = [
            (theme, set(range(int(t["start"] // 60), int(t["end"] // 60) + 2)))
            for t in turns
            for theme in t["themes"]
        ]
        reach = {(theme, minute) for theme, minutes in labelled for minute in minutes}
        turns_total += len(labelled)
        tp_turns += sum(
            any((theme, minute) in found for minute in minutes) for theme, minutes in labelled
        )
        mentions_total += len(found)
        tp_mentions += sum(f in reach for f in found)
    precision = tp_mentions / mentions_total if mentions_total else 1.0
    recall = tp_turns / turns_total if turns_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def script_segments() -> dict[str, list[list[Any]]]:
    """The scripts' own text, one segment a turn: what analysis would get from a
    perfect transcript."""
    return {
        stem: [[t["start"], t["end"], t["text"]] for t in turns]
        for stem, turns in demo_turns().items()
    }


def demo_vocabularies() -> dict[str, list[str]]:
    """What the transcribe stage gives Whisper for each demo episode (by audio name)."""
    from pipeline.feeds.parse import parse_feed
    from pipeline.transcribe.vocabulary import episode_vocabulary, transcription_terms

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


def summarize(
    config: Config, result: dict, clips: list, normalize: Any, analyzer: Any = None
) -> dict[str, Any]:
    files = result["files"]
    audio = sum(f["seconds"] for f in files)
    wall = result["wall"]
    demo = [(c, f) for c, f in zip(clips, files, strict=True) if c[0].startswith("demo")]
    demo_wer = sum(wer(c[2], f["text"], normalize) * len(c[2].split()) for c, f in demo) / max(
        1, sum(len(c[2].split()) for c, _ in demo)
    )
    per_clip = {c[0]: wer(c[2], f["text"], normalize) for c, f in zip(clips, files, strict=True)}
    glossaries = demo_vocabularies()
    errors = words = 0
    for clip, found in demo:
        e, n = term_errors(
            clip[2], found["text"], evaluation_terms(glossaries[clip[1].stem]), normalize
        )
        errors, words = errors + e, words + n
    return {
        "term_error": errors / words if words else float("nan"),
        "themes": theme_scores({c[1].stem: f["segments"] for c, f in demo}, analyzer)
        if analyzer
        else None,
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
    parser = argparse.ArgumentParser(prog="python -m benchmarks asr")
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--no-sweep", action="store_true", help="Skip the settings sweep.")
    parser.add_argument("--cache", default="data/models")
    args = parser.parse_args(argv)
    from pipeline.analysis.codebook import load_codebook
    from pipeline.analysis.engine import Analyzer

    clips = corpus()
    normalize = normalizer()
    cache = Path(args.cache)
    analyzer = Analyzer(load_codebook())
    script = theme_scores(script_segments(), analyzer)
    rows = []
    for model in args.models.split(","):
        configs = [
            Config(**{**asdict(c), "model": model}) for c in (DEFAULT, NO_VOCABULARY, OPENAI)
        ]
        if model == "tiny.en" and not args.no_sweep:
            configs += SWEEP
        for config in configs:
            print(f"{model}: {config.label} ...", file=sys.stderr, flush=True)
            result = run_config(config, clips, cache)
            rows.append(summarize(config, result, clips, normalize, analyzer))
            print(
                f"  RTF {rows[-1]['rtf']:.4f}, demo WER {rows[-1]['demo_wer']:.3f},"
                f" term error {rows[-1]['term_error']:.3f}, themes {rows[-1]['themes']}",
                file=sys.stderr,
                flush=True,
            )
    path = write_section("asr", report(rows, clips, script))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def report(rows: list[dict[str, Any]], clips: list, script: tuple[float, float, float]) -> str:
    audio_minutes = rows[0]["audio"] / 60
    body = [
        "## Transcription (`python -m benchmarks asr`)",
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
        "name+term error demo",
        "theme P / R / F1 demo",
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
                f"{row['term_error']:.3f}",
                " / ".join(f"{v:.2f}" for v in row["themes"]),
                f"{per.get('jfk.flac', float('nan')):.3f}",
                f"{per.get('multilingual.mp3 (silver)', float('nan')):.3f}",
            ]
        )
    body.append(table(header, lines))
    body += ["", *speedups(rows), *choices(rows, script)]
    return "\n".join(body)


def choices(rows: list[dict[str, Any]], script: tuple[float, float, float]) -> list[str]:
    """What the vocabulary buys, what each model costs, against the scripts' own text."""
    lines = [
        f"- Themes from the scripts' own text (a perfect transcript): P / R / F1"
        f" {script[0]:.2f} / {script[1]:.2f} / {script[2]:.2f}.",
    ]
    by = {(r["config"].model, r["config"].label): r for r in rows}
    for model in dict.fromkeys(r["config"].model for r in rows):
        ours, bare = by.get((model, DEFAULT.label)), by.get((model, NO_VOCABULARY.label))
        if ours and bare:
            lines.append(
                f"- {model}: the vocabulary takes the name and codebook-term error rate from"
                f" {bare['term_error']:.3f} to {ours['term_error']:.3f} and WER from"
                f" {bare['demo_wer']:.3f} to {ours['demo_wer']:.3f}; theme F1 from"
                f" {bare['themes'][2]:.2f} to {ours['themes'][2]:.2f}"
                f" ({ours['themes'][2] / script[2]:.2f} of the scripts')."
            )
        if ours:
            lines.append(
                f"- {model}: an hour of audio takes {ours['rtf'] * 60:.1f} min on this machine"
                " with the default settings (one worker per core)."
            )
    return lines


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
