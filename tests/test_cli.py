"""The CLI through Typer's CliRunner, checked through the database."""

import json

import pytest

import pipeline.store.db as dbmod
from pipeline.cli import app

from .conftest import ROOT
from .feedgen import item, rss


@pytest.fixture
def cli(runner, tmp_path):
    path = tmp_path / "p.db"

    def invoke(*args):
        return runner.invoke(app, ["--db", str(path), *args])

    invoke.db_path = path
    return invoke


@pytest.fixture
def feed_file(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item("a"), item("b"), title="Local Show"))
    return path


def test_feeds_add_list_remove(cli, feed_file):
    assert cli("feeds", "add", str(feed_file)).exit_code == 0
    listed = json.loads(cli("feeds", "list", "--json").stdout)
    assert [f["url"] for f in listed] == [feed_file.resolve().as_uri()]
    assert listed[0]["private"] is True  # a local file the user gave may use local paths
    assert cli("feeds", "remove", str(listed[0]["id"])).exit_code == 0
    assert json.loads(cli("feeds", "list", "--json").stdout) == []


def test_a_feed_keeps_its_own_model_until_it_is_cleared(cli, feed_file):
    assert cli("feeds", "add", str(feed_file), "--model", "base").exit_code == 0
    assert json.loads(cli("feeds", "list", "--json").stdout)[0]["model"] == "base"
    assert cli("feeds", "set", "1", "--model", "").exit_code == 0
    assert json.loads(cli("feeds", "list", "--json").stdout)[0]["model"] is None
    cli("feeds", "set", "1", "--model", "base")
    nothing = cli("feeds", "set", "1")  # no setting given: nothing changes
    assert nothing.exit_code == 1 and "Nothing to change" in nothing.stderr
    assert json.loads(cli("feeds", "list", "--json").stdout)[0]["model"] == "base"


def test_an_unknown_model_for_a_feed_is_one_clear_error(cli, feed_file):
    cli("feeds", "add", str(feed_file))
    result = cli("feeds", "set", "1", "--model", "tiny-typo")
    assert result.exit_code == 1 and "Unknown model 'tiny-typo'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert json.loads(cli("feeds", "list", "--json").stdout)[0]["model"] is None


def test_opml_import_then_export_round_trips(cli, tmp_path, feed_file):
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        '<outline text="group"><outline text="Other" xmlUrl="https://example.org/f"/></outline>'
        '<outline text="Remote" xmlUrl="https://example.com/feed.rss"/></body></opml>'
    )
    assert cli("feeds", "import", str(opml)).exit_code == 0
    assert cli("feeds", "import", str(opml)).exit_code == 0  # idempotent
    assert cli("feeds", "add", str(feed_file)).exit_code == 0  # local files: only this way
    exported = cli("feeds", "export").stdout
    assert "https://example.com/feed.rss" in exported and str(feed_file.resolve()) in exported
    again = tmp_path / "again.opml"
    again.write_text(exported)
    assert cli("feeds", "import", str(again)).exit_code == 0
    assert len(json.loads(cli("feeds", "list", "--json").stdout)) == 3


def test_poll_then_episodes_json_is_pure_json(cli, feed_file):
    cli("feeds", "add", str(feed_file))
    assert cli("poll").exit_code == 0
    result = cli("episodes", "--json")
    rows = json.loads(result.stdout)
    assert {r["title"] for r in rows} == {"Episode one"} and len(rows) == 2
    assert all(r["status"] == "new" for r in rows)
    assert json.loads(cli("episodes", "--status", "failed", "--json").stdout) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["feeds", "add", "/no/such/feed.xml"], "neither an http(s) URL nor an existing feed file"),
        (["feeds", "add", "ftp://example.com/feed"], "only http, https and local files"),
        (["feeds", "remove", "42"], "No subscription matches 42"),
        (["feeds", "import", "/no/such.opml"], "No OPML file"),
        (["episodes", "--status", "bogus"], "Unknown status"),
    ],
)
def test_user_errors_are_one_sentence_on_stderr(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_opml_is_a_clear_error(cli, tmp_path):
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline")
    result = cli("feeds", "import", str(bad))
    assert result.exit_code == 1 and "is not valid OPML" in result.stderr


def test_entity_expansion_in_opml_is_refused(cli, tmp_path):
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>&b;</body></opml>'
    )
    result = cli("feeds", "import", str(bomb))
    assert result.exit_code == 1 and "not valid OPML" in result.stderr


def test_not_a_database_is_a_clear_error(runner, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    result = runner.invoke(app, ["--db", str(junk), "episodes"])
    assert result.exit_code == 1 and "Cannot open database" in result.stderr


def test_db_option_and_env_var_choose_the_database(runner, tmp_path, feed_file, monkeypatch):
    path = tmp_path / "env.db"
    monkeypatch.setenv("PODINSIGHTS_DB", str(path))
    assert runner.invoke(app, ["feeds", "add", str(feed_file)]).exit_code == 0
    assert dbmod.connect(path)["feeds"].count == 1


def test_every_command_has_help_text(runner):
    from typer.main import get_command

    group = get_command(app)
    names = list(group.commands)
    assert {"feeds", "poll", "download", "ingest", "episodes"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert group.commands[name].help, f"{name} has no help text"


def test_every_command_has_a_readme_entry(runner):
    from typer.main import get_command

    readme = (ROOT / "README.md").read_text()
    group = get_command(app)
    names = [n for n in group.commands if n != "feeds"]
    names += [f"feeds {n}" for n in group.commands["feeds"].commands]
    missing = [n for n in names if f"podinsights {n}" not in readme]
    assert not missing, f"commands without a README example: {missing}"


def test_status_shows_failures_and_retry_puts_the_episode_back(cli, tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    (show / "empty.mp3").write_bytes(b"")
    (show / "feed.xml").write_bytes(rss(item("e", url="empty.mp3")))
    cli("feeds", "add", str(show / "feed.xml"))
    assert cli("ingest").exit_code == 1
    report = json.loads(cli("status", "--json").stdout)
    assert report["runs"][0]["status"] == "failed" and report["backlog"] == {"failed": 1}
    (failure,) = report["failures"]
    assert failure["failed_stage"] == "download" and "empty" in failure["last_error"]
    assert failure["attempts"] == 1 and failure["retry_after"]
    assert cli("retry", failure["id"]).exit_code == 0
    (row,) = json.loads(cli("episodes", "--json").stdout)
    assert (row["status"], row["attempts"], row["last_error"]) == ("new", 0, None)
    again = cli("retry", failure["id"])
    assert again.exit_code == 1 and "not failed" in again.stderr


def test_failures_are_parked_after_the_last_attempt(db):
    from pipeline.store.episodes import MAX_ATTEMPTS, mark_failed

    db["feeds"].insert({"id": 1, "url": "http://x"})
    db["episodes"].insert({"id": "e", "feed_id": 1, "guid": "g"})
    for _ in range(MAX_ATTEMPTS):
        mark_failed(db, "e", "download", "HTTP 500")
    row = db["episodes"].get("e")
    assert (row["attempts"], row["retry_after"]) == (MAX_ATTEMPTS, None)


def test_feeds_list_says_which_feeds_may_reach_private_addresses(cli):
    assert cli("feeds", "add", "http://93.184.216.34/feed.xml").exit_code == 0  # public
    assert cli("feeds", "add", "http://127.0.0.1:9/feed.xml").exit_code == 0  # the user's own
    listed = json.loads(cli("feeds", "list", "--json").stdout)
    assert [f["private"] for f in listed] == [False, True]
    table = cli("feeds", "list").stdout
    assert "private" in table
