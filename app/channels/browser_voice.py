"""Voice in the chat widget: the browser's microphone over the chat's WebSocket into the
same voice session as phone calls, and the agent's speech back.

The page sends ``voice.start``, then binary frames of 16 kHz mono int16 PCM; the server
answers ``voice.ready`` (with the rate of the agent's audio), streams the agent's speech as
binary frames, sends ``voice.clear`` when the caller barges in (drop what is buffered),
and ``voice.ended`` when the voice session is over. What the caller said and what the
agent answered are stored and shown as ordinary chat turns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from app.channels.voice_bridge import ConversationResponder, StreamedOutput
from voice.caller_input import CallerAudioInput
from voice.config import VoiceConfig
from voice.session import SpeechModels, VoiceSession

CALLER_RATE = 16000
SendJson = Callable[[dict[str, Any]], Awaitable[None]]
SendAudio = Callable[[bytes], Awaitable[None]]


class PageSink:
    """Agent audio to the page as binary frames; a barge-in as ``voice.clear``."""

    def __init__(self, send_audio: SendAudio, send_json: SendJson) -> None:
        self._send_audio, self._send_json = send_audio, send_json

    async def audio(self, pcm: np.ndarray) -> None:
        await self._send_audio(pcm.tobytes())

    async def clear(self) -> None:
        await self._send_json({"type": "voice.clear"})


class BrowserVoice:
    """One voice session on one chat connection."""

    def __init__(self, models: SpeechModels, config: VoiceConfig,
                 responder: ConversationResponder, send_audio: SendAudio,
                 send_json: SendJson) -> None:
        self.origin = time.time()
        self.agent_rate = models.synthesizer.sample_rate
        self._input = CallerAudioInput(CALLER_RATE)
        output = StreamedOutput(lambda: time.time() - self.origin, self.agent_rate,
                                PageSink(send_audio, send_json))
        self._session = VoiceSession(models, responder, config, self._input, output,
                                     self.origin)
        self._send_json = send_json
        self._watch: asyncio.Task[None] | None = None
    async def start(self) -> None:
        await self._session.start()
        self._watch = asyncio.create_task(self._ended())

    def push(self, data: bytes) -> None:
        """Caller audio from the page: 16 kHz mono int16, any whole number of samples."""
        usable = len(data) - len(data) % 2
        self._input.push(np.frombuffer(data[:usable], dtype=np.int16))

    async def _ended(self) -> None:
        await self._session.wait_closed()
        await self._send_json({"type": "voice.ended", "by": self._session.ended_by})

    async def stop(self) -> None:
        await self._session.hang_up()
        if self._watch is not None:
            await self._watch

    @property
    def closed(self) -> bool:
        return self._session.closed
