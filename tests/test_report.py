"""The insight report and the nightly digest: their queries on small hand-made corpora,
and the pages as a person sees them, in headless Chromium, on the ingested demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from pipeline.analysis.stage import update_keyphrase_scores
from pipeline.cli import app
from pipeline.query import reports
from pipeline.query.search import Filters, audio_link
from pipeline.report.build import build_report
from pipeline.report.data import Period, ReportRequest, chance, changes

from .conftest import ROOT
from .feedgen import rss
from .test_datasette import chromium

# --- a corpus by hand --------------------------------------------------------------


def add_episode(db, episode_id, published, *, title="Episode", url=None, feed_title="Show"):
    db["feeds"].upsert({"id": 1, "url": "http://example.com/feed", "title": feed_title}, pk="id")
    db["episodes"].insert(
        {
            "id": episode_id,
            "feed_id": 1,
            "guid": episode_id,
            "title": title,
            "published": f"{published}T07:00:00Z",
            "enclosure_url": url or f"http://example.com/{episode_id}.mp3",
            "status": "analysed",
        }
    )
    db["analyses"].insert({"episode_id": episode_id, "analysed_at": "2026-01-01T00:00:00Z"})


def add_segment(db, episode_id, idx, start, end, text):
    return (
        db["segments"]
        .insert(
            {
                "episode_id": episode_id,
                "idx": idx,
                "start_time": start,
                "end_time": end,
                "text": text,
            }
        )
        .last_pk
    )


def add_mention(db, segment_id, theme, *, method="keyword", confidence="high", score=1.0):
    segment = db["segments"].get(segment_id)
    db["themes"].upsert({"id": theme, "label": theme.title(), "category": "leadership"}, pk="id")
    db["theme_mentions"].insert(
        {
            "episode_id": segment["episode_id"],
            "segment_id": segment_id,
            "theme_id": theme,
            "start_time": segment["start_time"] + 1,
            "end_time": segment["end_time"],
            "method": method,
            "confidence": confidence,
            "score": score,
            "speaker": "Dana Whitfield",
        }
    )


SENTENCE = "Trust is what lets a team disagree out loud and still ship the work together."


def test_quotes_put_agreeing_keyword_hits_first_and_fragments_after_sentences(db):
    add_episode(db, "e1", "2025-03-01")
    disputed = add_segment(db, "e1", 0, 0, 5, SENTENCE)
    fragment = add_segment(db, "e1", 1, 5, 6, "Trust, yes.")
    sentence = add_segment(db, "e1", 2, 6, 12, SENTENCE)
    classifier = add_segment(db, "e1", 3, 12, 18, SENTENCE)
    add_mention(db, disputed, "trust", confidence="low", score=0.2)
    add_mention(db, fragment, "trust")
    add_mention(db, sentence, "trust")
    add_mention(db, classifier, "trust", method="classifier", score=0.9)
    quotes = reports.best_quotes(db, Filters(theme="trust"), limit=4)
    assert [q["segment_id"] for q in quotes] == [sentence, fragment, classifier, disputed]
    assert quotes[0]["link"] == "http://example.com/e1.mp3#t=6"  # the sentence's start
    assert quotes[0]["time"] == "0:00:06" and quotes[0]["role"] is None


def test_quotes_a_person_confirmed_come_first_and_rejected_ones_never(db):
    add_episode(db, "e1", "2025-03-01")
    best_by_machine = add_segment(db, "e1", 0, 0, 6, SENTENCE)
    confirmed = add_segment(db, "e1", 1, 6, 7, "Trust, yes.")  # a fragment the machine ranks low
    rejected = add_segment(db, "e1", 2, 7, 13, SENTENCE)
    for segment in (best_by_machine, confirmed, rejected):
        add_mention(db, segment, "trust")
    for idx, decision in ((1, "applied"), (2, "rejected")):
        db["codings"].insert(
            {
                "coder": "ann",
                "episode_id": "e1",
                "segment_idx": idx,
                "theme_id": "trust",
                "decision": decision,
                "coded_at": "2026-01-02T00:00:00Z",
            }
        )
    quotes = reports.best_quotes(db, Filters(theme="trust"), limit=3)
    assert [q["segment_id"] for q in quotes] == [confirmed, best_by_machine]


def test_quotes_are_one_per_segment_and_without_a_theme_one_per_theme(db):
    add_episode(db, "e1", "2025-03-01")
    first = add_segment(db, "e1", 0, 0, 5, SENTENCE)
    second = add_segment(db, "e1", 1, 5, 10, SENTENCE)
    add_mention(db, first, "trust")
    add_mention(db, first, "trust")  # two hits in one sentence: one quote
    add_mention(db, second, "trust")
    add_mention(db, second, "followership")
    assert [q["segment_id"] for q in reports.best_quotes(db, Filters(theme="trust"))] == [
        first,
        second,
    ]
    assert sorted(q["theme"] for q in reports.best_quotes(db)) == ["followership", "trust"]


def add_talk(db, episode_id, hours, mentions, theme="trust"):
    """`hours` more speech in an episode, with `mentions` of a theme evenly spread."""
    first, offset = db.execute(
        "select count(*), coalesce(max(end_time), 0) from segments where episode_id = ?",
        [episode_id],
    ).fetchone()
    length = hours * 3600 / mentions
    for i in range(mentions):
        start = offset + i * length
        segment = add_segment(db, episode_id, first + i, start, start + length, SENTENCE)
        add_mention(db, segment, theme)


FEBRUARY = Period("2025-02-01", "2025-02-28")


def test_a_theme_that_comes_up_more_in_a_longer_episode_is_falling_per_hour(db):
    """20 mentions in 1 h of speech, then 40 in 10 h: more mentions, a lower rate."""
    add_episode(db, "before", "2025-01-15")
    add_episode(db, "after", "2025-02-15")
    add_talk(db, "before", 1, 20)
    add_talk(db, "after", 10, 40)
    request = ReportRequest(since="2025-02-01", until="2025-02-28")
    (covered,) = reports.coverage(db, request.filters(FEBRUARY))
    assert covered["speech_seconds"] == pytest.approx(36000)
    moved = changes(db, request, FEBRUARY)
    assert not moved["rising"]
    (trust,) = moved["falling"]
    assert (trust["n_before"], trust["n_after"]) == (20, 40)
    assert trust["before"] == pytest.approx(20.0) and trust["after"] == pytest.approx(4.0)
    assert "previous 28 days" in moved["note"]


def test_a_change_chance_explains_is_no_trend(db):
    """3 mentions in an hour, then 1: a fall by count, but a coin could do that."""
    add_episode(db, "before", "2025-01-15")
    add_episode(db, "after", "2025-02-15")
    add_talk(db, "before", 1, 3)
    add_talk(db, "after", 1, 1)
    add_talk(db, "before", 1, 12, theme="followership")
    add_talk(db, "after", 1, 1, theme="followership")
    moved = changes(db, ReportRequest(), FEBRUARY)
    assert [m["id"] for m in moved["falling"]] == ["followership"] and not moved["rising"]
    assert chance(3, 1, 1.0, 1.0) == pytest.approx(0.625)  # the exact binomial test
    assert chance(0, 8, 1.0, 1.0) == pytest.approx(2 * 0.5**8)


def test_periods_compare_with_the_days_just_before_or_their_own_halves():
    march = Period("2025-03-01", "2025-03-31")
    assert march.days == 31
    assert march.previous() == Period("2025-01-29", "2025-02-28")
    assert march.halves() == (
        Period("2025-03-01", "2025-03-15"),
        Period("2025-03-16", "2025-03-31"),
    )


def test_distinctive_vocabulary_leaves_out_what_every_episode_says(db):
    for episode, published in (("e1", "2025-01-15"), ("e2", "2025-02-15")):
        add_episode(db, episode, published)
        db["keyphrases"].insert({"episode_id": episode, "phrase": "people", "count": 9})
    db["keyphrases"].insert({"episode_id": "e2", "phrase": "courageous follower", "count": 2})
    update_keyphrase_scores(db)
    rows = reports.distinctive_phrases(db, Filters(since="2025-02-01"))
    assert [(r["phrase"], r["count"], r["corpus_episodes"]) for r in rows] == [
        ("courageous follower", 2, 1)
    ]


def test_feed_text_is_escaped_and_only_audio_urls_are_links(db):
    hostile = '<script>alert(1)</script>\x1b]0;owned\x07 "quoted"'
    add_episode(
        db, "e1", "2025-03-01", title=hostile, url="javascript:alert(1)", feed_title=hostile
    )
    add_mention(db, add_segment(db, "e1", 0, 0, 5, SENTENCE + " <b>bold</b>"), "trust")
    page = build_report(db, ReportRequest())
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "\x1b" not in page
    assert "javascript:" not in page  # the quote keeps its time, without a link
    assert "0:00:00" in page
    html5lib = pytest.importorskip("html5lib")
    parser = html5lib.HTMLParser()
    parser.parse(page)
    assert not parser.errors


def test_report_command_errors_are_one_sentence(runner, tmp_path):
    db_path = tmp_path / "empty.db"
    result = runner.invoke(app, ["--db", str(db_path), "report", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "run `podinsights ingest` first" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_command_rejects_a_bad_date_and_an_unknown_theme(runner, demo_db, tmp_path):
    out = str(tmp_path / "r.html")
    bad_date = runner.invoke(
        app, ["--db", str(demo_db), "report", "--since", "2025-13-01", "--out", out]
    )
    assert bad_date.exit_code == 1 and "not a date" in bad_date.stderr
    unknown = runner.invoke(app, ["--db", str(demo_db), "report", "--theme", "nope", "--out", out])
    assert unknown.exit_code == 1 and "Unknown theme" in unknown.stderr


# --- the nightly digest -------------------------------------------------------------


def run_day(db_path) -> str:
    return (
        sqlite_utils.Database(db_path)
        .execute("select min(started_at) from runs")
        .fetchone()[0][:10]
    )


def test_the_demo_ingest_leaves_a_digest_of_its_episodes_and_an_index(demo_db):
    day = run_day(demo_db)
    digest = demo_db.parent / "reports" / f"{day}.html"
    text = digest.read_text()
    ids = [r["id"] for r in sqlite_utils.Database(demo_db)["episodes"].rows]
    assert len(ids) == 4 and all(f'data-episode="{i}"' in text for i in ids)
    assert f'href="{day}.html"' in (demo_db.parent / "reports" / "index.html").read_text()


@pytest.fixture
def quiet_feed(runner, tmp_path):
    """The cheapest ingest: a feed with nothing in it."""
    db_path = tmp_path / "p.db"

    def cli(*args):
        return runner.invoke(app, ["--db", str(db_path), *args])

    cli.db_path = db_path
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss())
    assert cli("feeds", "add", str(feed)).exit_code == 0
    return cli


def test_ingest_names_its_digest_and_no_report_writes_none(quiet_feed):
    reports_dir = quiet_feed.db_path.parent / "reports"
    result = quiet_feed("--quiet", "ingest")
    assert result.exit_code == 0, result.stderr
    digest = reports_dir / f"{run_day(quiet_feed.db_path)}.html"
    assert result.stdout.strip().endswith(f"; digest {digest}")
    assert "Nothing new was analysed." in digest.read_text()
    assert (reports_dir / "index.html").is_file()
    digest.unlink()
    result = quiet_feed("--quiet", "ingest", "--no-report")
    assert result.exit_code == 0 and "digest" not in result.stdout
    assert not digest.exists()


def test_a_digest_that_cannot_be_written_fails_the_run_and_keeps_its_record(quiet_feed):
    (quiet_feed.db_path.parent / "reports").write_text("a file where the folder goes")
    result = quiet_feed("--quiet", "ingest")
    assert result.exit_code == 1 and "Failed: digest:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout  # one sentence, in the log file
    run = sqlite_utils.Database(quiet_feed.db_path)["runs"].get(1)
    assert run["status"] == "failed" and run["finished_at"]
    assert "digest:" in json.loads(run["errors"])[0]


def test_without_matplotlib_the_report_says_what_is_missing(demo_db, tmp_path):
    out = tmp_path / "plain.html"
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"  # as if the extra were not installed
        "from pipeline.cli import app; app()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(demo_db), "report", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'podinsights[report]'" in done.stderr
    page = out.read_text()
    assert "<svg" not in page and page.count("Charts need matplotlib") >= 3


# --- the pages in a browser -----------------------------------------------------------


@pytest.fixture(scope="module")
def pages(demo_db, tmp_path_factory):
    """The full report (written by the command) and the demo run's digest and index."""
    from typer.testing import CliRunner

    report = tmp_path_factory.mktemp("report") / "demo-report.html"
    result = CliRunner().invoke(app, ["--db", str(demo_db), "report", "--out", str(report)])
    assert result.exit_code == 0, result.stderr
    folder = demo_db.parent / "reports"
    return {
        "report": report,
        "digest": folder / f"{run_day(demo_db)}.html",
        "index": folder / "index.html",
    }


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def open_page(browser, path: Path, width: int = 1000):
    """The page from its file, every request it makes recorded, and any request off
    this machine refused (the page must not need the network)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route("http*://**/*", lambda route: route.abort())
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, requests


def test_the_network_check_sees_a_request_from_a_page(browser, tmp_path):
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<!DOCTYPE html><img src="http://203.0.113.9/pixel.png" alt="">')
    page, requests = open_page(browser, page_file)
    assert "http://203.0.113.9/pixel.png" in requests
    page.context.close()


@pytest.mark.parametrize("name", ["report", "digest", "index"])
def test_pages_need_no_network_and_parse_without_errors(browser, pages, name, tmp_path):
    page, requests = open_page(browser, pages[name])
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    assert requests == [pages[name].resolve().as_uri()]
    page.context.close()
    html5lib = pytest.importorskip("html5lib")
    parser = html5lib.HTMLParser()
    parser.parse(pages[name].read_text(encoding="utf-8"))
    assert not parser.errors, parser.errors[:5]


@pytest.mark.parametrize("name", ["report", "digest"])
def test_every_chart_draws_its_marks(browser, pages, name):
    page, _ = open_page(browser, pages[name])
    charts = page.locator("figure.chart")
    names = {charts.nth(i).get_attribute("data-chart") for i in range(charts.count())}
    assert (
        names == {"report": {"changes", "timeline", "roles", "people"}, "digest": {"themes"}}[name]
    )
    for i in range(charts.count()):
        chart = charts.nth(i)
        marks = chart.locator('svg [id*="-mark-"]')
        assert marks.count() > 0, chart.get_attribute("data-chart")
        drawn = [box for box in (marks.nth(j).bounding_box() for j in range(marks.count())) if box]
        assert any(b["width"] > 0 and b["height"] > 0 for b in drawn), chart.get_attribute(
            "data-chart"
        )
        assert chart.locator("svg").bounding_box()["width"] > 200
    assert page.locator(".chart-missing").count() == 0
    page.context.close()


@pytest.mark.parametrize("name", ["report", "digest"])
def test_every_quote_links_to_its_episode_at_its_second(browser, pages, demo_db, name):
    db = sqlite_utils.Database(demo_db)
    page, _ = open_page(browser, pages[name])
    quotes = page.locator("blockquote.quote")
    assert quotes.count() >= 3
    for i in range(quotes.count()):
        quote = quotes.nth(i)
        mention = db["theme_mentions"].get(int(quote.get_attribute("data-mention")))
        segment = db["segments"].get(mention["segment_id"])
        episode = db["episodes"].get(mention["episode_id"])
        href = quote.locator("a.moment").get_attribute("href")
        assert href == audio_link(episode["enclosure_url"], segment["start_time"])
        assert href.endswith(f"#t={int(segment['start_time'])}")
        assert quote.get_attribute("data-episode") == episode["id"]
        text = quote.inner_text()
        assert segment["text"] in text and episode["title"] in text
        assert (episode["published"] or "")[:10] in text
    page.context.close()


@pytest.mark.parametrize("name", ["report", "digest"])
def test_pages_fit_a_phone_and_print(browser, pages, name, tmp_path):
    page, _ = open_page(browser, pages[name], width=390)
    page.screenshot(path=str(tmp_path / f"{name}-phone.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0  # nothing wider than the screen: no sideways scrolling
    pdf = page.pdf(path=str(tmp_path / f"{name}.pdf"))
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 2
    page.context.close()
