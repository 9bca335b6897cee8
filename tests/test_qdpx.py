"""REFI-QDA exports (.qdpx, .qdc) validated against the standard's schemas
(tests/refiqda/, with their source and licence) and read back with an independent
reader (pyrefiqda); codebooks imported from other tools."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree
from pyrefiqda import RefiCodebook, RefiProject

from pipeline.analysis.codebook import load_codebook
from pipeline.analysis.stage import ensure_themes
from pipeline.cli import app
from pipeline.query.qdc import QdaError, read_codebook, skeleton_toml, write_qdc
from pipeline.query.qdpx import write_qdpx
from pipeline.review.codings import Coding, save_codings
from pipeline.store.db import connect
from pipeline.timecodes import clock

from .test_review import corpus, demo_with_script_coder

SCHEMAS = Path(__file__).parent / "refiqda"


def valid(xml: bytes, schema: str) -> None:
    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / schema)))
    document = etree.fromstring(xml)
    assert xsd.validate(document), [str(e) for e in xsd.error_log][:5]


def read_back(path: Path, folder: Path) -> list[dict]:
    """Every coding in the project as the independent reader sees it: its source's
    episode id (a variable), coder (user name), code name and the selected text, with
    the line it sits on."""
    project = RefiProject.load(path, extract_dir=str(folder))
    users = {u.guid: u.name for u in project.users.user}
    codes = {c.guid: c.name for parent in project.code_book.codes.code for c in parent.code}
    variables = {v.guid: v.name for v in project.variables.variable}
    found = []
    for source in project.sources.text_source:
        text = (folder / "Sources" / source.plain_text_path.removeprefix("internal://")).read_text(
            encoding="utf-8"
        )
        values = {
            variables[v.variable_ref.target_guid]: v.text_value for v in source.variable_value
        }
        for selection in source.plain_text_selection:
            (coding,) = selection.coding
            start, end = selection.start_position, selection.end_position
            line_start = text.rfind("\n", 0, start) + 1
            found.append(
                {
                    "episode": values["episode id"],
                    "coder": users[coding.creating_user],
                    "code": codes[coding.code_ref.target_guid],
                    "text": text[start:end],
                    "line": text[line_start : text.find("\n", end)],
                    "notes": [n.target_guid for n in selection.note_ref],
                }
            )
    return found


def expected_codings(path: Path) -> list[dict]:
    """Every coding in the database: the machine's codes and people's applied ones."""
    db = connect(path)
    rows = db.query(
        """
        select 'machine' as coder, m.episode_id, m.segment_idx, t.label from machine_codes m
        join themes t on t.id = m.theme_id
        union all
        select c.coder, c.episode_id, c.segment_idx, t.label from codings c
        join themes t on t.id = c.theme_id where c.decision = 'applied'
        """
    )
    out = []
    for row in rows:
        segment = db.execute(
            "select text, start_time from segments where episode_id = ? and idx = ?",
            [row["episode_id"], row["segment_idx"]],
        ).fetchone()
        out.append({**row, "text": segment[0], "at": clock(segment[1])})
    return out


def test_the_demo_project_is_schema_valid_and_every_coding_selects_its_segment(
    demo_db, tmp_path, runner
):
    path, _ = demo_with_script_coder(demo_db, tmp_path, runner)
    cli = ["--db", str(path)]
    out = tmp_path / "demo.qdpx"
    result = runner.invoke(app, [*cli, "export", "--format", "qdpx", str(out)])
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        valid(archive.read("project.qde"), "Project.xsd")
    found = read_back(out, tmp_path / "read")
    expected = expected_codings(path)
    assert len(found) == len(expected) > 100
    # 100%: each coding in the database is one selection, by its coder, of its code,
    # over exactly its segment's text, on the line stamped with that segment's time.
    remaining = Counter((f["coder"], f["code"], f["text"], f["line"]) for f in found)
    for row in expected:
        speaker_line = [
            k
            for k in remaining
            if k[:3] == (row["coder"], row["label"], row["text"])
            and k[3].startswith(f"[{row['at']}]")
            and remaining[k]
        ]
        assert speaker_line, row
        remaining[speaker_line[0]] -= 1
    assert {f["coder"] for f in found} == {"machine", "script"}


def coded(db):
    corpus(db)
    save_codings(
        db,
        [
            Coding("ann", "ep1", 1, "followership", "applied", memo="pushes back: <b> & more"),
            Coding("ann", "ep1", 2, "trust", "rejected", memo="a promise, not trust"),
            Coding("ann", "ep1", 3, "trust", "applied", start_char=2, end_char=10),
            Coding("bob", "ep1", 1, "trust", "applied", end_idx=2),
        ],
    )
    return db


def test_spans_character_ranges_and_memos_land_where_they_belong(db, tmp_path):
    coded(db)
    out = tmp_path / "p.qdpx"
    stats = write_qdpx(db, out)
    assert (stats.episodes, stats.notes) == (1, 2)
    found = read_back(out, tmp_path / "read")
    by = {(f["coder"], f["code"]): f for f in found if f["coder"] != "machine"}
    assert by[("ann", "Trust")]["text"] == "A customer shouted at my staff for an hour."[2:10]
    span = by[("bob", "Trust")]["text"]
    assert span.startswith("Good followers") and span.endswith("keeping every promise.")
    assert "[0:00:20] Dana: " in span  # the span runs over the next segment's line
    project = RefiProject.load(out, extract_dir=str(tmp_path / "again"))
    notes = {n.guid: n.plain_text_content for n in project.notes.note}
    assert notes[by[("ann", "Followership")]["notes"][0]] == "pushes back: <b> & more"
    (source,) = project.sources.text_source
    (rejection,) = [notes[n.target_guid] for n in source.note_ref]
    assert "Rejected trust at 0:00:20" in rejection and "a promise, not trust" in rejection
    with zipfile.ZipFile(out) as archive:
        valid(archive.read("project.qde"), "Project.xsd")


def test_the_audio_variant_syncs_each_coding_to_milliseconds(db, tmp_path):
    coded(db)
    (tmp_path / "audio" / "1").mkdir(parents=True)
    (tmp_path / "audio" / "1" / "ep1.mp3").write_bytes(b"ID3 not really audio")
    db["episodes"].update("ep1", {"audio_path": "audio/1/ep1.mp3"})
    out = tmp_path / "a.qdpx"
    assert write_qdpx(db, out, audio_dir=tmp_path).audio == 1
    with zipfile.ZipFile(out) as archive:
        valid(archive.read("project.qde"), "Project.xsd")
        assert any(n.endswith(".mp3") for n in archive.namelist())
    project = RefiProject.load(out, extract_dir=str(tmp_path / "read"))
    (source,) = project.sources.audio_source
    (transcript,) = source.transcript
    text = (
        tmp_path / "read" / "Sources" / transcript.plain_text_path.removeprefix("internal://")
    ).read_text()
    points = {p.guid: p for p in transcript.sync_point}
    selected = {}
    for selection in transcript.transcript_selection:
        start, end = points[selection.from_sync_point], points[selection.to_sync_point]
        selected[text[start.position : end.position]] = (start.time_stamp, end.time_stamp)
    assert selected["We built trust by keeping every promise."] == (20_000, 29_000)
    assert selected["A customer shouted at my staff for an hour."] == (30_000, 39_000)


def test_the_codebook_round_trips_through_qdc(db, tmp_path, runner):
    codebook = load_codebook(validate=False)
    ensure_themes(db, codebook)
    out = tmp_path / "themes.qdc"
    assert write_qdc(db, out) == len(codebook.themes)
    valid(out.read_bytes(), "Codebook.xsd")
    assert sum(len(p.code) for p in RefiCodebook.load(out).codes.code) == len(codebook.themes)
    toml = tmp_path / "themes.toml"
    result = runner.invoke(app, ["codebook", "import", str(out), "--output", str(toml)])
    assert result.exit_code == 0, result.stderr

    def entries(book):
        return sorted(
            (t.id, t.label, t.category, " ".join(t.definition.split())) for t in book.themes
        )

    assert entries(load_codebook(toml)) == entries(codebook)
    again = runner.invoke(app, ["codebook", "import", str(out), "--output", str(toml)])
    assert again.exit_code == 1 and "exists" in again.stderr


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="ATLAS.ti Win 23.4.0">
  <Codes>
    <Code guid="1FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Followership" isCodable="false">
      <Code guid="2FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Courageous follower" isCodable="true">
        <Description>A follower who "speaks up" to a leader.</Description>
      </Code>
    </Code>
    <Code guid="3FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Work &amp; life" isCodable="true"/>
    <Code guid="4FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Work / Life" isCodable="true"/>
    <Code guid="5FF58B12-6F6F-4B0C-8BE5-BBDC91F55294" name="Odd&#10;id = &quot;x&quot;"
          isCodable="true"/>
  </Codes>
</CodeBook>
"""


def test_another_tools_codebook_becomes_a_skeleton_that_loads(tmp_path):
    source = tmp_path / "atlas.qdc"
    source.write_text(FOREIGN)
    valid(source.read_bytes(), "Codebook.xsd")
    codes = read_codebook(source)
    assert [(c.id, c.category) for c in codes] == [
        ("courageous-follower", "followership"),
        ("work-life", "leadership"),
        ("work-life-2", "leadership"),
        ("odd-id-x", "leadership"),
    ]
    toml = tmp_path / "themes.toml"
    toml.write_text(skeleton_toml(codes, source.name))
    themes = load_codebook(toml).themes
    assert themes[0].definition == 'A follower who "speaks up" to a leader.'
    assert themes[1].label == "Work & life" and themes[1].definition == "Work & life"
    assert (
        "write one" in toml.read_text() and "# from: Followership > Courageous" in toml.read_text()
    )
    # A name with a line break stays inside its string and its comment.
    assert [t.id for t in themes][-1] == "odd-id-x" and themes[-1].label == 'Odd\nid = "x"'


def test_exporting_nothing_or_reading_a_non_codebook_is_one_sentence(runner, tmp_path):
    path = tmp_path / "empty.db"
    connect(path)
    result = runner.invoke(
        app, ["--db", str(path), "export", "--format", "qdpx", str(tmp_path / "x.qdpx")]
    )
    assert result.exit_code == 1 and "No transcribed episode" in result.stderr
    assert not (tmp_path / "x.qdpx").exists() and not (tmp_path / "x.qdpx.part").exists()
    junk = tmp_path / "junk.qdc"
    junk.write_text("<notxml")
    with pytest.raises(QdaError, match="not XML"):
        read_codebook(junk)


def test_a_theme_people_coded_that_the_codebook_dropped_is_still_a_code(db, tmp_path):
    coded(db)
    db.execute("delete from themes where id = 'trust'")  # a codebook edit
    out = tmp_path / "p.qdpx"
    write_qdpx(db, out)
    with zipfile.ZipFile(out) as archive:
        valid(archive.read("project.qde"), "Project.xsd")
    found = read_back(out, tmp_path / "read")
    assert {f["code"] for f in found if f["coder"] in ("ann", "bob")} == {"Followership", "trust"}
