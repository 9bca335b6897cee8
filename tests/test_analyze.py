"""Themes, people and key phrases: the codebook, the matcher, the stage and the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

import pipeline.analysis.semantic as semantic
from pipeline.analysis.codebook import CodebookError, load_codebook
from pipeline.analysis.engine import Analyzer
from pipeline.analysis.stage import analyze_episodes, pending_analyses
from pipeline.cli import app
from pipeline.models import Segment, Word
from pipeline.transcribe.publisher import parse_transcript

from .conftest import DEMO, ROOT

CODEBOOK = ROOT / "data" / "themes.toml"


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(use_semantic=False)


def themes_in(analyzer, text):
    return {m.theme for m in analyzer.analyze_text(text).mentions}


# The codebook ------------------------------------------------------------------------


def test_shipped_codebook_covers_every_required_theme():
    ids = {t.id for t in load_codebook().themes}
    required = {
        "identity-prototypicality",
        "identity-advancement",
        "identity-entrepreneurship",
        "identity-impresarioship",
        "servant-leadership",
        "positional-authority",
        "earned-leadership",
        "charismatic-leadership",
        "trust",
        "learning-and-growth",
        "change-and-reinvention",
        "creativity",
        "diversity-and-inclusion",
        "influence",
        "followership",
        "follower-styles",
        "social-media-influencers",
        "community-building",
        "difficult-customers",
        "sales-and-marketing",
        "silos-and-collaboration",
        "credit-and-recognition",
        "confidence",
    }
    assert required <= ids
    assert all(t.definition and t.label and t.category for t in load_codebook().themes)


BROKEN_PATTERN = """
[[themes]]
id = "trust"
label = "Trust"
category = "leadership"
definition = "Trust at work."
patterns = [[{ LEMMA = "trust" }], [{ LEMMMA = "faith" }]]
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (BROKEN_PATTERN, "theme 'trust' pattern 2 is not a valid spaCy token pattern"),
        ("[[themes]]\nid = 'x'\nlabel = 'X'\ncategory = 'leadership'\n", "has no definition"),
        (
            "[[themes]]\nid = 'x'\nlabel = 'X'\ncategory = 'sport'\ndefinition = 'd'\n",
            "category 'sport'",
        ),
        (
            "[[themes]]\nid = 'Bad Id'\nlabel = 'X'\ncategory = 'leadership'\ndefinition = 'd'\n",
            "lowercase letters",
        ),
        ("themes = [", "not valid TOML"),
    ],
)
def test_invalid_codebooks_name_the_theme_and_the_problem(tmp_path, text, message):
    path = tmp_path / "themes.toml"
    path.write_text(text)
    with pytest.raises(CodebookError, match=message):
        load_codebook(path)


def test_codebook_hash_changes_with_content_not_comments(tmp_path):
    copy = tmp_path / "themes.toml"
    shutil.copy(CODEBOOK, copy)
    before = load_codebook(copy).digest
    copy.write_text("# a comment\n" + copy.read_text())
    assert load_codebook(copy).digest == before
    copy.write_text(copy.read_text().replace('label = "Trust"', 'label = "Trust at work"'))
    assert load_codebook(copy).digest != before


# Matching ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["followers", "following", "followed", "follower"])
def test_lemmas_match_every_inflection(analyzer, form):
    text = {
        "followers": "She has ninety thousand followers.",
        "following": "He has built a loyal following online.",
        "followed": "People followed her because they chose to.",
        "follower": "Every follower decides for themselves.",
    }[form]
    assert "followership" in themes_in(analyzer, text)


@pytest.mark.parametrize(
    "text, theme",
    [
        ("I'll send you a follow-up email.", "followership"),
        ("See you the following week.", "followership"),
        ("The house still had a lead pipe.", "sales-and-marketing"),
        ("My credit card was declined.", "credit-and-recognition"),
        ("She left money in a trust fund.", "trust"),
    ],
)
def test_false_friends_are_excluded(analyzer, text, theme):
    assert theme not in themes_in(analyzer, text)


def test_social_identity_phrases(analyzer):
    found = themes_in(analyzer, "Crafting a sense of us is the leader's job; she is one of us.")
    assert {"identity-entrepreneurship", "identity-prototypicality"} <= found


def test_mentions_are_timed_to_the_word(analyzer):
    words = [
        Word(10.0, 10.4, "Her"),
        Word(10.5, 11.0, "followers"),
        Word(11.2, 11.6, "love"),
        Word(11.7, 12.0, "it."),
    ]
    segment = Segment(0, 10.0, 12.0, "Her followers love it.", words=words, speaker="Ann")
    (mention,) = analyzer.analyze([segment]).mentions
    assert (mention.theme, mention.start, mention.end) == ("followership", 10.5, 11.0)
    assert (mention.method, mention.score, mention.speaker) == ("keyword", 1.0, "Ann")


def test_people_merge_across_spellings_with_roles(analyzer):
    result = analyzer.analyze(
        [
            Segment(0, 0, 5, "I'm your host, Dana Whitfield, and my guest today is Tony Marino."),
            Segment(1, 5, 9, "Thanks, Dana. Robert Kelley wrote about follower styles."),
        ],
        persons=[{"name": "Antonio Marino", "role": "guest"}],
        notes="Dana talks with Antonio (Tony) Marino.",
    )
    people = {p.name: p for p in result.people}
    assert people["Dana Whitfield"].role == "host"
    assert people["Antonio Marino"].role == "guest"
    assert {"Tony Marino", "Tony"} <= people["Antonio Marino"].aliases
    assert people["Robert Kelley"].role == "mentioned"


@pytest.mark.parametrize(
    "text",
    [
        "これはリーダーシップについての話です。フォロワーが大切です。",
        "🚀🔥 followers 💯💯💯 trust 🙏",
        "leadership " * 5000,
        "",
        "Ñandú über straße ça va? ¿Confianza? доверие и лидерство",
    ],
)
def test_any_text_is_analysed_without_crashing(analyzer, text):
    analyzer.analyze_text(text)


# The stage and the CLI -------------------------------------------------------------


def test_demo_themes_are_found_at_the_minute_they_were_said(demo_db):
    """The themes each episode's script was written to contain are found in that
    episode, in a minute where a line written with them is spoken or the next one.

    Whisper's words differ a little from CPU to CPU (its features are float sums whose
    last bits depend on the instruction set), so one phrase can be heard differently
    on another machine: on one, ep02's "making us matter" was lost. The check is over
    every (episode, theme) place the scripts hold, and 9 in 10 must be found: the
    demo has 35 such places, so up to 3 may go, more than any CPU has cost so far
    (1), and far fewer than a broken analysis stage loses."""
    db = sqlite_utils.Database(demo_db)
    by_guid = {r["guid"]: r["id"] for r in db["episodes"].rows}
    places, missing = 0, []
    for turns_path in sorted((DEMO / "audio").glob("ep*.turns.json")):
        episode = by_guid[f"long-table-{turns_path.name[:4]}"]
        found: dict[str, set[int]] = {}
        for row in db.query(
            "select theme_id, start_time from theme_mentions where episode_id = ?", [episode]
        ):
            found.setdefault(row["theme_id"], set()).add(int(row["start_time"] // 60))
        written: dict[str, set[int]] = {}
        for turn in json.loads(turns_path.read_text()):
            for theme in turn["themes"]:
                minutes = range(int(turn["start"] // 60), int(turn["end"] // 60) + 2)
                written.setdefault(theme, set()).update(minutes)
        places += len(written)
        missing += [
            (turns_path.name[:4], t) for t, m in written.items() if not found.get(t, set()) & m
        ]
    assert places >= 30
    assert len(missing) <= places // 10, f"not found at the right minute: {missing}"


def test_people_in_real_podcast_transcripts_are_people(analyzer, realdata):
    """Podnews weekly reviews (publisher transcripts): names come from speech recognition
    and speaker labels, among brand and show names shaped like people's."""
    found: dict[str, str] = {}
    for name in (
        "transcriptator_podnews_weekly_review_2023-03-17.html",
        "transcriptator_podnews_weekly_review_2024-01-19.vtt",
    ):
        segments = parse_transcript((realdata / "transcripts" / name).read_bytes(), name=name)
        found |= {p.name: p.role for p in analyzer.analyze(segments).people}
    # "This is the Podnews Weekly Review with James Cridland and Sam Sethi."
    assert found["James Cridland"] == found["Sam Sethi"] == "host"
    assert {"Joe Rogan", "Adam Curry", "Brian Baumgartner", "Andy Goldsmith"} <= found.keys()
    # Not people: a "Jingle" speaker label, the awards' and the podcast hosting company
    # taken for hosts, "an app called Fountain", "a new tag called Accepts Guests".
    not_people = {"Jingle", "Accent", "Defining", "Accepts Guests", "Fountain", "Good Lord"}
    assert not not_people & found.keys()
    assert "host" not in (found.get("Bus Sprout"), found.get("Buzz Sprout"))


def test_themes_command_counts_mentions_per_theme(runner, demo_db):
    rows = json.loads(runner.invoke(app, ["--db", str(demo_db), "themes", "--json"]).stdout)
    counts = {r["id"]: r for r in rows}
    assert counts["followership"]["mentions"] >= 3 and counts["followership"]["episodes"] >= 2
    methods = ("keyword", "classifier", "semantic")
    assert all(sum(r[m] for m in methods) == r["mentions"] for r in rows if r["mentions"])
    assert sum(r["classifier"] for r in rows) > 0  # talk about a theme in other words


def test_counts_that_are_zero_are_0_not_null_in_json(runner, demo_db):
    """A theme nobody mentioned, or mentioned only by keyword, counts 0 for the other
    methods: a null would read as "not measured" in a report."""
    args = ["--db", str(demo_db), "themes", "--json", "--since", "2100-01-01"]
    rows = json.loads(runner.invoke(app, args).stdout)
    assert rows and all(r["mentions"] == 0 for r in rows)  # nothing published then
    for row in rows:
        assert all(
            isinstance(row[k], int)
            for k in ("mentions", "episodes", "keyword", "classifier", "semantic")
        ), row
    people = json.loads(runner.invoke(app, ["--db", str(demo_db), "people", "--json"]).stdout)
    assert people and all(
        isinstance(p[k], int) for p in people for k in ("host", "guest", "mentioned", "mentions")
    )


def test_themes_by_role_says_whether_the_host_or_a_guest_raised_each_theme(runner, demo_db):
    def themes(*options):
        result = runner.invoke(app, ["--db", str(demo_db), "themes", *options, "--json"])
        return json.loads(result.stdout)

    totals = {r["id"]: r["mentions"] for r in themes()}
    by_role = themes("--by", "role")
    for theme, total in totals.items():
        assert sum(r["mentions"] for r in by_role if r["theme"] == theme) == total
    # Dana Whitfield hosts every demo episode: the host's share is exactly her lines.
    dana = dict(
        sqlite_utils.Database(demo_db)
        .execute(
            "select theme_id, count(*) from theme_mentions"
            " where speaker = 'Dana Whitfield' group by theme_id"
        )
        .fetchall()
    )
    assert {r["theme"]: r["mentions"] for r in by_role if r["role"] == "host"} == dana
    # Every voice in the demo is named; a mention is unattributed only where diarization
    # is unsure of its segment's speaker (under 3% of the demo's talk in the bench, so at
    # most a tenth of the mentions, allowing for mentions near a change of speaker).
    roles = {r["role"] for r in by_role}
    assert {"host", "guest"} <= roles <= {"host", "guest", "unattributed"}
    unsure = sum(r["mentions"] for r in by_role if r["role"] == "unattributed")
    assert unsure <= 0.1 * sum(totals.values())
    by_year = themes("--by", "year")
    assert {r["year"] for r in by_year} == {"2025", "2026"}
    assert sum(r["mentions"] for r in by_year) == sum(totals.values())
    by_month = themes("--by", "month", "--theme", "followership")
    assert {r["theme"] for r in by_month} == {"followership"}
    assert sum(r["mentions"] for r in by_month) == totals["followership"]
    assert themes("--since", "2026-01-01")[0]["first_published"].startswith("2026")


def test_people_command_lists_hosts_and_guests_with_roles(runner, demo_db):
    rows = {
        r["name"]: r
        for r in json.loads(runner.invoke(app, ["--db", str(demo_db), "people", "--json"]).stdout)
    }
    assert rows["Dana Whitfield"]["host"] == 4
    assert (
        rows["Antonio Marino"]["guest"] == 2 and "Tony Marino" in rows["Antonio Marino"]["aliases"]
    )
    for guest in ("Priya Shah", "Marcus Hale", "Grace Walker"):
        assert rows[guest]["guest"] == 1
    # The show notes' "Kelley" and Whisper's "Robert Kelly" are one author, spelt as written.
    assert rows["Robert Kelley"]["mentioned"] == 1
    assert not {"Kelley", "Robert Kelly"} & rows.keys()


def test_analysis_records_its_provenance(demo_db):
    db = sqlite_utils.Database(demo_db)
    rows = list(db["analyses"].rows)
    assert len(rows) == 4
    assert {r["codebook_hash"] for r in rows} == {load_codebook().digest}
    assert all(r["spacy_model"].startswith("en_core_web_sm") and r["spacy_version"] for r in rows)


def test_keyphrases_are_scored_against_the_corpus(demo_db):
    db = sqlite_utils.Database(demo_db)
    top = list(
        db.query("select episode_id, phrase, score from keyphrases order by score desc limit 20")
    )
    assert top and all(r["score"] > 0 for r in top)


def test_analysis_is_incremental_and_a_codebook_change_reanalyses(tmp_path, demo_db, analyzer):
    path = tmp_path / "copy.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(path) as target:
        source.backup(target)  # a file copy would miss what is still in the WAL
    db = sqlite_utils.Database(path)
    assert pending_analyses(db, load_codebook().digest) == []
    edited = tmp_path / "themes.toml"
    edited.write_text(CODEBOOK.read_text().replace('label = "Trust"', 'label = "Trust!"'))
    changed = load_codebook(edited)
    assert len(pending_analyses(db, changed.digest)) == 4
    results = list(analyze_episodes(db, analyzer=Analyzer(changed, use_semantic=False)))
    assert len(results) == 4 and all(r.ok for r in results)
    assert pending_analyses(db, changed.digest) == []
    # No orphans: every mention points at a segment of its own episode.
    assert (
        db.execute(
            "select count(*) from theme_mentions m left join segments s on s.id = m.segment_id "
            "where s.id is null or s.episode_id != m.episode_id"
        ).fetchone()[0]
        == 0
    )


def test_analyze_text_prints_themes_with_method_and_people_with_roles(runner, tmp_path):
    text = tmp_path / "talk.txt"
    text.write_text("I'm your host Dana Whitfield. Today: why followers choose to follow.")
    result = runner.invoke(app, ["analyze-text", str(text), "--json", "--no-semantic"])
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    assert {"id": "followership", "method": "keyword"}.items() <= output["themes"][0].items()
    assert {"name": "Dana Whitfield", "role": "host"}.items() <= output["people"][0].items()


def test_analyze_text_reads_stdin(runner):
    result = runner.invoke(
        app,
        ["analyze-text", "-", "--json", "--no-semantic"],
        input="Smash the silos and collaborate.",
    )
    assert any(t["id"] == "silos-and-collaboration" for t in json.loads(result.stdout)["themes"])


def test_analyze_text_with_a_broken_codebook_is_one_clear_error(runner, tmp_path):
    bad = tmp_path / "themes.toml"
    bad.write_text(BROKEN_PATTERN)
    result = runner.invoke(app, ["analyze-text", "-", "--codebook", str(bad)], input="x")
    assert result.exit_code == 1 and "pattern 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_analyze_text_on_a_missing_file(runner):
    result = runner.invoke(app, ["analyze-text", str(Path("/no/such.txt"))])
    assert result.exit_code == 1 and "Cannot read" in result.stderr


def test_quality_on_the_labelled_evaluation_set_does_not_regress():
    """Thresholds a little under the figures in docs/benchmarks.md (test split: passages
    never used to tune the codebook)."""
    from benchmarks.themes import evaluate

    result = evaluate(Analyzer(use_semantic=False))
    test = result["parts"]["test"]
    precision, recall, f1 = test["keyword"].prf()
    assert precision >= 0.75 and f1 >= 0.57, (precision, recall, f1)
    assert test["people"]["f1"] >= 0.95 and test["people"]["role_accuracy"] >= 0.95


@pytest.mark.parametrize(
    "name, f1, roles",
    [
        ("people-dev", 0.94, 0.93),
        ("people-dev-2", 0.92, 0.955),
        ("people-dev-3", 0.895, 0.91),
        ("people-dev-4", 0.75, 0.95),
        ("people-dev-5", 0.58, 0.62),
        ("people-dev-6", 0.89, 0.95),
        ("people-dev-7", 0.94, 0.915),
        ("people-dev-8", 0.88, 0.90),
    ],
)
def test_people_on_the_people_development_sets_do_not_regress(name, f1, roles):
    """Floors a little under the figures the rules were tuned to (people-dev: name F1
    0.954, role accuracy 0.954; people-dev-2: 0.947, 0.975; people-dev-3: 0.917, 0.957;
    people-dev-4: 0.824, 1.000; people-dev-5: 0.641, 0.680; people-dev-6: 0.949, 1.000;
    people-dev-7: 0.958, 0.936; people-dev-8: 0.899, 0.920;
    docs/benchmarks.md): 0.02 is about four of a set's 233-264 people (eight of
    people-dev-3's 502, four to seven of people-dev-7's 268 and -8's 360); people-dev-4,
    -5 and -6 have 29-49, so their margins of 0.04 are one or two of them. A rule slip
    fails it and spaCy's rounding on another CPU does not."""
    from benchmarks.themes import people_scores, predict
    from pipeline.analysis.training import load_passages

    passages = load_passages(ROOT / "tests" / "eval" / f"{name}.jsonl")
    people = people_scores(passages, predict(Analyzer(use_semantic=False), passages))
    assert people["f1"] >= f1 and people["role_accuracy"] >= roles, people


# The sealed set is never tuned on: these assert floors only, a little under the latest
# look logged in docs/benchmarks.md (themes P 0.771, F1 0.670; people name F1 0.869, role
# accuracy 0.890), and print nothing. The margins are two or three of its 350 passages,
# so a real regression fails them and spaCy's rounding on another CPU does not.
def test_people_on_the_sealed_set_hold():
    from benchmarks.themes import sealed_scores

    people = sealed_scores(Analyzer(use_semantic=False))[3]
    assert people["f1"] >= 0.85 and people["role_accuracy"] >= 0.87


# themes-dev-2 is written like the sealed set; its floors sit a little under what it
# measured when it was added (themes P 0.694, F1 0.666; people name F1 0.922, role
# accuracy 0.982): 0.02 of theme F1 is five to seven of its 350 passages, 0.02 of people
# two or three of its 125 labels.
@pytest.mark.skipif(not semantic.available(), reason="needs [semantic]")
def test_themes_and_people_on_the_sealed_like_development_set_hold():
    from benchmarks.themes import THEMES_DEV, people_scores, predict, theme_scores
    from pipeline.analysis.training import load_passages

    passages = load_passages(THEMES_DEV[0])
    found = predict(Analyzer(use_semantic=True), passages)
    precision, _, f1 = theme_scores(passages, found.combined).prf()
    people = people_scores(passages, found)
    assert precision >= 0.67 and f1 >= 0.645, (precision, f1)
    assert people["f1"] >= 0.90 and people["role_accuracy"] >= 0.96, people


@pytest.mark.skipif(not semantic.available(), reason="needs [semantic]")
def test_themes_on_the_sealed_set_hold():
    from benchmarks.themes import sealed_scores

    precision, _, f1 = sealed_scores(Analyzer(use_semantic=True))[0].prf()
    assert precision >= 0.75 and f1 >= 0.65


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "The Growth Desk is presented by Maya Okafor, and joining us today is Ben Ortiz.",
            {"Maya Okafor": "host", "Ben Ortiz": "guest"},
        ),
        (
            "I'm Sam Lee, and with me as always is my co-host Priya Nair.",
            {"Sam Lee": "host", "Priya Nair": "host"},
        ),
        (
            "This podcast is steered by Tom Reyes, and our guest this week is Dr Lena Brandt.",
            {"Tom Reyes": "host", "Lena Brandt": "guest"},
        ),
        (
            "Welcome to Shop Floor, led by Jo Park. On the line from Leeds is Marcus Webb.",
            {"Jo Park": "host", "Marcus Webb": "guest"},
        ),
        (
            "Hi, I'm Nia Cole and I'm joined by my fellow host Raj Patel. "
            "Our guest today is Ellen Moss.",
            {"Nia Cole": "host", "Raj Patel": "host", "Ellen Moss": "guest"},
        ),
        (
            "We're back on the show with Kate Lin, who runs a bakery in Perth.",
            {"Kate Lin": "guest"},
        ),
        (
            "As Peter Drucker put it, culture eats strategy for breakfast.",
            {"Peter Drucker": "mentioned"},
        ),
        ("Last year Carla told her manager she would quit.", {"Carla": "mentioned"}),
        # a hyphenated surname is one name, not "Jones" as well
        ("I'm your host Gareth Pryce-Jones.", {"Gareth Pryce-Jones": "host"}),
        (
            "The Night Shift is hosted as ever by Ana Ruiz-Bello and Tom Lindqvist.",
            {"Ana Ruiz-Bello": "host", "Tom Lindqvist": "host"},
        ),
        (
            "Joining us today are two old rivals, Mira Castell from the union, and Dev Anand.",
            {"Mira Castell": "guest", "Dev Anand": "guest"},
        ),
        (
            "Thank you, Dana, it's a real pleasure to be on the show.",
            {"Dana": "host"},
        ),
        (
            "Our first caller is Bridget Nolan. Bridget, you're on the air.",
            {"Bridget Nolan": "guest"},
        ),
        ("With me in the studio is Chef Marco Bellini.", {"Marco Bellini": "guest"}),
        ("My guest today is, um, Csilla Nagy.", {"Csilla Nagy": "guest"}),
        (
            "So Priya walks into the meeting with a printout, and she slaps it on the table.",
            {"Priya": "mentioned"},
        ),
        ("Welcome to Harbour Lights, I'm Wei Ling Tan.", {"Wei Ling Tan": "host"}),
        # a word said twice, as speech recognition writes it
        ("On the line from from Auckland is is Hinerangi Walker.", {"Hinerangi Walker": "guest"}),
        (
            "My guest today on The Follower Effect is Kenji Watanabe, who ran car plants.",
            {"Kenji Watanabe": "guest"},
        ),
        (
            "Thanks, Mateus. So, in my family, the shop came first.",
            {"Mateus": "host"},
        ),
        # a form of address is not part of the name, a place after "in" is not a person
        (
            "The assistant manager was Doña Fátima Rocha. When I joined the ministry in Oslo,"
            " my boss was Terje Lund, and I thought Terje was slow.",
            {"Fátima Rocha": "mentioned", "Terje Lund": "mentioned"},
        ),
        ("He barely spoke English and I barely spoke Japanese.", {}),
        # a lone name in a story as the object of a preposition, but not a place
        (
            "Why does the site listen to Mick? He's been a labourer here thirty years.",
            {"Mick": "mentioned"},
        ),
        ("We moved the office to Leeds, and she hated it.", {}),
        ("Hi, I'm Amara Obi, and it's great to be back on the show.", {"Amara Obi": "guest"}),
        (
            "Joining us on Team Talk Weekly is Inês Carvalho, a product director.",
            {"Inês Carvalho": "guest"},
        ),
        # the reply to a welcome is a guest's: whom they thank is the host
        (
            "My guest today is Jordan Mwale, who runs a clinic chain. Jordan, welcome. "
            "Thanks, Kwabena.",
            {"Jordan Mwale": "guest", "Kwabena": "host"},
        ),
        (
            "I'm Dmitri Volkov, and back on the show today is Eimear Walsh, who runs claims.",
            {"Dmitri Volkov": "host", "Eimear Walsh": "guest"},
        ),
        # who says "I'm NAME" hosts, unless they say they are on the show
        ("I'm Hana Sato, and that's a wrap for this season.", {"Hana Sato": "host"}),
        (
            "Thanks for having me. I'm Kofi Mensah, I run a bakery in Accra.",
            {"Kofi Mensah": "guest"},
        ),
        # what the show calls someone, and a name inside a described phrase
        (
            "Your guide this evening is Tomasz Nowak, and on the line from Cork is the baker"
            " Aoife Byrne.",
            {"Tomasz Nowak": "host", "Aoife Byrne": "guest"},
        ),
        ("Our panellists are Ruth Ode and Samir Lal.", {"Ruth Ode": "guest", "Samir Lal": "guest"}),
        # sign-offs, thanked guests and phone-ins
        ("That's all from me, Lena Fischer. See you next week.", {"Lena Fischer": "host"}),
        ("Omar Haddad, thank you for being my guest today.", {"Omar Haddad": "guest"}),
        (
            "Let's go to line two, Bridget Kane. Bridget, good morning. Good morning, Paul.",
            {"Bridget Kane": "guest", "Paul": "host"},
        ),
    ],
)
def test_roles_come_from_how_people_are_introduced_in_any_wording(analyzer, text, expected):
    """Hosts named by what they do, co-hosts, guests joining or on the line, cited
    authors and people in a story (the wordings of issue #14, not its passages)."""
    found = {p.name: p.role for p in analyzer.analyze_text(text).people}
    assert found == expected
