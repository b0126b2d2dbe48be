"""The SIP door of the server: answers calls over UDP and TCP (aiosipua) and holds each one
as a stored conversation on channel ``sip``.

Which conversation: the request URI's user part names the organization
(``sip:riverside-clinic@127.0.0.1:5070``); its default agent talks to its demo contact.
Who may call: peers on the ``allowed_peers`` list (others get 403), within the flood limits
of ``sip_flood`` (requests outside a call per address; calls at once per address and in all,
503 past them). A call is answered with
180 Ringing while the speech models load, then 200 OK with our SDP answer (PCMU or PCMA,
telephone-events); the agent speaks first. BYE from the peer ends the voice session; the
agent ending the call (or the time limit) makes the server send BYE. re-INVITEs and UPDATEs
(a new address, codec, or hold) are answered and the media follows them. When the agent
hands the call to a person and ``transfer_to`` is set, the call is transferred with REFER
(``sip_transfer``) before the server leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from aiohttp import web
from aiosipua import IncomingCall, SdpMessage, SipRequest, SipUAS, parse_sdp

from app.campaigns.do_not_call import DoNotCallList
from app.channels.opt_out import honour_opt_out
from app.channels.sip_call import PhoneCall
from app.channels.sip_flood import (
    FloodGate,
    SourceBuckets,
    forget_later,
    over_call_limits,
    refuse_full,
)
from app.channels.sip_media import MediaPath
from app.channels.sip_rtp import RtpPorts, RtpPortsExhaustedError, RtpSocket
from app.channels.sip_sdp import MediaNegotiationError, answer
from app.channels.sip_settings import SipSettings
from app.channels.sip_signalling import (
    USER_AGENT,
    ByeSender,
    caller_phone,
    make_transport,
    quiet_library_logs,
    request_user,
    respond,
    watch_messages,
)
from app.channels.sip_transfer import Transfers, summary_header, watch_transfers
from app.channels.voice_bridge import ConversationResponder
from app.context import CONTEXT
from app.conversations import ConversationService, Exchange
from app.model_loading import SpeechModelsOnce
from app.organizations import Organization
from dialog.state import TRANSFERRED
from voice.config import VoiceConfig

log = structlog.get_logger(__name__)
CHANNEL = "sip"
STOP_WAIT_S = 10.0


class CallRefusedError(Exception):
    """An INVITE the server will not answer; ``status`` is the SIP response it gets."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Call:
    sip: IncomingCall
    uas: SipUAS
    task: asyncio.Task[None] | None = None
    phone: PhoneCall | None = None  # set once answered
    conversation: str | None = None


async def _shown(_: Exchange) -> None:
    """A phone call's turns are stored by the conversation service; nobody watches."""


class SipServer:
    def __init__(self, settings: SipSettings, voice: VoiceConfig,
                 conversations: ConversationService, organizations: dict[str, Organization],
                 speech_models: SpeechModelsOnce,
                 do_not_call: DoNotCallList | None = None) -> None:
        self._settings = settings
        self._do_not_call = do_not_call
        self._voice = voice
        self._conversations = conversations
        self._organizations = organizations
        self._speech_models = speech_models
        self._ports = RtpPorts(settings.host, settings.rtp_port_min, settings.rtp_port_max)
        self._byes = ByeSender()
        self._transfers = Transfers(settings.transfer_timeout_s)
        self._buckets = SourceBuckets(settings.flood_requests_per_s, settings.flood_burst)
        self._agents: list[SipUAS] = []
        self._calls: dict[str, _Call] = {}

    async def start(self) -> None:
        quiet_library_logs()
        settings = self._settings
        for kind in settings.transports:
            transport = make_transport(kind, settings.host, settings.port)
            uas = SipUAS(transport, user_agent=USER_AGENT,
                         advertised_addr=(settings.media_host, settings.port))
            uas.on_invite = lambda call, uas=uas: self._invited(uas, call)
            uas.on_reinvite = self._reinvited
            uas.on_update = self._updated
            uas.on_bye = lambda call, _request: self._peer_left(call.call_id)
            uas.on_cancel = lambda request, _addr: self._peer_left(request.call_id or "")
            uas.on_ack_timeout = lambda call: self._peer_left(call.call_id)
            uas.on_transfer_progress = self._transfers.progress
            await uas.start()
            watch_messages(transport, self._byes)
            watch_transfers(transport, self._transfers)
            FloodGate(self._buckets, uas.get_call).install(transport)
            self._agents.append(uas)
        log.info("sip listening", host=settings.host, port=settings.port,
                 transports=list(settings.transports))

    async def stop(self) -> None:
        """End every call (BYE to each peer), then close the transports."""
        self._transfers.abandon_all()
        for call in list(self._calls.values()):
            if call.phone is not None:
                call.phone.end("shutdown")
            elif call.task is not None:
                call.task.cancel()
        tasks = [call.task for call in self._calls.values() if call.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)
        await self._byes.wait_all(2.0)
        for uas in self._agents:
            await uas.stop()
        log.info("sip stopped")

    # -- a new call --------------------------------------------------------------------

    def _invited(self, uas: SipUAS, sip: IncomingCall) -> None:
        if sip.call_id in self._calls:
            return  # a retransmitted INVITE: the call is being answered already
        if not self._settings.allows(sip.source_addr[0]):
            log.warning("sip call refused", reason="peer not allowed", peer=sip.source_addr[0])
            sip.reject(403, "Forbidden")
            forget_later(uas, sip)
            return
        sources = Counter(held.sip.source_addr[0] for held in self._calls.values())
        if (full := over_call_limits(self._settings, sources, sip.source_addr[0])) is not None:
            log.warning("sip call refused", reason=full, calls=len(self._calls),
                        peer=sip.source_addr[0])
            refuse_full(sip)
            forget_later(uas, sip)
            return
        call = _Call(sip, uas)
        self._calls[sip.call_id] = call
        call.task = asyncio.create_task(self._hold(call))

    async def _hold(self, call: _Call) -> None:
        """Answer the call, hold it to its end, and hang up our side if the peer has not."""
        sip = call.sip
        try:
            phone = await self._answer_call(call)
            await phone.run()
            await self._leave(call, phone)
        except CallRefusedError as refused:
            log.warning("sip call refused", call=sip.call_id, status=refused.status,
                        reason=str(refused))
            sip.reject(refused.status, "")
        except Exception:
            log.exception("sip call failed", call=sip.call_id)
            if call.phone is None:
                sip.reject(500, "")
        finally:
            if call.conversation is not None:
                await self._conversations.hang_up(call.conversation)
                await honour_opt_out(self._conversations, self._do_not_call, call.conversation,
                                     caller_phone(sip.invite.headers.get_first("from")),
                                     sip.call_id)
            self._calls.pop(sip.call_id, None)
            forget_later(call.uas, sip)

    async def _leave(self, call: _Call, phone: PhoneCall) -> None:
        """Our end of a call the peer may still be in: the transfer the agent asked for,
        then BYE (also when the transfer went wrong)."""
        try:
            if not phone.peer_gone:
                await self._transfer_if_asked(call)
        except Exception:
            log.exception("sip transfer failed", call=call.sip.call_id)
        if not phone.peer_gone:
            self._byes.send(call.uas.transport, call.sip.dialog, call.sip.source_addr,
                            self._local)

    async def _answer_call(self, call: _Call) -> PhoneCall:
        """180 while the speech models load, the conversation started, then 200 with our
        SDP answer: the call, ready to run."""
        sip = call.sip
        org = self._organization(sip.invite.uri)
        socket = await self._open_rtp()
        try:
            session_id = str(secrets.randbits(31))
            sdp, path = self._answer(sip.sdp_offer, socket, session_id)
            sip.ringing()
            models = await self._speech_models.get()
            record = await self._conversations.start(org.id, org.default_agent,
                                                     org.demo_setup(keypad=True), CHANNEL)
            call.conversation = record.id
            responder = ConversationResponder(self._conversations, record.id, _shown,
                                              answer_silence=True)
            phone = PhoneCall(sip.call_id, models, self._voice, responder, socket, path,
                              self._settings, session_id)
        except BaseException:
            socket.close()
            raise
        sip.accept(sdp)
        call.phone = phone
        log.info("sip call answered", call=sip.call_id, organization=org.id,
                 conversation=record.id, payload_type=path.payload_type)
        return phone

    @property
    def _local(self) -> tuple[str, int]:
        """Our address for Via and Contact of requests we send in a call."""
        return self._settings.media_host, self._settings.port

    async def _transfer_if_asked(self, call: _Call) -> None:
        """The agent handed the call to a person: REFER it to ``transfer_to`` (when set) and
        record how that went; the outcome stays ``transferred`` whatever happens."""
        destination = self._settings.transfer_to
        if destination is None or call.conversation is None:
            return
        record = await self._conversations.record(call.conversation)
        if record.outcome != TRANSFERRED:
            return
        summary = summary_header(str(record.slots.get("transfer_summary", "")))
        report = await self._transfers.transfer(call.uas.transport, call.sip.dialog,
                                                call.sip.source_addr, self._local,
                                                destination, summary)
        await self._conversations.add_slots(call.conversation, report.slots())

    def _organization(self, uri: str) -> Organization:
        org = self._organizations.get(request_user(uri) or "")
        if org is None or org.demo is None:
            raise CallRefusedError(404, "no organization by that name")
        return org

    async def _open_rtp(self) -> RtpSocket:
        try:
            return await self._ports.open()
        except RtpPortsExhaustedError:
            raise CallRefusedError(503, "no RTP port free") from None

    def _answer(self, offer: SdpMessage | None, socket: RtpSocket,
                session_id: str) -> tuple[SdpMessage, MediaPath]:
        if offer is None:
            raise CallRefusedError(488, "an INVITE without an SDP offer")
        try:
            sdp, path = answer(offer, self._settings.media_host, socket.port, session_id)
        except MediaNegotiationError as error:
            raise CallRefusedError(488, str(error)) from None
        if not self._media_allowed(path):
            raise CallRefusedError(488, "media address not on the allowed peers")
        return sdp, path

    def _media_allowed(self, path: MediaPath) -> bool:
        """RTP goes only to allowed peers: an SDP naming any other host would have the
        server stream audio at it."""
        return not path.send or self._settings.allows(path.remote[0])

    # -- during a call -----------------------------------------------------------------

    def _reinvited(self, sip: IncomingCall) -> None:
        call = self._calls.get(sip.call_id)
        transport = call.uas.transport if call is not None else None
        if call is None or call.phone is None or transport is None:
            if transport is not None:
                respond(transport, sip.dialog, sip.invite, 491, "Request Pending")
            return
        if sip.sdp_offer is None:  # an offer-less re-INVITE: we offer what we answered
            sip.accept(sip.sdp_answer)
            return
        try:
            sip.accept(call.phone.renegotiate(sip.sdp_offer, self._media_allowed))
        except MediaNegotiationError:
            respond(transport, sip.dialog, sip.invite, 488, "Not Acceptable Here")

    def _updated(self, sip: IncomingCall, request: SipRequest) -> SdpMessage | None:
        call = self._calls.get(sip.call_id)
        if call is None or call.phone is None or not request.body:
            return None
        try:
            return call.phone.renegotiate(parse_sdp(request.text), self._media_allowed)
        except (MediaNegotiationError, ValueError):
            return None

    def _peer_left(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        self._transfers.peer_left(call_id)
        if call.phone is not None:
            call.phone.peer_hung_up()
        elif call.task is not None:
            call.task.cancel()  # cancelled while ringing
        log.info("sip peer hung up", call=call_id)


async def sip_service(app: web.Application) -> AsyncIterator[None]:
    """The SIP door for the server's lifetime (``app.cleanup_ctx``), when enabled."""
    ctx = app[CONTEXT]
    settings = ctx.settings.sip
    if not settings.enabled:
        yield
        return
    server = SipServer(settings, ctx.settings.voice, ctx.conversations, ctx.organizations,
                       ctx.speech_models, DoNotCallList(ctx.campaigns.engine))
    await server.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
