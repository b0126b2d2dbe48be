"""Conversations and their turns, stored through SQLAlchemy Core on SQLite or PostgreSQL.

The store keeps what it is given: the caller passes text that is already redacted, and no
personal contact data goes into these tables. Times are timezone-aware UTC datetimes.

Concurrency: a turn's ``seq`` is ``max(seq) + 1`` computed inside the INSERT statement
itself, after (on PostgreSQL) locking the conversation's row, so concurrent appends to one
conversation, from any number of connections or processes, get distinct consecutive seqs.
The primary key (conversation_id, seq) backs this up: a clash is retried.

Duplicates: a ``client_message_id`` is unique within its conversation. Appending a second turn
with the same one raises ``DuplicateClientMessageError``, which carries the turn already stored,
so a caller that lost the race can re-send that turn's acknowledgement instead of replying twice.

Both engines behave alike on bad input: what the database would choke on (NUL characters,
lone surrogates, over-long names) raises ValueError, and an id that is not uuid4 hex finds
nothing, before any SQL runs. Slots are JSON; datetimes in them are stored as ISO strings.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import structlog
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from app.db import UTCDateTime, check_text, json_value, metadata, utc_now

log = structlog.get_logger(__name__)

# A result row of any shape (Row is generic over its column types).
_Row = Row[*tuple[Any, ...]]

Role = Literal["agent", "caller"]
Status = Literal["active", "ended"]
ROLES: tuple[Role, ...] = ("agent", "caller")

_NAME_LEN = 100  # organization, agent, channel, act, outcome
_CLIENT_ID_LEN = 128
# A seq clash is lost only to a writer whose turn then lands, so each of N writers racing
# without the row lock needs at most N attempts. Ten once failed the 20-writer test
# (a writer lost ten times in a row under load); 32 covers it with room to spare.
_APPEND_ATTEMPTS = 32


conversations = Table(
    "conversations", metadata,
    Column("id", String(32), primary_key=True),
    Column("organization", String(_NAME_LEN), nullable=False),
    Column("agent", String(_NAME_LEN), nullable=False),
    Column("channel", String(_NAME_LEN), nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(_NAME_LEN)),
    Column("slots", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    CheckConstraint("status IN ('active', 'ended')", name="status"),
    Index(None, "organization", "created_at"),
    Index(None, "created_at"),
    Index(None, "status"),
)

turns = Table(
    "turns", metadata,
    Column("conversation_id", String(32),
           ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("act", String(_NAME_LEN)),
    Column("client_message_id", String(_CLIENT_ID_LEN)),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("conversation_id", "seq"),
    # NULLs are distinct on both engines: agent turns (no client id) never clash.
    UniqueConstraint("conversation_id", "client_message_id"),
    CheckConstraint("role IN ('agent', 'caller')", name="role"),
    CheckConstraint("seq > 0", name="seq_positive"),
)


@dataclass(frozen=True)
class TurnRecord:
    seq: int
    role: Role
    text: str
    act: str | None
    client_message_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    organization: str
    agent: str
    channel: str
    status: Status
    outcome: str | None
    slots: dict[str, Any]
    created_at: datetime
    ended_at: datetime | None
    turns: tuple[TurnRecord, ...] = ()


class ConversationNotFoundError(LookupError):
    """No conversation has the given id."""


class DuplicateClientMessageError(Exception):
    """The conversation already has a turn with this client message id (``turn`` is it)."""

    def __init__(self, turn: TurnRecord) -> None:
        super().__init__(f"client message already stored as turn {turn.seq}")
        self.turn = turn


def slots_to_json(slots: Mapping[str, Any]) -> dict[str, Any]:
    """``slots`` as stored: plain JSON (see ``app.db.json_value``). A datetime, date or time
    slot is stored as its ``isoformat()`` string and read back as that string."""
    return cast(dict[str, Any], json_value(dict(slots), "slots"))


def _check_name(kind: str, value: str | None, limit: int = _NAME_LEN) -> None:
    """Same limits on both engines (SQLite would silently accept any length)."""
    if value is None:
        return
    if not 0 < len(value) <= limit:
        raise ValueError(f"{kind} must be 1 to {limit} characters")
    check_text(kind, value)


_ID = re.compile(r"[0-9a-f]{32}")


def _is_id(value: str) -> bool:
    """Ids are uuid4 hex; anything else (a NUL from a URL path, say) matches no row, and is
    not sent to the database, which could fail on it instead of finding nothing."""
    return _ID.fullmatch(value) is not None


def _turn(row: _Row) -> TurnRecord:
    return TurnRecord(seq=row.seq, role=cast(Role, row.role), text=row.text, act=row.act,
                      client_message_id=row.client_message_id, created_at=row.created_at)


def _conversation(row: _Row, turn_rows: tuple[TurnRecord, ...] = ()) -> ConversationRecord:
    return ConversationRecord(
        id=row.id, organization=row.organization, agent=row.agent, channel=row.channel,
        status=cast(Status, row.status), outcome=row.outcome, slots=dict(row.slots),
        created_at=row.created_at, ended_at=row.ended_at, turns=turn_rows)


_TURN_COLUMNS = (turns.c.seq, turns.c.role, turns.c.text, turns.c.act,
                 turns.c.client_message_id, turns.c.created_at)


class ConversationStore:
    """Conversations and turns on an engine from ``app.db.open_engine``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, organization: str, agent: str, channel: str) -> ConversationRecord:
        """A new active conversation with no outcome, no slots and no turns."""
        for kind, value in (("organization", organization), ("agent", agent),
                            ("channel", channel)):
            _check_name(kind, value)
        record = ConversationRecord(
            id=uuid.uuid4().hex, organization=organization, agent=agent, channel=channel,
            status="active", outcome=None, slots={}, created_at=utc_now(), ended_at=None)
        async with self._engine.begin() as conn:
            await conn.execute(conversations.insert().values(
                id=record.id, organization=organization, agent=agent, channel=channel,
                status=record.status, outcome=None, slots={}, created_at=record.created_at,
                ended_at=None))
        return record

    async def append_turn(self, conversation_id: str, role: Role, text: str,
                          act: str | None = None,
                          client_message_id: str | None = None) -> TurnRecord:
        """Store a turn as the conversation's next seq and return it.

        Raises ConversationNotFoundError, DuplicateClientMessageError (the turn with this
        client message id is already stored: see the module docstring) or ValueError.
        Appending to an ended conversation is allowed; refusing it is the caller's policy.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        check_text("text", text)
        _check_name("act", act)
        _check_name("client_message_id", client_message_id, _CLIENT_ID_LEN)
        if not _is_id(conversation_id):
            raise ConversationNotFoundError(conversation_id)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._insert_turn(conversation_id, role, text, act,
                                               client_message_id)
            except IntegrityError:
                if client_message_id is not None:
                    existing = await self.turn_for_client_message(conversation_id,
                                                                  client_message_id)
                    if existing is not None:
                        raise DuplicateClientMessageError(existing) from None
                if attempt >= _APPEND_ATTEMPTS:
                    raise
            # A seq clash: only possible if another writer got past the row lock (e.g. under
            # a non-default isolation level). The next attempt sees its turn; the jitter
            # keeps a crowd of losers from clashing again in step.
            log.warning("turn_seq_clash_retry", conversation_id=conversation_id,
                        attempt=attempt)
            await asyncio.sleep(random.uniform(0, 0.002 * attempt))

    async def _insert_turn(self, conversation_id: str, role: Role, text: str,
                           act: str | None, client_message_id: str | None) -> TurnRecord:
        created_at = utc_now()
        async with self._engine.begin() as conn:
            await _lock_conversation(conn, conversation_id)
            next_seq = (select(func.coalesce(func.max(turns.c.seq), 0) + 1)
                        .where(turns.c.conversation_id == conversation_id)
                        .scalar_subquery())
            seq = (await conn.execute(turns.insert().values(
                conversation_id=conversation_id, seq=next_seq, role=role, text=text, act=act,
                client_message_id=client_message_id, created_at=created_at,
            ).returning(turns.c.seq))).scalar_one()
        return TurnRecord(seq=seq, role=role, text=text, act=act,
                          client_message_id=client_message_id, created_at=created_at)

    async def turn_for_client_message(self, conversation_id: str,
                                      client_message_id: str) -> TurnRecord | None:
        """The turn stored for this client message id, if any."""
        try:
            _check_name("client_message_id", client_message_id, _CLIENT_ID_LEN)
        except ValueError:
            return None  # never stored: append_turn refuses such ids
        return await self._first_turn(conversation_id,
                                      turns.c.client_message_id == client_message_id)

    async def turn_after(self, conversation_id: str, seq: int) -> TurnRecord | None:
        """The turn right after ``seq`` (the reply to a caller turn, when one is stored).

        It may be another caller turn (the caller wrote twice): check its role.
        """
        return await self._first_turn(conversation_id, turns.c.seq > seq)

    async def _first_turn(self, conversation_id: str,
                          condition: ColumnElement[bool]) -> TurnRecord | None:
        if not _is_id(conversation_id):
            return None
        query = (select(*_TURN_COLUMNS)
                 .where(turns.c.conversation_id == conversation_id, condition)
                 .order_by(turns.c.seq).limit(1))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _turn(row)

    async def update_state(self, conversation_id: str, *, outcome: str | None,
                           slots: Mapping[str, Any], ended: bool) -> None:
        """Record the dialogue's current state: ``outcome`` and ``slots`` replace what was
        stored (pass the whole state each time). ``ended`` makes the conversation "ended"
        and sets ``ended_at`` the first time; ``ended=False`` never reopens one.

        Raises ConversationNotFoundError, or ValueError/TypeError for slots that are not
        JSON (see ``slots_to_json``).
        """
        _check_name("outcome", outcome)
        values: dict[str, Any] = {"outcome": outcome, "slots": slots_to_json(slots)}
        if not _is_id(conversation_id):
            raise ConversationNotFoundError(conversation_id)
        if ended:
            values["status"] = "ended"
            values["ended_at"] = func.coalesce(conversations.c.ended_at, _bindutc_now())
        async with self._engine.begin() as conn:
            result = await conn.execute(conversations.update()
                                        .where(conversations.c.id == conversation_id)
                                        .values(**values))
            if result.rowcount == 0:
                raise ConversationNotFoundError(conversation_id)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation with its turns in seq order, or None."""
        if not _is_id(conversation_id):
            return None
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                select(conversations).where(conversations.c.id == conversation_id))).first()
            if row is None:
                return None
            turn_rows = (await conn.execute(
                select(*_TURN_COLUMNS).where(turns.c.conversation_id == conversation_id)
                .order_by(turns.c.seq))).all()
        return _conversation(row, tuple(_turn(turn) for turn in turn_rows))

    async def list(self, organization: str | None = None,
                   limit: int = 50) -> builtins.list[ConversationRecord]:
        """Up to ``limit`` conversations, newest first, without their turns."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        try:
            _check_name("organization", organization)
        except ValueError:
            return []  # no organization has such a name
        query = (select(conversations)
                 .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
                 .limit(limit))
        if organization is not None:
            query = query.where(conversations.c.organization == organization)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_conversation(row) for row in rows]

    async def end_abandoned(self, outcome: str = "incomplete") -> int:
        """End every active conversation; those without an outcome get ``outcome``.

        Run at server start: the agents that held them died with the previous process.
        Every active conversation in the database is ended, so with several servers on one
        PostgreSQL database this must run only where no other server is live.
        Returns how many were ended.
        """
        _check_name("outcome", outcome)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                conversations.update().where(conversations.c.status == "active").values(
                    status="ended",
                    outcome=func.coalesce(conversations.c.outcome, outcome),
                    ended_at=func.coalesce(conversations.c.ended_at, _bindutc_now())))
        count = result.rowcount
        if count:
            log.info("abandoned_conversations_ended", count=count)
        return count


def _bindutc_now() -> Any:
    """The current UTC time as a bound value of the UTC column type (for use in SQL)."""
    return literal(utc_now(), UTCDateTime())


async def _lock_conversation(conn: AsyncConnection, conversation_id: str) -> None:
    """Check that the conversation exists and, on PostgreSQL, lock its row until commit,
    which serialises appends to one conversation. SQLite renders no FOR UPDATE: there the
    single INSERT statement is atomic on its own (it holds the database's write lock)."""
    found = (await conn.execute(select(conversations.c.id)
                                .where(conversations.c.id == conversation_id)
                                .with_for_update())).first()
    if found is None:
        raise ConversationNotFoundError(conversation_id)
