"""RTP on the wire (RFC 3550): the fixed header, and one UDP socket per call taken from the
configured port range. Only what a G.711 telephone call needs: no RTCP, no SRTP."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_HEADER = struct.Struct("!BBHII")
VERSION = 2


class RtpPortsExhaustedError(Exception):
    """Every port of the RTP range is taken (too many calls for the range)."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket | None:
        """The packet in ``data``, or ``None`` for anything that is not RTP version 2."""
        if len(data) < _HEADER.size:
            return None
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != VERSION:
            return None
        offset = _HEADER.size + 4 * (first & 0x0F)  # CSRC list
        if first & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
            if len(data) < offset + 4:
                return None
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if first & 0x20:  # padding: the last byte counts it
            end -= data[-1]
        if end < offset:
            return None
        return cls(payload_type=second & 0x7F, sequence=sequence, timestamp=timestamp,
                   ssrc=ssrc, payload=bytes(data[offset:end]), marker=bool(second & 0x80))

    def build(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = _HEADER.pack(VERSION << 6, second, self.sequence & 0xFFFF,
                              self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF)
        return header + self.payload


PacketHandler = Callable[[RtpPacket, tuple[str, int]], None]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, socket: RtpSocket) -> None:
        self._socket = socket

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._socket.received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # An ICMP "port unreachable" for a peer that went away: the call's end will follow.
        log.debug("rtp socket error", error=type(exc).__name__)


class RtpSocket:
    """One call's RTP port. Packets from hosts other than the peer's are dropped."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.on_packet: PacketHandler | None = None
        self.peer_host: str | None = None
        self.dropped = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._raw: socket.socket | None = None

    def received(self, data: bytes, addr: tuple[str, int]) -> None:
        packet = RtpPacket.parse(data)
        if packet is None or (self.peer_host is not None and addr[0] != self.peer_host):
            self.dropped += 1
            return
        if self.on_packet is not None:
            self.on_packet(packet, addr)

    def fileno(self) -> int:
        """The bound socket's descriptor (the RTP pacer sends from a duplicate of it)."""
        if self._raw is None:
            raise OSError("rtp socket closed")
        return self._raw.fileno()

    def close(self) -> None:
        """Close the port; callers on other threads must have stopped sending."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            self._raw = None

    async def _bind(self) -> None:
        family = socket.AF_INET6 if ip_address(self.host).version == 6 else socket.AF_INET
        raw = socket.socket(family, socket.SOCK_DGRAM)
        try:
            raw.setblocking(False)
            raw.bind((self.host, self.port))
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=raw)
        except BaseException:
            raw.close()
            raise
        self._transport, self._raw = transport, raw


class RtpPorts:
    """Hands out even ports of ``[low, high]`` (RTP's convention; the odd one above is
    RTCP's), starting where the last call left off so a port just closed rests a while."""

    def __init__(self, host: str, low: int, high: int) -> None:
        self._host = host
        first = low + (low % 2)
        self._ports = list(range(first, high + 1, 2))
        self._next = itertools.cycle(range(len(self._ports)))

    async def open(self) -> RtpSocket:
        for _ in range(len(self._ports)):
            rtp = RtpSocket(self._host, self._ports[next(self._next)])
            try:
                await rtp._bind()
            except OSError:
                continue  # taken by another call or another program
            return rtp
        raise RtpPortsExhaustedError(f"no free RTP port in {self._ports[0]}-{self._ports[-1]}")
