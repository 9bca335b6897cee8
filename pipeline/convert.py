"""CTranslate2 Whisper weights as an openai-whisper checkpoint, so both engines run
the very same weights offline.

CTranslate2's ``model.bin`` (binary version 6) is: a header (version, spec name,
spec revision), then named variables (name, rank, shape, dtype id, byte count,
raw bytes), then aliases. Attention projections are fused there (query, key and
value in one matrix; cross-attention key and value in another) and split here.
Whisper's key projection has no bias: the fused bias's key part is all zeros.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import PipelineError

# CTranslate2's DataType enum.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ConversionError(PipelineError):
    pass


def read_ct2_model(model_bin: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every named tensor in a CTranslate2 model.bin, and its aliases."""
    with model_bin.open("rb") as stream:
        version = _u32(stream)
        if version not in (5, 6):
            raise ConversionError(f"{model_bin} has CTranslate2 binary version {version}")
        _string(stream)  # spec name, e.g. "WhisperSpec"
        _u32(stream)  # spec revision
        variables = {}
        for _ in range(_u32(stream)):
            name = _string(stream)
            shape = [_u32(stream) for _ in range(_u8(stream))]
            dtype = DTYPES.get(_u8(stream))
            data = stream.read(_u32(stream))
            if dtype is None:
                raise ConversionError(f"{name} in {model_bin} has an unsupported data type")
            variables[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
        aliases = {_string(stream): _string(stream) for _ in range(_u32(stream))}
    return variables, aliases


def _u32(stream: BinaryIO) -> int:
    return int(struct.unpack("<I", stream.read(4))[0])


def _u8(stream: BinaryIO) -> int:
    return int(struct.unpack("<B", stream.read(1))[0])


def _string(stream: BinaryIO) -> str:
    length = int(struct.unpack("<H", stream.read(2))[0])
    return stream.read(length)[:-1].decode("utf-8")  # NUL-terminated


def openai_state_dict(variables: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    """Rename and split CTranslate2 tensors into openai-whisper's state_dict and dims."""
    state: dict[str, np.ndarray] = {}
    for side in ("encoder", "decoder"):
        for ours, theirs in (("conv1", "conv1"), ("conv2", "conv2")):
            if f"{side}/{ours}/weight" in variables:
                state[f"{side}.{theirs}.weight"] = variables[f"{side}/{ours}/weight"]
                state[f"{side}.{theirs}.bias"] = variables[f"{side}/{ours}/bias"]
        state[f"{side}.positional_embedding"] = variables[f"{side}/position_encodings/encodings"]
        final = "ln_post" if side == "encoder" else "ln"
        _layer_norm(state, f"{side}.{final}", variables, f"{side}/layer_norm")
        for index in range(_layers(variables, side)):
            _block(state, variables, side, index)
    state["decoder.token_embedding.weight"] = variables["decoder/embeddings/weight"]
    return state, _dims(variables)


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    parts = {name.split("/")[1] for name in variables if name.startswith(f"{side}/")}
    return sum(part.removeprefix("layer_").isdigit() for part in parts)


def _block(state: dict, variables: dict[str, np.ndarray], side: str, index: int) -> None:
    src, dst = f"{side}/layer_{index}", f"{side}.blocks.{index}"
    query, key, value = _split(variables, f"{src}/self_attention/linear_0", 3)
    _attention(state, f"{dst}.attn", query, key, value)
    _linear(state, f"{dst}.attn.out", variables, f"{src}/self_attention/linear_1")
    _layer_norm(state, f"{dst}.attn_ln", variables, f"{src}/self_attention/layer_norm")
    if side == "decoder":
        query = (
            variables[f"{src}/attention/linear_0/weight"],
            variables[f"{src}/attention/linear_0/bias"],
        )
        key, value = _split(variables, f"{src}/attention/linear_1", 2)
        _attention(state, f"{dst}.cross_attn", query, key, value)
        _linear(state, f"{dst}.cross_attn.out", variables, f"{src}/attention/linear_2")
        _layer_norm(state, f"{dst}.cross_attn_ln", variables, f"{src}/attention/layer_norm")
    _linear(state, f"{dst}.mlp.0", variables, f"{src}/ffn/linear_0")
    _linear(state, f"{dst}.mlp.2", variables, f"{src}/ffn/linear_1")
    _layer_norm(state, f"{dst}.mlp_ln", variables, f"{src}/ffn/layer_norm")


def _split(variables: dict, prefix: str, parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    weights = np.split(variables[f"{prefix}/weight"], parts, axis=0)
    biases = np.split(variables[f"{prefix}/bias"], parts, axis=0)
    return list(zip(weights, biases, strict=True))


def _attention(state: dict, dst: str, query: tuple, key: tuple, value: tuple) -> None:
    state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = query
    state[f"{dst}.key.weight"] = key[0]  # Whisper's key projection has no bias
    state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = value


def _linear(state: dict, dst: str, variables: dict, src: str) -> None:
    state[f"{dst}.weight"] = variables[f"{src}/weight"]
    state[f"{dst}.bias"] = variables[f"{src}/bias"]


def _layer_norm(state: dict, dst: str, variables: dict, src: str) -> None:
    state[f"{dst}.weight"] = variables[f"{src}/gamma"]
    state[f"{dst}.bias"] = variables[f"{src}/beta"]


def _dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    audio_ctx, audio_state = variables["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = variables["decoder/position_encodings/encodings"].shape
    return {
        "n_mels": int(variables["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(audio_ctx),
        "n_audio_state": int(audio_state),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": _layers(variables, "encoder"),
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(text_ctx),
        "n_text_state": int(text_state),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": _layers(variables, "decoder"),
    }


def ct2_to_openai_checkpoint(model_dir: Path, out_path: Path) -> Path:
    """Write the checkpoint atomically (a temporary file renamed when complete)."""
    import torch

    variables, _ = read_ct2_model(model_dir / "model.bin")
    state, dims = openai_state_dict(variables)
    config = json.loads((model_dir / "config.json").read_text())
    checkpoint = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(np.array(v)) for k, v in state.items()},
        "alignment_heads": config.get("alignment_heads"),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_suffix(".part")
    torch.save(checkpoint, partial)
    partial.replace(out_path)
    return out_path


def ensure_openai_checkpoint(model_dir: Path, cache_dir: Path, name: str) -> Path:
    """The cached checkpoint, converted again only when the source weights are newer."""
    out_path = cache_dir / f"{name}-openai.pt"
    source = model_dir / "model.bin"
    if out_path.exists() and out_path.stat().st_mtime >= source.stat().st_mtime:
        return out_path
    return ct2_to_openai_checkpoint(model_dir, out_path)


def load_openai_model(checkpoint_path: Path, name: str | None = None) -> Any:
    """An openai-whisper model from our checkpoint, with word-timing alignment heads."""
    import torch
    import whisper

    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads")
    if heads:
        dims = checkpoint["dims"]
        mask = torch.zeros(dims["n_text_layer"], dims["n_text_head"], dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    elif name in whisper._ALIGNMENT_HEADS:
        model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
    return model.float().eval()
