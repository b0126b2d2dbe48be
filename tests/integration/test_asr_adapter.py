"""The phone-speech adapter of the recognizer, on the real model: the transformers Whisper
built from the shipped CTranslate2 weights computes what CTranslate2 computes; a short
training run writes adapters that fold into a model faster-whisper loads and that still
transcribes; the product loads the adapted model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from app.asr_corpus import SpokenLine, TrainingLine, line_window, speak_lines
from app.asr_prepare import ASR_ADAPTER, has_adapter, prepare_asr
from app.asr_training import AsrTrainingConfig, Prompts, _whisper_model, train_asr_adapter
from app.caller_voice import on_the_line
from app.model_loading import asr_model_dir
from app.models import ASR
from voice.asr import WhisperRecognizer, load_whisper

pytestmark = pytest.mark.slow

LINES = ("Yes, this is she.", "Who is this?", "It's June 5th, 1990.", "Stop calling me.",
         "Can I speak to a person?", "Yeah, the card came last week.", "No, I'm not renewing.",
         "Thursday at 3:30 works.")


def test_the_transformers_model_matches_ctranslate2() -> None:
    import torch
    from faster_whisper.transcribe import get_ctranslate2_storage

    placed = line_window("Yes, this is she.", random.Random(1))
    assert placed is not None
    shipped = load_whisper(ASR.locate())
    features = shipped.feature_extractor(placed[0])[:, :800]
    expected = np.array(shipped.model.encode(get_ctranslate2_storage(features[None]),
                                             to_cpu=True))
    model = _whisper_model(ASR.locate()).eval()
    with torch.no_grad():
        got = model.model.encoder(torch.from_numpy(features[None])).last_hidden_state.numpy()
    # CTranslate2 runs int8 here (load_whisper), transformers float32: close, not equal.
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.99


def test_training_writes_adapters_that_fold_into_a_working_model(tmp_path: Path) -> None:
    lines = [TrainingLine(text, "identify" if "she" in text else "") for text in LINES]
    spoken: list[SpokenLine] = speak_lines(lines, voices_per_line=2, seed=1)
    assert len(spoken) == 2 * len(LINES)
    assert all(item.voice != "en-us" and item.features.shape == (80, 800) for item in spoken)
    progress: list[str] = []
    manifest = train_asr_adapter(
        ASR.locate(), spoken[:12], spoken[12:], Prompts({"identify": "Yes, this is {name}."},
                                                        ["Eleanor"]),
        tmp_path / "adapter", AsrTrainingConfig(epochs=1, batch_size=4), progress.append)
    assert manifest["train_lines"] == 12 and 0 < manifest["validation_token_accuracy"] <= 1
    assert any("step 3/3" in line for line in progress)

    model_dir = prepare_asr(tmp_path / "cache", adapter_dir=tmp_path / "adapter")
    assert model_dir.parent == tmp_path / "cache" / "asr"
    assert (model_dir / "model.bin").read_bytes() != (ASR.locate() / "model.bin").read_bytes()
    assert prepare_asr(tmp_path / "cache", adapter_dir=tmp_path / "adapter") == model_dir
    heard = WhisperRecognizer(load_whisper(model_dir)).transcribe(on_the_line("Stop calling me."))
    assert "calling" in heard.text.lower()


def test_without_an_adapter_the_shipped_model_runs(tmp_path: Path) -> None:
    assert prepare_asr(tmp_path, adapter_dir=tmp_path / "none") == ASR.locate()


def test_the_product_loads_the_adapted_model(tmp_path: Path) -> None:
    assert has_adapter(ASR_ADAPTER), "voice/models/asr-lora is committed with the product"
    assert asr_model_dir(tmp_path).parent == tmp_path / "asr"
