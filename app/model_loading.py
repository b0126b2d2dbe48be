"""Loading every model the product runs, from the bundled packages and the prepared cache.

One place answers "where is it and how is it loaded", for the server, the CLI commands and
``models check`` alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app import models
from app.gc_pauses import freeze_loaded_objects
from app.slm_prepare import PreparedSlm, slm_cache_entry
from voice.config import VoiceConfig

if TYPE_CHECKING:
    from voice.session import SpeechModels


class ModelNotPreparedError(Exception):
    """The SLM has not been converted yet."""


def prepared_slm(cache_dir: Path) -> PreparedSlm:
    entry = slm_cache_entry(cache_dir)
    if not entry.ready:
        raise ModelNotPreparedError(
            f"the SLM is not prepared in {cache_dir}: run `python -m app models prepare`")
    return entry


def asr_model_dir(cache_dir: Path | None = None) -> Path:
    """The Whisper model the product runs: the bundled one with the phone-speech adapter
    folded in (``app.asr_prepare``)."""
    from app.asr_prepare import prepare_asr
    from app.config import Settings

    return prepare_asr(cache_dir or Settings().cache_dir)


def load_asr(threads: int = 2, workers: int = 1, min_window_s: float = 8.0,
             beam_size: int = 1, cache_dir: Path | None = None) -> Any:
    from voice.asr import WhisperRecognizer, load_whisper

    model = load_whisper(asr_model_dir(cache_dir), threads=threads, workers=workers)
    return WhisperRecognizer(model, min_window_s=min_window_s, beam_size=beam_size)


def load_tts() -> Any:
    from voice.tts import PiperSynthesizer, load_piper

    return PiperSynthesizer(load_piper(models.TTS.locate()))


def load_slm(cache_dir: Path) -> Any:
    from dialog.slm import SmallLanguageModel

    return SmallLanguageModel(prepared_slm(cache_dir).ct2_dir)


def load_embeddings() -> Any:
    from knowledge.embeddings import load_embedder

    return load_embedder(models.EMBEDDINGS.locate())


def load_vad(config: VoiceConfig | None = None) -> Any:
    from voice.turns import load_vad as load

    models.VAD.locate()
    return load(config)


def load_end_of_turn() -> Any:
    from voice.turns import load_turn_detector

    models.END_OF_TURN.locate()
    return load_turn_detector()


@dataclass(frozen=True)
class ModelCheck:
    model: models.BundledModel
    path: str
    load_s: float
    error: str | None = None


def check_all(cache_dir: Path) -> Iterator[ModelCheck]:
    """Load each model once, timing it; a failure is reported and the next one tried."""
    loaders: list[tuple[models.BundledModel, Callable[[], Any], Callable[[], Path]]] = [
        (models.ASR, lambda: load_asr(cache_dir=cache_dir), lambda: asr_model_dir(cache_dir)),
        (models.TTS, load_tts, models.TTS.locate),
        (models.SLM_GGUF, lambda: load_slm(cache_dir), lambda: prepared_slm(cache_dir).ct2_dir),
        (models.EMBEDDINGS, load_embeddings, models.EMBEDDINGS.locate),
        (models.VAD, load_vad, models.VAD.locate),
        (models.END_OF_TURN, load_end_of_turn, models.END_OF_TURN.locate),
    ]
    for model, load, path in loaders:
        started = time.perf_counter()
        try:
            load()
            where = str(path())
        except Exception as error:  # reported per model: one broken model must not hide the rest
            yield ModelCheck(model, "-", time.perf_counter() - started, str(error).splitlines()[0])
            continue
        yield ModelCheck(model, where, time.perf_counter() - started)


def load_speech_models(config: VoiceConfig) -> SpeechModels:
    """Everything a voice session needs, loaded once per process and warmed up."""
    from voice.session import SpeechModels

    recognizer = load_asr(config.asr_threads, config.asr_workers, config.asr_min_window_s,
                          config.asr_beam_size)
    synthesizer = load_tts()
    recognizer.transcribe(np.zeros(16000, dtype=np.int16))  # first decode pays for setup
    synthesizer.synthesize("Hello.")
    detector = load_end_of_turn() if config.use_turn_detector else None
    models = SpeechModels(recognizer, synthesizer, load_vad(config), detector)
    freeze_loaded_objects()  # before any call: full collections would stall every call
    return models


class SpeechModelsOnce:
    """The speech models for a server: loaded once, off the event loop, on first use (or
    ahead of it with ``preload``), shared by every voice session."""

    def __init__(self, config: VoiceConfig) -> None:
        self._config = config
        self._loading: asyncio.Task[SpeechModels] | None = None

    def preload(self) -> None:
        if self._loading is None:
            self._loading = asyncio.create_task(
                asyncio.to_thread(load_speech_models, self._config))

    async def get(self) -> SpeechModels:
        self.preload()
        assert self._loading is not None
        return await asyncio.shield(self._loading)
