import sqlite3

import pytest

import pipeline.store.db as dbmod


def test_new_database_has_current_schema_wal_and_foreign_keys(tmp_path):
    db = dbmod.connect(tmp_path / "p.db")
    assert dbmod.schema_version(db) == dbmod.SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"feeds", "episodes", "runs"} <= set(db.table_names())


@pytest.mark.parametrize("version", range(1, dbmod.SCHEMA_VERSION + 1))
def test_older_database_upgrades_in_place_and_keeps_its_rows(tmp_path, version):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in dbmod.MIGRATIONS[:version]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO feeds (url, added_at) VALUES ('http://a/feed', '2025-01-01T00:00:00Z')"
    )
    conn.commit()
    conn.close()
    db = dbmod.connect(path)
    assert dbmod.schema_version(db) == dbmod.SCHEMA_VERSION
    assert [row["url"] for row in db["feeds"].rows] == ["http://a/feed"]


def test_database_from_a_newer_program_is_refused_clearly(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {dbmod.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(dbmod.DatabaseError, match="newer than this program"):
        dbmod.connect(path)


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(dbmod.DatabaseError, match="Cannot open database"):
        dbmod.connect(path)


def test_transaction_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError), dbmod.transaction(db):
        db["feeds"].insert({"url": "http://a/feed"})
        raise RuntimeError("boom")
    assert db["feeds"].count == 0


def test_deleting_a_feed_deletes_its_episodes(db):
    db["feeds"].insert({"id": 1, "url": "http://a/feed"})
    db["episodes"].insert({"id": "e1", "feed_id": 1, "guid": "g"})
    db["feeds"].delete(1)
    assert db["episodes"].count == 0


def test_utcnow_is_iso8601_utc_with_z():
    stamp = dbmod.utcnow()
    assert stamp.endswith("Z") and "T" in stamp and len(stamp) == 20
