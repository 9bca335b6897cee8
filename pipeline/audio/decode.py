"""Audio decoding with PyAV (no system ffmpeg): any container, any rate, in windows.

Long episodes stream through in windows of a few minutes, each cut in the
quietest moment near its end so no word is split, so memory stays bounded
however long the file is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from pipeline.errors import PipelineError

SAMPLE_RATE = 16000
WINDOW_SECONDS = 600.0
CUT_SEARCH_SECONDS = 20.0  # look this far back from a window's end for a pause
FRAME = SAMPLE_RATE // 20  # 50 ms energy frames
# The demuxers an episode may be opened with. Left to probing, FFmpeg also takes a
# playlist (concat, HLS, DASH) saved as "episode.mp3", and opens the files or URLs
# named in it: this machine's files, or addresses the download guard never saw.
DEMUXERS = "mp3,aac,mov,ogg,flac,wav,matroska,asf,aiff,amr,caf,w64,au"


class AudioError(PipelineError):
    """The file cannot be decoded as audio."""


def duration(path: str | Path) -> float | None:
    """The duration the container declares (None when it does not say)."""
    try:
        with _container(path) as container:
            if container.duration:
                return float(container.duration / av.time_base)
            stream = next(iter(container.streams.audio), None)
            if stream is not None and stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise AudioError(f"{Path(path).name} cannot be read as audio ({_reason(exc)})") from exc
    return None


def channel_count(path: str | Path) -> int:
    with _open(path) as container:
        return int(container.streams.audio[0].codec_context.channels or 1)


def stream_audio(
    path: str | Path, *, block_seconds: float = 30.0, channel: int | None = None
) -> Iterator[np.ndarray]:
    """16 kHz mono float32 samples in blocks; a channel index picks one side of stereo."""
    layout = "mono" if channel is None else None
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    block = int(block_seconds * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    size = 0
    with _open(path) as container:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(_pick(out.to_ndarray(), channel))
                    size += pending[-1].size
                if size >= block:
                    joined = np.concatenate(pending)
                    yield joined[:block]
                    pending, size = [joined[block:]], joined.size - block
            for out in resampler.resample(None):
                pending.append(_pick(out.to_ndarray(), channel))
        except (av.error.FFmpegError, ValueError) as exc:
            # A truncated file decodes up to the damage; keep what came out.
            if not pending and size == 0:
                raise AudioError(f"{Path(path).name} cannot be decoded ({_reason(exc)})") from exc
    if pending:
        tail = np.concatenate(pending)
        if tail.size:
            yield tail


def _pick(samples: np.ndarray, channel: int | None) -> np.ndarray:
    if channel is None:
        return samples.reshape(-1).astype(np.float32, copy=False)
    return samples[min(channel, samples.shape[0] - 1)].astype(np.float32, copy=False)


def load_audio(path: str | Path, *, channel: int | None = None) -> np.ndarray:
    """The whole file in memory: for short clips only (use windows() for episodes)."""
    blocks = list(stream_audio(path, channel=channel))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def windows(
    path: str | Path, *, seconds: float = WINDOW_SECONDS, channel: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, samples) windows of at most ``seconds``, cut at pauses."""
    limit = int(seconds * SAMPLE_RATE)
    blocks: list[np.ndarray] = []
    size = offset = 0
    for block in stream_audio(path, channel=channel):
        blocks.append(block)
        size += block.size
        if size < limit:
            continue  # join only when a window is full: no quadratic copying
        buffer = np.concatenate(blocks)
        while buffer.size >= limit:
            cut = quietest_point(buffer[:limit])
            yield offset / SAMPLE_RATE, buffer[:cut]
            offset += cut
            buffer = buffer[cut:]
        blocks, size = [buffer], buffer.size
    if size:
        yield offset / SAMPLE_RATE, np.concatenate(blocks)
    elif offset == 0:
        raise AudioError(f"{Path(path).name} contains no audio")


def quietest_point(samples: np.ndarray) -> int:
    """The sample index of the quietest 50 ms frame near the end of ``samples``.

    Only the last quarter (at most CUT_SEARCH_SECONDS) is searched, and among
    equally quiet frames the latest wins, so windows stay close to full size.
    """
    search = min(samples.size // 4, int(CUT_SEARCH_SECONDS * SAMPLE_RATE))
    tail = samples[samples.size - search :]
    frames = tail[: tail.size // FRAME * FRAME].reshape(-1, FRAME)
    if frames.size == 0:
        return samples.size
    energy = (frames**2).mean(axis=1)
    quietest = energy.size - 1 - int(np.argmin(energy[::-1]))
    return samples.size - search + quietest * FRAME + FRAME // 2


def _open(path: str | Path) -> av.container.InputContainer:
    try:
        container = _container(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise AudioError(f"{Path(path).name} cannot be read as audio ({_reason(exc)})") from exc
    if not container.streams.audio:
        container.close()
        raise AudioError(f"{Path(path).name} has no audio stream")
    return container


def _container(path: str | Path) -> av.container.InputContainer:
    return av.open(str(path), container_options={"format_whitelist": DEMUXERS})


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason).strip().rstrip(".")
