"""aiosipua's UDP and TCP transports with what the SIP door needs on top of them:

- a request of a SIP version other than 2.0 gets 505 (aiosipua reads past the version);
- port 0 becomes the port the system gave (a dialer's transports);
- the 1xx/2xx responses to an INVITE carry its Record-Route values, in order (RFC 3261
  section 12.1.1: aiosipua's responses omit them, and a proxy in front, Kamailio, would then
  be left out of the call's ACK and BYE);
- over TCP: a response goes back on the connection its request came in on (RFC 3261
  section 18.2.2), a client connection can be opened to a peer (``connect_to``), and what we
  send names TCP (Via, Contact ``;transport=tcp``) where aiosipua writes UDP or nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field

from aiosipua import SipMessage, SipRequest, SipResponse, prettify_header_name
from aiosipua.transport import SipTransport, TcpSipTransport, UdpSipTransport, _UdpProtocol
from aiosipua.transport import _stamp_via_received as stamp_via_received

from app.channels.sip_settings import Transport

library_log = logging.getLogger("aiosipua.transport")  # quiet: see quiet_library_logs
REMEMBERED = 4096  # requests whose Record-Route and source are kept for their responses
_VIA_UDP = re.compile(r"^SIP/2\.0/UDP\b", re.IGNORECASE)
_BARE_CONTACT = re.compile(r"<(sips?:[^>]*)>")


def _version_refused(transport: SipTransport, data: bytes, addr: tuple[str, int]) -> bool:
    """A request of a SIP version other than 2.0 gets 505 (RFC 3261 section 8.2.2.1, RFC
    4475 "badvers"); aiosipua reads past the version. True when ``data`` was such a one."""
    start = data.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    if start.startswith(b"SIP/") or start.endswith(b" SIP/2.0"):
        return False
    try:
        request = SipMessage.parse(data)
    except Exception:  # aiosipua raises more than ValueError on garbage
        return True
    if isinstance(request, SipRequest):
        refuse(transport, request, addr, 505, "Version Not Supported")
    return True


def refuse(transport: SipTransport, request: SipRequest, addr: tuple[str, int], status: int,
           reason: str) -> None:
    """An error response to a request aiosipua would wrongly accept."""
    if not request.headers.get("via"):
        return  # nowhere to answer
    response = SipResponse(status_code=status, reason_phrase=reason)
    for name in ("via", "from", "to", "call-id", "cseq"):
        for value in request.headers.get(name):
            response.headers.append(prettify_header_name(name), value)
    with contextlib.suppress(Exception):
        transport.send(response, addr)


def _key(message: SipRequest | SipResponse) -> tuple[str, str, str] | None:
    """What a response shares with its request: Call-ID, top Via branch, CSeq method."""
    vias, cseq = message.via, message.cseq
    if not vias or not vias[0].branch or cseq is None:
        return None
    return message.call_id or "", vias[0].branch, cseq.method.upper()


class _Received:
    """Requests received lately (at most ``REMEMBERED``): each one's Record-Route values and
    the address it came from, looked up by the response that answers it."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str, str], tuple[list[str], tuple[str, int]]] = \
            OrderedDict()

    def note(self, request: SipRequest, addr: tuple[str, int]) -> None:
        key = _key(request)
        if key is None:
            return
        self._seen[key] = (request.headers.get("record-route"), addr)
        self._seen.move_to_end(key)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    def source(self, response: SipResponse) -> tuple[str, int] | None:
        key = _key(response)
        found = self._seen.get(key) if key is not None else None
        return found[1] if found is not None else None

    def add_record_route(self, response: SipResponse) -> None:
        """RFC 3261 section 12.1.1: a response that makes a dialog (1xx with a tag, 2xx, to
        an INVITE) copies the request's Record-Route values, in their order."""
        key = _key(response)
        if key is None or key[2] != "INVITE" or not 101 <= response.status_code <= 299:
            return
        found = self._seen.get(key)
        if not found or not found[0] or response.headers.get("record-route"):
            return
        for value in found[0]:
            response.headers.append("Record-Route", value)


def _parse(transport: SipTransport, received: _Received, data: bytes,
           addr: tuple[str, int]) -> None:
    """aiosipua's ``_dispatch`` with the request noted before it is delivered."""
    if _version_refused(transport, data, addr):
        return
    try:
        message = SipMessage.parse(data)
        if isinstance(message, SipRequest):
            stamp_via_received(message, addr)
            received.note(message, addr)
    except Exception:  # garbage: dropped, as aiosipua does
        return
    if transport.on_message is not None:
        try:
            transport.on_message(message, addr)
        except Exception:  # as aiosipua: a failing handler costs that message only
            library_log.exception("error in message callback")


class _DatagramProtocol(_UdpProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # aiosipua asserts a base class that Python 3.11's selector transport lacks.
        self._owner._udp_transport = transport  # type: ignore[assignment]


@dataclass
class UdpTransport(UdpSipTransport):
    """aiosipua's UDP transport; port 0 becomes the port the system gave."""

    received: _Received = field(default_factory=_Received, init=False, repr=False)

    def _dispatch(self, data: bytes, addr: tuple[str, int]) -> None:
        _parse(self, self.received, data, addr)

    def send_reply(self, response: SipResponse) -> None:
        self.received.add_record_route(response)
        super().send_reply(response)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DatagramProtocol(self), local_addr=self.local_addr)
        self._udp_transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        self.local_addr = (str(host), int(port))


def _over_tcp(message: SipRequest | SipResponse) -> None:
    """What we send over TCP says so: the top Via of a request (aiosipua writes UDP into
    the Via of INVITE, ACK and in-dialog requests whatever carries them) and our Contact
    (``;transport=tcp``: else the peer would send its requests to us over UDP)."""
    if isinstance(message, SipRequest):
        vias = message.headers.get("via")  # the stored list: changed where it stands
        if vias and _VIA_UDP.match(vias[0]):
            vias[0] = _VIA_UDP.sub("SIP/2.0/TCP", vias[0])
    contact = message.headers.get_first("contact")
    if contact and "transport=" not in contact.lower():
        message.headers.set_single(
            "Contact", _BARE_CONTACT.sub(r"<\1;transport=tcp>", contact, count=1))


@dataclass
class TcpTransport(TcpSipTransport):
    """aiosipua's TCP transport, listening and, for a dialer, connecting out."""

    received: _Received = field(default_factory=_Received, init=False, repr=False)

    def _dispatch(self, data: bytes, addr: tuple[str, int]) -> None:
        _parse(self, self.received, data, addr)

    async def start(self) -> None:
        await super().start()
        if self._server is not None and self._server.sockets:
            host, port = self._server.sockets[0].getsockname()[:2]
            self.local_addr = (str(host), int(port))

    def connected(self, addr: tuple[str, int]) -> bool:
        return addr in self._connections

    async def connect_to(self, addr: tuple[str, int]) -> None:
        """A connection to ``addr`` (the one already open, else a new one), read in the
        background like an accepted one; ``OSError`` when the peer cannot be reached."""
        if not self.connected(addr):
            await self.connect(addr)

    def send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        _over_tcp(message)
        super().send(message, addr)

    def send_reply(self, response: SipResponse) -> None:
        """On the connection the request came in on, while it is open; else as aiosipua
        does (Via's ``received``/``rport``, which needs a connection to that address)."""
        self.received.add_record_route(response)
        source = self.received.source(response)
        if source is not None and self.connected(source):
            self.send(response, source)
            return
        super().send_reply(response)


def make_transport(kind: Transport, host: str, port: int) -> SipTransport:
    if kind == "tcp":
        return TcpTransport(local_addr=(host, port))
    return UdpTransport(local_addr=(host, port))


def transport_name(transport: SipTransport) -> str:
    return "TCP" if transport.reliable else "UDP"
