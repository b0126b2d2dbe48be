"""Phone calls through a Twilio-compatible media stream.

``POST /twilio/voice?org=ID[&agent=NAME]`` is the voice webhook: it answers with TwiML that
connects the call's audio to ``/twilio/media`` (a WebSocket speaking Twilio's media-stream
protocol: ``connected``, ``start``, ``media`` with base64 8 kHz mu-law, ``dtmf``, ``mark``,
``stop``) and, once the stream ends, redirects to ``/twilio/after``, which hangs up or, when
the agent transferred the call, dials the person (the summary stays in the call record).
Every request, the WebSocket handshake included, must carry a valid ``X-Twilio-Signature``.

Caller audio goes into the same voice session as every call; the agent's speech goes back
as ``media`` messages, each reply followed by a ``mark``; a caller barging in makes the
server send ``clear`` so Twilio drops the agent audio it has buffered.

A caller who asks not to be called again (outcome ``opted_out``) goes on the do-not-call
list by the number in the webhook's ``From``, when it is a phone number: the webhook passes
it to the stream as the ``caller`` parameter with a MAC (``twilio.caller_mac``), since the
stream's own messages are not signed; a number without a valid MAC is not used.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from typing import Any

import numpy as np
import structlog
from aiohttp import WSMsgType, web

from app import twilio
from app.campaigns.do_not_call import DoNotCallList
from app.channels.opt_out import dialable, honour_opt_out
from app.channels.voice_bridge import ConversationResponder, StreamedOutput
from app.context import ServerContext, context_of
from app.conversations import ConversationError, Exchange
from voice.caller_input import CallerAudioInput
from voice.codecs import Resampler, mulaw_decode, mulaw_encode
from voice.keypad import KeypadCollector
from voice.session import VoiceSession

log = structlog.get_logger(__name__)
CHANNEL = "twilio"
LINE_RATE, SESSION_RATE = 8000, 16000
MAX_FRAME_BYTES = 64 * 1024


def _public_url(request: web.Request, path: str, scheme: str | None = None) -> str:
    """The URL Twilio used (or will use) for ``path``: from the ``public_url`` setting when
    the server sits behind a proxy, else from the request itself."""
    base = context_of(request).settings.twilio.public_url or f"{request.scheme}://{request.host}"
    base = base.rstrip("/")
    if scheme is not None:
        base = scheme + base[base.index(":"):]
    return base + path


def _auth_token(ctx: ServerContext) -> str:
    token = ctx.settings.twilio.auth_token
    return token.get_secret_value() if token else ""


async def _check_signature(request: web.Request, params: list[tuple[str, str]],
                           scheme: str | None = None) -> None:
    url = _public_url(request, request.path_qs, scheme)
    secret = _auth_token(context_of(request))
    if not twilio.signature_valid(secret, url, params, request.headers.get("X-Twilio-Signature")):
        context_of(request).metrics.errors.labels(CHANNEL, "signature").inc()
        raise web.HTTPForbidden(text="missing or invalid X-Twilio-Signature")


async def voice_webhook(request: web.Request) -> web.Response:
    form = await request.post()
    await _check_signature(request, [(k, str(v)) for k, v in form.items()])
    ctx = context_of(request)
    org = ctx.organizations.get(request.query.get("org", ""))
    if org is None or org.demo is None:
        return web.Response(text=twilio.hang_up("This number is not in service."),
                            content_type="text/xml")
    agent = request.query.get("agent") or org.default_agent
    stream = _public_url(request, "/twilio/media", scheme="wss" if request.secure else "ws")
    after = _public_url(request, "/twilio/after")
    parameters = {"org": org.id, "agent": agent}
    call_sid, number = str(form.get("CallSid", "")), dialable(str(form.get("From", "")))
    if call_sid and number is not None:  # the number vouched for, for this call only
        parameters["caller"] = number
        parameters["caller_mac"] = twilio.caller_mac(_auth_token(ctx), call_sid, number)
    twiml = twilio.connect_stream(stream, after, parameters)
    return web.Response(text=twiml, content_type="text/xml")


async def after_stream(request: web.Request) -> web.Response:
    """Where Twilio goes once the stream has ended: a transfer, or the end of the call."""
    form = await request.post()
    await _check_signature(request, [(k, str(v)) for k, v in form.items()])
    ctx = context_of(request)
    transfer_to = ctx.settings.twilio.transfer_number
    call = ctx.twilio_calls.pop(str(form.get("CallSid", "")), None)
    if call is not None and transfer_to:
        record = await ctx.conversations.record(call)
        if record.outcome == "transferred":
            return web.Response(text=twilio.dial(transfer_to), content_type="text/xml")
    return web.Response(text=twilio.hang_up(), content_type="text/xml")


class TwilioSink:
    """Agent audio as ``media`` messages (8 kHz mu-law); a barge-in as ``clear``."""

    def __init__(self, call: MediaStreamCall) -> None:
        self._call = call

    async def audio(self, pcm: np.ndarray) -> None:
        payload = base64.b64encode(mulaw_encode(pcm)).decode()
        await self._call.send({"event": "media", "media": {"payload": payload}})

    async def clear(self) -> None:
        await self._call.send({"event": "clear"})


class MediaStreamCall:
    """One phone call on one media-stream socket."""

    def __init__(self, ws: web.WebSocketResponse, ctx: ServerContext) -> None:
        self.ws, self.ctx = ws, ctx
        self.stream_sid = ""
        self.conversation_id: str | None = None
        self.call_sid = ""
        self.caller: str | None = None  # E.164, when the webhook vouched for it
        self.session: VoiceSession | None = None
        self._input = CallerAudioInput(SESSION_RATE)
        # Carries the filter from one 20 ms packet to the next, and returns each at once.
        self._upsample = Resampler(LINE_RATE, SESSION_RATE, low_latency=True)
        self._keypad = KeypadCollector(self._keyed)
        self._marks = 0

    async def send(self, message: dict[str, Any]) -> None:
        if not self.ws.closed and self.stream_sid:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_json({**message, "streamSid": self.stream_sid})

    async def start(self, start: dict[str, Any]) -> None:
        params = start.get("customParameters") or {}
        org = self.ctx.organizations.get(str(params.get("org", "")))
        if org is None or org.demo is None:
            raise ConversationError("not_found", "the stream names no organization")
        self.stream_sid = str(start.get("streamSid") or "")
        agent = str(params.get("agent") or org.default_agent)
        setup = org.demo_setup(keypad=True)
        record = await self.ctx.conversations.start(org.id, agent, setup, CHANNEL)
        self.conversation_id = record.id
        self.call_sid = str(start.get("callSid") or "")
        if self.call_sid:
            self.ctx.twilio_calls[self.call_sid] = record.id
        self.caller = self._vouched_caller(params)
        models = await self.ctx.speech_models.get()
        responder = ConversationResponder(self.ctx.conversations, record.id, self._shown)
        origin = time.time()
        output = StreamedOutput(lambda: time.time() - origin, LINE_RATE, TwilioSink(self))
        self.session = VoiceSession(models, responder, self.ctx.settings.voice, self._input,
                                    output, origin)
        output.on_segment_end = self._mark_after(output.on_segment_end)
        await self.session.start()

    def _vouched_caller(self, params: dict[str, Any]) -> str | None:
        """The ``caller`` parameter, when its MAC shows the signed webhook wrote it for
        this call."""
        number = dialable(str(params.get("caller") or ""))
        if number is None:
            return None
        if not twilio.caller_mac_valid(_auth_token(self.ctx), self.call_sid, number,
                                       str(params.get("caller_mac") or "")):
            self.ctx.metrics.errors.labels(CHANNEL, "caller_mac").inc()
            log.warning("media stream caller number not vouched for: not used",
                        call=self.call_sid[:64])
            return None
        return number

    def _mark_after(self, hook: Any) -> Any:
        """After each reply's audio, a ``mark``: Twilio echoes it once that audio played."""
        def on_end(segment: Any) -> None:
            if hook is not None:
                hook(segment)
            self._marks += 1
            asyncio.get_running_loop().create_task(
                self.send({"event": "mark", "mark": {"name": f"reply-{self._marks}"}}))
        return on_end

    async def _shown(self, exchange: Exchange) -> None:
        """A phone line has no screen: the exchange is in the conversation's record."""

    async def _keyed(self, digits: str) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.send_keys(digits)

    def media(self, media: dict[str, Any]) -> None:
        try:
            mulaw = base64.b64decode(str(media.get("payload", "")), validate=True)
        except (binascii.Error, ValueError):
            return  # a damaged packet is dropped, as on any phone line
        self._input.push(self._upsample.push(mulaw_decode(mulaw)))

    def dtmf(self, dtmf: dict[str, Any]) -> None:
        self._keypad.press(str(dtmf.get("digit", ""))[:1])

    async def stop(self) -> None:
        """The caller hung up or the stream ended: the call ends and is recorded."""
        await self._keypad.close()
        if self.session is not None:
            await self.session.hang_up()
        if self.conversation_id is not None:
            await self.ctx.conversations.hang_up(self.conversation_id)
            await honour_opt_out(self.ctx.conversations, DoNotCallList(self.ctx.campaigns.engine),
                                 self.conversation_id, self.caller, self.call_sid[:64])


async def media_socket(request: web.Request) -> web.WebSocketResponse:
    """Twilio's media stream for one call: messages in, agent audio out, until ``stop``."""
    await _check_signature(request, [], scheme="wss" if request.secure else "ws")
    ctx = context_of(request)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=30)
    await ws.prepare(request)
    call = MediaStreamCall(ws, ctx)
    gauge = ctx.metrics.connections.labels(CHANNEL)
    gauge.inc()
    try:
        await _follow(ws, call, ctx)
    finally:
        await call.stop()
        gauge.dec()
    return ws


async def _follow(ws: web.WebSocketResponse, call: MediaStreamCall, ctx: ServerContext) -> None:
    ended: asyncio.Task[None] | None = None
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue  # the protocol is JSON text; anything else is ignored
        try:
            message = json.loads(frame.data)
            event = message["event"]
        except (ValueError, KeyError, TypeError):
            ctx.metrics.errors.labels(CHANNEL, "bad_message").inc()
            continue
        if event == "start" and call.session is None:
            try:
                await call.start({**message.get("start", {}),
                                  "streamSid": message.get("streamSid")})
            except ConversationError as error:
                log.warning("media stream refused", reason=str(error))
                await ws.close()
                return
            ended = asyncio.create_task(_close_when_done(ws, call))
        elif event == "media" and call.session is not None:
            call.media(message.get("media") or {})
        elif event == "dtmf":
            call.dtmf(message.get("dtmf") or {})
        elif event == "stop":
            break
    if ended is not None:
        ended.cancel()


async def _close_when_done(ws: web.WebSocketResponse, call: MediaStreamCall) -> None:
    """The agent ended the call (after its goodbye played): the stream closes, and Twilio
    moves on to ``/twilio/after``."""
    assert call.session is not None
    await call.session.wait_closed()
    await asyncio.sleep(0.5)  # the last mark and media out before the close
    await ws.close()


def add_routes(app: web.Application) -> None:
    app.router.add_post("/twilio/voice", voice_webhook)
    app.router.add_post("/twilio/after", after_stream)
    app.router.add_get("/twilio/media", media_socket)
