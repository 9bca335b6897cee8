"""One Silero VAD pass per window of audio, shared by transcription and diarization.

Both ask faster-whisper's VAD where the speech is in the same windows of the same file
(with different silence settings, applied after the model). The model pass is most of
that cost, about a quarter of diarization's time, so its output is remembered per
window for as long as one episode takes to go through both stages.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

REMEMBERED = 64  # windows: 10 hours of 10-minute windows, about 5 MB of probabilities


class RememberingVad:
    """Silero's speech probabilities, computed once per distinct audio window."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.seen: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()  # transcription may run windows in several threads

    def __call__(self, audio: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        digest = hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16)
        digest.update(repr((audio.dtype.str, args, sorted(kwargs.items()))).encode())
        key = digest.digest()
        with self.lock:
            if key in self.seen:
                self.seen.move_to_end(key)
                return self.seen[key]
        probabilities = self.model(audio, *args, **kwargs)
        with self.lock:
            self.seen[key] = probabilities
            if len(self.seen) > REMEMBERED:
                self.seen.popitem(last=False)
        return probabilities


def share_vad() -> None:
    """Route every faster-whisper VAD call in this process through one RememberingVad
    (idempotent)."""
    from faster_whisper import vad

    if isinstance(vad.get_vad_model(), RememberingVad):
        return
    shared = RememberingVad(vad.get_vad_model())
    vad.get_vad_model = lambda: shared


def speech_spans(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where the voice detector hears speech in a window, in seconds: the same pass
    (faster-whisper's default settings) the batched decode used, so it is remembered."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from pipeline.audio.decode import SAMPLE_RATE

    share_vad()
    return [
        (chunk["start"] / SAMPLE_RATE, chunk["end"] / SAMPLE_RATE)
        for chunk in get_speech_timestamps(samples, VadOptions())
    ]
