"""Outbound SIP calls: one user agent over UDP that, when a trunk registrar is configured,
registers with it first (digest auth answered from the trunk's credentials), then sends
INVITEs with our offer (PCMU, PCMA, telephone-events) and holds each answered call as a
``PhoneCall`` like any inbound one. Many calls may be under way at once (a campaign's); the
peer's BYE and re-INVITE reach the call their Call-ID names.

Where the INVITE goes: the trunk's proxy, else its registrar, else the host of the dialled
URI. 401/407 challenges to the INVITE are answered with the same credentials.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import structlog
from aiosipua import (
    IncomingCall,
    OutgoingCall,
    Registration,
    SipDigestAuth,
    SipUAC,
    SipUAS,
    parse_uri,
)
from aiosipua.transport import SipTransport

from app.channels.sip_call import PhoneCall
from app.channels.sip_media import MediaPath
from app.channels.sip_rtp import RtpPorts
from app.channels.sip_sdp import MediaNegotiationError, offer, path_from_answer
from app.channels.sip_settings import SipSettings
from app.channels.sip_signalling import (
    USER_AGENT,
    ByeSender,
    make_transport,
    quiet_library_logs,
    respond,
    watch_messages,
)
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


class Dialer:
    """``async with Dialer(settings) as dialer: await dialer.call(...)``."""

    def __init__(self, settings: SipSettings) -> None:
        self._settings = settings
        self._trunk = settings.trunk
        self._transport: SipTransport = make_transport("udp", settings.host, 0)
        self._uac = SipUAC(self._transport)
        self._uas = SipUAS(self._transport, uac=self._uac, user_agent=USER_AGENT)
        self._byes = ByeSender()
        self._ports = RtpPorts(settings.host, settings.rtp_port_min, settings.rtp_port_max)
        self._registration: Registration | None = None
        self._phones: dict[str, PhoneCall] = {}  # answered calls under way, by Call-ID
        password = self._trunk.password.get_secret_value() if self._trunk.password else None
        self._auth = SipDigestAuth(self._trunk.username, password) if password else None

    async def __aenter__(self) -> Dialer:
        quiet_library_logs()
        self._uas.on_bye = lambda call, _request: self._peer_left(call.call_id)
        self._uas.on_reinvite = self._reinvited
        await self._uas.start()
        self._uac.advertised_addr = (self._settings.media_host, self._transport.local_addr[1])
        watch_messages(self._transport, self._byes, self._uac)
        if self._trunk.registrar:
            await self._register(self._trunk.registrar)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._byes.wait_all(5.0)
        if self._registration is not None:
            self._registration.unregister()
            await asyncio.sleep(0.2)  # let the un-REGISTER leave before the socket closes
        await self._uas.stop()

    @property
    def local_address(self) -> tuple[str, int]:
        return self._settings.media_host, self._transport.local_addr[1]

    async def _register(self, registrar: str) -> None:
        host, port = _host_port(registrar)
        domain = self._trunk.domain or host
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def settle(outcome: str | None) -> None:
            if not done.done():
                done.set_result(outcome)

        self._registration = Registration(
            self._uac, f"sip:{self._trunk.username}@{domain}", (host, port),
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
        log.info("sip registered", registrar=registrar)

    def _destination(self, to_uri: str) -> tuple[str, int]:
        if self._trunk.proxy or self._trunk.registrar:
            return _host_port(self._trunk.proxy or self._trunk.registrar or "")
        uri = parse_uri(to_uri)
        if not uri.host:
            raise DialError(f"'{to_uri}' is not a SIP URI with a host")
        return uri.host.strip("[]"), uri.port or 5060

    async def call(self, to_uri: str, models: SpeechModels, voice: VoiceConfig,
                   responder: Responder, screen: Screen | None = None) -> PhoneCall:
        """Place the call and hold it to its end; the finished call is returned (its voice
        session holds the turns). ``screen``, when given, is awaited once the call is
        answered, before the agent speaks (answering-machine detection listens then)."""
        destination = await self._resolve(self._destination(to_uri))
        socket = await self._ports.open()
        session_id = str(secrets.randbits(31))
        host, port = self.local_address
        domain = self._trunk.domain or host
        outgoing = self._uac.send_invite(
            f"sip:{self._trunk.username}@{domain}", to_uri, destination,
            sdp_offer=offer(host, socket.port, session_id), user_agent=USER_AGENT,
            auth=self._auth)
        try:
            path = await self._answered(outgoing)
        except BaseException:
            socket.close()
            raise
        log.info("sip call answered", call=outgoing.call_id, payload_type=path.payload_type)
        phone = PhoneCall(outgoing.call_id, models, voice, responder, socket, path,
                          self._settings, session_id)
        self._phones[outgoing.call_id] = phone
        try:
            await phone.run(None if screen is None else lambda: screen(phone))
        finally:
            self._phones.pop(outgoing.call_id, None)
            if not phone.peer_gone:
                self._byes.send(self._transport, outgoing.dialog, outgoing.remote_addr,
                                (host, port))
            self._uac.remove_call(outgoing.call_id)
        return phone

    async def _answered(self, outgoing: OutgoingCall) -> MediaPath:
        try:
            await outgoing.wait_answered(self._settings.ring_timeout_s)
        except TimeoutError:
            outgoing.cancel(self._uac)
            raise DialError("no answer") from None
        except RuntimeError as rejected:  # aiosipua's word for a final error response
            raise DialError(str(rejected).removeprefix("Call rejected: ")) from None
        try:
            return path_from_answer(outgoing.sdp_answer)
        except MediaNegotiationError as error:
            self._byes.send(self._transport, outgoing.dialog, outgoing.remote_addr,
                            self.local_address)
            raise DialError(str(error)) from None

    @staticmethod
    async def _resolve(address: tuple[str, int]) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(address[0], address[1], type=2)  # SOCK_DGRAM
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
        if phone is None or sip.sdp_offer is None:
            respond(self._transport, sip.dialog, sip.invite, 488, "Not Acceptable Here")
            return
        try:
            sip.accept(phone.renegotiate(sip.sdp_offer))
        except MediaNegotiationError:
            respond(self._transport, sip.dialog, sip.invite, 488, "Not Acceptable Here")
