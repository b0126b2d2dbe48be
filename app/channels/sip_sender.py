"""The agent's side of every call, sent on one clock thread: 20 ms of G.711 per call every
20 ms, speech or silence, whatever the event loop is busy with.

The event loop is where speech recognition results, dialogue turns and synthesis are
handled, and a slow step there (a long reply being worked out) would hold up packets
timed by it: the peer would hear gaps. So the sending runs on a thread of its own, shared
by all calls; it takes the GIL only for the few microseconds a packet costs. Agent audio is
handed over through a lock. When the thread wakes late, the packets that are due go out at
once; when it is more than a second behind, it skips ahead (the RTP timestamps still say
how much time went by).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import structlog

from app.channels.sip_rtp import RtpPacket, RtpSocket
from voice.codecs import Encoding, encode

log = structlog.get_logger(__name__)

RATE = 8000
PACKET_S = 0.02
PACKET_SAMPLES = int(RATE * PACKET_S)
_RESYNC_S = 1.0


@dataclass
class SendStats:
    sent: int = 0
    max_gap_s: float = 0.0
    skipped: int = 0
    last_sent: float | None = None

    def count(self, now: float) -> None:
        if self.last_sent is not None:
            self.max_gap_s = max(self.max_gap_s, now - self.last_sent)
        self.last_sent = now
        self.sent += 1


@dataclass(frozen=True)
class SendTo:
    """Where and how the agent's audio goes; ``active`` false while the peer holds the call."""

    address: tuple[str, int]
    payload_type: int
    encoding: Encoding
    active: bool = True


class RtpSender:
    """One call's outgoing stream. ``play``/``clear``/``update`` from the event loop;
    ``tick`` from the clock thread. ``on_drained`` is called (on the clock thread) when the
    queued audio has all gone out."""

    def __init__(self, socket: RtpSocket, to: SendTo, on_drained: Callable[[], None]) -> None:
        self.stats = SendStats()
        self._socket = socket
        self._to = to
        self._on_drained = on_drained
        self._lock = threading.Lock()
        self._queue: list[np.ndarray] = []
        self._queued = 0
        self._closed = False
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._first = True

    @property
    def queued(self) -> int:
        return self._queued

    def play(self, pcm: np.ndarray) -> None:
        if len(pcm):
            with self._lock:
                self._queue.append(pcm.astype(np.int16, copy=False))
                self._queued += len(pcm)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._queued = 0
        self._on_drained()

    def update(self, to: SendTo) -> None:
        with self._lock:
            self._to = to

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def skip(self, packets: int) -> None:
        """The clock fell far behind: ``packets`` worth of time went by unsent."""
        with self._lock:
            self._timestamp = (self._timestamp + packets * PACKET_SAMPLES) & 0xFFFFFFFF
            self.stats.skipped += packets

    def tick(self, now: float) -> None:
        with self._lock:
            if self._closed:
                return
            samples, drained = self._take()
            if self._to.active:
                self._send(samples, now)
        if drained:
            self._on_drained()

    def _take(self) -> tuple[np.ndarray, bool]:
        """The next 20 ms of queued audio (silence where there is none), and whether the
        queue just ran empty."""
        had = self._queued
        taken: list[np.ndarray] = []
        needed = PACKET_SAMPLES
        while needed and self._queue:
            head = self._queue[0]
            taken.append(head[:needed])
            if len(head) <= needed:
                self._queue.pop(0)
            else:
                self._queue[0] = head[needed:]
            needed -= len(taken[-1])
        self._queued -= PACKET_SAMPLES - needed
        if needed:
            taken.append(np.zeros(needed, dtype=np.int16))
        samples = np.concatenate(taken) if len(taken) > 1 else taken[0]
        return samples, had > 0 and self._queued == 0

    def _send(self, samples: np.ndarray, now: float) -> None:
        packet = RtpPacket(payload_type=self._to.payload_type, sequence=self._sequence,
                           timestamp=self._timestamp, ssrc=self._ssrc,
                           payload=encode(samples, self._to.encoding), marker=self._first)
        self._socket.send_now(packet, self._to.address)
        self.stats.count(now)
        self._first = False
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + PACKET_SAMPLES) & 0xFFFFFFFF


class SendClock:
    """The thread that ticks every sender every 20 ms; it runs while any sender is added."""

    def __init__(self) -> None:
        self._senders: list[RtpSender] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, sender: RtpSender) -> None:
        with self._lock:
            self._senders.append(sender)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rtp-send-clock",
                                                daemon=True)
                self._thread.start()

    def remove(self, sender: RtpSender) -> None:
        with self._lock:
            if sender in self._senders:
                self._senders.remove(sender)

    def _run(self) -> None:
        due = time.monotonic()
        while True:
            with self._lock:
                if not self._senders:
                    self._thread = None
                    return
                senders = list(self._senders)
            due += PACKET_S
            behind = time.monotonic() - due
            if behind < 0:
                time.sleep(-behind)
            elif behind > _RESYNC_S:
                skipped = int(behind / PACKET_S)
                due += skipped * PACKET_S
                for sender in senders:
                    sender.skip(skipped)
            now = time.monotonic()
            for sender in senders:
                try:
                    sender.tick(now)
                except Exception:  # one call's fault must not silence every call
                    log.exception("rtp send failed")
                    self.remove(sender)


CLOCK = SendClock()
