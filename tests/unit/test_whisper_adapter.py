"""CTranslate2 Whisper weights: read and written back byte for byte; LoRA adapters folded
into the right rows of the fused attention matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.models import ASR
from voice.ct2_weights import Ct2FormatError, Ct2Weights, read_weights, write_weights
from voice.whisper_adapter import hf_state_dict, merge_lora, whisper_shape


@pytest.fixture(scope="module")
def shipped() -> Ct2Weights:
    return read_weights(ASR.locate() / "model.bin")


def test_the_shipped_model_is_written_back_byte_for_byte(shipped: Ct2Weights,
                                                         tmp_path: Path) -> None:
    write_weights(shipped, tmp_path / "model.bin")
    assert (tmp_path / "model.bin").read_bytes() == (ASR.locate() / "model.bin").read_bytes()


def test_a_truncated_file_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes((ASR.locate() / "model.bin").read_bytes()[:5000])
    with pytest.raises(Ct2FormatError, match="truncated"):
        read_weights(tmp_path / "model.bin")


def test_tiny_en_shape(shipped: Ct2Weights) -> None:
    shape = whisper_shape(shipped)
    assert (shape.layers, shape.heads, shape.width, shape.vocabulary) == (4, 6, 384, 51864)


def test_the_state_dict_splits_the_fused_attention(shipped: Ct2Weights) -> None:
    state = hf_state_dict(shipped, source_positions=400)
    fused = shipped.variables["encoder/layer_2/self_attention/linear_0/weight"]
    assert np.array_equal(state["model.encoder.layers.2.self_attn.v_proj.weight"],
                          fused[768:].astype(np.float32))
    assert "model.encoder.layers.2.self_attn.k_proj.bias" not in state
    assert state["model.encoder.embed_positions.weight"].shape == (400, 384)


def _adapter(module: str, rank: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    prefix = f"base_model.model.{module}"
    return {f"{prefix}.lora_A.weight": rng.normal(0, 0.1, (rank, 384)).astype(np.float32),
            f"{prefix}.lora_B.weight": rng.normal(0, 0.1, (384, rank)).astype(np.float32)}


def test_a_key_adapter_changes_only_the_key_rows(tmp_path: Path) -> None:
    weights = read_weights(ASR.locate() / "model.bin")
    name = "decoder/layer_1/self_attention/linear_0/weight"
    before = weights.variables[name].astype(np.float32)
    adapter = _adapter("model.decoder.layers.1.self_attn.k_proj", 4, np.random.default_rng(1))
    assert merge_lora(weights, adapter, scale=2.0) == 1
    after = weights.variables[name].astype(np.float32)
    delta = 2.0 * adapter[next(k for k in adapter if "lora_B" in k)] @ adapter[
        next(k for k in adapter if "lora_A" in k)]
    assert np.array_equal(after[:384], before[:384]) and np.array_equal(after[768:], before[768:])
    assert np.allclose(after[384:768], before[384:768] + delta, atol=2e-3)
    assert weights.variables[name].dtype == np.float16


def test_cross_attention_value_rows_are_the_second_half(shipped: Ct2Weights) -> None:
    weights = Ct2Weights(shipped.spec, shipped.revision, dict(shipped.variables),
                         shipped.aliases)
    name = "decoder/layer_0/attention/linear_1/weight"
    adapter = _adapter("model.decoder.layers.0.encoder_attn.v_proj", 2,
                       np.random.default_rng(2))
    merge_lora(weights, adapter, scale=1.0)
    changed = np.any(weights.variables[name] != shipped.variables[name], axis=1)
    assert not changed[:384].any() and changed[384:].all()


def test_an_adapter_for_a_layer_whisper_lacks_is_refused(shipped: Ct2Weights) -> None:
    adapter = _adapter("model.decoder.layers.9.fc1", 2, np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"layers\.9\.fc1"):
        merge_lora(shipped, adapter, scale=1.0)
