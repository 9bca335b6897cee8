"""CTranslate2 weights converted for openai-whisper: the same model in both engines."""

import re

import numpy as np
import pytest

from pipeline import asr_models, convert
from pipeline.engines import AsrOptions, load_engine
from pipeline.transcribe import transcribe_file

pytest.importorskip("whisper")
pytest.importorskip("torch")


def normalize(text):
    return " ".join(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tiny(cache):
    return asr_models.resolve_model("tiny.en", cache).path


def test_reader_returns_whisper_tiny_tensors(tiny):
    variables, aliases = convert.read_ct2_model(tiny / "model.bin")
    assert variables["encoder/conv1/weight"].shape == (384, 80, 3)
    assert variables["decoder/embeddings/weight"].shape == (51864, 384)
    assert variables["encoder/layer_0/self_attention/linear_0/weight"].dtype == np.float16
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


def test_fused_projections_are_split_and_dims_derived(tiny):
    variables, _ = convert.read_ct2_model(tiny / "model.bin")
    state, dims = convert.openai_state_dict(variables)
    fused = variables["decoder/layer_1/self_attention/linear_0/weight"]
    np.testing.assert_array_equal(state["decoder.blocks.1.attn.query.weight"], fused[:384])
    np.testing.assert_array_equal(state["decoder.blocks.1.attn.key.weight"], fused[384:768])
    np.testing.assert_array_equal(state["decoder.blocks.1.attn.value.weight"], fused[768:])
    cross = variables["decoder/layer_1/attention/linear_1/weight"]
    np.testing.assert_array_equal(state["decoder.blocks.1.cross_attn.value.weight"], cross[384:])
    key_bias = variables["encoder/layer_0/self_attention/linear_0/bias"][384:768]
    assert not key_bias.any()  # Whisper's key has no bias: nothing is lost by dropping it
    assert dims == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }


def test_both_engines_transcribe_jfk_alike_from_the_same_weights(cache, realdata):
    reference = normalize((realdata / "audio" / "jfk.ref.txt").read_text())
    texts = {}
    for engine in ("openai-whisper", "faster-whisper"):
        asr = load_engine(engine, "tiny.en", cache, AsrOptions())
        transcript = transcribe_file(realdata / "audio" / "jfk.flac", asr, AsrOptions())
        texts[engine] = normalize(" ".join(s.text for s in transcript.segments))
        words = [w for s in transcript.segments for w in s.words]
        assert words and all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert texts["openai-whisper"] == texts["faster-whisper"] == reference


def test_checkpoint_is_converted_once_and_reused(cache, tiny):
    first = convert.ensure_openai_checkpoint(tiny, cache, "tiny.en")
    stamp = first.stat().st_mtime_ns
    assert convert.ensure_openai_checkpoint(tiny, cache, "tiny.en").stat().st_mtime_ns == stamp
    assert not list(cache.glob("*.part"))
