"""Webhook events waiting to be delivered: written in the same transaction as the state change
they report, so an outcome that is stored always has its event, and a crash between the two
cannot happen. ``app.campaigns.webhooks`` delivers them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import UTCDateTime, json_value, metadata, utc_now

webhook_events = Table(
    "webhook_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("campaign_id", String(32), nullable=False),
    Column("event", String(64), nullable=False),  # call.finished, campaign.completed
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("failed_at", UTCDateTime),  # gave up after the last retry
    Column("last_error", Text),
    Index(None, "delivered_at", "failed_at", "next_try_at"),
    Index(None, "campaign_id", "id"),  # a campaign's older events go first
)


async def enqueue(conn: AsyncConnection, campaign_id: str, event: str,
                  payload: dict[str, Any]) -> None:
    """Queue ``event`` inside the caller's transaction (only for campaigns with a webhook
    URL; the caller checks)."""
    now = utc_now()
    await conn.execute(webhook_events.insert().values(
        campaign_id=campaign_id, event=event, payload=json_value(payload, "payload"),
        created_at=now, attempts=0, next_try_at=now))
