"""Record-Route (RFC 3261 section 12.1): answering an INVITE a proxy record-routed, the
server's 180 and 200 copy its Record-Route values in order (aiosipua's omit them); placing
a call, the dialer takes the route set (reversed) and remote target from the 200, so ACK
and BYE name the proxies as Route and are addressed to the callee's Contact. Over TCP, a
response goes back on the connection its request came in on, and our Via and Contact say
TCP. Real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiosipua import DialogState, IncomingCall, SipMessage, SipRequest, SipResponse, SipUAS

from app.channels.sip_dial import _Uac
from app.channels.sip_signalling import ByeSender
from app.channels.sip_transport import TcpTransport, UdpTransport, make_transport

ROUTES = ["<sip:127.0.0.1:5999;lr;ftag=near>", "<sip:127.0.0.1:5998;lr>",
          "<sip:127.0.0.1:5997;lr>"]


def invite(via: str) -> bytes:
    return ("INVITE sip:riverside-clinic@127.0.0.1 SIP/2.0\r\n"
            f"Via: {via};branch=z9hG4bKrr1\r\n"
            f"Record-Route: {ROUTES[0]}, {ROUTES[1]}\r\n"
            f"Record-Route: {ROUTES[2]}\r\n"
            "From: <sip:+12125550143@127.0.0.1>;tag=caller1\r\n"
            "To: <sip:riverside-clinic@127.0.0.1>\r\n"
            "Call-ID: rr-call-1\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:caller@127.0.0.1:5062>\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def answered(invited: IncomingCall) -> None:
    invited.ringing()
    invited.accept()


@pytest.fixture
async def uas_on_udp() -> AsyncIterator[SipUAS]:
    uas = SipUAS(make_transport("udp", "127.0.0.1", 0))
    uas.on_invite = answered
    await uas.start()
    yield uas
    await uas.stop()


async def test_responses_to_a_record_routed_invite_copy_its_record_route(
        uas_on_udp: SipUAS) -> None:
    port = uas_on_udp.transport.local_addr[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        via = f"SIP/2.0/UDP 127.0.0.1:{peer.getsockname()[1]}"
        await asyncio.to_thread(peer.sendto, invite(via), ("127.0.0.1", port))
        responses = [SipMessage.parse(await asyncio.to_thread(peer.recv, 65535))
                     for _ in range(3)]
    by_status = {r.status_code: r for r in responses if isinstance(r, SipResponse)}
    assert sorted(by_status) == [100, 180, 200]
    assert by_status[100].headers.get("record-route") == []  # no dialog, no route
    for status in (180, 200):
        assert by_status[status].headers.get("record-route") == ROUTES  # all, in order


async def test_over_tcp_the_answer_goes_back_on_the_requests_connection() -> None:
    uas = SipUAS(make_transport("tcp", "127.0.0.1", 0))
    uas.on_invite = answered
    await uas.start()
    try:
        assert isinstance(uas.transport, TcpTransport)
        reader, writer = await asyncio.open_connection("127.0.0.1",
                                                       uas.transport.local_addr[1])
        # The Via names a port nobody listens on: only the connection leads back.
        writer.write(invite("SIP/2.0/TCP 127.0.0.1:9"))
        await writer.drain()
        received = b""
        async with asyncio.timeout(5):
            while received.count(b"SIP/2.0 ") < 3:
                received += await reader.read(65535)
        writer.close()
    finally:
        await uas.stop()
    final = SipMessage.parse(received[received.index(b"SIP/2.0 200"):])
    assert isinstance(final, SipResponse) and final.status_code == 200
    assert final.headers.get("record-route") == ROUTES
    assert final.headers.get_first("contact", "").endswith(";transport=tcp>")


class Wire(UdpTransport):
    """A transport that keeps what the user agent sends instead of sending it."""

    def __init__(self) -> None:
        super().__init__(local_addr=("127.0.0.1", 5080))
        self.sent: list[tuple[SipRequest | SipResponse, tuple[str, int]]] = []

    def send(self, message: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
        self.sent.append((message, addr))


def ok_with_routes(invite_sent: SipRequest, record_route: list[str]) -> SipResponse:
    response = SipResponse(status_code=200, reason_phrase="OK")
    for name in ("Via", "From", "Call-ID", "CSeq"):
        response.headers.set_single(name, invite_sent.headers.get_first(name) or "")
    response.headers.set_single("To", f"{invite_sent.headers.get_first('to')};tag=callee1")
    for value in record_route:
        response.headers.append("Record-Route", value)
    response.headers.set_single("Contact", "<sip:callee@127.0.0.1:5099;transport=udp>")
    return response


async def test_the_dialer_follows_the_route_set_of_the_answer() -> None:
    wire = Wire()
    uac = _Uac(wire)
    proxy = ("127.0.0.1", 5060)
    call = uac.send_invite("sip:ava@127.0.0.1", "sip:+12125550143@127.0.0.1", proxy)
    uac.handle_response(ok_with_routes(call.invite, ROUTES), proxy)
    ack, to = wire.sent[-1]
    assert isinstance(ack, SipRequest) and ack.method == "ACK" and to == proxy
    assert ack.uri == "sip:callee@127.0.0.1:5099;transport=udp"  # the callee's Contact
    assert ack.headers.get("route") == list(reversed(ROUTES))  # RFC 3261 12.1.2
    assert call.dialog.state == DialogState.CONFIRMED

    # A retransmitted 200 (or one to a re-INVITE) leaves the route set as it was.
    uac.handle_response(ok_with_routes(call.invite, ROUTES[:1]), proxy)
    assert call.dialog.route_set == list(reversed(ROUTES))

    ByeSender().send(wire, call.dialog, call.remote_addr, wire.local_addr)
    bye, to = wire.sent[-1]
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and to == proxy
    assert bye.uri == "sip:callee@127.0.0.1:5099;transport=udp"
    assert bye.headers.get("route") == list(reversed(ROUTES))
    await asyncio.sleep(0)


async def test_an_answer_without_record_route_leaves_no_route() -> None:
    wire = Wire()
    uac = _Uac(wire)
    call = uac.send_invite("sip:ava@127.0.0.1", "sip:maria@127.0.0.1:5090",
                           ("127.0.0.1", 5090))
    uac.handle_response(ok_with_routes(call.invite, []), ("127.0.0.1", 5090))
    ack, _ = wire.sent[-1]
    assert isinstance(ack, SipRequest) and ack.headers.get("route") == []
    assert ack.uri == "sip:callee@127.0.0.1:5099;transport=udp"
