"""Text conversations held for the web widget and the API: one live agent per
conversation, every turn stored as it happens.

A caller's message is stored before the agent works on it and the reply right after, so
a crash loses at most the reply being worked out, never what the caller said. A message
carrying a client id that was already stored is answered with the stored turns instead of
being taken twice (a widget re-sends what it is unsure of after a dropped connection).
Caller text is stored redacted; the live agent alone sees what was typed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from app.conversation_store import (
    ConversationRecord,
    ConversationStore,
    DuplicateClientMessageError,
    TurnRecord,
)
from app.metrics import Metrics
from app.redaction import redact_text
from dialog.agent import ConversationAgent, ConversationSetup
from dialog.dates import ExpectedBirthDate
from dialog.events import (
    TRANSFER,
    CallerEvent,
    CallerHungUp,
    CallerSaid,
    KeypadDigits,
    Reply,
    SilenceTimeout,
)
from dialog.registry import AgentFactory

log = structlog.get_logger(__name__)
MAX_MESSAGE_CHARS = 2000


class ExchangeListener(Protocol):
    """Who watches an exchange as it happens (a chat page): the caller's message stored,
    then the reply in pieces as it is produced."""

    async def caller_stored(self, turn: TurnRecord) -> None: ...

    async def reply_piece(self, reply_seq: int, text: str) -> None: ...


class ConversationError(Exception):
    """A request about a conversation that cannot be served; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LiveConversation:
    id: str
    organization: str
    agent_name: str
    channel: str
    agent: ConversationAgent
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_active: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Exchange:
    """A caller turn and the agent's reply to it, as stored."""

    caller: TurnRecord
    reply: TurnRecord | None
    ended: bool
    outcome: str | None
    listen_for: str | None = None  # the reply's hints for a speech recognizer (Reply)
    listen_form: str | None = None
    listen_expected: ExpectedBirthDate | None = field(default=None, repr=False)  # not stored


def _state_of(agent: ConversationAgent) -> tuple[str | None, dict[str, Any]]:
    """The outcome and slots to store; a transfer's summary (what a person taking the call
    reads first) is kept with the slots, redacted like the transcript."""
    state = getattr(agent, "state", None)
    if state is None:
        return None, {}
    slots = dict(state.slots)
    for action in getattr(state, "actions", []):
        if action.name == TRANSFER and action.args.get("summary"):
            slots["transfer_summary"] = redact_text(str(action.args["summary"]))
    return state.outcome, slots


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """What a caller typed, without control characters and unpaired surrogates (which no
    database stores), trimmed."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", text).strip()


_ACTS: dict[type, str] = {KeypadDigits: "keypad", SilenceTimeout: "silence"}


def transcript_text(event: CallerSaid | KeypadDigits | SilenceTimeout) -> str:
    """How a caller event is kept in the transcript: words redacted; keys only counted
    (they are often a date of birth or an account number); silence as such."""
    if isinstance(event, CallerSaid):
        return redact_text(event.text)
    if isinstance(event, KeypadDigits):
        return f"[keypad: {len(event.digits)} keys]"
    return f"[silence: {event.seconds:g} s]"


def reply_pieces(text: str) -> list[str]:
    """A reply in the pieces it is sent as while it is produced: sentence by sentence."""
    return [piece for piece in re.split(r"(?<=[.!?])(?=\s)", text) if piece]


class ConversationService:
    def __init__(self, store: ConversationStore, metrics: Metrics,
                 factory: Callable[[str, str], AgentFactory]) -> None:
        """``factory(organization, agent name)``: how to make the conversation's agent."""
        self._store = store
        self._metrics = metrics
        self._factory = factory
        self._live: dict[str, LiveConversation] = {}

    async def start(self, organization: str, agent_name: str, setup: ConversationSetup,
                    channel: str) -> ConversationRecord:
        """A new conversation: the agent is built (its setup checked) and its opening stored."""
        agent = self._factory(organization, agent_name)(setup)
        record = await self._store.create(organization, agent_name, channel)
        live = LiveConversation(record.id, organization, agent_name, channel, agent)
        self._live[record.id] = live
        async with live.lock:
            opening = await agent.start()
            await self._store.append_turn(record.id, "agent", opening.text, act=opening.act)
            await self._save_state(live)
        self._metrics.conversations.labels(channel, agent_name).inc()
        log.info("conversation started", conversation=record.id, agent=agent_name,
                 channel=channel)
        return await self.record(record.id)

    async def record(self, conversation_id: str) -> ConversationRecord:
        record = await self._store.get(conversation_id)
        if record is None:
            raise ConversationError("not_found", "no such conversation")
        return record

    async def list(self, organization: str | None, limit: int) -> list[ConversationRecord]:
        return await self._store.list(organization, limit)

    async def say(self, conversation_id: str, text: str, client_message_id: str | None = None,
                  listener: ExchangeListener | None = None) -> Exchange:
        """The caller's message taken once, and the agent's reply."""
        text = clean_text(text)
        if not text:
            raise ConversationError("bad_request", "empty message")
        if len(text) > MAX_MESSAGE_CHARS:
            raise ConversationError("too_long", f"messages are at most {MAX_MESSAGE_CHARS} "
                                                "characters")
        return await self.take(conversation_id, CallerSaid(text), client_message_id, listener)

    async def take(self, conversation_id: str, event: CallerSaid | KeypadDigits | SilenceTimeout,
                   client_message_id: str | None = None,
                   listener: ExchangeListener | None = None) -> Exchange:
        """Any caller event (words, keys, silence) taken once, and the agent's reply. The
        transcript keeps what was said (redacted), never the keys pressed."""
        live = self._live.get(conversation_id)
        if live is None:
            if seen := await self._already_taken(conversation_id, client_message_id):
                return seen
            raise await self._closed(conversation_id)
        async with live.lock:
            if seen := await self._already_taken(conversation_id, client_message_id):
                return seen
            if live.agent.ended:
                raise ConversationError("ended", "the conversation has ended")
            live.last_active = time.monotonic()
            try:
                caller = await self._store.append_turn(
                    conversation_id, "caller", transcript_text(event), act=_ACTS.get(type(event)),
                    client_message_id=client_message_id)
            except DuplicateClientMessageError as duplicate:  # taken by another process
                return await self._stored_exchange(conversation_id, duplicate.turn)
            if listener is not None:
                await listener.caller_stored(caller)
            stored, reply = await self._reply(live, event, caller.seq + 1, listener)
            return Exchange(caller, stored, live.agent.ended, _state_of(live.agent)[0],
                            reply.listen_for, reply.listen_form, reply.listen_expected)

    async def _reply(self, live: LiveConversation, event: CallerEvent, reply_seq: int,
                     listener: ExchangeListener | None) -> tuple[TurnRecord, Reply]:
        started = time.perf_counter()
        try:
            reply: Reply = await live.agent.handle(event)
        except Exception:
            self._metrics.errors.labels(live.channel, "agent").inc()
            log.exception("agent failed", conversation=live.id, agent=live.agent_name)
            raise ConversationError("internal", "the agent could not answer") from None
        self._metrics.reply_latency.labels(live.channel, live.agent_name).observe(
            time.perf_counter() - started)
        self._metrics.turns.labels(live.channel, live.agent_name).inc()
        if listener is not None:
            for piece in reply_pieces(reply.text):
                await listener.reply_piece(reply_seq, piece)
        stored = await self._store.append_turn(live.id, "agent", reply.text, act=reply.act)
        await self._save_state(live)
        return stored, reply

    async def hang_up(self, conversation_id: str) -> None:
        """The caller left for good: the agent records it and the conversation ends."""
        live = self._live.get(conversation_id)
        if live is None:
            return
        async with live.lock:
            if not live.agent.ended:
                await live.agent.handle(CallerHungUp())
            await self._save_state(live, ended=True)

    async def add_slots(self, conversation_id: str, slots: dict[str, Any]) -> None:
        """Slots learned once the agent has finished (how a phone transfer went), added to
        the stored ones; the outcome and status stay. For ended conversations: a live
        one's next turn would store its agent's slots over these."""
        record = await self.record(conversation_id)
        await self._store.update_state(conversation_id, outcome=record.outcome,
                                       slots={**record.slots, **slots},
                                       ended=record.status == "ended")

    async def _save_state(self, live: LiveConversation, ended: bool = False) -> None:
        outcome, slots = _state_of(live.agent)
        finished = ended or live.agent.ended
        await self._store.update_state(live.id, outcome=outcome, slots=slots, ended=finished)
        if finished:
            self._live.pop(live.id, None)
            self._metrics.outcomes.labels(live.agent_name, outcome or "none").inc()
            log.info("conversation ended", conversation=live.id, outcome=outcome)

    async def _closed(self, conversation_id: str) -> ConversationError:
        record = await self.record(conversation_id)
        return ConversationError("ended", "the conversation has ended" if record.status == "ended"
                                 else "the conversation is no longer live")

    async def _already_taken(self, conversation_id: str,
                             client_message_id: str | None) -> Exchange | None:
        """The stored exchange of a message taken before, if this one repeats it."""
        if client_message_id is None:
            return None
        caller = await self._store.turn_for_client_message(conversation_id, client_message_id)
        return None if caller is None else await self._stored_exchange(conversation_id, caller)

    async def _stored_exchange(self, conversation_id: str, caller: TurnRecord) -> Exchange:
        reply = await self._store.turn_after(conversation_id, caller.seq)
        if reply is not None and reply.role != "agent":
            reply = None  # the reply was lost with a crashed process; the caller spoke on
        record = await self.record(conversation_id)
        return Exchange(caller, reply, record.status == "ended", record.outcome)

    def is_live(self, conversation_id: str) -> bool:
        return conversation_id in self._live

    async def end_idle(self, idle_s: float) -> int:
        """End conversations nobody has written in for ``idle_s`` (the page was closed for
        good) as hung up; returns how many."""
        cutoff = time.monotonic() - idle_s
        idle = [cid for cid, live in self._live.items() if live.last_active < cutoff]
        for conversation_id in idle:
            await self.hang_up(conversation_id)
        return len(idle)

    async def end_all(self) -> None:
        """At shut-down: every live conversation ends as hung up, its outcome recorded."""
        for conversation_id in list(self._live):
            await self.hang_up(conversation_id)
