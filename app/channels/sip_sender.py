"""The agent's side of every call, handed to the RTP pacer process (``rtp_pacer``), which
sends 20 ms of G.711 per call every 20 ms, speech or silence, whatever this process is busy
with.

The event loop is where speech recognition results, dialogue turns and synthesis are
handled; packets timed here would wait for it and for the GIL, and the peer would hear
gaps. ``RtpSender`` is one call's stream: ``play``/``clear``/``update`` from the event loop,
``on_drained`` when what was queued has gone out, ``closed()`` once nothing more will. One
``PacerLink`` per process starts the pacer on first use, and again if it died (its calls
carry on, losing what was queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import structlog

from app.channels import rtp_pacer as wire
from voice.codecs import Encoding, encode

log = structlog.get_logger(__name__)

RATE = wire.RATE
PACKET_S = wire.PACKET_S
PACKET_SAMPLES = wire.PACKET_BYTES
CHUNK_SAMPLES = 8000  # audio goes to the pacer in messages of up to 1 s
CLOSE_WAIT_S = 2.0
_ENCODING_TAG = {Encoding.MULAW: b"m", Encoding.ALAW: b"a"}


class HasDescriptor(Protocol):
    """The call's RTP socket (``RtpSocket``), of which the pacer gets a duplicate."""

    def fileno(self) -> int: ...


@dataclass(frozen=True)
class SendTo:
    """Where and how the agent's audio goes; ``active`` false while the peer holds the call."""

    address: tuple[str, int]
    payload_type: int
    encoding: Encoding
    active: bool = True

    def to_json(self) -> bytes:
        return json.dumps({"host": self.address[0], "port": self.address[1],
                           "payload_type": self.payload_type,
                           "encoding": _ENCODING_TAG[self.encoding].decode(),
                           "active": self.active}).encode()


class RtpSender:
    """One call's outgoing stream. ``on_drained`` is called (on the link's reader thread)
    when the queued audio has all gone out."""

    def __init__(self, socket: HasDescriptor, to: SendTo, on_drained: Callable[[], None]) -> None:
        self.stats = wire.SendStats()  # filled in from the pacer's report on close
        self.socket = socket
        self.to = to
        self.on_drained = on_drained
        self.number = 0  # given by the link
        self._chunks = 0  # chunks handed to the pacer
        self._sent_up_to = 0  # the last chunk the pacer reported gone
        self._link: PacerLink | None = None
        self._closed = threading.Event()

    @property
    def queued(self) -> bool:
        """Whether audio handed over has not all gone out yet."""
        return self._sent_up_to < self._chunks and not self._closed.is_set()

    def play(self, pcm: np.ndarray) -> None:
        if self._link is None or not len(pcm):
            return
        tag = _ENCODING_TAG[self.to.encoding]
        for start in range(0, len(pcm), CHUNK_SAMPLES):
            self._chunks += 1
            audio = encode(pcm[start:start + CHUNK_SAMPLES].astype(np.int16, copy=False),
                           self.to.encoding)
            self._link.send(wire.PLAY, self.number,
                            wire.COUNT.pack(self._chunks) + tag + audio)

    def clear(self) -> None:
        if self._link is not None:
            self._link.send(wire.CLEAR, self.number)

    def update(self, to: SendTo) -> None:
        self.to = to
        if self._link is not None:
            self._link.send(wire.UPDATE, self.number, to.to_json())

    async def closed(self) -> None:
        """Stop the stream; returns once the pacer will send no more of it (or gave no word
        within ``CLOSE_WAIT_S``), with ``stats`` filled in."""
        if self._link is None:
            return
        self._link.send(wire.CLOSE, self.number)
        await asyncio.to_thread(self._closed.wait, CLOSE_WAIT_S)
        self._link.forget(self)
        self._link = None

    # -- from the link's reader thread --

    def reported(self, operation: int, body: bytes) -> None:
        if operation == wire.DRAINED:
            self._sent_up_to = max(self._sent_up_to, wire.COUNT.unpack_from(body)[0])
            if not self.queued:
                self.on_drained()
        elif operation == wire.CLOSED:
            for name, value in json.loads(body).items():
                setattr(self.stats, name, value)
            self._closed.set()
            self.on_drained()

    def attached(self, link: PacerLink, number: int) -> None:
        self._link, self.number = link, number
        self._chunks = self._sent_up_to = 0


class PacerLink:
    """This process's pacer: started on the first call, restarted if it has died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[int, RtpSender] = {}
        self._numbers = itertools.count(1)
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def add(self, sender: RtpSender) -> None:
        with self._lock:
            running = self._ensure_running()
            number = next(self._numbers)
            self._senders[number] = sender
            sender.attached(self, number)
            if running:  # else opened when the pacer can be started
                self._open(sender)

    def forget(self, sender: RtpSender) -> None:
        with self._lock:
            self._senders.pop(sender.number, None)

    def send(self, operation: int, number: int, body: bytes = b"") -> None:
        with self._lock:
            if not self._ensure_running():
                return
            assert self._control is not None
            with contextlib.suppress(OSError):
                self._control.send(wire.HEADER.pack(operation, number) + body)

    def _open(self, sender: RtpSender) -> None:
        assert self._control is not None
        message = wire.HEADER.pack(wire.OPEN, sender.number) + sender.to.to_json()
        with contextlib.suppress(OSError):
            socket.send_fds(self._control, [message], [sender.socket.fileno()])

    def _ensure_running(self) -> bool:
        """Start the pacer if it is not running (under the lock); false if it cannot be."""
        if self._process is not None and self._process.poll() is None:
            return True
        if self._process is not None:
            log.error("rtp pacer died; restarting it", code=self._process.returncode,
                      calls=len(self._senders))
        try:
            self._start()
        except OSError:
            log.exception("rtp pacer cannot start")
            return False
        for sender in self._senders.values():  # calls under way carry on
            sender.attached(self, sender.number)
            self._open(sender)
        return True

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (ours, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "app.channels.rtp_pacer", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),))
        theirs.close()
        if self._control is not None:
            self._control.close()
        self._control = ours
        threading.Thread(target=self._read, args=(ours,), name="rtp-pacer-replies",
                         daemon=True).start()

    def _read(self, control: socket.socket) -> None:
        while True:
            try:
                data = control.recv(wire.MAX_MESSAGE)
            except OSError:
                return
            if not data:
                return
            operation, number = wire.HEADER.unpack_from(data)
            if operation == wire.STARTED:
                scheduling = data[wire.HEADER.size:].decode()
                log.info("rtp pacer started", scheduling=scheduling)
                if scheduling != "realtime":
                    log.warning("rtp pacer without real-time scheduling: under heavy load "
                                "callers may hear gaps (grant CAP_SYS_NICE)")
                continue
            sender = self._senders.get(number)
            if sender is not None:
                sender.reported(operation, data[wire.HEADER.size:])


PACER = PacerLink()
