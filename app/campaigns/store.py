"""Campaigns, their contacts and every dial attempt, on SQLite or PostgreSQL.

A contact row moves ``pending`` -> ``dialing`` -> ``pending`` (a retry) ... -> ``done``,
with ``final_status`` saying why it is done. Each dial has a ``call_attempts`` row, keyed by
(contact, attempt number): it is written when the contact is claimed, before the dial, and
gets its result after. That key is what makes "one dial per attempt" hold across dialers
and restarts; see ``app.campaigns.claims``.

Contacts hold personal data (name, date of birth, the context the agent reads) because the
agent needs it to verify the person; it stays in these tables and never reaches a log.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.policy import CampaignOptions
from app.db import UTCDateTime, metadata, utc_now, write_transaction

CampaignStatus = Literal["draft", "running", "paused", "completed"]
ContactState = Literal["pending", "dialing", "done"]
_NAME = 100

campaigns = Table(
    "campaigns", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(_NAME), nullable=False),
    Column("agent", String(_NAME), nullable=False),
    Column("status", String(16), nullable=False),
    Column("options", JSON, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_secret", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    CheckConstraint("status IN ('draft', 'running', 'paused', 'completed')", name="status"),
)

campaign_contacts = Table(
    "campaign_contacts", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("campaign_id", String(32), ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("line", Integer, nullable=False),  # in the imported CSV, for reports
    Column("phone", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("contact", JSON, nullable=False),
    Column("context", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UTCDateTime),
    Column("last_dialed_at", UTCDateTime),
    Column("last_result", String(32)),
    Column("final_status", String(32)),
    Column("outcome", String(_NAME)),
    Column("claimed_by", String(64)),
    Column("lease_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("state IN ('pending', 'dialing', 'done')", name="state"),
    CheckConstraint("attempts >= 0", name="attempts"),
    # The claim's scan, due contacts by (next_at, id), read in index order: without the id
    # PostgreSQL sorts every due contact on each claim round (SQLite's rowid is implicit).
    Index(None, "campaign_id", "state", "next_at", "id"),
    Index(None, "state", "lease_until"),
)

call_attempts = Table(
    "call_attempts", metadata,
    Column("contact_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("campaign_contacts.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("dialer", String(64), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("dialed_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("result", String(32)),  # NULL while the call is in progress
    Column("outcome", String(_NAME)),
    Column("conversation_id", String(32)),
    Column("detail", String(200)),
    PrimaryKeyConstraint("contact_id", "attempt"),
    Index(None, "campaign_id", "ended_at"),
)


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    agent: str
    status: CampaignStatus
    options: CampaignOptions
    webhook_url: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class NewContact:
    """One validated row of a contact list (``app.campaigns.contacts_csv``)."""

    line: int
    phone: str
    timezone: str
    contact: dict[str, Any]
    context: dict[str, Any]


class CampaignNotFoundError(LookupError):
    """No campaign has the given id."""


class CampaignStateError(ValueError):
    """The campaign cannot make that move (resume a completed campaign, say)."""


_MOVES: dict[str, tuple[CampaignStatus, ...]] = {
    "start": ("draft", "paused"),
    "pause": ("running",),
    "resume": ("paused",),
}
_AFTER: dict[str, CampaignStatus] = {"start": "running", "pause": "paused", "resume": "running"}


def _campaign(row: Any) -> Campaign:
    return Campaign(id=row.id, name=row.name, agent=row.agent,
                    status=cast(CampaignStatus, row.status),
                    options=CampaignOptions.model_validate(row.options),
                    webhook_url=row.webhook_url, created_at=row.created_at,
                    completed_at=row.completed_at)


class CampaignStore:
    """Campaign records on an engine from ``app.db.open_engine``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, name: str, agent: str, options: CampaignOptions,
                     contacts: Sequence[NewContact], webhook_url: str | None = None,
                     do_not_call: frozenset[str] = frozenset()) -> tuple[Campaign, str]:
        """A draft campaign with all its contacts, in one transaction: a failure leaves
        nothing behind. Numbers on ``do_not_call`` are stored already done, so the export
        accounts for every row. Returns the campaign and its webhook signing secret."""
        now = utc_now()
        campaign_id = uuid.uuid4().hex
        secret = secrets.token_hex(32)
        async with write_transaction(self.engine) as conn:
            await conn.execute(campaigns.insert().values(
                id=campaign_id, name=name, agent=agent, status="draft",
                options=options.model_dump(mode="json"), webhook_url=webhook_url,
                webhook_secret=secret, created_at=now))
            rows = [_contact_row(campaign_id, c, c.phone in do_not_call, now)
                    for c in contacts]
            for start in range(0, len(rows), 1000):
                await conn.execute(campaign_contacts.insert(), rows[start:start + 1000])
        return await self.get(campaign_id), secret

    async def get(self, campaign_id: str) -> Campaign:
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                select(campaigns).where(campaigns.c.id == campaign_id))).first()
        if row is None:
            raise CampaignNotFoundError(f"no campaign {campaign_id[:40]!r}")
        return _campaign(row)

    async def all(self) -> list[Campaign]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(campaigns).order_by(campaigns.c.created_at))
        return [_campaign(row) for row in rows]

    async def move(self, campaign_id: str, move: Literal["start", "pause", "resume"]) -> Campaign:
        """Start a draft, pause a running campaign, resume a paused one."""
        async with write_transaction(self.engine) as conn:
            done = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(_MOVES[move]))
                .values(status=_AFTER[move]))
        if done.rowcount == 0:
            campaign = await self.get(campaign_id)  # raises when there is none
            raise CampaignStateError(f"cannot {move} a campaign that is {campaign.status}")
        return await self.get(campaign_id)

    async def webhook_secret(self, campaign_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return cast(str | None, (await conn.execute(
                select(campaigns.c.webhook_secret)
                .where(campaigns.c.id == campaign_id))).scalar())

    async def counts(self, campaign_id: str) -> dict[str, int]:
        """Contacts by where they are: pending, dialing, and each final status."""
        key = func.coalesce(campaign_contacts.c.final_status, campaign_contacts.c.state)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(key.label("key"), func.count())
                .where(campaign_contacts.c.campaign_id == campaign_id).group_by(key))
        return {row[0]: row[1] for row in rows}

    async def outcomes(self, campaign_id: str) -> dict[str, int]:
        """Completed contacts by the agent's outcome (confirmed, renewing, ...)."""
        outcome = campaign_contacts.c.outcome
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(outcome, func.count())
                .where(campaign_contacts.c.campaign_id == campaign_id, outcome.is_not(None))
                .group_by(outcome))
        return {row[0]: row[1] for row in rows}

    async def results(self, campaign_id: str) -> dict[str, int]:
        """Dial attempts by result (answered, busy, ...); ``dialing`` for calls under way."""
        result = func.coalesce(call_attempts.c.result, "dialing")
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(result, func.count())
                .where(call_attempts.c.campaign_id == campaign_id).group_by(result))
        return {row[0]: row[1] for row in rows}

    async def contacts(self, campaign_id: str) -> list[Any]:
        """Every contact row of the campaign, in import order (for exports)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(campaign_contacts).where(campaign_contacts.c.campaign_id == campaign_id)
                .order_by(campaign_contacts.c.line))
            return list(rows)

    async def attempts(self, campaign_id: str) -> list[Any]:
        """Every dial attempt of the campaign, by contact and attempt number."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(call_attempts).where(call_attempts.c.campaign_id == campaign_id)
                .order_by(call_attempts.c.contact_id, call_attempts.c.attempt))
            return list(rows)


def _contact_row(campaign_id: str, contact: NewContact, blocked: bool,
                 now: datetime) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id, "line": contact.line, "phone": contact.phone,
        "timezone": contact.timezone, "contact": contact.contact, "context": contact.context,
        "state": "done" if blocked else "pending", "attempts": 0,
        "next_at": None if blocked else now,
        "final_status": "do_not_call" if blocked else None, "updated_at": now,
    }
