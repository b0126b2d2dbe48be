"""Speech synthesis on Piper (en_US-joe-medium, 22.05 kHz), as a livekit-agents ``tts.TTS``
plugin.

Piper synthesises one sentence at a time; each sentence is produced in a worker thread and
pushed as soon as it is ready, so the first sentence plays while the next is synthesised.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from livekit.agents import tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from piper import AudioChunk, PiperVoice

from voice.errors import ModelUnavailableError

_CODE = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z]{1,4}-?\d[A-Z0-9-]*\b")
_LONG_NUMBER = re.compile(r"(?<![\d,.$])\d{4,}(?![\d,])")


def speakable(text: str) -> str:
    """Text as it should be read aloud: reference numbers and card digits one by one
    ("HP-204981" -> "H P 2 0 4 9 8 1"), years and amounts as numbers."""
    def spell(match: re.Match[str]) -> str:
        return " ".join(ch for ch in match.group() if ch.isalnum())

    def digits(match: re.Match[str]) -> str:
        value = match.group()
        return value if len(value) == 4 and 1900 <= int(value) <= 2099 else spell(match)

    return _LONG_NUMBER.sub(digits, _CODE.sub(spell, text))


def load_piper(model_path: Path) -> PiperVoice:
    try:
        return PiperVoice.load(model_path)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelUnavailableError(f"cannot load Piper voice {model_path}: {error}") from error


class PiperSynthesizer:
    """Blocking synthesis: text in, one int16 array per sentence out."""

    def __init__(self, voice: PiperVoice) -> None:
        self._voice = voice

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        chunk: AudioChunk
        for chunk in self._voice.synthesize(speakable(text)):
            yield chunk.audio_int16_array

    def synthesize(self, text: str) -> np.ndarray:
        parts = list(self.sentences(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class PiperTTS(tts.TTS):
    """livekit-agents TTS plugin over a shared ``PiperSynthesizer``."""

    def __init__(self, synthesizer: PiperSynthesizer) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False),
                         sample_rate=synthesizer.sample_rate, num_channels=1)
        self._synthesizer = synthesizer

    @property
    def model(self) -> str:
        return "en_US-joe-medium"

    @property
    def provider(self) -> str:
        return "piper"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> PiperChunkedStream:
        return PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class PiperChunkedStream(tts.ChunkedStream):
    _tts: PiperTTS

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        synthesizer = self._tts._synthesizer
        output_emitter.initialize(request_id=utils.shortuuid(), sample_rate=synthesizer.sample_rate,
                                  num_channels=1, mime_type="audio/pcm", frame_size_ms=40)
        sentences = synthesizer.sentences(self.input_text)
        while (pcm := await asyncio.to_thread(next, sentences, None)) is not None:
            output_emitter.push(pcm.tobytes())
        output_emitter.flush()
