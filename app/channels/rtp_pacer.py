"""The RTP pacer: a small process that sends every call's agent audio, 20 ms per call every
20 ms, speech or silence.

Why a process: in the server, the thread that times packets shares the GIL with the event
loop, the speech models' Python glue and a dozen other threads. With ten calls on two cores
it waited up to 160-300 ms for the GIL at times, and every call's audio stopped at once.
Here nothing else runs: no GIL to wait for, and the process asks for a higher CPU priority
where it may. The server keeps the call logic; it hands the pacer the call's RTP socket
(``SCM_RIGHTS``: both send from one port, so the peer's symmetric RTP and NAT see one
address) and then G.711 audio, over a ``SOCK_SEQPACKET`` pair (one message per datagram).

Messages from the server: a header (``!BI``: operation, call number), then
- ``OPEN`` with the socket's descriptor and the destination (JSON);
- ``PLAY`` G.711 audio: the server's running count of chunks (``!Q``), one byte for the
  encoding (``m`` mu-law, ``a`` A-law), then the audio;
- ``UPDATE`` the destination (JSON); ``CLEAR`` drops what is queued; ``CLOSE`` ends the call.
Replies: ``STARTED`` (call 0) with the scheduling the pacer got; ``DRAINED`` (``!Q``:
the last chunk sent) when a call's queue runs empty; ``CLOSED`` with the call's send
statistics (JSON) once no packet of it will go out again.
The pacer exits when the server's end of the pair closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import socket
import struct
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

HEADER = struct.Struct("!BI")
COUNT = struct.Struct("!Q")
RTP_HEADER = struct.Struct("!BBHII")
OPEN, PLAY, UPDATE, CLEAR, CLOSE, DRAINED, CLOSED, STARTED = range(1, 9)
MAX_MESSAGE = 1 << 16

RATE = 8000
PACKET_S = 0.02
PACKET_BYTES = 160  # G.711: one byte per sample
SILENCE = {"m": b"\xff" * PACKET_BYTES, "a": b"\xd5" * PACKET_BYTES}
LATE_S = 0.06  # later than this, the peer hears a gap: counted
RESYNC_S = 1.0  # further behind than this (the box was frozen), skip ahead
REALTIME_PRIORITY = 10  # SCHED_FIFO, asked for; without the privilege, a lower nice
PRIORITY_NICE = -10


@dataclass
class SendStats:
    sent: int = 0
    max_gap_s: float = 0.0
    skipped: int = 0
    late: int = 0
    last_sent: float | None = None

    def count(self, now: float) -> None:
        if self.last_sent is not None:
            self.max_gap_s = max(self.max_gap_s, now - self.last_sent)
        self.last_sent = now
        self.sent += 1


@dataclass
class PacedCall:
    """One call's outgoing stream: where it goes, the queued audio, the RTP counters."""

    sock: socket.socket
    address: tuple[str, int]
    payload_type: int
    encoding: str
    active: bool
    queue: deque[tuple[int, str, bytes]] = field(default_factory=deque)
    stats: SendStats = field(default_factory=SendStats)
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    sequence: int = field(default_factory=lambda: secrets.randbits(16))
    timestamp: int = field(default_factory=lambda: secrets.randbits(32))
    marker: bool = True
    last_chunk: int = 0

    def update(self, destination: dict[str, Any]) -> None:
        self.address = (destination["host"], int(destination["port"]))
        self.payload_type = int(destination["payload_type"])
        self.encoding = destination["encoding"]
        self.active = bool(destination["active"])

    def take(self) -> tuple[bytes, bool]:
        """The next 20 ms (silence where nothing is queued), and whether the queue just
        ran empty."""
        had = bool(self.queue)
        parts, needed = [], PACKET_BYTES
        while needed and self.queue:
            chunk, encoding, audio = self.queue[0]
            piece = _converted(audio[:needed], encoding, self.encoding)
            parts.append(piece)
            if len(audio) <= needed:
                self.queue.popleft()
                self.last_chunk = chunk
            else:
                self.queue[0] = (chunk, encoding, audio[needed:])
            needed -= len(piece)
        if needed:
            parts.append(SILENCE[self.encoding][:needed])
        return b"".join(parts), had and not self.queue

    def send(self, payload: bytes, now: float) -> None:
        header = RTP_HEADER.pack(0x80, (0x80 if self.marker else 0) | (self.payload_type & 0x7F),
                                 self.sequence, self.timestamp, self.ssrc)
        with contextlib.suppress(OSError):  # a full buffer drops the packet, as a network would
            self.sock.sendto(header + payload, self.address)
        self.stats.count(now)
        self.marker = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + PACKET_BYTES) & 0xFFFFFFFF

    def skip(self, packets: int) -> None:
        self.timestamp = (self.timestamp + packets * PACKET_BYTES) & 0xFFFFFFFF
        self.stats.skipped += packets


def _converted(audio: bytes, encoding: str, wanted: str) -> bytes:
    """Audio queued before a re-INVITE changed the codec, in the new one (rare)."""
    if encoding == wanted:
        return audio
    import numpy as np

    from voice.codecs import Encoding, decode, encode

    names = {"m": Encoding.MULAW, "a": Encoding.ALAW}
    pcm = decode(np.frombuffer(audio, np.uint8).tobytes(), names[encoding])
    return encode(pcm, names[wanted])


class Pacer:
    def __init__(self, control: socket.socket) -> None:
        control.setblocking(False)  # (``recv_fds`` ignores its flags before Python 3.12)
        self.control = control
        self.calls: dict[int, PacedCall] = {}

    def reply(self, operation: int, call: int, body: bytes = b"") -> None:
        with contextlib.suppress(OSError):
            self.control.send(HEADER.pack(operation, call) + body)

    def handle(self, data: bytes, fds: list[int]) -> None:
        operation, number = HEADER.unpack_from(data)
        body = data[HEADER.size:]
        if operation == OPEN:
            sock = socket.socket(fileno=fds[0])
            call = PacedCall(sock, ("0.0.0.0", 0), 0, "m", False)
            call.update(json.loads(body))
            self.calls[number] = call
            return
        call_or_none = self.calls.get(number)
        if call_or_none is None:
            return
        call = call_or_none
        if operation == PLAY:
            chunk = COUNT.unpack_from(body)[0]
            encoding = chr(body[COUNT.size])
            call.queue.append((chunk, encoding, body[COUNT.size + 1:]))
        elif operation == UPDATE:
            call.update(json.loads(body))
        elif operation == CLEAR:
            if call.queue:
                call.last_chunk = call.queue[-1][0]
                call.queue.clear()
            self.reply(DRAINED, number, COUNT.pack(call.last_chunk))
        elif operation == CLOSE:
            del self.calls[number]
            call.sock.close()
            self.reply(CLOSED, number, json.dumps(asdict(call.stats)).encode())

    def read_control(self, wait_s: float | None) -> bool:
        """Handle the messages waiting (waiting up to ``wait_s`` for the first); false once
        the server has gone."""
        ready, _, _ = select.select([self.control], [], [], wait_s)
        while ready:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, MAX_MESSAGE, 1)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self.handle(data, list(fds))
        return True

    def tick(self, now: float) -> None:
        for number, call in list(self.calls.items()):
            payload, drained = call.take()
            if call.active:
                call.send(payload, now)
            if drained:
                self.reply(DRAINED, number, COUNT.pack(call.last_chunk))

    def run(self) -> None:
        due = time.monotonic()
        while True:
            if not self.calls:  # idle: sleep until the server says something
                if not self.read_control(None):
                    return
                due = time.monotonic()
                continue
            due += PACKET_S
            while (remaining := due - time.monotonic()) > 0:
                if not self.read_control(remaining):
                    return
            behind = time.monotonic() - due
            if behind > RESYNC_S:
                skipped = int(behind / PACKET_S)
                due += skipped * PACKET_S
                for call in self.calls.values():
                    call.skip(skipped)
            elif behind > LATE_S:
                for call in self.calls.values():
                    call.stats.late += 1
            self.tick(time.monotonic())


def raise_priority() -> str:
    """Run ahead of every inference thread: the pacer wakes 50 times a second for well
    under a millisecond each, so a real-time class cannot starve the box."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        return "realtime"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY_NICE)
        return f"nice {PRIORITY_NICE}"
    except OSError:
        return "normal"


def main() -> None:
    priority = raise_priority()
    pacer = Pacer(socket.socket(fileno=int(sys.argv[1])))
    pacer.reply(STARTED, 0, priority.encode())
    pacer.run()


if __name__ == "__main__":
    main()
