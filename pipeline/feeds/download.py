"""Downloads: enclosures streamed to data/audio/<feed>/<episode-id>.<ext>.

Bytes go to a ``.part`` file that is renamed only when complete, so a killed
run never leaves half an episode that looks whole; the next run resumes the
``.part`` with a Range request.  The resume is conditional (If-Range with the
ETag or Last-Modified the ``.part`` was started with, kept beside it): a file that
changed on the server in between (ad-inserting CDNs change files often) comes
whole again instead of its tail being glued to the old head.  Downloads run in
worker threads; only the calling thread writes to the database.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlite_utils

import pipeline.net.client as net
from pipeline.net.urls import enclosure_problem, is_local, local_path, may_reach_private
from pipeline.progress import NullProgress, Progress
from pipeline.run.threads import worker_pool
from pipeline.store.db import DOWNLOADED, NEW, utcnow
from pipeline.store.episodes import mark_done, mark_failed, pending

log = logging.getLogger(__name__)

STAGE = "download"
MAX_AUDIO_BYTES = 2 * 1024**3
AUDIO_DEADLINE = 3 * 3600.0
CHUNK = 256 * 1024
DOWNLOADS = 3  # at once: they wait on the network, not the CPU
TRIES = 3  # within one run, for 5xx and timeouts; later runs retry with backoff
RETRY_DELAY = 2.0
EXTENSIONS = {"mp3", "m4a", "mp4", "aac", "ogg", "oga", "opus", "flac", "wav", "webm", "m4b", "mkv"}
MIME_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/flac": "flac",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
NOT_AUDIO = ("text/", "application/xhtml", "application/json", "application/xml")


class DownloadError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry: bool = False):
        super().__init__(message)
        self.permanent = permanent  # no later run will do better (bad URL scheme)
        self.retry = retry  # worth another try within this run (5xx, timeout)


@dataclass
class DownloadResult:
    episode_id: str
    title: str | None
    path: str | None = None  # relative to the data folder
    size: int = 0
    sha256: str | None = None
    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def audio_path(episode: dict[str, Any]) -> PurePosixPath:
    """Where an episode's audio lives inside the data folder; every part is ours, not the feed's."""
    return PurePosixPath("audio", str(episode["feed_id"]), f"{episode['id']}.{_extension(episode)}")


def _extension(episode: dict[str, Any]) -> str:
    suffix = PurePosixPath(urlsplit(episode["enclosure_url"] or "").path).suffix.lower()[1:]
    if suffix in EXTENSIONS:
        return suffix
    mime = (episode.get("enclosure_type") or "").split(";")[0].strip().lower()
    return MIME_EXTENSIONS.get(mime, "audio")


def pending_downloads(db: sqlite_utils.Database, limit: int | None = None) -> list[dict[str, Any]]:
    condition, params = pending(STAGE, NEW)
    rows = db.table("episodes").rows_where(
        f"{condition} and enclosure_url is not null",
        params,
        order_by="published desc, id",
        limit=limit,
    )
    return list(rows)


def download_episodes(
    db: sqlite_utils.Database,
    data_dir: Path,
    *,
    limit: int | None = None,
    workers: int = DOWNLOADS,
    progress: Progress | None = None,
    http: httpx.Client | None = None,
) -> Iterator[DownloadResult]:
    """Download every pending enclosure; yields each result after saving it."""
    episodes = pending_downloads(db, limit)
    if not episodes:
        return
    progress = progress or NullProgress()
    own = http is None
    http = http or net.client()
    feeds = {row["id"]: row for row in db.table("feeds").rows}
    try:
        with worker_pool(workers, "download") as pool:
            futures = [
                pool.submit(fetch_enclosure, http, e, feeds[e["feed_id"]], data_dir, progress)
                for e in episodes
            ]
            for future in as_completed(futures):
                result = future.result()
                save_download(db, result)
                yield result
    finally:
        if own:
            http.close()


def save_download(db: sqlite_utils.Database, result: DownloadResult) -> None:
    if result.ok:
        mark_done(
            db,
            result.episode_id,
            DOWNLOADED,
            audio_path=result.path,
            audio_size=result.size,
            audio_sha256=result.sha256,
            downloaded_at=utcnow(),
        )
    else:
        mark_failed(db, result.episode_id, STAGE, result.error or "", permanent=result.permanent)


def fetch_enclosure(
    http: httpx.Client,
    episode: dict[str, Any],
    feed: dict[str, Any],
    data_dir: Path,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download one episode's audio (``feed``: its subscription row); never raises, the
    result carries any error."""
    progress = progress or NullProgress()
    relative = audio_path(episode)
    target = data_dir / relative
    result = DownloadResult(episode["id"], episode.get("title"))
    label = (episode.get("title") or episode["id"])[:40]
    progress.start(episode["id"], label, episode.get("enclosure_length"))
    try:
        problem = enclosure_problem(feed["url"], episode["enclosure_url"])
        if problem:
            raise DownloadError(problem, permanent=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        for attempt in range(1, TRIES + 1):
            try:
                _transfer(http, episode, may_reach_private(feed), part, progress)
                break
            except DownloadError as exc:
                if not exc.retry or attempt == TRIES:
                    raise
                log.info("%s: %s; trying again", episode["id"], exc)
                time.sleep(RETRY_DELAY * attempt)
        _verify(part)
        result.sha256 = _sha256(part)  # of the bytes assembled, resumed or not
        result.size = part.stat().st_size
        part.replace(target)
        _validator_file(part).unlink(missing_ok=True)
        result.path = str(relative)
    except DownloadError as exc:
        result.error, result.permanent = str(exc), exc.permanent
    except OSError as exc:
        result.error = f"cannot write {target}: {exc.strerror}"
    finally:
        progress.finish(episode["id"])
    return result


def _transfer(
    http: httpx.Client, episode: dict[str, Any], allow_private: bool, part: Path, progress: Progress
) -> None:
    url = episode["enclosure_url"]
    if is_local(url):
        _copy_local(local_path(url), part, episode["id"], progress)
        return
    have, headers = _resume_headers(part)
    try:
        with net.stream(
            http, url, headers=headers, deadline=AUDIO_DEADLINE, allow_private=allow_private
        ) as response:
            _check_response(response, have, episode)
            if response.status_code == 416:
                _range_refused(part, have, episode)
                return
            # Anything but 206 (a 200: the file changed, or Range is not supported) is
            # the whole file: start over.
            offset = have if response.status_code == 206 else 0
            if offset:
                _check_range(response, offset, headers["If-Range"], part)
                progress.advance(episode["id"], offset)
            else:
                _remember_validator(part, response)
            with part.open("ab" if offset else "wb") as out:
                for chunk in net.read_capped(response, MAX_AUDIO_BYTES - offset, url):
                    out.write(chunk)
                    progress.advance(episode["id"], len(chunk))
            _check_complete(part, offset, response, episode)
    except net.Refused as exc:
        raise DownloadError(str(exc), permanent=True) from exc
    except net.FetchError as exc:
        raise DownloadError(str(exc), retry="took longer" not in str(exc)) from exc


def _validator_file(part: Path) -> Path:
    return part.with_name(part.name + ".validator")


def _resume_headers(part: Path) -> tuple[int, dict[str, str]]:
    """(bytes already here, request headers): Range with If-Range, so the server sends
    the rest only if the file is still the one the .part began. A .part without a
    validator cannot be matched to a version of the file: it is started again."""
    have = part.stat().st_size if part.exists() else 0
    validator = _validator_file(part)
    if not have or not validator.is_file():
        return 0, {}
    return have, {"Range": f"bytes={have}-", "If-Range": validator.read_text().strip()}


def _remember_validator(part: Path, response: httpx.Response) -> None:
    """What If-Range may send to resume this file: a strong ETag, else Last-Modified
    (a weak ETag may not be used there)."""
    etag = response.headers.get("etag", "")
    value = etag if etag and not etag.startswith("W/") else response.headers.get("last-modified")
    validator = _validator_file(part)
    if value and "\n" not in value:
        validator.write_text(value)
    else:
        validator.unlink(missing_ok=True)


def _check_range(response: httpx.Response, offset: int, validator: str, part: Path) -> None:
    """A 206 must continue exactly where the .part ends, from the same version of the
    file (a server that ignores If-Range shows a new version by its validator)."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(?:\d+|\*)", response.headers.get("content-range", ""))
    now = response.headers.get("etag" if validator.startswith('"') else "last-modified")
    if match and int(match.group(1)) == offset and now in (None, validator):
        return
    part.unlink()  # the next attempt starts over
    raise DownloadError(
        f"the server resumed a different file or at the wrong place "
        f"({response.headers.get('content-range')!r}, {now!r} for byte {offset} of {validator!r})",
        retry=True,
    )


def _check_response(response: httpx.Response, have: int, episode: dict[str, Any]) -> None:
    status = response.status_code
    if status == 416 and have:
        return
    if status >= 500:
        raise DownloadError(f"the server answered HTTP {status}", retry=True)
    if status >= 400:
        raise DownloadError(f"the server answered HTTP {status} for {episode['enclosure_url']}")
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime.startswith(NOT_AUDIO):
        raise DownloadError(f"the enclosure is a {mime} document, not audio")


def _copy_local(source: Path, part: Path, key: str, progress: Progress) -> None:
    try:
        with source.open("rb") as src, part.open("wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                progress.advance(key, len(chunk))
    except FileNotFoundError as exc:
        raise DownloadError(f"the enclosure file {source} does not exist") from exc


def _range_refused(part: Path, have: int, episode: dict[str, Any]) -> None:
    """416: the .part is complete if the feed says so; otherwise start over."""
    if episode.get("enclosure_length") and have >= episode["enclosure_length"]:
        return
    part.unlink(missing_ok=True)
    raise DownloadError("the server refused to resume the download", retry=True)


def _check_complete(
    part: Path, offset: int, response: httpx.Response, episode: dict[str, Any]
) -> None:
    """The server's Content-Length is authoritative; without one, the feed's length is.

    Feeds often round their lengths and ad insertion changes the file, so a
    feed length that differs from a complete server response is only logged.
    A short file keeps its .part so the next attempt resumes it.
    """
    got = part.stat().st_size
    header = response.headers.get("content-length", "")
    total = response.headers.get("content-range", "").rpartition("/")[2]
    feed_length = episode.get("enclosure_length")
    if total.isdigit():
        expected = int(total)
    elif header.isdigit():
        expected = offset + int(header)
    else:
        expected = feed_length or 0
    if (total.isdigit() or header.isdigit()) and feed_length and feed_length != expected:
        log.info("%s: server sent %d bytes, feed said %d", episode["id"], expected, feed_length)
    if got < expected:
        raise DownloadError(f"the download ended after {got} of {expected} bytes", retry=True)
    if got > expected and (total.isdigit() or header.isdigit()):
        part.unlink()  # more than the server said the file has: not this file
        raise DownloadError(f"the download has {got} bytes, not the {expected} sent", retry=True)


def _verify(part: Path) -> None:
    if not part.exists() or part.stat().st_size == 0:
        part.unlink(missing_ok=True)
        raise DownloadError("the enclosure is empty")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
