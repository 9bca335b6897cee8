"""Datasette plugin: audio links, search highlights and links to similar moments as HTML
instead of plain text."""

from datasette import hookimpl
from markupsafe import Markup, escape

AUDIO_COLUMNS = {"audio", "link", "enclosure_url"}


@hookimpl
def render_cell(value, column, database):
    if column == "similar" and isinstance(value, int):
        href = f"/{escape(database)}/similar_moments?segment={value}"
        return Markup(f'<a class="similar-link" href="{href}">similar moments</a>')
    if not isinstance(value, str):
        return None
    if column in AUDIO_COLUMNS and value.startswith(("/audio/", "http://", "https://")):
        label = value.rsplit("#t=", 1)
        text = f"▶ {label[1]} s" if len(label) == 2 else "▶ play"
        return Markup(f'<a class="audio-link" href="{escape(value)}">{escape(text)}</a>')
    if column == "snippet" and "[[" in value:
        html = str(escape(value)).replace("[[", "<mark>").replace("]]", "</mark>")
        return Markup(html)
    return None
