"""The words Whisper is told to expect: where they come from, in what order, how many."""

from __future__ import annotations

import json

import pytest

import pipeline.transcribe.vocabulary as vocabulary
from pipeline.analysis.codebook import load_codebook

from .conftest import ROOT


def test_show_notes_names_are_found_and_nicknames_unfolded():
    notes = (
        "Sales director Grace Walker tells Dana Whitfield how to say no. "
        "Antonio (Tony) Marino returns to talk about Kelley's follower styles."
    )
    names = vocabulary.names_in_notes(notes)
    assert {"Grace Walker", "Dana Whitfield", "Antonio Marino", "Tony Marino"} <= set(names)
    assert "Sales director" not in names and "Sales" not in " ".join(names)


def test_html_in_show_notes_is_not_read_as_names():
    assert vocabulary.names_in_notes("<p>With <b>Priya Shah</b></p>") == ["Priya Shah"]
    assert vocabulary.names_in_notes(None) == []


def test_episode_names_come_first_then_the_codebook_terms_each_once():
    episode = {
        "persons": json.dumps([{"name": "Priya Shah", "role": "guest"}]),
        "description": "Priya Shah and Marcus Hale on social identity.",
    }
    feed = {"author": "Dana Whitfield", "description": "A show with Dana Whitfield."}
    words = vocabulary.episode_vocabulary(episode, ["followership", "priya shah"], feed)
    assert words == ["Priya Shah", "Marcus Hale", "Dana Whitfield", "followership"]


def test_broken_persons_json_from_a_feed_gives_no_names_not_an_error():
    assert vocabulary.feed_people("{not json") == []
    assert vocabulary.feed_people("5") == vocabulary.feed_people('{"name": "x"}') == []
    assert vocabulary.feed_people(json.dumps([{"role": "host"}, "x", {"name": "Ann Lee"}])) == [
        "Ann Lee"
    ]


def test_the_users_list_and_the_codebook_vocabulary_are_both_used(tmp_path):
    codebook = tmp_path / "themes.toml"
    codebook.write_text((ROOT / "data" / "themes.toml").read_text())
    (tmp_path / "vocabulary.txt").write_text(
        "# names we hear often\n\nAmy Edmondson\n  Simon Sinek \n"
    )
    terms = vocabulary.transcription_terms(codebook)
    assert terms[-2:] == ["Amy Edmondson", "Simon Sinek"]
    assert {"followership", "Ira Chaleff", "a sense of us"} <= set(terms)


def test_the_prompt_holds_at_most_max_terms():
    words = [f"term{i}" for i in range(100)]
    prompt = vocabulary.prompt(words)
    assert prompt is not None and prompt.startswith(vocabulary.PREFIX)
    assert "term39" in prompt and "term40" not in prompt
    assert vocabulary.prompt([]) is None


def test_editing_the_vocabulary_does_not_re_analyse_every_episode(tmp_path):
    """The vocabulary steers transcription only: the codebook digest, which decides
    what is analysed again, ignores it."""
    source = (ROOT / "data" / "themes.toml").read_text()
    edited = tmp_path / "themes.toml"
    edited.write_text(source.replace('vocabulary = ["silos"]', 'vocabulary = ["silos", "x"]'))
    assert source != edited.read_text()
    assert load_codebook(edited).digest == load_codebook(ROOT / "data" / "themes.toml").digest


@pytest.mark.parametrize("bad", ['vocabulary = [""]', "vocabulary = [3]"])
def test_an_empty_or_non_text_vocabulary_entry_is_a_codebook_error(tmp_path, bad):
    from pipeline.analysis.codebook import CodebookError

    source = (ROOT / "data" / "themes.toml").read_text()
    edited = tmp_path / "themes.toml"
    edited.write_text(source.replace('vocabulary = ["silos"]', bad))
    with pytest.raises(CodebookError, match="vocabulary"):
        load_codebook(edited)
