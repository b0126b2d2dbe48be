"""Loopback ports for the test peers and the servers they talk to, handed out from below
the kernel's ephemeral range (32768 up) and never twice in one test run.

Sockets bound to port 0 (the server's HTTP port, a recorder's RTP port) land only in the
ephemeral range, so a port handed out here stays free until its user binds it, even when
the user starts twenty minutes later: a SIP port chosen at import once went to a server's
HTTP port in the meantime ("address already in use"), and ten simultaneous callers once
drew overlapping SIPp media blocks. Blocks, not single ports, are handed out for a
server's RTP range and SIPp's media ports, so the next port handed out is not inside one.
"""

from __future__ import annotations

import os
import socket

_EPHEMERAL_START = 32_768


class _LowPorts:
    """A cursor over 10000–32767, started at a place of this process's own so two test
    runs side by side rarely try the same ports (a taken one is skipped anyway)."""

    def __init__(self, first: int) -> None:
        self._next = first

    def block(self, size: int, *, tcp: bool, even: bool = False) -> int:
        """The first of ``size`` consecutive ports free on loopback for UDP (and TCP)."""
        while True:
            first = self._next + (self._next % 2 if even else 0)
            if first + size > _EPHEMERAL_START:
                raise RuntimeError(f"no {size} free ports left below {_EPHEMERAL_START}")
            self._next = first + size
            if all(_free(port, tcp=tcp) for port in range(first, first + size)):
                return first


def _free(port: int, *, tcp: bool) -> bool:
    kinds = (socket.SOCK_DGRAM, socket.SOCK_STREAM) if tcp else (socket.SOCK_DGRAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


_PORTS = _LowPorts(10_000 + 4 * (os.getpid() % 1_000))


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP: a SIP peer's or a server's signalling."""
    return _PORTS.block(1, tcp=True)


def free_media_port() -> int:
    """The first of four consecutive UDP ports, for SIPp's ``-mp`` (it binds audio and
    video RTP and their RTCP)."""
    return _PORTS.block(4, tcp=False)


def free_rtp_range(size: int) -> int:
    """The first (even) of ``size`` consecutive UDP ports, for a server's RTP range."""
    return _PORTS.block(size, tcp=False, even=True)
