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
import structlog
from livekit import rtc

from app.conversations import ConversationService, Exchange
from voice.caller_input import CallerAudioInput
from voice.codecs import resample
from voice.config import VoiceConfig
from voice.playout import Clock, TimelineOutput
from voice.responder import Speech
from voice.session import SpeechModels, VoiceSession

log = structlog.get_logger(__name__)
CALLER_RATE = 16000
SendJson = Callable[[dict[str, Any]], Awaitable[None]]
SendAudio = Callable[[bytes], Awaitable[None]]


class StreamedOutput(TimelineOutput):
    """The agent's audio sent to the page as it is produced. Playback is paced on the
    call's clock, as the page plays it, so livekit knows when a reply has been heard."""

    def __init__(self, clock: Clock, sample_rate: int, send_audio: SendAudio,
                 send_json: SendJson) -> None:
        super().__init__(clock, paced=True)
        self._rate = sample_rate
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._send_audio, self._send_json = send_audio, send_json
        self._sender = asyncio.create_task(self._send_all())

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self.segments and self.segments[-1].interrupted:
            return
        pcm = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        self._outbox.put_nowait(resample(pcm, frame.sample_rate, self._rate).tobytes())

    def clear_buffer(self) -> None:
        super().clear_buffer()
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._outbox.put_nowait(None)  # None: tell the page to drop what it has buffered

    async def _send_all(self) -> None:
        while True:
            chunk = await self._outbox.get()
            if chunk is None:
                await self._send_json({"type": "voice.clear"})
            else:
                await self._send_audio(chunk)

    async def aclose(self) -> None:
        self._sender.cancel()
        await super().aclose()


class ConversationResponder:
    """The voice session's ``Responder`` for a conversation the chat already holds: every
    utterance goes through the conversation service (stored, shown on the page)."""

    def __init__(self, conversations: ConversationService, conversation_id: str,
                 show: Callable[[Exchange], Awaitable[None]]) -> None:
        self._conversations = conversations
        self._id = conversation_id
        self._show = show

    async def greeting(self) -> Speech | None:
        """The agent's last words, spoken: what the caller is to answer by voice."""
        record = await self._conversations.record(self._id)
        last = next((turn for turn in reversed(record.turns) if turn.role == "agent"), None)
        return Speech(last.text) if last is not None and record.status == "active" else None

    async def heard(self, text: str) -> Speech:
        exchange = await self._conversations.say(self._id, text)
        await self._show(exchange)
        reply = exchange.reply.text if exchange.reply is not None else ""
        return Speech(reply, end_call=exchange.ended)

    async def keyed(self, digits: str) -> Speech:
        return await self.heard(digits)

    async def went_silent(self, seconds: float) -> Speech:
        return Speech("")  # the page can still type; the chat's idle timeout ends it

    async def hung_up(self) -> None:
        """Voice stopping is not the conversation ending: the chat goes on in text."""


class BrowserVoice:
    """One voice session on one chat connection."""

    def __init__(self, models: SpeechModels, config: VoiceConfig,
                 responder: ConversationResponder, send_audio: SendAudio,
                 send_json: SendJson) -> None:
        self.origin = time.time()
        self.agent_rate = models.synthesizer.sample_rate
        self._input = CallerAudioInput(CALLER_RATE)
        output = StreamedOutput(lambda: time.time() - self.origin, self.agent_rate,
                                send_audio, send_json)
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
