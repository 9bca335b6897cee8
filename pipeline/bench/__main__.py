"""python -m pipeline.bench {asr,...}: run one benchmark and record it."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "asr": "pipeline.bench.asr",
    "themes": "pipeline.bench.themes",
    "search": "pipeline.bench.search",
    "ingest": "pipeline.bench.ingest",
    "diarization": "pipeline.bench.diarization",
    "loops": "pipeline.bench.loops",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS) + ["asr-run"])
    args, rest = parser.parse_known_args(argv)
    if args.name == "asr-run":
        from .asr import run_worker

        return run_worker(rest)
    module = importlib.import_module(BENCHMARKS[args.name])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
