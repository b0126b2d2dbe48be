"""How busy a campaign has been lately: finished dial attempts per hour, for the dashboard.

The hours are counted by the database in one query (a sum per hour over the
``(campaign_id, ended_at)`` index), the same on SQLite and PostgreSQL, so a campaign with
100,000 attempts costs one indexed range scan, not 100,000 rows sent to the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.store import call_attempts
from app.db import utc_now

HOUR = timedelta(hours=1)
MAX_HOURS = 24


@dataclass(frozen=True)
class HourCount:
    start: datetime  # the hour's first instant, UTC
    attempts: int  # attempts that ended in [start, start + 1 h)


def _hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def hour_starts(since: datetime, now: datetime, hours: int = MAX_HOURS) -> list[datetime]:
    """The whole hours from the one holding ``since`` to the one holding ``now``, at most
    the last ``hours`` of them (oldest first)."""
    last = _hour_of(now)
    first = max(_hour_of(since), last - (hours - 1) * HOUR)
    count = max(int((last - first) / HOUR) + 1, 1)
    return [first + index * HOUR for index in range(count)]


async def attempts_per_hour(engine: AsyncEngine, campaign_id: str, since: datetime,
                            now: datetime | None = None) -> list[HourCount]:
    """Finished attempts of the campaign per hour over the last day, or since ``since``
    (its creation) when that is later."""
    starts = hour_starts(since, now or utc_now())
    ended = call_attempts.c.ended_at
    sums = [func.coalesce(func.sum(case((and_(ended >= start, ended < start + HOUR), 1),
                                        else_=0)), 0)
            for start in starts]
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(*sums).where(call_attempts.c.campaign_id == campaign_id,
                                ended >= starts[0], ended < starts[-1] + HOUR))).one()
    return [HourCount(start, int(count)) for start, count in zip(starts, row, strict=True)]
