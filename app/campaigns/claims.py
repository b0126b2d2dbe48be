"""Handing contacts to dialers: claim, record, renew, recover. Many dialers, one truth.

``claim`` takes a contact and writes its ``call_attempts`` row (contact, attempt number) in
one transaction, *before* anything is dialled. The attempt number is ``attempts + 1`` of a
row that the transaction holds locked (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so dialers
skip each other's rows instead of waiting; SQLite: the database write lock), so no two
dialers can hold the same attempt, and the primary key of ``call_attempts`` backs that up.

A claim carries a lease. A live dialer renews it while its calls last; a dialer that was
killed stops renewing, and once the lease lapses any dialer's ``recover`` marks the attempt
``interrupted`` (its outcome is unknown: the call may or may not have happened) and
schedules the next attempt under the same policy, so the contact is neither lost nor called
twice for one attempt. ``record`` stores a finished call, its webhook event and any opt-out
in one transaction.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.campaigns.do_not_call import add_numbers, listed_among
from app.campaigns.outbox import enqueue
from app.campaigns.policy import CallResult, FinalStatus
from app.campaigns.schedule import decide, next_lawful, retry_at
from app.campaigns.store import Campaign, call_attempts, campaign_contacts, campaigns
from app.db import utc_now, write_transaction

SCAN_FACTOR = 4  # due contacts read per free call slot: some are deferred, not dialled
MIN_SCAN = 64


@functools.cache
def contact_zone(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, kept: ``zoneinfo`` holds only a few zones strongly and rereads
    the others' files, ten times the cost of deciding on a contact in a claim round."""
    return ZoneInfo(name)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One attempt a dialer holds: dial ``phone`` once, then ``record`` what happened."""

    campaign_id: str
    agent: str
    contact_id: int
    attempt: int
    line: int
    phone: str
    timezone: str
    contact: dict[str, Any]
    context: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class CallReport:
    """What a carrier says about one dial."""

    result: CallResult
    outcome: str | None = None  # the agent's, for answered calls
    opted_out: bool = False
    conversation_id: str | None = None
    detail: str | None = None  # "486 Busy Here", "voicemail left", ...


@dataclasses.dataclass
class ClaimRound:
    """What one ``claim`` did: contacts it looked at, and the attempts it handed out."""

    claims: list[Claim] = dataclasses.field(default_factory=list)
    considered: int = 0


class Claims:
    def __init__(self, engine: AsyncEngine, dialer_id: str, lease_s: float = 60.0) -> None:
        self._engine = engine
        self.dialer_id = dialer_id
        self.lease = timedelta(seconds=lease_s)

    async def claim(self, campaign: Campaign, room: int, now: datetime | None = None,
                    ) -> ClaimRound:
        """Claim up to ``room`` due contacts of a running campaign (fewer if the campaign's
        own limit of calls at once, across all dialers, leaves less). Due contacts that may
        not be dialled now are moved to when they may; over-cap or listed ones are closed."""
        now = now or utc_now()
        done = ClaimRound()
        async with write_transaction(self._engine) as conn:
            room = min(room, await self._room(conn, campaign))
            if room <= 0:
                return done
            rows = list(await conn.execute(
                select(campaign_contacts)
                .where(campaign_contacts.c.campaign_id == campaign.id,
                       campaign_contacts.c.state == "pending",
                       campaign_contacts.c.next_at <= now)
                .order_by(campaign_contacts.c.next_at, campaign_contacts.c.id)
                .limit(max(room * SCAN_FACTOR, MIN_SCAN))
                .with_for_update(skip_locked=True)))
            done.considered = len(rows)
            listed = await listed_among(conn, [row.phone for row in rows])
            taken: list[Any] = []
            deferred: list[dict[str, Any]] = []
            for row in rows:
                if row.phone in listed:
                    await _finish(conn, row.id, FinalStatus.DO_NOT_CALL, now)
                    continue
                decision = decide(now, contact_zone(row.timezone), campaign.options.window,
                                  campaign.options.attempts, row.attempts, row.last_dialed_at)
                if decision.dial:
                    if len(taken) < room:
                        taken.append(row)
                elif decision.next_at is None:
                    await _finish(conn, row.id, FinalStatus.EXHAUSTED, now)
                else:
                    deferred.append({"cid": row.id, "at": decision.next_at, "now": now})
            if deferred:
                await conn.execute(
                    update(campaign_contacts)
                    .where(campaign_contacts.c.id == bindparam("cid"))
                    .values(next_at=bindparam("at"), updated_at=bindparam("now")), deferred)
            done.claims = await self._take(conn, campaign, taken, now)
            await _complete_if_done(conn, campaign)
        return done

    async def _room(self, conn: AsyncConnection, campaign: Campaign) -> int:
        """Free call slots in the campaign; locks its row (PostgreSQL) so that concurrent
        claims for one campaign take turns and the limit holds across dialers."""
        status = (await conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign.id)
            .with_for_update())).scalar()
        if status != "running":
            return 0
        in_flight = (await conn.execute(
            select(func.count()).select_from(campaign_contacts)
            .where(campaign_contacts.c.campaign_id == campaign.id,
                   campaign_contacts.c.state == "dialing"))).scalar_one()
        return int(campaign.options.max_concurrent - in_flight)

    async def _take(self, conn: AsyncConnection, campaign: Campaign, rows: list[Any],
                    now: datetime) -> list[Claim]:
        """Claim the next attempt of each row (locked by the caller): two statements for
        the whole round, not two per contact."""
        if not rows:
            return []
        await conn.execute(
            update(campaign_contacts).where(campaign_contacts.c.id == bindparam("cid"))
            .values(state="dialing", attempts=bindparam("attempt"), last_dialed_at=now,
                    claimed_by=self.dialer_id, lease_until=now + self.lease, updated_at=now),
            [{"cid": row.id, "attempt": row.attempts + 1} for row in rows])
        await conn.execute(call_attempts.insert(), [
            {"contact_id": row.id, "attempt": row.attempts + 1, "campaign_id": campaign.id,
             "dialer": self.dialer_id, "claimed_at": now} for row in rows])
        return [Claim(campaign_id=campaign.id, agent=campaign.agent, contact_id=row.id,
                      attempt=row.attempts + 1, line=row.line, phone=row.phone,
                      timezone=row.timezone, contact=dict(row.contact),
                      context=dict(row.context)) for row in rows]

    async def still_allowed(self, claim: Claim, campaign: Campaign) -> str | None:
        """Checked right before the dial: why it must not happen now, or None. The number
        may have joined the do-not-call list, or the window closed, since the claim."""
        async with self._engine.begin() as conn:
            if await listed_among(conn, [claim.phone]):
                return "do_not_call"
            now = utc_now()
            decision = decide(now, contact_zone(claim.timezone), campaign.options.window,
                              campaign.options.attempts, claim.attempt - 1, None)
            if not decision.dial:
                return "outside_window"
            await conn.execute(
                update(call_attempts)
                .where(call_attempts.c.contact_id == claim.contact_id,
                       call_attempts.c.attempt == claim.attempt)
                .values(dialed_at=now))
        return None

    async def release(self, claim: Claim, campaign: Campaign, reason: str) -> None:
        """Give back an attempt that was never dialled (see ``still_allowed``): a listed
        number is closed, a closed window waits for the next opening."""
        now = utc_now()
        async with write_transaction(self._engine) as conn:
            await conn.execute(
                call_attempts.delete().where(call_attempts.c.contact_id == claim.contact_id,
                                             call_attempts.c.attempt == claim.attempt,
                                             call_attempts.c.result.is_(None)))
            values: dict[str, Any] = {"attempts": claim.attempt - 1, "claimed_by": None,
                                      "lease_until": None, "updated_at": now}
            if reason == "do_not_call":
                values |= {"state": "done", "final_status": FinalStatus.DO_NOT_CALL,
                           "next_at": None}
            else:
                values |= {"state": "pending", "next_at": next_lawful(
                    now, contact_zone(claim.timezone), campaign.options.window)}
            await conn.execute(update(campaign_contacts).where(
                campaign_contacts.c.id == claim.contact_id,
                campaign_contacts.c.claimed_by == self.dialer_id).values(**values))
            await _complete_if_done(conn, campaign)

    async def renew(self, claims: Sequence[Claim]) -> None:
        """Extend the leases of calls still under way."""
        if not claims:
            return
        now = utc_now()
        async with self._engine.begin() as conn:
            await conn.execute(
                update(campaign_contacts)
                .where(campaign_contacts.c.id.in_([c.contact_id for c in claims]),
                       campaign_contacts.c.claimed_by == self.dialer_id,
                       campaign_contacts.c.state == "dialing")
                .values(lease_until=now + self.lease))

    async def record(self, claim: Claim, campaign: Campaign, report: CallReport) -> None:
        """Store how the attempt went, with its webhook event and any opt-out."""
        now = utc_now()
        async with write_transaction(self._engine) as conn:
            stored = await conn.execute(
                update(call_attempts)
                .where(call_attempts.c.contact_id == claim.contact_id,
                       call_attempts.c.attempt == claim.attempt,
                       call_attempts.c.result.is_(None) | (call_attempts.c.result == "interrupted"))
                .values(result=report.result, outcome=report.outcome, ended_at=now,
                        conversation_id=report.conversation_id,
                        detail=(report.detail or "")[:200] or None))
            if stored.rowcount == 0:
                return
            if report.opted_out:
                await add_numbers(conn, [claim.phone], "opt_out", now)
            await _settle(conn, campaign, claim.contact_id, claim.attempt, report, now,
                          holder=self.dialer_id)

    async def recover(self, campaign: Campaign, now: datetime | None = None) -> int:
        """Close the attempts of dialers that stopped renewing: each becomes
        ``interrupted`` and the contact gets its next attempt (or is exhausted)."""
        now = now or utc_now()
        async with write_transaction(self._engine) as conn:
            rows = list(await conn.execute(
                select(campaign_contacts.c.id, campaign_contacts.c.attempts)
                .where(campaign_contacts.c.campaign_id == campaign.id,
                       campaign_contacts.c.state == "dialing",
                       campaign_contacts.c.lease_until < now)
                .with_for_update(skip_locked=True)))
            report = CallReport(CallResult.INTERRUPTED, detail="dialer stopped mid-call")
            for row in rows:
                await conn.execute(
                    update(call_attempts)
                    .where(call_attempts.c.contact_id == row.id,
                           call_attempts.c.attempt == row.attempts,
                           call_attempts.c.result.is_(None))
                    .values(result=CallResult.INTERRUPTED, ended_at=now, detail=report.detail))
                await _settle(conn, campaign, row.id, row.attempts, report, now, holder=None)
        return len(rows)

    async def next_lapse(self, campaign: Campaign) -> datetime | None:
        """When the first lease of another dialer's call under way runs out (None: no such
        call), so that ``recover`` can run then, not a polling interval later."""
        async with self._engine.connect() as conn:
            return (await conn.execute(
                select(func.min(campaign_contacts.c.lease_until))
                .where(campaign_contacts.c.campaign_id == campaign.id,
                       campaign_contacts.c.state == "dialing",
                       campaign_contacts.c.claimed_by != self.dialer_id))).scalar()


async def _finish(conn: AsyncConnection, contact_id: int, status: FinalStatus,
                  now: datetime, report: CallReport | None = None) -> None:
    values: dict[str, Any] = {"state": "done", "final_status": status, "next_at": None,
                              "claimed_by": None, "lease_until": None, "updated_at": now}
    if report is not None:
        values |= {"outcome": report.outcome, "last_result": report.result}
    await conn.execute(update(campaign_contacts).where(campaign_contacts.c.id == contact_id)
                       .values(**values))


async def _settle(conn: AsyncConnection, campaign: Campaign, contact_id: int, attempt: int,
                  report: CallReport, now: datetime, holder: str | None) -> None:
    """Move the contact on after attempt ``attempt`` ended with ``report``: done, or back
    to pending with its next time. Only while it still stands at that attempt (a late
    report after a lease lapsed and a retry began changes the attempt row alone)."""
    where = [campaign_contacts.c.id == contact_id, campaign_contacts.c.attempts == attempt,
             campaign_contacts.c.state == "dialing"]
    if holder is not None:
        where.append(campaign_contacts.c.claimed_by == holder)
    row = (await conn.execute(select(campaign_contacts).where(*where))).first()
    if row is None:
        return
    final: FinalStatus | None = None
    if report.opted_out:
        final = FinalStatus.OPTED_OUT
    elif report.result == CallResult.ANSWERED:
        final = FinalStatus.COMPLETED
    next_at = None if final else retry_at(now, report.result, attempt, campaign.options.attempts)
    if final is None and next_at is None:
        final = FinalStatus.EXHAUSTED
    if final is not None:
        await _finish(conn, contact_id, final, now, report)
    else:
        assert next_at is not None
        await conn.execute(
            update(campaign_contacts).where(campaign_contacts.c.id == contact_id)
            .values(state="pending", next_at=next_at, claimed_by=None, lease_until=None,
                    last_result=report.result, updated_at=now))
    if campaign.webhook_url:
        await enqueue(conn, campaign.id, "call.finished", {
            "campaign_id": campaign.id, "contact_id": contact_id, "line": row.line,
            "phone": row.phone, "external_id": row.contact.get("external_id"),
            "attempt": attempt, "result": str(report.result), "outcome": report.outcome,
            "final_status": str(final) if final else None,
            "next_attempt_at": next_at.isoformat() if next_at else None,
            "at": now.isoformat()})
    if final is not None:
        await _complete_if_done(conn, campaign)


async def _complete_if_done(conn: AsyncConnection, campaign: Campaign) -> None:
    """Mark the campaign completed once no contact is left to call. Asked after every
    final result, so it looks for one contact still pending or dialing (an index lookup)
    rather than counting them all."""
    left = (await conn.execute(
        select(campaign_contacts.c.id)
        .where(campaign_contacts.c.campaign_id == campaign.id,
               campaign_contacts.c.state.in_(("pending", "dialing")))
        .limit(1))).first()
    if left is not None:
        return
    now = utc_now()
    finished = await conn.execute(
        update(campaigns).where(campaigns.c.id == campaign.id,
                                campaigns.c.status.in_(("running", "paused")))
        .values(status="completed", completed_at=now))
    if finished.rowcount and campaign.webhook_url:
        await enqueue(conn, campaign.id, "campaign.completed",
                      {"campaign_id": campaign.id, "at": now.isoformat()})
