"""Campaign outcome webhooks: every event of the ``webhook_events`` outbox is POSTed to its
campaign's URL, signed with HMAC, and retried with backoff until it is accepted or given up.

What a receiver gets
--------------------
``POST <webhook URL>`` with ``Content-Type: application/json`` and the body::

    {"id": 42, "event": "call.finished", "created_at": "2025-05-01T09:30:00+00:00",
     "data": {...the event's payload...}}

and these headers:

- ``X-Ava-Event``: the event name (``call.finished``, ``campaign.completed``).
- ``X-Ava-Delivery``: the event id (``42``), the same on every retry of that event. Delivery
  is at least once, so a receiver that has seen an id before should answer 2xx and do nothing.
- ``X-Ava-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the HMAC-SHA256 of the
  bytes ``<t>.`` followed by the raw request body, keyed with the campaign's webhook secret
  (the hex string ``campaign create`` prints, as its UTF-8 bytes). To check it: compute that
  over the body exactly as received (before parsing the JSON), compare in constant time with
  each ``v1`` value, and refuse a ``t`` more than five minutes from your clock, so a
  captured request cannot be replayed later. ``verify`` below does exactly that.

A 2xx answer means delivered. Anything else (another status, a redirect, a timeout, a refused
connection) is retried ``min(cap, base * 2**(n-1))`` seconds after the n-th failed attempt,
less up to a quarter of that at random, so that many senders do not retry in step; after
``max_attempts`` attempts the event is given up (``failed_at``). ``attempts`` counts the
POSTs made, the one that succeeded included; ``last_error`` holds a status or an exception
class, never a response body.

Sending
-------
Any number of senders (one per dialer process) may share the database. A round claims due
events in one short transaction and leases them by pushing ``next_try_at`` past the time
their POSTs may take, then POSTs outside any transaction and records each result. Claims take
turns (SQLite: the write lock; PostgreSQL: an advisory lock, and ``FOR UPDATE SKIP LOCKED``),
so two senders never hold one event at once. Within a campaign, events go out one at a time
in the order they were written: an event is only claimed when no older undelivered event of
its campaign is waiting (on a lease or a retry), and a failure stops that campaign's round.
A dead endpoint therefore holds back its own campaign only, never the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog
from sqlalchemy import Select, case, exists, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.campaigns.outbox import webhook_events
from app.campaigns.store import campaigns
from app.db import utc_now, write_transaction

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Ava-Signature"
EVENT_HEADER = "X-Ava-Event"
DELIVERY_HEADER = "X-Ava-Delivery"
USER_AGENT = "ava-webhooks/1"

BATCH = 100  # events claimed per round at most
PER_CAMPAIGN = 10  # of which from one campaign at most (they go out one after another)
LEASE_MARGIN_S = 30.0  # on top of PER_CAMPAIGN POST timeouts
JITTER = 0.25  # a retry comes up to this share of its delay earlier
MAX_URL_LENGTH = 2000
# pg_advisory_xact_lock key held while claiming ("ava\x01"; app.db uses "ava\x00").
_CLAIM_LOCK_KEY = 0x61766101
_MAX_SIGNATURE_HEADER = 1000
_HEX_MAC = re.compile(r"[0-9a-f]{64}")

Clock = Callable[[], datetime]


# --- Signing ---------------------------------------------------------------------------------

def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Ava-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def _parse_signature(header_value: str) -> tuple[int, list[str]] | None:
    """``(t, [v1, ...])`` from a header value, or None when it is not well formed."""
    if not header_value or len(header_value) > _MAX_SIGNATURE_HEADER:
        return None
    timestamp: int | None = None
    macs: list[str] = []
    for part in header_value.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                return None
            timestamp = int(value)
        elif key == "v1" and _HEX_MAC.fullmatch(value):
            macs.append(value)
    if timestamp is None or not macs:
        return None
    return timestamp, macs


def verify(secret: str, header_value: str, body: bytes, now: float,
           tolerance_s: float = 300) -> bool:
    """Whether ``header_value`` (``X-Ava-Signature``) signs ``body`` with ``secret`` and was
    made within ``tolerance_s`` of ``now`` (unix seconds). Several ``v1`` values may be given
    (a sender changing secrets); one match is enough. Malformed values are refused."""
    parsed = _parse_signature(header_value)
    if parsed is None:
        return False
    timestamp, macs = parsed
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body).encode()
    return any(hmac.compare_digest(expected, mac.encode()) for mac in macs)


def check_webhook_url(url: str) -> str:
    """``url`` stripped, if it can be a webhook URL: http or https, with a host and a valid
    port, no spaces or control characters. Raises ValueError saying what is wrong (without
    repeating the URL, which may carry credentials)."""
    url = url.strip()
    if not url:
        raise ValueError("the webhook URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ValueError("the webhook URL contains spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is invalid
    except ValueError:
        raise ValueError("the webhook URL cannot be parsed (check the host and port)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the webhook URL has no host")
    return url


def backoff_delay(failures: int, base_s: float, cap_s: float,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``failures``-th failed attempt: doubling from ``base_s``,
    at most ``cap_s``, less up to ``JITTER`` of it at random."""
    delay = min(cap_s, base_s * 2.0 ** min(max(failures - 1, 0), 60))
    return delay * (1.0 - JITTER * (rng or random).random())


# --- Queries ---------------------------------------------------------------------------------

_events = webhook_events
_PENDING = (_events.c.delivered_at.is_(None), _events.c.failed_at.is_(None))


async def delivery_counts(engine: AsyncEngine, campaign_id: str) -> dict[str, int]:
    """The campaign's webhook events by state: pending, delivered, failed (given up)."""
    state = case((_events.c.delivered_at.is_not(None), "delivered"),
                 (_events.c.failed_at.is_not(None), "failed"), else_="pending")
    async with engine.connect() as conn:
        rows = await conn.execute(select(state, func.count())
                                  .where(_events.c.campaign_id == campaign_id).group_by(state))
        found = {str(row[0]): int(row[1]) for row in rows}
    return {"pending": 0, "delivered": 0, "failed": 0} | found


def _due_ids(now: datetime) -> Select[tuple[int]]:
    """Ids of due events whose campaign has no older event waiting (leased or backing off),
    at most ``PER_CAMPAIGN`` of each campaign, oldest first."""
    older = _events.alias("older")
    waiting = exists().where(older.c.campaign_id == _events.c.campaign_id,
                             older.c.id < _events.c.id, older.c.delivered_at.is_(None),
                             older.c.failed_at.is_(None), older.c.next_try_at > now)
    rank = func.row_number().over(partition_by=_events.c.campaign_id, order_by=_events.c.id)
    due = (select(_events.c.id, rank.label("rank"))
           .where(*_PENDING, _events.c.next_try_at <= now, ~waiting).subquery())
    return select(due.c.id).where(due.c.rank <= PER_CAMPAIGN).order_by(due.c.id).limit(BATCH)


@dataclass(frozen=True)
class _Event:
    """A claimed event with what it takes to send it."""

    id: int
    campaign_id: str
    event: str
    payload: Any
    created_at: datetime
    attempts: int
    url: str | None
    secret: str | None

    def body(self) -> bytes:
        return json.dumps({"id": self.id, "event": self.event,
                           "created_at": self.created_at.isoformat(), "data": self.payload},
                          separators=(",", ":"), ensure_ascii=False).encode()


def _by_campaign(events: Sequence[_Event]) -> list[list[_Event]]:
    groups: dict[str, list[_Event]] = {}
    for event in events:
        groups.setdefault(event.campaign_id, []).append(event)
    return list(groups.values())


# --- The sender ------------------------------------------------------------------------------

class WebhookSender:
    """Delivers the outbox: ``run()`` until ``stop()``, or one round with ``deliver_due()``."""

    def __init__(self, engine: AsyncEngine, *, poll_s: float = 1.0, timeout_s: float = 10.0,
                 max_attempts: int = 10, backoff_base_s: float = 2.0,
                 backoff_cap_s: float = 3600.0) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._engine = engine
        self._poll_s = poll_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._lease = timedelta(seconds=timeout_s * PER_CAMPAIGN + LEASE_MARGIN_S)
        self._max_attempts = max_attempts
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        """Stop claiming; ``run`` returns once the POSTs under way have ended."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until ``stop()``, then let the POSTs under way end. Each
        campaign's batch is delivered by a task of its own, so a slow endpoint delays nobody
        else; its campaign stays leased meanwhile, which keeps later claims off it."""
        tasks: set[asyncio.Task[int]] = set()
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            self._session = session
            try:
                await self._claim_until_stopped(session, tasks)
            except asyncio.CancelledError:
                for task in tasks:
                    task.cancel()  # their events stay leased until the lease runs out
                raise
            finally:
                await asyncio.gather(*tasks, return_exceptions=True)
                self._session = None

    async def _claim_until_stopped(self, session: aiohttp.ClientSession,
                                   tasks: set[asyncio.Task[int]]) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                claimed = await self._claim(utc_now()) if len(tasks) < BATCH else []
            except (SQLAlchemyError, OSError) as exc:
                log.warning("webhook claim failed", error=type(exc).__name__)
                claimed = []
            for group in _by_campaign(claimed):
                task = asyncio.create_task(self._deliver_campaign(session, group, utc_now))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(self._finished)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    def _finished(self, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhook delivery round failed", error=type(task.exception()).__name__)
        self._wake.set()  # a campaign is free again: claim its next events

    async def deliver_due(self, now: datetime | None = None) -> int:
        """One round: claim the events due at ``now`` (default: the current time), POST them,
        record each result. Returns how many were delivered. Times recorded are ``now`` plus
        the time the round has taken."""
        start, started = now or utc_now(), time.monotonic()

        def clock() -> datetime:
            return start + timedelta(seconds=time.monotonic() - started)

        claimed = await self._claim(start)
        if not claimed:
            return 0
        async with self._client() as session:
            delivered = await asyncio.gather(*(self._deliver_campaign(session, group, clock)
                                               for group in _by_campaign(claimed)))
        return sum(delivered)

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The session of ``run`` while it runs, else one for a single round."""
        if self._session is not None:
            yield self._session
            return
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            yield session

    async def _claim(self, now: datetime) -> list[_Event]:
        """Take the due events and lease them (``next_try_at`` pushed past their POSTs)."""
        async with write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _CLAIM_LOCK_KEY})
            ids = list((await conn.execute(_due_ids(now))).scalars())
            if not ids:
                return []
            rows = list(await conn.execute(
                select(_events, campaigns.c.webhook_url, campaigns.c.webhook_secret)
                .select_from(_events.outerjoin(campaigns,
                                               campaigns.c.id == _events.c.campaign_id))
                .where(_events.c.id.in_(ids), *_PENDING, _events.c.next_try_at <= now)
                .order_by(_events.c.id).with_for_update(of=_events, skip_locked=True)))
            if rows:
                await conn.execute(update(_events).where(_events.c.id.in_([r.id for r in rows]))
                                   .values(next_try_at=now + self._lease))
        return [_Event(id=row.id, campaign_id=row.campaign_id, event=row.event,
                       payload=row.payload, created_at=row.created_at, attempts=row.attempts,
                       url=row.webhook_url, secret=row.webhook_secret) for row in rows]

    async def _deliver_campaign(self, session: aiohttp.ClientSession, events: list[_Event],
                                clock: Clock) -> int:
        """POST one campaign's events in order; at the first failure (or on stop) the rest
        are handed back, to go out after the failed one."""
        for index, event in enumerate(events):
            unusable = _unusable(event)
            error = unusable or await self._post(session, event)
            if error is None:
                await self._record_delivered(event, clock())
                if self._stopping.is_set() and index + 1 < len(events):
                    async with write_transaction(self._engine) as conn:
                        await _release(conn, events[index + 1:], clock())
                    return index + 1
                continue
            await self._record_failed(event, error, clock(), events[index + 1:],
                                      give_up=unusable is not None)
            return index
        return len(events)

    async def _post(self, session: aiohttp.ClientSession, event: _Event) -> str | None:
        """None when the receiver accepted it, else what went wrong: a status or an
        exception class, never the answer's body."""
        assert event.url is not None and event.secret is not None
        body = event.body()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   EVENT_HEADER: event.event, DELIVERY_HEADER: str(event.id),
                   SIGNATURE_HEADER: sign(event.secret, int(time.time()), body)}
        try:
            async with session.post(event.url, data=body, headers=headers,
                                    allow_redirects=False, timeout=self._timeout) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return type(exc).__name__

    async def _record_delivered(self, event: _Event, at: datetime) -> None:
        async with write_transaction(self._engine) as conn:
            await conn.execute(update(_events).where(_events.c.id == event.id, *_PENDING)
                               .values(delivered_at=at, attempts=_events.c.attempts + 1,
                                       last_error=None))

    async def _record_failed(self, event: _Event, error: str, at: datetime,
                             rest: Sequence[_Event], give_up: bool) -> None:
        attempts = event.attempts + 1
        give_up = give_up or attempts >= self._max_attempts
        values: dict[str, Any] = {"attempts": _events.c.attempts + 1, "last_error": error[:200]}
        if give_up:
            values["failed_at"] = at
        else:
            values["next_try_at"] = at + timedelta(
                seconds=backoff_delay(attempts, *self._backoff))
        async with write_transaction(self._engine) as conn:
            await conn.execute(update(_events).where(_events.c.id == event.id, *_PENDING)
                               .values(**values))
            await _release(conn, rest, at)
        if give_up:
            log.warning("webhook event given up", campaign_id=event.campaign_id,
                        event_id=event.id)
        else:
            log.info("webhook delivery failed", campaign_id=event.campaign_id,
                     event_id=event.id, attempt=attempts, error=error)


async def _release(conn: AsyncConnection, events: Sequence[_Event], at: datetime) -> None:
    """End the lease of claimed events that were not attempted (they wait, unclaimable,
    behind any older event of their campaign that is backing off)."""
    if events:
        await conn.execute(update(_events).where(_events.c.id.in_([e.id for e in events]),
                                                 *_PENDING).values(next_try_at=at))


def _unusable(event: _Event) -> str | None:
    """Why the event can never be sent (its campaign has no valid URL or secret), or None."""
    if not event.url or not event.secret:
        return "no webhook URL"
    try:
        check_webhook_url(event.url)
    except ValueError:
        return "invalid webhook URL"
    return None
