"""python -m benchmarks compare A.db B.db: do two databases hold the same analysis?

For checking that a refactoring changed no behaviour: the demo ingested before and
after, compared on what a user reads (segments with speakers, theme mentions, people,
key phrases, episode speakers), leaving out ids, timings of the run and provenance
that names code paths. Prints the first differences; exits 1 if there are any.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

QUERIES = {
    "segments": "select e.guid, s.idx, s.start_time, s.end_time, s.text, s.speaker, s.quality"
    " from segments s join episodes e on e.id = s.episode_id order by 1, 2",
    "theme_mentions": "select e.guid, m.theme_id, m.start_time, m.method, m.confidence,"
    " m.speaker from theme_mentions m join episodes e on e.id = m.episode_id order by 1, 2, 3, 4",
    "people": "select name, aliases from people order by 1",
    "episode_people": "select e.guid, p.name, ep.role, ep.mention_count from episode_people ep"
    " join episodes e on e.id = ep.episode_id join people p on p.id = ep.person_id"
    " order by 1, 2",
    "keyphrases": "select e.guid, k.phrase, k.count from keyphrases k"
    " join episodes e on e.id = k.episode_id order by 1, 2",
    "episode_speakers": "select e.guid, s.label, s.name, s.source from episode_speakers s"
    " join episodes e on e.id = s.episode_id order by 1, 2",
    "themes": "select id, label, category from themes order by 1",
}


def rows(path: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [
            tuple(round(v, 3) if isinstance(v, float) else v for v in r) for r in db.execute(sql)
        ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks compare")
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args(argv)
    differ = 0
    for table, sql in QUERIES.items():
        a, b = rows(args.before, sql), rows(args.after, sql)
        same = a == b
        differ += not same
        print(f"{table}: {len(a)} / {len(b)} rows, {'same' if same else 'DIFFERENT'}")
        if not same:
            print(f"  only before: {sorted(set(a) - set(b))[:3]}")
            print(f"  only after:  {sorted(set(b) - set(a))[:3]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
