"""Full-text search on a small real SQLite corpus, and on the ingested demo."""

import json

import pytest

import pipeline.store.db as dbmod
from pipeline.analysis.stage import sync_segment_themes
from pipeline.cli import app
from pipeline.errors import PipelineError
from pipeline.query.reports import theme_breakdown, theme_counts
from pipeline.query.search import Filters, SearchError, audio_link, search
from pipeline.timecodes import clock

SEGMENTS = [
    # episode, start, text, speaker, quality
    (
        "e1",
        65.0,
        "People choose to follow you and they can stop following with one tap.",
        "Ann",
        "ok",
    ),
    ("e1", 70.0, "Her followers felt they belonged to something bigger.", "Bob", "ok"),
    ("e1", 80.0, "We talked about trust and the team.", None, "ok"),
    ("e2", 5.0, "Crafting a sense of us is what identity leaders do.", "Ann", "ok"),
    ("e2", 9.0, "The team trusted her because she earned it.", "Cy", "ok"),
    ("e2", 12.0, "thank you thank you thank you thank you thank you", None, "repetition"),
    ("e2", 3725.0, "Difficult customers demand to speak to someone senior.", None, "ok"),
]


@pytest.fixture
def corpus(db):
    db["feeds"].insert({"id": 1, "url": "http://x/feed", "title": "Edge Talk"})
    db["episodes"].insert_all(
        [
            {
                "id": "e1",
                "feed_id": 1,
                "guid": "1",
                "title": "Followers",
                "published": "2025-01-10T07:00:00Z",
                "enclosure_url": "http://cdn/e1.mp3",
            },
            {
                "id": "e2",
                "feed_id": 1,
                "guid": "2",
                "title": "Identity",
                "published": "2025-06-10T07:00:00Z",
                "enclosure_url": "http://cdn/e2.mp3?x=1",
            },
        ]
    )
    for idx, (episode, start, text, speaker, quality) in enumerate(SEGMENTS):
        db["segments"].insert(
            {
                "episode_id": episode,
                "idx": idx,
                "start_time": start,
                "end_time": start + 4,
                "text": text,
                "speaker": speaker,
                "quality": quality,
            }
        )
    db["themes"].insert_all(
        [
            {"id": t, "label": t, "category": "leadership"}
            for t in ("followership", "trust", "identity-entrepreneurship")
        ]
    )
    ids = {r["text"][:12]: r["id"] for r in db["segments"].rows}
    db["theme_mentions"].insert_all(
        [
            {
                "episode_id": "e1",
                "segment_id": ids["People choos"],
                "speaker": "Ann",
                "theme_id": "followership",
                "start_time": 66.0,
                "method": "keyword",
            },
            {
                "episode_id": "e1",
                "segment_id": ids["Her follower"],
                "speaker": "Bob",
                "theme_id": "followership",
                "start_time": 70.5,
                "method": "keyword",
            },
            {
                "episode_id": "e2",
                "segment_id": ids["The team tru"],
                "speaker": "Cy",
                "theme_id": "trust",
                "start_time": 9.0,
                "method": "keyword",
            },
        ]
    )
    for episode in ("e1", "e2"):
        sync_segment_themes(db, episode)
    db["people"].insert({"id": 1, "name": "Ann Lee", "aliases": json.dumps(["Ann"])})
    db["episode_people"].insert({"episode_id": "e1", "person_id": 1, "role": "host"})
    return db


def texts(hits):
    return [h["text"] for h in hits]


def test_porter_stemming_finds_every_inflection(corpus):
    found = texts(search(corpus, "following"))
    assert any("followers" in t for t in found) and any("follow you" in t for t in found)


def test_hits_carry_show_episode_time_and_a_link_to_the_moment(corpus):
    (hit,) = search(corpus, "customers")
    assert (hit["show"], hit["episode"], hit["date"]) == ("Edge Talk", "Identity", "2025-06-10")
    assert hit["time"] == "1:02:05"
    assert hit["link"] == "http://cdn/e2.mp3?x=1#t=3725"
    assert "\x02customers\x03" in hit["snippet"].lower()


def test_phrase_prefix_and_boolean_queries(corpus):
    assert texts(search(corpus, '"sense of us"')) == [SEGMENTS[3][2]]
    assert len(search(corpus, "belong*")) == 1
    assert len(search(corpus, "trust AND team")) == 2
    assert len(search(corpus, "customers OR crafting")) == 2
    assert texts(search(corpus, "team NOT earned")) == [SEGMENTS[2][2]]


@pytest.mark.parametrize("query", ['trust AND (team OR"', '"followers', "trust: team", "team)"])
def test_invalid_fts_syntax_is_searched_as_plain_words(corpus, query):
    assert search(corpus, query)  # no exception; the words still find hits


def test_flagged_segments_never_come_up(corpus):
    assert search(corpus, "thank") == []


def test_theme_filter_and_theme_listing_without_words(corpus):
    assert texts(search(corpus, "trust OR belonged", Filters(theme="followership"))) == [
        SEGMENTS[1][2]
    ]
    listed = search(corpus, None, Filters(theme="followership"))
    assert [h["time"] for h in listed] == ["0:01:05", "0:01:10"]
    assert all(h["themes"] == ["followership"] for h in listed)


def test_person_filter_uses_speakers_and_aliases(corpus):
    said = texts(search(corpus, "follow* OR crafting OR trust*", Filters(person="Ann Lee")))
    # Ann's own lines (speaker "Ann", an alias), and unattributed lines of an episode she
    # hosted; Cy's line in episode 2 is not hers.
    assert sorted(said) == sorted([SEGMENTS[0][2], SEGMENTS[2][2], SEGMENTS[3][2]])


def test_role_filter_keeps_what_the_episodes_host_or_a_guest_said(corpus):
    corpus["people"].insert({"id": 2, "name": "Bob Stone", "aliases": json.dumps(["Bob"])})
    corpus["episode_people"].insert({"episode_id": "e1", "person_id": 2, "role": "guest"})
    query = "follow* OR crafting OR trust*"
    # Ann hosts e1 only: her line in e2 is not a host's; unattributed lines never count.
    assert texts(search(corpus, query, Filters(role="host"))) == [SEGMENTS[0][2]]
    assert texts(search(corpus, query, Filters(role="guest"))) == [SEGMENTS[1][2]]


def test_theme_breakdown_by_role_and_by_month(corpus):
    by_role = {(r["theme"], r["role"]): r["mentions"] for r in theme_breakdown(corpus, "role")}
    assert by_role == {
        ("followership", "host"): 1,  # Ann, as "Ann", hosting e1
        ("followership", "unattributed"): 1,  # Bob: nobody the episode names
        ("trust", "unattributed"): 1,
    }
    by_month = [(r["month"], r["theme"], r["mentions"]) for r in theme_breakdown(corpus, "month")]
    assert by_month == [("2025-01", "followership", 2), ("2025-06", "trust", 1)]
    with pytest.raises(PipelineError, match="decade"):
        theme_breakdown(corpus, "decade")


def test_theme_counts_and_breakdowns_take_theme_show_and_date_filters(corpus):
    since_june = {r["id"]: r["mentions"] for r in theme_counts(corpus, Filters(since="2025-06-01"))}
    assert since_june["trust"] == 1 and since_june["followership"] == 0
    trust = theme_breakdown(corpus, "month", Filters(theme="trust"))
    assert [(r["month"], r["theme"], r["mentions"]) for r in trust] == [("2025-06", "trust", 1)]
    assert theme_breakdown(corpus, "role", Filters(feed="Nope")) == []


def test_an_unknown_theme_is_a_clear_error_not_an_empty_result(corpus):
    for run in (
        lambda: search(corpus, "team", Filters(theme="folowership")),
        lambda: theme_counts(corpus, Filters(theme="folowership")),
        lambda: theme_breakdown(corpus, "year", Filters(theme="folowership")),
    ):
        with pytest.raises(SearchError, match="Unknown theme 'folowership'"):
            run()


def test_feed_and_date_filters(corpus):
    assert len(search(corpus, "team", Filters(since="2025-06-01"))) == 1
    assert len(search(corpus, "team", Filters(until="2025-01-10"))) == 1
    assert search(corpus, "team", Filters(feed="Nope")) == []
    assert len(search(corpus, "team", Filters(feed="edge"))) == 2


def test_date_filter_is_exact_when_episodes_arrive_out_of_date_order(corpus):
    # e3 is older than e2 but stored after it: the id span of the kept episodes
    # (e1..e3) contains e2, which the filter must still drop.
    corpus["episodes"].insert(
        {"id": "e3", "feed_id": 1, "guid": "3", "title": "Back", "published": "2025-03-01"}
    )
    corpus["segments"].insert(
        {"episode_id": "e3", "idx": 0, "start_time": 1.0, "end_time": 3.0, "text": "A team."}
    )
    assert {h["episode_id"] for h in search(corpus, "team", Filters(until="2025-03-31"))} == {
        "e1",
        "e3",
    }
    assert texts(search(corpus, "team", Filters(since="2025-02-01", until="2025-04-01"))) == [
        "A team."
    ]
    assert search(corpus, "team", Filters(since="2030-01-01")) == []


def test_no_words_and_no_theme_is_a_clear_error(corpus):
    with pytest.raises(SearchError, match="Give words"):
        search(corpus, "  ")


def test_index_follows_retranscription(corpus):
    corpus.execute("delete from segments where episode_id = 'e2'")
    assert search(corpus, "customers") == []
    corpus["segments"].insert(
        {
            "episode_id": "e2",
            "idx": 0,
            "start_time": 1,
            "end_time": 2,
            "text": "New customers arrived.",
            "quality": "ok",
        }
    )
    assert len(search(corpus, "customer")) == 1
    corpus.execute("update segments set quality = 'repetition' where text like 'New%'")
    assert search(corpus, "customer") == []
    corpus.execute("update segments set themes = 'trust'")  # as analysis does
    # FTS5's own check that the index matches the content it was built from.
    corpus.execute("insert into segments_fts(segments_fts, rank) values ('integrity-check', 1)")


def test_episode_titles_and_show_notes_are_indexed(corpus):
    corpus["episodes"].update("e1", {"description": "A talk about influencers online."})
    rows = corpus.execute(
        "select e.id from episodes_fts join episodes e on e.rowid = episodes_fts.rowid "
        "where episodes_fts match 'influencer'"
    ).fetchall()
    assert rows == [("e1",)]


def test_clock_and_links():
    assert clock(3725.9) == "1:02:05" and clock(0) == "0:00:00"
    assert audio_link("http://x/a.mp3#old", 12.7) == "http://x/a.mp3#t=12"
    assert audio_link(None, 3) is None


def test_search_followership_on_the_demo_shows_timed_hits(runner, demo_db):
    result = runner.invoke(app, ["--db", str(demo_db), "search", "followership", "--json"])
    hits = json.loads(result.stdout)
    assert hits and all(h["link"].split("#t=")[1].isdigit() for h in hits)
    assert all(h["show"] and h["episode"] and h["time"] for h in hits)
    listed = json.loads(
        runner.invoke(
            app,
            ["--db", str(demo_db), "search", "--theme", "followership", "--json", "--limit", "100"],
        ).stdout
    )
    counts = (
        dbmod.connect(demo_db)
        .execute(
            "select count(distinct segment_id) from theme_mentions where theme_id = 'followership'"
        )
        .fetchone()[0]
    )
    assert len(listed) == counts > 3


def test_empty_result_says_so(runner, demo_db):
    result = runner.invoke(app, ["--db", str(demo_db), "search", "zebra"])
    assert result.exit_code == 0 and "No results" in result.stderr
