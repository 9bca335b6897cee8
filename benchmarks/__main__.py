"""python -m benchmarks {asr,...}: run one benchmark and record it."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "asr": "benchmarks.asr",
    "asr-speed": "benchmarks.asr_speed",
    "themes": "benchmarks.themes",
    "search": "benchmarks.search",
    "ingest": "benchmarks.ingest",
    "diarization": "benchmarks.diarization",
    "loops": "benchmarks.loops",
    "loops-settings": "benchmarks.loops_settings",
    "compare": "benchmarks.compare",
    "qdpx": "benchmarks.qdpx",
    "finetune": "benchmarks.finetune",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("name", choices=sorted(BENCHMARKS) + ["asr-run"])
    args, rest = parser.parse_known_args(argv)
    if args.name == "asr-run":
        from .asr import run_worker

        return run_worker(rest)
    module = importlib.import_module(BENCHMARKS[args.name])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
