"""One call's media: G.711 at 8 kHz in 20 ms RTP packets, both ways.

The agent's side goes out through the RTP pacer process (``sip_sender``): speech or
silence, a steady stream with no gaps. The caller's side is played out of the jitter buffer every
20 ms on the event loop (decoded, to ``on_audio``). Keypad presses (RFC 4733
telephone-events) skip the jitter buffer and go to ``on_key`` as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from app.channels.sip_dtmf import TelephoneEvents
from app.channels.sip_jitter import JitterBuffer
from app.channels.sip_rtp import RtpPacket, RtpSocket
from app.channels.sip_sender import PACER, PACKET_S, PACKET_SAMPLES, RtpSender, SendTo
from voice.codecs import Encoding, decode

log = structlog.get_logger(__name__)

PAYLOAD_ENCODINGS = {0: Encoding.MULAW, 8: Encoding.ALAW}  # PCMU, PCMA
_RESYNC_S = 1.0  # further behind than this, the playout skips ahead instead of bursting


@dataclass(frozen=True)
class MediaPath:
    """What the offer/answer settled: where to send, in which format, in which directions."""

    remote: tuple[str, int]
    payload_type: int
    dtmf_payload_type: int | None = None
    send: bool = True  # the peer wants our audio (False while it holds the call)
    receive: bool = True

    @property
    def encoding(self) -> Encoding:
        return PAYLOAD_ENCODINGS[self.payload_type]


@dataclass
class ReceiveStats:
    received: int = 0
    keys: int = 0


class RtpSession:
    def __init__(self, socket: RtpSocket, path: MediaPath, *, jitter_ms: int,
                 on_audio: Callable[[np.ndarray], None],
                 on_key: Callable[[str], None]) -> None:
        self.socket = socket
        self.path = path
        self.received = ReceiveStats()
        self.jitter = JitterBuffer(depth=max(1, round(jitter_ms / 1000 / PACKET_S)))
        self._on_audio, self._on_key = on_audio, on_key
        self._events = TelephoneEvents()
        self._peer_ssrc: int | None = None
        self._playout: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._loop = asyncio.get_running_loop()
        self.sender = RtpSender(socket, self._send_to(path), self._sent_all)
        socket.peer_host = path.remote[0]
        socket.on_packet = self._received

    def _sent_all(self) -> None:
        """From the pacer link's thread: the queued agent audio has all gone out."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._drained.set)

    @staticmethod
    def _send_to(path: MediaPath) -> SendTo:
        return SendTo(path.remote, path.payload_type, path.encoding, active=path.send)

    def summary(self) -> dict[str, Any]:
        """What went over the wire, for the call's log line and transcript."""
        sent = self.sender.stats
        return {"sent": sent.sent, "received": self.received.received,
                "keys": self.received.keys, "max_send_gap_ms": round(sent.max_gap_s * 1000, 1),
                "send_late": sent.late, "send_clock_skipped": sent.skipped,
                "jitter": vars(self.jitter.stats)}

    def start(self) -> None:
        PACER.add(self.sender)
        self._playout = asyncio.create_task(self._play_out())

    def play(self, pcm: np.ndarray) -> None:
        """Queue agent audio: mono int16 at 8 kHz."""
        if len(pcm):
            self._drained.clear()
            self.sender.play(pcm)

    def clear(self) -> None:
        """Drop the agent audio not sent yet (the caller barged in)."""
        self.sender.clear()

    def update(self, path: MediaPath) -> None:
        """A re-INVITE changed the path (a new address, codec, or hold)."""
        if path.remote[0] != self.path.remote[0] or path.payload_type != self.path.payload_type:
            self.jitter.restart()
        self.path = path
        self.socket.peer_host = path.remote[0]
        self.sender.update(self._send_to(path))

    async def drain(self, max_wait_s: float) -> None:
        """Until the queued agent audio has gone out (its last words before a hang-up)."""
        if self._playout is None or self._playout.done():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_wait_s):
                while self.sender.queued:
                    self._drained.clear()
                    if self.sender.queued:
                        await self._drained.wait()

    async def close(self) -> None:
        await self.sender.closed()  # no packet goes out after this returns
        if self._playout is not None:
            self._playout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._playout
        self.socket.close()

    # -- what the peer sends -------------------------------------------------------------

    async def _play_out(self) -> None:
        """The caller's audio out of the jitter buffer, 20 ms at a time."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += PACKET_S
            behind = loop.time() - due
            if behind < 0:
                await asyncio.sleep(-behind)
            elif behind > _RESYNC_S:
                due += int(behind / PACKET_S) * PACKET_S
            payload = self.jitter.take()
            if payload is not None:
                self._on_audio(decode(payload, self.path.encoding))
            elif self.jitter.playing:  # a lost packet: its 20 ms are silence
                self._on_audio(np.zeros(PACKET_SAMPLES, dtype=np.int16))

    def _received(self, packet: RtpPacket, _: tuple[str, int]) -> None:
        if not self.path.receive:
            return
        self.received.received += 1
        if packet.payload_type == self.path.dtmf_payload_type:
            key = self._events.key_pressed(packet.timestamp, packet.payload)
            if key is not None:
                self.received.keys += 1
                self._on_key(key)
            return
        if packet.payload_type != self.path.payload_type:
            return  # comfort noise and anything not negotiated
        if packet.ssrc != self._peer_ssrc:
            if self._peer_ssrc is not None:
                self.jitter.restart()
            self._peer_ssrc = packet.ssrc
        self.jitter.put(packet.sequence, packet.payload)
