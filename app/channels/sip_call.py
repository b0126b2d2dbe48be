"""One phone call's audio and keys between its RTP session and a voice session, the same for
calls the server answers and calls it places.

Caller RTP is decoded, resampled from 8 to 16 kHz and fed to the voice session; keypad
entries go to ``VoiceSession.send_keys``; the agent's speech is resampled to 8 kHz and
queued on the media clock. The signalling side tells the call when the peer hangs up or
re-negotiates, and sends BYE itself when ``run`` returns with the peer still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import structlog
from aiosipua import SdpMessage

from app.channels import sip_sdp
from app.channels.sip_media import MediaPath, RtpSession
from app.channels.sip_rtp import RtpSocket
from app.channels.sip_sender import RATE
from app.channels.sip_settings import SipSettings
from voice.caller_input import CallerAudioInput
from voice.codecs import Resampler
from voice.config import VoiceConfig
from voice.keypad import KeypadCollector
from voice.playout import Clock, TransportOutput
from voice.responder import Responder
from voice.session import SpeechModels, VoiceSession

log = structlog.get_logger(__name__)
CALLER_RATE = 16000
DRAIN_S = 5.0  # the longest the agent's last words may take to go out before BYE
OVERRUN_S = 90.0  # past the time limit: the session's own ending (a goodbye) had its chance
TEARDOWN_STEP_S = 15.0


class RtpOutput(TransportOutput):
    """The agent's speech into the call's RTP stream as it is produced; barge-in drops what
    has not been sent yet."""

    def __init__(self, clock: Clock, media: RtpSession) -> None:
        super().__init__(clock, RATE)
        self._media = media

    def _deliver(self, pcm: np.ndarray) -> None:
        self._media.play(pcm)

    def clear_buffer(self) -> None:
        super().clear_buffer()
        self._media.clear()


class PhoneCall:
    """``run()`` holds the call until it ends; ``peer_hung_up``/``renegotiate`` come from the
    signalling. ``sdp_session_id`` names our side of the offer/answer."""

    def __init__(self, call_id: str, models: SpeechModels, voice: VoiceConfig,
                 responder: Responder, socket: RtpSocket, path: MediaPath,
                 settings: SipSettings, sdp_session_id: str) -> None:
        self.call_id = call_id
        self.origin = time.time()
        self.peer_gone = False
        self.sdp_session_id = sdp_session_id
        self._sdp_version = 1
        self._host = settings.media_host
        self._input = CallerAudioInput(CALLER_RATE)
        self._upsample = Resampler(RATE, CALLER_RATE, low_latency=True)
        self.media = RtpSession(socket, path, jitter_ms=settings.jitter_buffer_ms,
                                on_audio=self._caller_audio, on_key=self._key_pressed)
        output = RtpOutput(lambda: time.time() - self.origin, self.media)
        self.session = VoiceSession(models, responder, voice, self._input, output, self.origin)
        self._keys = KeypadCollector(self.session.send_keys, settings.dtmf_inter_digit_s)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stage = "setup"  # how far the call got, for the log of a call that overran
        # While set, the caller's audio (8 kHz) goes here instead of to the voice session.
        self.listener: Callable[[np.ndarray], None] | None = None

    async def run(self, before_start: Callable[[], Awaitable[None]] | None = None) -> str:
        """Hold the call; returns who ended it (``agent``, ``caller``, ``time_limit``).
        ``before_start`` is awaited with the media flowing, before the session starts.

        Whatever happens inside, ``run`` returns within the call's time limit plus
        ``OVERRUN_S``, and each step of the teardown is bounded: one stuck call must not
        hold its line, its campaign contact or its worker forever."""
        self.media.start()
        try:
            await self._hold_within_limit(before_start)
        except Exception:
            log.exception("call failed", call=self.call_id)
            with contextlib.suppress(Exception):
                await self._bounded("hang-up", self.session.hang_up())
        finally:
            await self._bounded("keypad", self._keys.close())
            if not self.peer_gone:
                await self.media.drain(DRAIN_S)
            await self._bounded("media", self.media.close())
            for task in list(self._tasks):
                task.cancel()
        ended_by = self.session.ended_by or "caller"
        log.info("call ended", call=self.call_id, by=ended_by, turns=len(self.session.turns),
                 cut_off=sum(turn.interrupted for turn in self.session.turns),
                 response_ms=[round(latency * 1000) for turn in self.session.turns
                              if (latency := turn.marks.response_latency) is not None],
                 stages_ms=[stages for turn in self.session.turns
                            if (stages := turn.marks.stages_ms()) is not None],
                 rtp=self.media.summary())
        return ended_by

    async def _hold_within_limit(self, before_start: Callable[[], Awaitable[None]] | None,
                                 ) -> None:
        ceiling = asyncio.timeout(self.session.config.max_call_s + OVERRUN_S)
        try:
            async with ceiling:
                await self._hold(before_start)
        except TimeoutError:
            if not ceiling.expired():
                raise  # a timeout of something inside the call: a failure like any other
            log.error("call overran its time limit", call=self.call_id,
                      limit_s=self.session.config.max_call_s, stage=self._stage)
            await self._bounded("session", self.session.abandon("time_limit"))

    async def _hold(self, before_start: Callable[[], Awaitable[None]] | None) -> None:
        self._stage = "screening"
        if before_start is not None:
            await before_start()
        self._stage = "greeting"
        if not self.peer_gone:
            await self.session.start()
        self._stage = "conversation"
        await self.session.wait_closed()

    async def _bounded(self, step: str, work: Awaitable[None]) -> None:
        """One teardown step, at most ``TEARDOWN_STEP_S``; one that hangs is named in the
        log and left behind."""
        try:
            async with asyncio.timeout(TEARDOWN_STEP_S):
                await work
        except TimeoutError:
            log.error("call teardown step hung", call=self.call_id, step=step,
                      waited_s=TEARDOWN_STEP_S)

    def peer_hung_up(self) -> None:
        """The peer sent BYE (or vanished): the session ends without speaking."""
        if self.peer_gone:
            return
        self.peer_gone = True
        self._spawn(self.session.hang_up())

    def end(self, reason: str) -> None:
        """End the call from our side without more words (the server stopping); ``run``
        returns and the signalling sends BYE."""
        self.session.ended_by = self.session.ended_by or reason
        self._spawn(self.session.hang_up())

    def renegotiate(self, offer: SdpMessage,
                    allowed: Callable[[MediaPath], bool] | None = None) -> SdpMessage:
        """Our answer to a re-INVITE's offer (a new address, codec, or hold); the media
        follows it at once. Raises ``MediaNegotiationError`` when nothing fits, or when
        ``allowed`` refuses the new path."""
        answer, path = sip_sdp.answer(offer, self._host, self.media.socket.port,
                                      self.sdp_session_id, self._sdp_version + 1)
        if allowed is not None and not allowed(path):
            raise sip_sdp.MediaNegotiationError("media address not allowed")
        self._sdp_version += 1
        self.media.update(path)
        log.info("call media changed", call=self.call_id, held=not path.send,
                 payload_type=path.payload_type)
        return answer

    def _caller_audio(self, pcm: np.ndarray) -> None:
        if self.listener is not None:
            self.listener(pcm)
            return
        self._input.push(self._upsample.push(pcm))

    def _key_pressed(self, key: str) -> None:
        self._keys.press(key)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
