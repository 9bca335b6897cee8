from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from typer.testing import CliRunner

import pipeline.store.db as dbmod

from .server import Server

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("PODINSIGHTS_REALDATA", ROOT.parent / "shared" / "realdata"))
DEMO = ROOT / "data" / "demo"


@pytest.fixture
def db() -> sqlite_utils.Database:
    """An in-memory database with the current schema."""
    return dbmod.connect(":memory:")


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real test data not found at {REALDATA}")
    return REALDATA


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo podcast ingested once, as `make ingest` does, into a scratch folder."""
    from pipeline.cli import app

    path = tmp_path_factory.mktemp("demo") / "podinsights.db"
    subscribe_demo(path)
    result = CliRunner().invoke(
        app, ["--db", str(path), "--quiet", "ingest", "--feeds", str(ROOT / "data" / "feeds.opml")]
    )
    assert result.exit_code == 0, result.stderr + result.stdout
    return path


def subscribe_demo(db: Path) -> None:
    """What `make ingest` does first: the demo podcast is a local feed file, and only
    `feeds add PATH` subscribes to those (an OPML file lists web feeds only)."""
    from pipeline.cli import app

    result = CliRunner().invoke(app, ["--db", str(db), "feeds", "add", str(DEMO / "feed.xml")])
    assert result.exit_code == 0, result.stderr
