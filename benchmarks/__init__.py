"""Benchmarks: `python -m benchmarks NAME`, results written to docs/benchmarks.md.

Each benchmark owns one section of that file (between HTML comment markers), so
running one never erases the others' figures.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"
REALDATA = Path(os.environ.get("PODINSIGHTS_REALDATA", ROOT.parent / "shared" / "realdata"))
DEMO_AUDIO = ROOT / "data" / "demo" / "audio"

HEADER = """# Benchmarks

Measured with `make bench` (or `python -m benchmarks NAME`) on the machine named
in each section. Comparisons are made within one run, side by side, because these
machines are noisy: the ratios are the figures to trust.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {stamp}"


def write_section(name: str, body: str) -> Path:
    """Replace (or add) the section called ``name`` in docs/benchmarks.md."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = REPORT.read_text() if REPORT.exists() else HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)
    return REPORT


def append_row(name: str, header: str, columns: list[str], row: list[object]) -> Path:
    """Add one row to the log kept in section ``name`` (created with ``header`` and
    ``columns``); rows are never removed, so every look at a held-out set stays visible."""
    start = f"<!-- bench:{name} -->"
    text = REPORT.read_text() if REPORT.exists() else ""
    if start in text:
        body = text.split(start, 1)[1].split(f"<!-- /bench:{name} -->", 1)[0].strip()
    else:
        body = header.strip() + "\n\n" + table(columns, [])
    return write_section(name, body + "\n| " + " | ".join(str(c) for c in row) + " |")


def local_cluster(workers: int) -> Any:
    """A Dask scheduler and ``workers`` one-thread worker processes on 127.0.0.1 (the
    shape of the benchmark's and the Dask test's cluster)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )


def table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM rather than ru_maxrss, which on Linux
    carries a parent's peak over into a child it forked."""
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0
