"""Outbound SIP calls: a user agent over UDP, and over TCP for the calls that ask for it,
that, when a trunk registrar is configured, registers with it first (digest auth answered
from the trunk's credentials), then sends INVITEs with our offer (PCMU, PCMA,
telephone-events) and holds each answered call as a ``PhoneCall`` like any inbound one.
Many calls may be under way at once (a campaign's); the peer's BYE and re-INVITE reach the
call their Call-ID names.

Where the INVITE goes: the trunk's proxy, else its registrar, else the host of the dialled
URI. How: the dialled URI's ``;transport=tcp`` (or ``udp``), else the trunk's ``transport``
when the call goes through the trunk, else UDP. Over TCP one connection to that address
carries the INVITE, the responses and every request of the call, BYE either way; calls to
the same address share it. 401/407 challenges to the INVITE are answered with the same
credentials. The 2xx that answers the INVITE sets the call's route set (its Record-Route,
reversed) and remote target (its Contact), so ACK and BYE go through the proxies that
record-routed the call (RFC 3261 section 12.1.2); they are sent to the address the INVITE
went to (the outbound proxy, which is the first of those proxies).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiosipua import (
    DialogState,
    IncomingCall,
    OutgoingCall,
    Registration,
    SipDigestAuth,
    SipResponse,
    SipUAC,
    SipUAS,
    parse_uri,
    stringify_uri,
)
from aiosipua.transport import SipTransport

from app.channels.sip_call import PhoneCall
from app.channels.sip_media import MediaPath
from app.channels.sip_rtp import RtpPorts
from app.channels.sip_sdp import MediaNegotiationError, offer, path_from_answer
from app.channels.sip_settings import SipSettings, Transport
from app.channels.sip_signalling import (
    USER_AGENT,
    ByeSender,
    make_transport,
    quiet_library_logs,
    respond,
    watch_messages,
)
from app.channels.sip_transport import TcpTransport
from voice.config import VoiceConfig
from voice.responder import Responder
from voice.session import SpeechModels

log = structlog.get_logger(__name__)
REGISTER_WAIT_S = 10.0
Screen = Callable[[PhoneCall], Awaitable[None]]


class DialError(Exception):
    """The call could not be placed: registration refused, call rejected, no answer."""


def _host_port(text: str, default_port: int = 5060) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return text, default_port
    return host, int(port)


def take_route(call: OutgoingCall, response: SipResponse) -> None:
    """The dialog as the 2xx that confirms it sets it (RFC 3261 section 12.1.2): route set
    from its Record-Route in reverse order, remote target from its Contact. aiosipua leaves
    both as the INVITE had them (no route, the dialled URI)."""
    cseq = response.cseq
    if cseq is None or cseq.method.upper() != "INVITE" or not 200 <= response.status_code < 300:
        return
    if call.dialog.state != DialogState.EARLY:
        return  # a retransmitted 2xx, or one to a re-INVITE: the route set stays
    call.dialog.route_set = list(reversed(response.headers.get("record-route")))
    contacts = response.contact
    if contacts and contacts[0].uri is not None:
        call.dialog.remote_target = stringify_uri(contacts[0].uri)


class _Uac(SipUAC):
    """aiosipua's UAC with the route set and remote target taken from the answer, before
    its ACK is sent."""

    def handle_response(self, response: SipResponse, addr: tuple[str, int]) -> None:
        call = self.get_call(response.call_id or "")
        if call is not None:
            take_route(call, response)
        super().handle_response(response, addr)


@dataclass
class _Leg:
    """One transport and the user agent on it."""

    transport: SipTransport
    uac: _Uac
    uas: SipUAS

    async def reach(self, address: tuple[str, int]) -> None:
        """Over TCP, a connection to ``address`` (the open one, else a new one)."""
        if isinstance(self.transport, TcpTransport):
            try:
                await self.transport.connect_to(address)
            except OSError as error:
                raise DialError(f"cannot connect to {address[0]}:{address[1]} over TCP: "
                                f"{error.strerror or error}") from None


class Dialer:
    """``async with Dialer(settings) as dialer: await dialer.call(...)``."""

    def __init__(self, settings: SipSettings) -> None:
        self._settings = settings
        self._trunk = settings.trunk
        self._legs: dict[Transport, _Leg] = {}
        self._byes = ByeSender()
        self._ports = RtpPorts(settings.host, settings.rtp_port_min, settings.rtp_port_max)
        self._registration: Registration | None = None
        self._phones: dict[str, PhoneCall] = {}  # answered calls under way, by Call-ID
        password = self._trunk.password.get_secret_value() if self._trunk.password else None
        self._auth = SipDigestAuth(self._trunk.username, password) if password else None

    async def __aenter__(self) -> Dialer:
        quiet_library_logs()
        try:
            await self._leg("udp")
            if self._trunk.registrar:
                await self._register(self._trunk.registrar)
        except BaseException:
            await self._stop_legs()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._byes.wait_all(5.0)
        if self._registration is not None:
            self._registration.unregister()
            await asyncio.sleep(0.2)  # let the un-REGISTER leave before the socket closes
        await self._stop_legs()

    async def _stop_legs(self) -> None:
        for leg in self._legs.values():
            await leg.uas.stop()
        self._legs.clear()

    async def _leg(self, kind: Transport) -> _Leg:
        """The user agent on ``kind``, started the first time it is needed."""
        leg = self._legs.get(kind)
        if leg is None:
            transport = make_transport(kind, self._settings.host, 0)
            uac = _Uac(transport)
            leg = _Leg(transport, uac, SipUAS(transport, uac=uac, user_agent=USER_AGENT))
            leg.uas.on_bye = lambda call, _request: self._peer_left(call.call_id)
            leg.uas.on_reinvite = self._reinvited
            await leg.uas.start()
            uac.advertised_addr = (self._settings.media_host, transport.local_addr[1])
            watch_messages(transport, self._byes, uac)
            self._legs[kind] = leg
        return leg

    @property
    def local_address(self) -> tuple[str, int]:
        """Our address for SIP over UDP (Via and Contact)."""
        return self._settings.media_host, self._legs["udp"].transport.local_addr[1]

    async def _register(self, registrar: str) -> None:
        host, port = _host_port(registrar)
        domain = self._trunk.domain or host
        leg = await self._leg(self._trunk.transport)
        await leg.reach((host, port))
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def settle(outcome: str | None) -> None:
            if not done.done():
                done.set_result(outcome)

        self._registration = Registration(
            leg.uac, f"sip:{self._trunk.username}@{domain}", (host, port),
            expires=self._trunk.expires_s, auth=self._auth, user_agent=USER_AGENT)
        self._registration.on_registered = lambda _reg: settle(None)
        self._registration.on_failed = lambda _reg, status, reason: settle(f"{status} {reason}")
        self._registration.register()
        try:
            async with asyncio.timeout(REGISTER_WAIT_S):
                failure = await done
        except TimeoutError:
            failure = "no answer"
        if failure is not None:
            self._registration = None
            raise DialError(f"registration with {registrar} failed: {failure}")
        log.info("sip registered", registrar=registrar, transport=self._trunk.transport)

    def _route(self, to_uri: str) -> tuple[tuple[str, int], Transport]:
        """Where the INVITE goes, and over what."""
        try:
            uri = parse_uri(to_uri)
        except ValueError:
            raise DialError(f"'{to_uri}' is not a SIP URI") from None
        named = next((str(value or "").lower() for name, value in uri.params.items()
                      if name.lower() == "transport"), None)
        if named is not None and named not in ("udp", "tcp"):
            raise DialError(f"transport '{named}' is not supported: udp or tcp")
        if self._trunk.proxy or self._trunk.registrar:
            kind: Transport = "tcp" if (named or self._trunk.transport) == "tcp" else "udp"
            return _host_port(self._trunk.proxy or self._trunk.registrar or ""), kind
        if not uri.host:
            raise DialError(f"'{to_uri}' is not a SIP URI with a host")
        return (uri.host.strip("[]"), uri.port or 5060), "tcp" if named == "tcp" else "udp"

    async def call(self, to_uri: str, models: SpeechModels, voice: VoiceConfig,
                   responder: Responder, screen: Screen | None = None) -> PhoneCall:
        """Place the call and hold it to its end; the finished call is returned (its voice
        session holds the turns). ``screen``, when given, is awaited once the call is
        answered, before the agent speaks (answering-machine detection listens then)."""
        address, kind = self._route(to_uri)
        destination = await self._resolve(address, kind)
        leg = await self._leg(kind)
        await leg.reach(destination)
        rtp = await self._ports.open()
        session_id = str(secrets.randbits(31))
        host, port = self._settings.media_host, leg.transport.local_addr[1]
        domain = self._trunk.domain or host
        outgoing = leg.uac.send_invite(
            f"sip:{self._trunk.username}@{domain}", to_uri, destination,
            sdp_offer=offer(host, rtp.port, session_id), user_agent=USER_AGENT,
            auth=self._auth)
        try:
            path = await self._answered(leg, outgoing)
        except BaseException:
            rtp.close()
            raise
        log.info("sip call answered", call=outgoing.call_id, payload_type=path.payload_type,
                 transport=kind)
        phone = PhoneCall(outgoing.call_id, models, voice, responder, rtp, path,
                          self._settings, session_id)
        self._phones[outgoing.call_id] = phone
        try:
            await phone.run(None if screen is None else lambda: screen(phone))
        finally:
            self._phones.pop(outgoing.call_id, None)
            if not phone.peer_gone:
                self._byes.send(leg.transport, outgoing.dialog, outgoing.remote_addr,
                                (host, port))
            leg.uac.remove_call(outgoing.call_id)
        return phone

    async def _answered(self, leg: _Leg, outgoing: OutgoingCall) -> MediaPath:
        try:
            await outgoing.wait_answered(self._settings.ring_timeout_s)
        except TimeoutError:
            outgoing.cancel(leg.uac)
            raise DialError("no answer") from None
        except RuntimeError as rejected:  # aiosipua's word for a final error response
            raise DialError(str(rejected).removeprefix("Call rejected: ")) from None
        try:
            return path_from_answer(outgoing.sdp_answer)
        except MediaNegotiationError as error:
            self._byes.send(leg.transport, outgoing.dialog, outgoing.remote_addr,
                            (self._settings.media_host, leg.transport.local_addr[1]))
            raise DialError(str(error)) from None

    @staticmethod
    async def _resolve(address: tuple[str, int], kind: Transport) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        kind_of_socket = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
        try:
            found = await loop.getaddrinfo(address[0], address[1], type=kind_of_socket)
        except OSError as error:
            raise DialError(f"cannot resolve {address[0]}: {error}") from None
        host, port = found[0][4][:2]
        return str(host), int(port)

    def _peer_left(self, call_id: str) -> None:
        phone = self._phones.get(call_id)
        if phone is not None:
            phone.peer_hung_up()

    def _reinvited(self, sip: IncomingCall) -> None:
        phone = self._phones.get(sip.call_id)
        transport = sip.transport
        if phone is None or sip.sdp_offer is None:
            if transport is not None:
                respond(transport, sip.dialog, sip.invite, 488, "Not Acceptable Here")
            return
        try:
            sip.accept(phone.renegotiate(sip.sdp_offer))
        except MediaNegotiationError:
            if transport is not None:
                respond(transport, sip.dialog, sip.invite, 488, "Not Acceptable Here")
