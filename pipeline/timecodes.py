"""Clock times, read and written in one place: itunes:duration, chapter starts and
publisher transcript times are read with parse_clock; the CLI, search hits and
Markdown exports print clock(); SRT and WebVTT cues print stamp()."""

from __future__ import annotations

import math
from typing import Any


def parse_clock(value: Any) -> float | None:
    """Seconds (to the millisecond) from "3600", "75.5", "1:07", "1:02:03" or
    "01:02:03.400"; None for anything else, negative or not finite."""
    if value is None or isinstance(value, bool):
        return None
    seconds = 0.0
    for part in str(value).strip().split(":"):
        try:
            seconds = seconds * 60 + float(part)
        except ValueError:
            return None
    return round(seconds, 3) if 0 <= seconds < math.inf else None


def clock(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def stamp(seconds: float, separator: str) -> str:
    """Seconds as HH:MM:SS,mmm (SRT, separator ",") or HH:MM:SS.mmm (WebVTT, ".")."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"
