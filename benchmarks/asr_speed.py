"""python -m benchmarks asr-speed: faster-whisper's defaults against openai-whisper's,
run in turn (ABAB...) on the same clips and weights, so both see the same machine load.

`benchmarks asr` runs each configuration once; on a shared machine one slow run moves
its ratio by a third. Here each configuration runs ``--rounds`` times, alternating, and
the ratio is of the medians. The ratio is also given without the vocabulary, which our
defaults send as hotwords and openai-whisper's defaults do not have.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

from . import machine as machine_line
from . import table, write_section
from .asr import DEFAULT, NO_VOCABULARY, OPENAI, Config, corpus, run_config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks asr-speed")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", default="data/models")
    args = parser.parse_args(argv)
    clips = corpus()
    configs = [
        Config(**{**asdict(c), "model": args.model}) for c in (DEFAULT, NO_VOCABULARY, OPENAI)
    ]
    walls: dict[str, list[float]] = {c.label: [] for c in configs}
    audio = 0.0
    for round_ in range(args.rounds):
        for config in configs:
            result = run_config(config, clips, Path(args.cache))
            walls[config.label].append(result["wall"])
            audio = sum(f["seconds"] for f in result["files"])
            print(f"round {round_ + 1}: {config.label}: {result['wall']:.1f} s", file=sys.stderr)
    path = write_section("asr-speed", report(args.model, walls, audio, args.rounds))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def report(model: str, walls: dict[str, list[float]], audio: float, rounds: int) -> str:
    medians = {label: statistics.median(w) for label, w in walls.items()}
    theirs = medians[OPENAI.label]
    rows = [
        [label, " / ".join(f"{w:.1f}" for w in runs), f"{medians[label]:.1f}"]
        + [f"{theirs / medians[label]:.2f}x"]
        for label, runs in walls.items()
    ]
    return "\n".join(
        [
            "## Transcription speed, in turn (`python -m benchmarks asr-speed`)",
            "",
            f"Machine: {machine_line()}.",
            f"Model {model}; the clips of `benchmarks asr` ({audio / 60:.1f} min); each"
            f" configuration {rounds} times, in turn, each run in its own process (model"
            " loading excluded). Speed-up = openai-whisper's median wall time / the row's.",
            "",
            table(["configuration", "wall s, each run", "median s", "speed-up"], rows),
        ]
    )
