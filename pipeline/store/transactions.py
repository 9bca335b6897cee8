"""Write transactions: apart from db.py so that vectors.py, which db.py calls when a
connection opens, can use them without an import cycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One explicit write transaction: all of it commits or none of it does.

    BEGIN IMMEDIATE takes the write lock up front, so a second writer waits
    (busy timeout) instead of failing half-way through.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
