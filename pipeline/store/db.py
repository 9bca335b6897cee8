"""The one SQLite database: connection settings, schema and migrations.

Each stage owns some columns (see docs/architecture.md) and upserts only those,
so re-running a stage never wipes what a later stage wrote.  The schema is
versioned with ``PRAGMA user_version``: MIGRATIONS[i] takes a database from
version i to i + 1, so an older database opens and upgrades in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from sqlite_utils.utils import sqlite3  # the driver sqlite-utils and Datasette use too

from pipeline.errors import PipelineError
from pipeline.store import vectors
from pipeline.store.transactions import transaction

# Episode states, in the order an episode moves through them.
NEW = "new"
DOWNLOADED = "downloaded"
TRANSCRIBED = "transcribed"
ANALYSED = "analysed"
FAILED = "failed"
STATUSES = (NEW, DOWNLOADED, TRANSCRIBED, ANALYSED, FAILED)

# Feed states.
FEED_ACTIVE = "active"
FEED_GONE = "gone"  # HTTP 410: never polled again

# Columns each stage writes on the episodes table.
POLLER_COLUMNS = (
    "feed_id",
    "guid",
    "title",
    "published",
    "description",
    "description_html",
    "link",
    "image",
    "enclosure_url",
    "enclosure_type",
    "enclosure_length",
    "itunes_duration",
    "season",
    "episode_number",
    "transcripts",
    "persons",
    "chapters",
    "updated_at",
)
DOWNLOAD_COLUMNS = ("audio_path", "audio_sha256", "audio_size", "downloaded_at")
STATE_COLUMNS = ("status", "failed_stage", "attempts", "last_error", "retry_after")

MIGRATIONS: list[str] = [
    # 1: feeds, episodes and runs.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        link TEXT,
        description TEXT,
        language TEXT,
        author TEXT,
        image TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        etag TEXT,
        last_modified TEXT,
        previous_url TEXT,
        http_status INTEGER,
        last_error TEXT,
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        polled_at TEXT
    );
    CREATE TABLE episodes (
        id TEXT PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        guid TEXT NOT NULL,
        title TEXT,
        published TEXT,
        description TEXT,
        description_html TEXT,
        link TEXT,
        image TEXT,
        enclosure_url TEXT,
        enclosure_type TEXT,
        enclosure_length INTEGER,
        itunes_duration REAL,
        season INTEGER,
        episode_number INTEGER,
        transcripts TEXT,
        persons TEXT,
        chapters TEXT,
        status TEXT NOT NULL DEFAULT 'new',
        failed_stage TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        retry_after TEXT,
        audio_path TEXT,
        audio_sha256 TEXT,
        audio_size INTEGER,
        downloaded_at TEXT,
        first_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        updated_at TEXT,
        UNIQUE (feed_id, guid)
    );
    CREATE INDEX episodes_status ON episodes(status);
    CREATE INDEX episodes_published ON episodes(published);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        pid INTEGER,
        status TEXT NOT NULL DEFAULT 'running',
        command TEXT,
        counts TEXT,
        errors TEXT,
        log_path TEXT
    );
    """,
    # 2: transcripts (one per episode, with provenance) and their timed segments.
    """
    CREATE TABLE transcripts (
        episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        engine TEXT,
        engine_version TEXT,
        model TEXT,
        compute_type TEXT,
        language TEXT,
        language_probability REAL,
        audio_duration REAL,
        speech_duration REAL,
        wall_time REAL,
        real_time_factor REAL,
        options TEXT,
        source_url TEXT,
        source_format TEXT,
        segment_count INTEGER,
        flagged_count INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE segments (
        -- AUTOINCREMENT: a re-transcribed episode's segments never reuse an old id
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL NOT NULL,
        text TEXT NOT NULL,
        speaker TEXT,
        avg_logprob REAL,
        no_speech_prob REAL,
        compression_ratio REAL,
        words TEXT,
        quality TEXT NOT NULL DEFAULT 'ok',
        UNIQUE (episode_id, idx)
    );
    """,
    # 3: analysis: the codebook's themes, their mentions, people, key phrases.
    """
    CREATE TABLE themes (
        id TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        category TEXT NOT NULL,
        definition TEXT,
        codebook_hash TEXT
    );
    CREATE TABLE theme_mentions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        segment_id INTEGER REFERENCES segments(id) ON DELETE CASCADE,
        theme_id TEXT NOT NULL REFERENCES themes(id) ON DELETE CASCADE,
        start_time REAL,
        end_time REAL,
        matched_text TEXT,
        method TEXT NOT NULL,
        score REAL,
        speaker TEXT
    );
    CREATE INDEX theme_mentions_theme ON theme_mentions(theme_id);
    CREATE INDEX theme_mentions_episode ON theme_mentions(episode_id);
    CREATE INDEX theme_mentions_segment ON theme_mentions(segment_id);
    CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        aliases TEXT
    );
    CREATE TABLE episode_people (
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        mention_count INTEGER NOT NULL DEFAULT 0,
        source TEXT,
        PRIMARY KEY (episode_id, person_id)
    );
    CREATE TABLE keyphrases (
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        phrase TEXT NOT NULL,
        count INTEGER NOT NULL,
        score REAL,
        PRIMARY KEY (episode_id, phrase)
    );
    CREATE TABLE analyses (
        episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
        spacy_model TEXT,
        spacy_version TEXT,
        codebook_hash TEXT,
        semantic_model TEXT,
        semantic_threshold REAL,
        words INTEGER,
        wall_time REAL,
        analysed_at TEXT NOT NULL
    );
    """,
    # 4: full-text search (porter stemming) over searchable segments and over episode
    # titles and show notes, kept in sync by triggers. Segments the hallucination guard
    # flagged are never indexed, so a Whisper loop cannot come up as a search hit. The
    # segment's theme ids are indexed too (a column of their own), so a theme filter
    # is an FTS5 AND rather than a join. 'ok' and 'estimated-time' are guard.SEARCHABLE.
    """
    ALTER TABLE segments ADD COLUMN themes TEXT;
    -- The index's content is this view, so FTS5's rebuild and integrity-check agree
    -- that flagged segments are not meant to be in it.
    CREATE VIEW searchable_segments AS
        SELECT id, text, themes FROM segments WHERE quality IN ('ok', 'estimated-time');
    CREATE VIRTUAL TABLE segments_fts USING fts5(
        text, themes, content='searchable_segments', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments
    WHEN new.quality IN ('ok', 'estimated-time') BEGIN
        INSERT INTO segments_fts(rowid, text, themes) VALUES (new.id, new.text, new.themes);
    END;
    CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments
    WHEN old.quality IN ('ok', 'estimated-time') BEGIN
        INSERT INTO segments_fts(segments_fts, rowid, text, themes)
        VALUES ('delete', old.id, old.text, old.themes);
    END;
    -- One trigger, so the old entry is always deleted before the new one is added.
    CREATE TRIGGER segments_fts_update AFTER UPDATE OF text, quality, themes ON segments BEGIN
        INSERT INTO segments_fts(segments_fts, rowid, text, themes)
        SELECT 'delete', old.id, old.text, old.themes
        WHERE old.quality IN ('ok', 'estimated-time');
        INSERT INTO segments_fts(rowid, text, themes)
        SELECT new.id, new.text, new.themes
        WHERE new.quality IN ('ok', 'estimated-time');
    END;
    INSERT INTO segments_fts(rowid, text, themes)
        SELECT id, text, themes FROM segments WHERE quality IN ('ok', 'estimated-time');
    CREATE VIRTUAL TABLE episodes_fts USING fts5(
        title, description, content='episodes', content_rowid='rowid',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER episodes_fts_insert AFTER INSERT ON episodes BEGIN
        INSERT INTO episodes_fts(rowid, title, description)
        VALUES (new.rowid, new.title, new.description);
    END;
    CREATE TRIGGER episodes_fts_delete AFTER DELETE ON episodes BEGIN
        INSERT INTO episodes_fts(episodes_fts, rowid, title, description)
        VALUES ('delete', old.rowid, old.title, old.description);
    END;
    CREATE TRIGGER episodes_fts_update AFTER UPDATE OF title, description ON episodes BEGIN
        INSERT INTO episodes_fts(episodes_fts, rowid, title, description)
        VALUES ('delete', old.rowid, old.title, old.description);
        INSERT INTO episodes_fts(rowid, title, description)
        VALUES (new.rowid, new.title, new.description);
    END;
    INSERT INTO episodes_fts(rowid, title, description)
        SELECT rowid, title, description FROM episodes;
    CREATE INDEX theme_mentions_episode_theme ON theme_mentions(episode_id, theme_id);
    """,
    # 5: speakers: who each diarized voice in an episode is, and a registry of voiceprints
    # so a voice named once is recognised in later episodes.
    """
    CREATE TABLE episode_speakers (
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        talk_time REAL NOT NULL DEFAULT 0,
        centroid TEXT,
        PRIMARY KEY (episode_id, label)
    );
    CREATE TABLE voiceprints (
        name TEXT PRIMARY KEY,
        embedding TEXT NOT NULL,
        samples INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL
    );
    """,
    # 6: segment ids by episode, so a search filtered by date or show reads only the
    # id span of the episodes it keeps (min and max id per episode are index seeks).
    """
    CREATE INDEX segments_episode ON segments(episode_id);
    """,
    # 7: which trained theme classifier (its training data's hash) an analysis used.
    """
    ALTER TABLE analyses ADD COLUMN classifier TEXT;
    """,
    # 8: segments a second decoding recovered (pipeline.transcribe.recovery); the Whisper model a
    # feed's episodes are transcribed with, where it is not the run's.
    """
    ALTER TABLE segments ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN model TEXT;
    """,
    # 9: a keyword hit the classifier disputes is kept, marked low (pipeline.analysis.engine).
    """
    ALTER TABLE theme_mentions ADD COLUMN confidence TEXT NOT NULL DEFAULT 'high';
    """,
    # 10: whether the user subscribed to this feed at a private address (urls.py), so
    # its requests may reach private addresses; NULL: decided from the URL's host.
    """
    ALTER TABLE feeds ADD COLUMN private INTEGER;
    """,
    # 11: how sure diarization is of each segment's speaker, and how much of each voice's
    # talk it is unsure of (pipeline.speakers.diarize.LOW_CONFIDENCE).
    """
    ALTER TABLE segments ADD COLUMN speaker_confidence REAL;
    ALTER TABLE episode_speakers ADD COLUMN uncertain_time REAL NOT NULL DEFAULT 0;
    """,
    # 12: codings: what a person decided about a theme on a stretch of transcript
    # (pipeline.review). Keyed by the segment's (episode_id, idx), which re-analysis and
    # re-transcription keep, never by segments.id or theme_mentions.id, which they replace;
    # no foreign key to themes, so a codebook edit cannot delete a person's work. The
    # machine is a coder too: its codes are theme_mentions, seen through machine_codes.
    """
    CREATE TABLE codings (
        id INTEGER PRIMARY KEY,
        coder TEXT NOT NULL CHECK (coder <> 'machine' AND coder <> ''),
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        segment_idx INTEGER NOT NULL,
        end_idx INTEGER,
        start_char INTEGER,
        end_char INTEGER,
        theme_id TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('applied', 'rejected')),
        memo TEXT,
        coded_at TEXT NOT NULL,
        CHECK (end_idx IS NULL OR end_idx >= segment_idx),
        UNIQUE (coder, episode_id, segment_idx, theme_id)
    );
    CREATE INDEX codings_segment ON codings(episode_id, segment_idx);
    CREATE INDEX codings_theme ON codings(theme_id);
    CREATE VIEW machine_codes AS
        SELECT m.episode_id, s.idx AS segment_idx, s.id AS segment_id, m.theme_id,
               min(m.id) AS mention_id, min(m.method) AS method,
               group_concat(DISTINCT m.method) AS methods,
               max(m.score) AS score, min(m.confidence) AS confidence
        FROM theme_mentions m JOIN segments s ON s.id = m.segment_id
        GROUP BY m.episode_id, s.idx, m.theme_id;
    CREATE VIEW human_codes AS
        SELECT c.id AS coding_id, c.coder, c.episode_id, s.idx AS segment_idx,
               s.id AS segment_id, c.theme_id, c.decision, c.memo, c.coded_at
        FROM codings c JOIN segments s ON s.episode_id = c.episode_id
             AND s.idx BETWEEN c.segment_idx AND coalesce(c.end_idx, c.segment_idx);
    CREATE VIEW code_reviews AS
        SELECT mc.episode_id, mc.segment_idx, mc.segment_id, mc.theme_id, mc.methods,
               mc.score, mc.confidence,
               count(DISTINCT CASE WHEN h.decision = 'applied' THEN h.coder END) AS accepted,
               count(DISTINCT CASE WHEN h.decision = 'rejected' THEN h.coder END) AS rejected,
               CASE
                   WHEN count(h.coder) = 0 THEN 'unreviewed'
                   WHEN sum(h.decision = 'rejected') = 0 THEN 'confirmed'
                   WHEN sum(h.decision = 'applied') = 0 THEN 'rejected'
                   ELSE 'disputed'
               END AS review_status
        FROM machine_codes mc LEFT JOIN human_codes h ON h.segment_id = mc.segment_id
             AND h.theme_id = mc.theme_id
        GROUP BY mc.segment_id, mc.theme_id;
    CREATE VIEW confirmed_codes AS
        SELECT min(h.coding_id) AS id, h.episode_id, h.segment_id, h.theme_id,
               s.start_time, s.end_time, coalesce(mc.method, 'human') AS method,
               mc.score, s.speaker, 'high' AS confidence, s.text AS matched_text
        FROM human_codes h JOIN segments s ON s.id = h.segment_id
             LEFT JOIN machine_codes mc ON mc.segment_id = h.segment_id
             AND mc.theme_id = h.theme_id
        WHERE h.theme_id <> ''
        GROUP BY h.segment_id, h.theme_id
        HAVING sum(h.decision = 'rejected') = 0;
    """,
    # 13: each searchable segment's sentence embedding, as analysis computed it (float32
    # little-endian), and which model made an episode's vectors. Plain SQL: the file
    # opens without sqlite-vec. The vec0 index over them (store/vectors.py) is made
    # where the extension loads; vector_queue lists the segments whose vector changed
    # since, so any connection with the extension brings the index up to date.
    """
    CREATE TABLE segment_embeddings (
        segment_id INTEGER PRIMARY KEY REFERENCES segments(id) ON DELETE CASCADE,
        episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX segment_embeddings_episode ON segment_embeddings(episode_id);
    ALTER TABLE analyses ADD COLUMN embedding_model TEXT;
    CREATE TABLE vector_queue (segment_id INTEGER PRIMARY KEY);
    CREATE TRIGGER segment_embeddings_queue_insert AFTER INSERT ON segment_embeddings BEGIN
        INSERT OR IGNORE INTO vector_queue VALUES (new.segment_id);
    END;
    CREATE TRIGGER segment_embeddings_queue_update AFTER UPDATE ON segment_embeddings BEGIN
        INSERT OR IGNORE INTO vector_queue VALUES (old.segment_id), (new.segment_id);
    END;
    CREATE TRIGGER segment_embeddings_queue_delete AFTER DELETE ON segment_embeddings BEGIN
        INSERT OR IGNORE INTO vector_queue VALUES (old.segment_id);
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(PipelineError):
    """The database file cannot be opened or is newer than this program."""


def utcnow() -> str:
    """Now as UTC ISO 8601 with a Z, to the second: the format of every stored time."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def connect(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and create or upgrade) the database at ``path``; ":memory:" works too.
    Where sqlite-vec loads (the [semantic] extra), the vector index is brought up to
    date too; without it the database opens all the same, for keyword search."""
    memory = str(path) == ":memory:"
    if not memory:
        path = Path(path)
        if not path.exists() and not create:
            raise DatabaseError(f"No database at {path}: run `podinsights ingest` first.")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        db = sqlite_utils.Database(conn)
        configure(db, wal=not memory)
        ensure_schema(db)
        if vectors.load(conn):
            vectors.ensure_vector_index(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"Cannot open database {path}: {exc}.") from exc
    return db


def connect_read_only(path: str | Path) -> sqlite_utils.Database:
    """The database at ``path`` for reading only (Datasette's search function): no
    migrations, no index upkeep; sqlite-vec loaded where it is installed."""
    try:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30)
        db = sqlite_utils.Database(conn)
        _check_version(schema_version(db))
        vectors.load(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"Cannot open database {path}: {exc}.") from exc
    return db


def configure(db: sqlite_utils.Database, *, wal: bool = True) -> None:
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Apply every migration the database has not seen yet, each in one transaction.

    Two processes may open an old database at once (a nightly ingest and a command),
    so the version that decides a migration is read inside its transaction, under
    the write lock: the second process finds the work done and skips it."""
    _check_version(schema_version(db))
    while schema_version(db) < SCHEMA_VERSION:
        with transaction(db):
            number = _check_version(schema_version(db))
            if number >= SCHEMA_VERSION:
                break
            for statement in _statements(MIGRATIONS[number]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


def _check_version(version: int) -> int:
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"The database has schema version {version}, newer than this program's "
            f"{SCHEMA_VERSION}: upgrade podinsights."
        )
    return version


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (executescript would commit early)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
