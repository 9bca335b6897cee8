"""Datasette for real: `podinsights serve` on a free port, its JSON API, and headless Chromium."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUERIES = [
    "search_transcripts",
    "theme_timeline",
    "who_talks_about_what",
    "themes_by_role",
    "episodes_by_theme",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(db: Path) -> Iterator[str]:
    """`podinsights serve` on a free loopback port, polled until it answers (never a
    fixed sleep), stopped on exit; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # the search plugin loads MiniLM before it answers
    while True:
        try:
            if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read().decode() if process.stdout else ""
            process.kill()
            pytest.fail(f"datasette did not start: {output[-2000:]}")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless system Chromium (no browser download), or the test is skipped."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(demo_db):
    with served(demo_db) as base:
        yield {"base": base, "db": Path(demo_db).stem}


def get_json(site, path, **params):
    response = httpx.get(
        f"{site['base']}/{site['db']}/{path}.json", params={"_shape": "array", **params}
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.mark.parametrize("query", QUERIES)
def test_every_canned_query_answers_with_rows(site, query):
    assert get_json(site, query, q="followership", theme="followership")


def test_search_transcripts_query_finds_followership_with_audio_links(site):
    rows = get_json(site, "search_transcripts", q="followership")
    assert rows and all("[[" in r["snippet"] for r in rows)
    assert all("#t=" in r["audio"] for r in rows)


def test_theme_timeline_counts_mentions_per_month(site):
    rows = get_json(site, "theme_timeline")
    months = {r["month"] for r in rows}
    assert len(months) == 4 and all(r["mentions"] > 0 for r in rows)


def test_who_talks_about_what_lists_hosts_and_guests(site):
    rows = get_json(site, "who_talks_about_what")
    assert {r["role"] for r in rows} == {"host", "guest"}
    assert any(r["person"] == "Dana Whitfield" for r in rows)


def test_themes_by_role_counts_what_hosts_and_guests_said(site):
    rows = get_json(site, "themes_by_role")
    assert {r["role"] for r in rows} == {"host", "guest"}
    followership = {r["role"]: r["mentions"] for r in rows if r["theme"] == "followership"}
    assert followership["host"] > 0 and followership["guest"] > 0


def test_episodes_by_theme(site):
    rows = get_json(site, "episodes_by_theme", theme="followership")
    assert rows and all(r["mentions"] > 0 for r in rows)


def test_table_search_and_facets_are_configured(site):
    rows = get_json(site, "segments", _search="followers")
    assert rows
    facets = httpx.get(f"{site['base']}/{site['db']}/theme_mentions.json").json()["facet_results"]
    assert {"theme_id", "method"} <= set(facets.get("results", facets))


def test_the_site_is_read_only(site):
    response = httpx.get(
        f"{site['base']}/{site['db']}.json", params={"sql": "delete from feeds", "_shape": "array"}
    )
    assert response.status_code >= 400 or "error" in response.text.lower()


def test_search_in_a_real_browser(site, tmp_path):
    shots = ROOT / "tests" / "output"
    shots.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site['base']}/{site['db']}/search_transcripts")
        page.fill("input[name=q]", "followers")
        page.keyboard.press("Enter")
        page.wait_for_selector("table.rows-and-columns tbody tr")
        rows = page.locator("table.rows-and-columns tbody tr")
        assert rows.count() > 0
        assert page.locator("mark").count() > 0
        link = page.locator("a.audio-link").first
        assert "#t=" in (link.get_attribute("href") or "")
        page.screenshot(path=str(shots / "datasette-search.png"), full_page=True)


MARKS = "g.mark-line path, g.mark-symbol path, g.mark-rect path"  # what vega draws data as


def chart_marks(page, chart: str) -> int:
    card = page.locator(f"#chart-{chart}")
    card.locator(MARKS).first.wait_for(state="attached", timeout=30000)
    return card.locator(MARKS).count()


def test_every_dashboard_chart_draws_marks_and_the_theme_picker_narrows_it(site):
    shots = ROOT / "tests" / "output"
    shots.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site['base']}/-/dashboards/podinsights")
        assert chart_marks(page, "themes-by-method") >= 20  # a bar per (theme, method)
        over_time = page.locator("#chart-themes-over-time")
        assert chart_marks(page, "themes-over-time") >= 6  # six small multiples, one line each
        panels = over_time.locator("g.mark-line").count()
        assert panels == 6, "the six most mentioned themes, one panel each"
        page.screenshot(path=str(shots / "datasette-themes-over-time.png"), full_page=True)
        page.goto(f"{site['base']}/-/dashboards/podinsights?theme=trust")
        chart_marks(page, "themes-over-time")
        assert over_time.locator("g.mark-line").count() == 1
        assert "trust" in over_time.inner_text()


def cli_search(demo_db, query):
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, ["--db", str(demo_db), "search", query, "--json"])
    assert result.exit_code == 0, result.stderr
    return [hit["segment_id"] for hit in json.loads(result.stdout)]


@pytest.mark.parametrize("query", ["followership", "leaders who put their people first"])
def test_hybrid_search_query_has_the_clis_hits_in_the_clis_order(site, demo_db, query):
    rows = get_json(site, "hybrid_search", q=query, mode="")
    assert [r["similar"] for r in rows] == cli_search(demo_db, query)
    assert all(r["found_by"] for r in rows)


def test_hybrid_search_and_similar_moments_in_a_real_browser(site, demo_db):
    from pipeline.store import vectors

    if not vectors.available():
        pytest.skip("search by meaning needs sqlite-vec and an extension-loading driver")
    query = "leaders who put their people first"
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site['base']}/{site['db']}/hybrid_search")
        page.fill("input[name=q]", query)
        page.keyboard.press("Enter")
        page.wait_for_selector("table.rows-and-columns tbody tr")
        links = page.locator("a.similar-link")
        shown = [int(h.split("segment=")[1]) for h in links.evaluate_all("l => l.map(a => a.href)")]
        assert shown == cli_search(demo_db, query)
        assert "servant-leadership" in page.locator("table.rows-and-columns").inner_text()
        page.screenshot(
            path=str(ROOT / "tests" / "output" / "datasette-hybrid.png"), full_page=True
        )
        links.first.click()
        page.wait_for_selector("table.rows-and-columns tbody tr")
        assert "similar_moments" in page.url and page.locator("tbody tr").count() == 20
