"""Datasette over the database: read-only, on 127.0.0.1, with the repo's metadata,
canned queries, charts and a small cell-rendering plugin.

The file is served as a mutable database, which Datasette opens read-only
(``mode=ro``), never as an immutable one: a nightly ingest writes the same file
while it is served, and SQLite documents wrong answers or worse for an
"immutable" file that changes."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError
from pipeline.query.reports import breakdown_sql

log = logging.getLogger(__name__)

HERE = Path(str(resources.files("pipeline.serve") / "site"))  # package data, as in a wheel
METADATA = HERE / "metadata.yml"
PLUGINS = HERE / "plugins"
TEMPLATE_DB = "podinsights"


class ServeError(PipelineError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metadata_for(db_path: Path) -> dict[str, Any]:
    """The repo's metadata, keyed by the served file's name (Datasette names a database
    after its file)."""
    document = yaml.safe_load(METADATA.read_text())
    name = db_path.stem
    document["databases"] = {name: document["databases"][TEMPLATE_DB]}
    document["description_html"] = document["description_html"].replace(
        f"/{TEMPLATE_DB}/", f"/{name}/"
    )
    document["databases"][name]["queries"]["themes_by_role"] = {
        "title": "Who raised each theme: host or guest",
        "description": "Mentions of each theme by the speaker's role in that episode "
        "(the same counts as podinsights themes --by role).",
        "sql": breakdown_sql("role").strip(),
    }
    for dashboard in document["plugins"]["datasette-dashboards"].values():
        for part in (*dashboard["charts"].values(), *dashboard.get("filters", {}).values()):
            if "db" in part:
                part["db"] = name
    return document


def datasette_command(
    db_path: Path, data_dir: Path, *, host: str, port: int, metadata_path: Path
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db_path),
        "--metadata",
        str(metadata_path),
        "--plugins-dir",
        str(PLUGINS),
        "--host",
        host,
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "5000",
        "--setting",
        "default_page_size",
        "50",
    ]
    audio = data_dir / "audio"
    if audio.is_dir():
        command += ["--static", f"audio:{audio}"]
    return command


def prepare(
    db_path: Path, data_dir: Path, *, host: str, port: int, allow_remote: bool
) -> list[str]:
    if not db_path.exists():
        raise ServeError(f"No database at {db_path}: run `podinsights ingest` first.")
    if not is_loopback(host) and not allow_remote:
        raise ServeError(
            f"Refusing to serve on {host}: only 127.0.0.1 by default; "
            "add --allow-remote to publish the database on your network."
        )
    metadata_path = data_dir / "logs" / "datasette-metadata.yml"
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    metadata_path.write_text(yaml.safe_dump(metadata_for(db_path), sort_keys=False))
    return datasette_command(db_path, data_dir, host=host, port=port, metadata_path=metadata_path)


def run(command: list[str]) -> None:
    """Become Datasette (so stopping this process stops the server)."""
    os.execv(command[0], command)
