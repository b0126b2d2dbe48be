"""A voice session on a stored conversation over a streamed transport (a page's socket, a
Twilio media stream, an RTP line): the agent's audio handed to the transport as it is
produced, and every caller event answered through the conversation service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np

from app.bridge import speech
from app.conversations import ConversationService, Exchange
from dialog.events import CallerSaid, KeypadDigits, SilenceTimeout
from voice.playout import Clock, TransportOutput
from voice.responder import Speech


class AudioSink(Protocol):
    """Where a streamed reply goes: the transport of a page or a phone line."""

    async def audio(self, pcm: np.ndarray) -> None:
        """Agent speech, mono int16 at the output's rate, in the order it is produced."""

    async def clear(self) -> None:
        """The caller barged in: drop whatever is buffered on the far side."""


class StreamedOutput(TransportOutput):
    """The agent's audio handed to a transport as it is produced. Playback is paced on the
    call's clock, as the far end plays it, so livekit knows when a reply has been heard."""

    def __init__(self, clock: Clock, sample_rate: int, sink: AudioSink) -> None:
        super().__init__(clock, sample_rate)
        self._outbox: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._sink = sink
        self._sender = asyncio.create_task(self._send_all())

    def _deliver(self, pcm: np.ndarray) -> None:
        if len(pcm):
            self._outbox.put_nowait(pcm)

    def clear_buffer(self) -> None:
        super().clear_buffer()
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._outbox.put_nowait(None)  # None: tell the far end to drop what it has buffered

    async def _send_all(self) -> None:
        while True:
            chunk = await self._outbox.get()
            await (self._sink.clear() if chunk is None else self._sink.audio(chunk))

    async def aclose(self) -> None:
        self._sender.cancel()
        await super().aclose()


class ConversationResponder:
    """The voice session's ``Responder`` for a stored conversation (a chat switched to
    voice, or a phone call): every utterance, key press and silence goes through the
    conversation service (stored, and shown to whoever ``show`` tells)."""

    def __init__(self, conversations: ConversationService, conversation_id: str,
                 show: Callable[[Exchange], Awaitable[None]], *,
                 answer_silence: bool = True) -> None:
        """``answer_silence``: a caller's silence gets the agent's "are you still there?"
        (a phone call); off, silence is left alone (a page, where the visitor may type)."""
        self._conversations = conversations
        self._id = conversation_id
        self._show = show
        self._answer_silence = answer_silence

    async def greeting(self) -> Speech | None:
        """The agent's last words, spoken: what the caller is to answer by voice."""
        record = await self._conversations.record(self._id)
        last = next((turn for turn in reversed(record.turns) if turn.role == "agent"), None)
        return Speech(last.text) if last is not None and record.status == "active" else None

    async def heard(self, text: str) -> Speech:
        return await self._answer(CallerSaid(text))

    async def _answer(self, event: CallerSaid | KeypadDigits | SilenceTimeout) -> Speech:
        exchange = await self._conversations.take(self._id, event)
        await self._show(exchange)
        reply = exchange.reply.text if exchange.reply is not None else ""
        return speech(reply, end_call=exchange.ended, listen_for=exchange.listen_for,
                      listen_form=exchange.listen_form, expected=exchange.listen_expected)

    async def keyed(self, digits: str) -> Speech:
        return await self._answer(KeypadDigits(digits))

    async def went_silent(self, seconds: float) -> Speech:
        if not self._answer_silence:
            return Speech("")
        return await self._answer(SilenceTimeout(seconds))

    async def hung_up(self) -> None:
        """Voice stopping is not the conversation ending: the chat goes on in text."""
