"""Pages from templates: Jinja2 with autoescaping, so every string from a feed or a
transcript is escaped; control characters are dropped first (pipeline.text), and links
go only to http(s) or file URLs. Charts are inline SVG and the CSS is in the page, so a
page needs no network, no script and no other file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from pipeline import __version__
from pipeline.text import printable
from pipeline.timecodes import clock

LINK_SCHEMES = ("http", "https", "file")


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, Markup) else printable(value)


def href(url: str | None) -> str | None:
    """A URL a page may link to (an enclosure's #t= link), or None: never javascript: or data:."""
    if not url or urlsplit(url).scheme.lower() not in LINK_SCHEMES:
        return None
    return url


def hours(seconds: float | None) -> str:
    return f"{(seconds or 0) / 3600:.2f}"


def percent(part: float | None, whole: float | None) -> str:
    return f"{100 * (part or 0) / whole:.1f}%" if whole else "–"


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("pipeline.report", "templates"),
    autoescape=True,
    finalize=_finalize,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(href=href, hours=hours, clock=clock, percent=percent)
ENV.globals.update(version=__version__)


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)


def write_page(path: Path, text: str) -> Path:
    """Written beside its final name, then renamed: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the page from a web server
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
