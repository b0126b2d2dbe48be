"""The speech recognizer the product runs: the bundled Whisper tiny.en with the project's
phone-speech adapter (``voice/models/asr-lora``, from ``python -m app asr train``) folded
in at ``FOLD_WEIGHT``, cached under ``<cache>/asr/<model>-<adapter>-w<weight>/``.

Folding is a second of numpy (``voice.whisper_adapter.merge_lora``), so the first load
does it when ``models prepare`` has not; it is written to a temporary folder and renamed
into place, so a killed run never leaves half a model behind. Without an adapter folder
the bundled model runs as shipped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from app import models
from app.model_folders import built_in_place_of
from app.slm_prepare import adapter_checksum, file_sha256

ASR_ADAPTER = Path(__file__).resolve().parent.parent / "voice" / "models" / "asr-lora"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# How much of the adapter is folded in: weights part way between the shipped model and the
# fine-tuned one (as WiSE-FT does) keep what the adapter learned and lose less of what
# Whisper knew about voices it never trained on. Word error rate on 120 scenario caller
# lines in the evaluation voice / on the agent's 23 Piper lines twice (a voice no training
# line used), same audio within a run; FSDD digits of theo (a held-out human) right of 100:
#   run 1: shipped 0.369 / 0.076, 89;  1.0: 0.081 / 0.040;  0.75: 0.088 / 0.015;
#          0.5: 0.085 / 0.012 (all 100)
#   run 2: 1.0: 0.081 / 0.055;  0.6: 0.080 / 0.020;  0.5: 0.085 / 0.017 (all 100)
FOLD_WEIGHT = 0.6

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def has_adapter(adapter_dir: Path = ASR_ADAPTER) -> bool:
    return all((adapter_dir / name).exists() for name in ADAPTER_FILES)


def asr_cache_entry(cache_dir: Path, adapter_dir: Path = ASR_ADAPTER) -> Path:
    base = models.ASR.locate()
    model = file_sha256(base / "model.bin")[:12]
    adapter = adapter_checksum(adapter_dir)[:12]
    return cache_dir / "asr" / f"{model}-{adapter}-w{round(FOLD_WEIGHT * 100)}"


def prepare_asr(cache_dir: Path, report: Report = _quiet,
                adapter_dir: Path = ASR_ADAPTER) -> Path:
    """The folder of the Whisper model to run: the adapted one, merged once per adapter
    version, or the bundled one when there is no adapter."""
    from safetensors.numpy import load_file

    from voice.ct2_weights import read_weights, write_weights
    from voice.whisper_adapter import merge_lora

    base = models.ASR.locate()
    if not has_adapter(adapter_dir):
        report(f"no speech adapter in {adapter_dir}: Whisper runs as shipped")
        return base
    entry = asr_cache_entry(cache_dir, adapter_dir)
    if (entry / "model.bin").exists():
        return entry
    with built_in_place_of(entry) as staging:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        weights = read_weights(base / "model.bin")
        merged = merge_lora(weights, load_file(str(adapter_dir / "adapter_model.safetensors")),
                            scale=FOLD_WEIGHT * config["lora_alpha"] / config["r"])
        write_weights(weights, staging / "model.bin")
        for name in _MODEL_FILES:
            shutil.copy(base / name, staging / name)
    report(f"speech adapter folded into Whisper ({merged} layers): {entry}")
    return entry
