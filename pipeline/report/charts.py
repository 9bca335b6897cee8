"""The report's charts, drawn with matplotlib and written as inline SVG: no browser,
network or script is needed to see them. The notebook draws the same figures.

Colours come from Tableau 10 (matplotlib's "tab10"), the palette of Vega-Lite's default
scheme, which the Datasette dashboard's charts use. Each function takes plain rows (from
pipeline.report.data) and returns a Figure; svg() turns one into markup for the page.
Every data artist gets a "mark-N" id, which the browser tests look for to check that
something was drawn.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

try:
    import matplotlib
    from matplotlib.figure import Figure
except ImportError:  # the [report] extra is not installed: pages say so instead
    matplotlib = None  # type: ignore[assignment]

MISSING = "Charts need matplotlib: pip install 'podinsights[report]'."
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#c7c7c7"  # tab10's first two, and its grey
ROLE_COLOURS = {"host": BLUE, "guest": ORANGE}
FONT: dict[Any, Any] = {"font.family": "sans-serif", "font.size": 9, "svg.fonttype": "none"}


def available() -> bool:
    return matplotlib is not None


def _figure(width: float, height: float) -> Any:
    """A figure of its own, not pyplot's: drawing a chart changes no global state."""
    return Figure(figsize=(width, height), layout="constrained")


class _Marks:
    """Names each data artist of one figure "mark-1", "mark-2", ..."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"mark-{self.count}"


def _name(bars: Any, mark: _Marks) -> Any:
    """A bar chart's bars each get their own mark id (gid on the container repeats it)."""
    for bar in bars:
        bar.set_gid(mark())
    return bars


def _bare(ax: Any, *, left: bool = False) -> None:
    for side in ("top", "right") + (() if left else ("left",)):
        ax.spines[side].set_visible(False)


def theme_changes(rows: Sequence[dict[str, Any]]) -> Any:
    """Mentions per hour of speech before and now, one line per theme from the earlier
    rate (grey dot) to the later one (blue rising, orange falling)."""
    with matplotlib.rc_context(FONT):
        figure = _figure(6.0, 0.32 * len(rows) + 0.9)
        ax = figure.add_subplot()
        mark = _Marks()
        for y, row in enumerate(reversed(rows)):
            before, after = row["before"], row["after"]
            colour = BLUE if after >= before else ORANGE
            ax.plot([before, after], [y, y], color=colour, lw=2, gid=mark())
            ax.plot([before], [y], "o", color=GREY, ms=5, gid=mark())
            ax.plot([after], [y], "o", color=colour, ms=6, gid=mark())
        ax.set_yticks(range(len(rows)), [row["label"] for row in reversed(rows)])
        ax.set_xlabel("mentions per hour of speech: earlier (grey) → now")
        ax.set_xlim(left=0)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        _bare(ax, left=True)
    return figure


def theme_sparklines(
    months: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]
) -> Any:
    """Small multiples: one line per theme (top themes first) of mentions per hour of
    speech by month, on one shared scale; a month without episodes (None) has no point,
    the line joins the months that have some."""
    values = [v for _, line in series for v in line if v is not None]
    top = max(values, default=0) or 1.0
    with matplotlib.rc_context(FONT):
        figure = _figure(6.0, 0.42 * len(series) + 0.7)
        axes = figure.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
        mark = _Marks()
        xs = list(range(len(months)))
        for ax, (label, line) in zip(axes, series, strict=True):
            points = [(x, v) for x, v in zip(xs, line, strict=True) if v is not None]
            px, py = [x for x, _ in points], [v for _, v in points]
            ax.fill_between(px, py, color=BLUE, alpha=0.15, lw=0, gid=mark())
            ax.plot(px, py, color=BLUE, lw=1.5, marker="o", ms=2.5, gid=mark())
            ax.tick_params(bottom=ax is axes[-1], left=False)
            peak = max((v for v in line if v is not None), default=0)
            ax.set_ylim(0, top * 1.2)
            ax.set_yticks([])
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            ax.text(
                1.01, 0.5, f"peak {peak:.0f}/h", transform=ax.transAxes, va="center", fontsize=7
            )
            _bare(ax)
            ax.spines["bottom"].set_color(GREY)
        step = max(1, math.ceil(len(months) / 8))
        axes[-1].set_xticks(xs[::step], list(months)[::step], fontsize=7)
        axes[-1].set_xlim(-0.5, len(months) - 0.5)
    return figure


def role_shares(rows: Sequence[tuple[str, dict[str, int]]]) -> Any:
    """Who raised each theme: the host's, guests' and nobody's (unattributed) share of its
    mentions, one 100% bar per theme."""
    with matplotlib.rc_context(FONT):
        figure = _figure(6.0, 0.32 * len(rows) + 1.0)
        ax = figure.add_subplot()
        mark = _Marks()
        labels = [label for label, _ in reversed(rows)]
        left = [0.0] * len(rows)
        for role in ("host", "guest", "other"):
            shares = []
            for _, counts in reversed(rows):
                total = sum(counts.values()) or 1
                value = (
                    counts.get(role, 0)
                    if role != "other"
                    else sum(n for r, n in counts.items() if r not in ROLE_COLOURS)
                )
                shares.append(100 * value / total)
            name = "unattributed" if role == "other" else role
            colour = ROLE_COLOURS.get(role, GREY)
            _name(ax.barh(labels, shares, left=left, color=colour, label=name), mark)
            left = [a + b for a, b in zip(left, shares, strict=True)]
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of the theme's mentions")
        ax.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
        _bare(ax, left=True)
    return figure


def people_heatmap(
    people: Sequence[str], themes: Sequence[str], grid: Sequence[Sequence[int]]
) -> Any:
    """People x themes: how many mentions of each theme each person raised."""
    with matplotlib.rc_context(FONT):
        figure = _figure(max(4.0, 0.42 * len(themes) + 2.0), 0.36 * len(people) + 1.8)
        ax = figure.add_subplot()
        top = max((n for row in grid for n in row), default=0) or 1
        ax.pcolormesh(
            grid, cmap="Blues", vmin=0, vmax=top, edgecolors="white", linewidth=1, gid="mark-1"
        )
        for y, row in enumerate(grid):
            for x, n in enumerate(row):
                if n:
                    colour = "white" if n > top * 0.6 else "black"
                    ax.text(
                        x + 0.5, y + 0.5, str(n), ha="center", va="center", fontsize=7, color=colour
                    )
        ax.set_xticks(
            [x + 0.5 for x in range(len(themes))], themes, rotation=45, ha="right", fontsize=8
        )
        ax.set_yticks([y + 0.5 for y in range(len(people))], people)
        ax.invert_yaxis()
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    return figure


def theme_bars(rows: Sequence[tuple[str, int]]) -> Any:
    """Mentions per theme, most first."""
    with matplotlib.rc_context(FONT):
        figure = _figure(6.0, 0.3 * len(rows) + 0.8)
        ax = figure.add_subplot()
        labels = [label for label, _ in reversed(rows)]
        counts = [n for _, n in reversed(rows)]
        bars = _name(ax.barh(labels, counts, color=BLUE), _Marks())
        ax.bar_label(bars, padding=2, fontsize=7)
        ax.set_xlabel("mentions")
        _bare(ax, left=True)
    return figure


_PREAMBLE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_IDS = re.compile(r'(\bid="|url\(#|href="#)')


def embed(name: str, title: str, make: Callable[[], Any]) -> dict[str, Any]:
    """A chart for a page (templates/macros.html): its inline SVG, or, without
    matplotlib, what is missing to draw it."""
    if not available():
        return {"name": name, "svg": None, "missing": MISSING}
    return {"name": name, "svg": Markup(svg(make(), name, title)), "missing": None}


def svg(figure: Any, name: str, title: str) -> str:
    """The figure as an <svg> element to inline in HTML: no XML preamble or metadata,
    every id prefixed with the chart's name (so several charts share a page), a title
    for screen readers, and a size the page's CSS may shrink."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**FONT, "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PREAMBLE.sub("", buffer.getvalue(), count=1))
    text = _IDS.sub(lambda m: f"{m.group(1)}{name}-", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
