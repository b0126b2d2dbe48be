"""The chat widget's WebSocket (``/ws/chat``): one conversation per connection, resumable.

The protocol is small JSON messages (``ready``, ``ack``, ``typing``, ``delta``, ``turn``,
``ended``, ``error`` from the server; ``message`` and ``ping`` from the page). Reading and
answering are separate tasks, so a client that floods is throttled (``rate_limited``) while
its accepted messages are answered in order, and nothing it sends can hold up other
conversations. Binary frames, frames over 64 KiB and a client that keeps flooding get a
close code; a token or origin that does not check out is refused before the upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from app.api import turn_json
from app.channels.browser_voice import CALLER_RATE, BrowserVoice
from app.channels.voice_bridge import ConversationResponder
from app.context import ServerContext, context_of
from app.conversation_store import TurnRecord
from app.conversations import ConversationError, Exchange
from app.organizations import Organization
from app.tokens import Claims, TokenError, TokenKind
from dialog.inbound import INBOUND

log = structlog.get_logger(__name__)
MAX_FRAME_BYTES = 64 * 1024
QUEUE_LIMIT = 10
MAX_STRIKES = 20  # rate-limited or malformed messages before the connection is closed
MAX_AUDIO_BYTES_PER_S = 4 * CALLER_RATE * 2  # four times real time, for bursts after a stall
CHANNEL = "web"


def page_turn(turn: TurnRecord) -> dict[str, Any]:
    """A turn as the page gets it: with the id the page gave its message, if any."""
    return {**turn_json(turn), "id": turn.client_message_id}


class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self, amount: float = 1) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


def _origin_allowed(request: web.Request, org: Organization) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin == f"{request.scheme}://{request.host}" or origin in org.allowed_origins


async def _open_conversation(request: web.Request, ctx: ServerContext) -> tuple[str, str]:
    """The conversation this connection is for, and the organization's id; refuses a bad
    token or origin with 401/403 before the upgrade."""
    kind: TokenKind = "session" if "session" in request.query else "widget"
    token = request.query.get(kind if kind == "session" else "token")
    try:
        claims = ctx.signer.verify(token, kind)
        org = ctx.organizations.get(claims.org)
        if org is None:
            raise TokenError("unknown organization")
        if not _origin_allowed(request, org):
            raise web.HTTPForbidden(text="origin not allowed for this organization")
        if kind == "widget" and claims.conversation is None:
            ctx.signer.spend(token, kind)  # it opens a new conversation: once only
    except TokenError as error:
        raise web.HTTPUnauthorized(text=str(error)) from None
    return await _conversation_for(claims, org, ctx), org.id


async def _conversation_for(claims: Claims, org: Organization, ctx: ServerContext) -> str:
    if claims.conversation is not None:
        record = await ctx.conversations.record(claims.conversation)
        if record.organization != org.id:
            raise web.HTTPUnauthorized(text="token does not match the conversation")
        return record.id
    if org.demo is None:
        raise web.HTTPUnauthorized(text="this organization's tokens must name a conversation")
    record = await ctx.conversations.start(org.id, claims.agent or INBOUND,
                                           org.demo_setup(), channel=CHANNEL)
    return record.id


@dataclass
class ChatConnection:
    ws: web.WebSocketResponse
    ctx: ServerContext
    conversation_id: str
    org_id: str

    def __post_init__(self) -> None:
        self._send_lock = asyncio.Lock()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        settings = self.ctx.settings
        self._bucket = TokenBucket(settings.widget_messages_per_s, settings.widget_burst)
        self._audio_bucket = TokenBucket(MAX_AUDIO_BYTES_PER_S, MAX_AUDIO_BYTES_PER_S)
        self._strikes = 0
        self.voice: BrowserVoice | None = None
        self._voice_starting: asyncio.Task[None] | None = None
        self._voice_used = False  # audio may still trickle in after a voice session ended

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_json(message)

    async def ready(self) -> None:
        record = await self.ctx.conversations.record(self.conversation_id)
        session, _ = self.ctx.signer.issue("session", self.org_id,
                                           conversation=self.conversation_id)
        await self.send({"type": "ready", "conversation_id": record.id, "session": session,
                         "turns": [page_turn(turn) for turn in record.turns],
                         "ended": record.status == "ended", "outcome": record.outcome})

    async def send_audio(self, chunk: bytes) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_bytes(chunk)

    async def error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "code": code, "message": message})

    async def strike(self, code: str, message: str) -> None:
        """A message refused; a client that keeps sending such is cut off."""
        self._strikes += 1
        self.ctx.metrics.errors.labels(CHANNEL, code).inc()
        await self.error(code, message)
        if self._strikes >= MAX_STRIKES:
            await self.ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                message=b"too many refused messages")

    async def read(self) -> None:
        """Take frames until the page goes away; accepted messages go to the answerer."""
        async for frame in self.ws:
            if frame.type == WSMsgType.BINARY:
                await self._take_audio(frame.data)
            elif frame.type == WSMsgType.TEXT:
                await self._take(frame.data)
            elif frame.type == WSMsgType.ERROR:
                self.ctx.metrics.errors.labels(CHANNEL, "frame").inc()
                break

    async def _take_audio(self, data: bytes) -> None:
        if self.voice is None or self.voice.closed:
            if not self._voice_used:
                await self.ws.close(code=WSCloseCode.UNSUPPORTED_DATA,
                                    message=b"audio only after voice.start")
        elif not self._audio_bucket.take(len(data)):
            await self.ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                message=b"audio faster than real time")
        else:
            self.voice.push(data)

    async def _take(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.strike("bad_request", "expected a JSON object with a type")
        elif message["type"] == "ping":
            await self.send({"type": "pong"})
        elif message["type"] in ("voice.start", "voice.stop"):
            await self._voice(message["type"])
        elif message["type"] != "message":
            await self.strike("bad_request", f"unknown message type '{message['type'][:40]}'")
        elif not isinstance(message.get("text"), str) or not isinstance(
                message.get("id", ""), str) or len(message.get("id", "")) > 100:
            await self.strike("bad_request", "a message needs text and a string id")
        elif not self._bucket.take() or self._queue.full():
            await self.strike("rate_limited", "too many messages; slow down")
        else:
            self._queue.put_nowait(message)

    async def _voice(self, kind: str) -> None:
        if kind == "voice.stop":
            await self.stop_voice()
            self.voice = None
        elif self.voice is not None and not self.voice.closed:
            await self._voice_ready(self.voice)
        elif self._voice_starting is None or self._voice_starting.done():
            # Started beside the reading loop: loading the speech models may take a while,
            # and pings and typed messages must still be answered meanwhile.
            self._voice_used = True
            self._voice_starting = asyncio.create_task(self._start_voice())

    async def _start_voice(self) -> None:
        try:
            self.voice = await start_voice(self)
        except ConversationError as error:
            await self.error(error.code, str(error))
            return
        except Exception:
            self.ctx.metrics.errors.labels(CHANNEL, "voice").inc()
            log.exception("voice could not start", conversation=self.conversation_id)
            await self.error("voice_unavailable", "voice is not available right now")
            return
        await self._voice_ready(self.voice)

    async def _voice_ready(self, voice: BrowserVoice) -> None:
        await self.send({"type": "voice.ready", "sample_rate": CALLER_RATE,
                         "agent_sample_rate": voice.agent_rate})

    async def stop_voice(self) -> None:
        """The page went away: its voice session (starting or running) ends."""
        if self._voice_starting is not None:
            self._voice_starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._voice_starting
        if self.voice is not None:
            await self.voice.stop()

    async def show(self, exchange: Exchange) -> None:
        """An exchange that happened outside a typed message (by voice) shown on the page."""
        await self.send({"type": "turn", "turn": page_turn(exchange.caller)})
        if exchange.reply is not None:
            await self.send({"type": "turn", "turn": page_turn(exchange.reply)})
        if exchange.ended:
            await self.send({"type": "ended", "outcome": exchange.outcome})

    async def answer(self) -> None:
        """Answer accepted messages one at a time, in the order they came."""
        while True:
            message = await self._queue.get()
            try:
                await self._answer_one(message)
            except ConversationError as error:
                await self.error(error.code, str(error))
            except Exception:
                self.ctx.metrics.errors.labels(CHANNEL, "internal").inc()
                log.exception("chat message failed", conversation=self.conversation_id)
                await self.error("internal", "the message could not be answered")

    async def _answer_one(self, message: dict[str, Any]) -> None:
        client_id = message.get("id") or None
        await self.send({"type": "typing", "on": True})
        try:
            # Shielded: a page that goes away mid-reply must not lose the reply; it is
            # stored and sent with the transcript when the page comes back.
            exchange = await asyncio.shield(self.ctx.conversations.say(
                self.conversation_id, message["text"], client_id, _PageListener(self)))
        finally:
            await self.send({"type": "typing", "on": False})
        await self._deliver(client_id, exchange)

    async def _deliver(self, client_id: str | None, exchange: Exchange) -> None:
        await self.send({"type": "ack", "id": client_id, "seq": exchange.caller.seq})
        await self.show(exchange)


@dataclass
class _PageListener:
    """Tells the page its message is stored (ack and the caller's turn) before the agent
    answers, then streams the reply's pieces."""

    connection: ChatConnection

    async def caller_stored(self, turn: TurnRecord) -> None:
        await self.connection.send({"type": "ack", "id": turn.client_message_id,
                                    "seq": turn.seq})
        await self.connection.send({"type": "turn", "turn": page_turn(turn)})

    async def reply_piece(self, reply_seq: int, text: str) -> None:
        await self.connection.send({"type": "delta", "seq": reply_seq, "text": text})


async def start_voice(connection: ChatConnection) -> BrowserVoice:
    """A voice session on the connection's conversation, once the speech models are loaded."""
    ctx = connection.ctx
    if not ctx.conversations.is_live(connection.conversation_id):
        raise ConversationError("ended", "the conversation has ended")
    models = await ctx.speech_models.get()
    responder = ConversationResponder(ctx.conversations, connection.conversation_id,
                                      connection.show, answer_silence=False)
    voice = BrowserVoice(models, ctx.settings.voice, responder, connection.send_audio,
                         connection.send)
    await voice.start()
    return voice


async def chat_socket(request: web.Request) -> web.WebSocketResponse:
    ctx = context_of(request)
    conversation_id, org_id = await _open_conversation(request, ctx)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=30)
    await ws.prepare(request)
    connection = ChatConnection(ws, ctx, conversation_id, org_id)
    gauge = ctx.metrics.connections.labels(CHANNEL)
    gauge.inc()
    answerer = asyncio.create_task(connection.answer())
    try:
        await connection.ready()
        await connection.read()
    finally:
        answerer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answerer
        await connection.stop_voice()
        gauge.dec()
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ws/chat", chat_socket)
