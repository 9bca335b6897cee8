"""The package as a user installs it: a wheel built from the checkout, installed
outside it, finds its codebook, classifier and Datasette files through
importlib.resources and runs the pipeline with none of the checkout's folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlite_utils

from .conftest import DEMO, ROOT


def _run(*command: str, **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder, environment) of the wheel installed without its dependencies (they
    are this virtualenv's); PYTHONPATH puts it before the editable checkout."""
    folder = tmp_path_factory.mktemp("wheel")
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(ROOT),
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(folder),
    )
    wheel = next(folder.glob("podinsights-*.whl"))
    site = folder / "site"
    _run(
        sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)
    )
    return site, {**os.environ, "PYTHONPATH": str(site)}


def test_the_wheel_analyses_text_outside_the_checkout(installed, tmp_path):
    site, env = installed
    where = _run(
        sys.executable, "-c", "import pipeline; print(pipeline.__file__)", cwd=tmp_path, env=env
    )
    assert where.strip().startswith(str(site))  # not the checkout's pipeline/
    text = "Followership is an active role: followers hold leaders to account."
    out = _run(
        sys.executable,
        "-m",
        "pipeline",
        "analyze-text",
        "-",
        "--json",
        input=text,
        cwd=tmp_path,
        env=env,
    )
    themes = {m["id"] for m in json.loads(out)["themes"]}
    assert "followership" in themes


def test_the_wheel_ingests_a_feed_outside_the_checkout(installed, tmp_path):
    _, env = installed
    db = tmp_path / "x.db"
    pipeline = [sys.executable, "-m", "pipeline", "--db", str(db), "--quiet"]
    _run(*pipeline, "feeds", "add", str(DEMO / "feed.xml"), cwd=tmp_path, env=env)
    line = _run(*pipeline, "ingest", "--limit", "1", cwd=tmp_path, env=env)
    digest = tmp_path / "reports" / line.strip().rsplit("/", 1)[1]  # named by the summary line
    assert (tmp_path / "reports" / "index.html").is_file()
    assert 'class="quote"' in digest.read_text(encoding="utf-8")  # its templates ship in the wheel
    stored = sqlite_utils.Database(db)
    assert stored.execute("select count(*) from segments").fetchone()[0] > 10
    assert stored.execute("select count(*) from analyses").fetchone()[0] == 1
    assert stored.execute("select count(*) from themes").fetchone()[0] >= 20  # the codebook


def test_the_wheel_finds_its_datasette_files_in_the_installed_package(installed, tmp_path):
    site, env = installed
    probe = (
        "from pipeline.serve.app import METADATA, PLUGINS;"
        "print(METADATA, METADATA.exists()); print(sorted(p.name for p in PLUGINS.glob('*.py')))"
    )
    metadata, plugins = _run(sys.executable, "-c", probe, cwd=tmp_path, env=env).splitlines()
    assert metadata.startswith(str(site)) and metadata.endswith("metadata.yml True")
    assert "podinsights_cells.py" in plugins  # the cell-rendering plugin is package data


def test_the_wheel_asks_for_calibration_passages_it_does_not_ship(installed, tmp_path):
    _, env = installed
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "train-classifier", "--output", str(tmp_path / "c.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 1
    assert "--calibration FILE" in done.stderr and "Traceback" not in done.stderr
