"""The one rule for text that came from outside (feeds, transcripts, the database) on
its way to a terminal, a log or a title column: no control characters, and, where rich
renders it, no markup.

A feed controls its titles, descriptions and URLs. Raw, ``ESC ] 0 ; ... BEL``
retitles the user's terminal and ``ESC [ 2 J`` clears it; bidi overrides make text
read differently from what it is; ``[/bold]`` makes rich raise MarkupError.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rich.markup import escape

# Whole escape sequences go (CSI "ESC [ 2 J", OSC "ESC ] 0 ; title BEL"), so no
# half of one is left as text; then any other C0 (but tab and newline), DEL, C1, and
# the bidi embedding/override/isolate marks.
_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any) -> str:
    """``value`` as text with every control character removed (tabs and newlines stay)."""
    return _CONTROL.sub("", _SEQUENCE.sub("", str(value)))


def markup_safe(value: Any) -> str:
    """``value`` ready to sit inside rich markup: printable, and shown literally."""
    return escape(printable(value))


class PrintableFormatter(logging.Formatter):
    """Log lines carry feed text (titles, URLs, server errors): strip it the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))
