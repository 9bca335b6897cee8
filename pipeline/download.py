"""Downloads: enclosures streamed to data/audio/<feed>/<episode-id>.<ext>.

Bytes go to a ``.part`` file that is renamed only when complete, so a killed
run never leaves half an episode that looks whole; the next run resumes the
``.part`` with a Range request.  Downloads run in worker threads; only the
calling thread writes to the database.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlite_utils

from . import net
from .db import DOWNLOADED, NEW, utcnow
from .episodes import mark_done, mark_failed, pending
from .progress import NullProgress, Progress
from .urls import enclosure_problem, is_local, local_path, private_target_problem
from .workers import worker_pool

log = logging.getLogger("pipeline.download")

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
    feeds = {row["id"]: row["url"] for row in db.table("feeds").rows}
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
    feed_url: str,
    data_dir: Path,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download one episode's audio; never raises, the result carries any error."""
    progress = progress or NullProgress()
    relative = audio_path(episode)
    target = data_dir / relative
    result = DownloadResult(episode["id"], episode.get("title"))
    label = (episode.get("title") or episode["id"])[:40]
    progress.start(episode["id"], label, episode.get("enclosure_length"))
    try:
        problem = enclosure_problem(feed_url, episode["enclosure_url"])
        if problem:
            raise DownloadError(problem, permanent=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        for attempt in range(1, TRIES + 1):
            try:
                _transfer(http, episode, feed_url, part, progress)
                break
            except DownloadError as exc:
                if not exc.retry or attempt == TRIES:
                    raise
                log.info("%s: %s; trying again", episode["id"], exc)
                time.sleep(RETRY_DELAY * attempt)
        _verify(part)
        result.sha256 = _sha256(part)
        result.size = part.stat().st_size
        part.replace(target)
        result.path = str(relative)
    except DownloadError as exc:
        result.error, result.permanent = str(exc), exc.permanent
    except OSError as exc:
        result.error = f"cannot write {target}: {exc.strerror}"
    finally:
        progress.finish(episode["id"])
    return result


def _transfer(
    http: httpx.Client, episode: dict[str, Any], feed_url: str, part: Path, progress: Progress
) -> None:
    url = episode["enclosure_url"]
    if is_local(url):
        _copy_local(local_path(url), part, episode["id"], progress)
        return
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with net.stream(http, url, headers=headers, guard=_guard(feed_url)) as response:
            _check_response(response, have, episode)
            if response.status_code == 416:
                _range_refused(part, have, episode)
                return
            resume = response.status_code == 206
            if resume:
                progress.advance(episode["id"], have)
            limit = MAX_AUDIO_BYTES - (have if resume else 0)
            with part.open("ab" if resume else "wb") as out:
                for chunk in net.read_capped(response, limit, AUDIO_DEADLINE, url):
                    out.write(chunk)
                    progress.advance(episode["id"], len(chunk))
            _check_complete(part, have if resume else 0, response, episode)
    except net.FetchError as exc:
        raise DownloadError(str(exc), retry="took longer" not in str(exc)) from exc
    except httpx.TimeoutException as exc:
        raise DownloadError(f"{url} timed out", retry=True) from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"{url} could not be downloaded: {exc}", retry=True) from exc


def _guard(feed_url: str) -> Any:
    def check(url: str) -> None:
        problem = private_target_problem(feed_url, url)
        if problem:
            raise DownloadError(problem, permanent=True)

    return check


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
    feed_length = episode.get("enclosure_length")
    if header.isdigit():
        expected = offset + int(header)
        if feed_length and feed_length != expected:
            log.info("%s: server sent %d bytes, feed said %d", episode["id"], expected, feed_length)
    else:
        expected = feed_length or 0
    if got < expected:
        raise DownloadError(f"the download ended after {got} of {expected} bytes", retry=True)


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
