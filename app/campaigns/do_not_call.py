"""The do-not-call list: E.164 numbers that no campaign may dial, whoever put them there.

Numbers arrive from an import (a regulator's or the client's list), by hand, or from a caller
who asked on a call to be left alone (``source="opt_out"``). The dialer asks ``contains``
right before each dial, not only at import, so a number added mid-campaign is honoured.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import UTCDateTime, metadata, utc_now

do_not_call = Table(
    "do_not_call", metadata,
    Column("phone", String(16), primary_key=True),
    Column("source", String(32), nullable=False),  # import, manual, opt_out
    Column("added_at", UTCDateTime, nullable=False),
)


async def add_numbers(conn: AsyncConnection, phones: Iterable[str], source: str,
                      now: datetime | None = None) -> int:
    """Put ``phones`` on the list inside the caller's transaction; numbers already there
    keep their first source. Returns how many were new."""
    rows = [{"phone": p, "source": source, "added_at": now or utc_now()} for p in set(phones)]
    if not rows:
        return 0
    insert = (postgresql.insert(do_not_call) if conn.dialect.name == "postgresql"
              else sqlite.insert(do_not_call))
    added = 0
    for start in range(0, len(rows), 1000):
        result = await conn.execute(insert.on_conflict_do_nothing(), rows[start:start + 1000])
        added += max(result.rowcount, 0)
    return added


async def listed_among(conn: AsyncConnection, phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` are on the list (one query for a whole claim round)."""
    wanted = set(phones)
    if not wanted:
        return set()
    found = await conn.execute(select(do_not_call.c.phone)
                               .where(do_not_call.c.phone.in_(wanted)))
    return set(found.scalars())


class DoNotCallList:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, phones: Iterable[str], source: str = "manual") -> int:
        async with self._engine.begin() as conn:
            return await add_numbers(conn, phones, source)

    async def remove(self, phones: Iterable[str]) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(do_not_call).where(do_not_call.c.phone.in_(list(phones))))
        return result.rowcount

    async def contains(self, phone: str) -> bool:
        async with self._engine.connect() as conn:
            return bool(await listed_among(conn, [phone]))

    async def numbers(self) -> frozenset[str]:
        async with self._engine.connect() as conn:
            return frozenset((await conn.execute(select(do_not_call.c.phone))).scalars())

    async def entries(self) -> list[tuple[str, str, datetime]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(do_not_call).order_by(do_not_call.c.added_at))
            return [(row.phone, row.source, row.added_at) for row in rows]
