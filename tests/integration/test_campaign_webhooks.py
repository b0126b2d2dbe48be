"""Outcome webhooks end to end: events written by the real claim/record path (or the outbox),
delivered by ``WebhookSender`` to a real HTTP receiver on 127.0.0.1 that checks every
signature the way a customer's endpoint would, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.claims import CallReport, Claims
from app.campaigns.outbox import enqueue, webhook_events
from app.campaigns.policy import CallResult, CampaignOptions
from app.campaigns.store import CampaignStore, NewContact
from app.campaigns.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    delivery_counts,
    verify,
)
from app.db import open_engine, write_transaction

FAST = {"poll_s": 0.05, "timeout_s": 2.0, "backoff_base_s": 0.05, "backoff_cap_s": 0.2}


@dataclass
class Received:
    route: str
    delivery: str
    event: str
    body: dict[str, object]
    valid: bool
    status: int


@dataclass
class Receiver:
    """A customer's endpoint: ``/hook/{route}`` checks the signature with the route's secret
    and answers 200, except where told to fail."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    always_fail: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)  # route: 500s for its first event
    received: list[Received] = field(default_factory=list)
    first_event: dict[str, str] = field(default_factory=dict)

    def url(self, route: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{route}"

    async def handle(self, request: web.Request) -> web.Response:
        route = request.match_info["route"]
        body = await request.read()
        valid = verify(self.secrets[route], request.headers.get(SIGNATURE_HEADER, ""), body,
                       now=time.time())
        delivery = request.headers[DELIVERY_HEADER]
        first = self.first_event.setdefault(route, delivery)
        status = 200
        if route in self.always_fail or not valid:
            status = 500
        elif route in self.hang:
            await asyncio.sleep(0.5)
        elif delivery == first and self.flaky.get(route, 0) > 0:
            self.flaky[route] -= 1
            status = 500
        self.received.append(Received(route, delivery, request.headers[EVENT_HEADER],
                                      json.loads(body), valid, status))
        return web.Response(status=status, text="no" if status >= 300 else "ok")

    def accepted(self, route: str | None = None) -> list[Received]:
        return [r for r in self.received
                if r.status == 200 and (route is None or r.route == route)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{route}", hooks.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hooks.port = runner.addresses[0][1]
    try:
        yield hooks
    finally:
        await runner.cleanup()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contacts(count: int = 2) -> list[NewContact]:
    return [NewContact(line=i + 1, phone=f"+1202555{i:04d}", timezone="UTC",
                       contact={"external_id": f"ext-{i}"}, context={}) for i in range(count)]


async def new_campaign(store: CampaignStore, receiver: Receiver, route: str,
                       url: str | None = None) -> str:
    campaign, secret = await store.create(f"campaign {route}", "welcome", CampaignOptions(),
                                          contacts(), webhook_url=url or receiver.url(route))
    receiver.secrets[route] = secret
    return campaign.id


async def enqueue_events(engine: AsyncEngine, campaign_id: str, count: int) -> None:
    async with write_transaction(engine) as conn:
        for number in range(count):
            await enqueue(conn, campaign_id, "call.finished",
                          {"campaign_id": campaign_id, "number": number})


async def event_rows(engine: AsyncEngine, campaign_id: str) -> list[object]:
    async with engine.connect() as conn:
        return list(await conn.execute(
            select(webhook_events).where(webhook_events.c.campaign_id == campaign_id)
            .order_by(webhook_events.c.id)))


async def drain(sender: WebhookSender, engine: AsyncEngine, campaign_ids: list[str],
                deadline_s: float = 10.0) -> None:
    """Delivery rounds until no event of the campaigns is pending."""
    ends = time.monotonic() + deadline_s
    while time.monotonic() < ends:
        counts = [await delivery_counts(engine, cid) for cid in campaign_ids]
        if all(c["pending"] == 0 for c in counts):
            return
        await sender.deliver_due()
        await asyncio.sleep(0.02)
    raise AssertionError(f"events still pending after {deadline_s} s")


def next_noon_utc() -> datetime:
    """A moment inside the default calling window (08:00-21:00 in the contacts' UTC) that is
    not before the contacts became due."""
    now = datetime.now(UTC)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon > now else noon + timedelta(days=1)


async def test_outcomes_delivered_once_each_in_order_after_retries(
        engine: AsyncEngine, receiver: Receiver) -> None:
    store = CampaignStore(engine)
    campaign_id = await new_campaign(store, receiver, "flaky")
    receiver.flaky["flaky"] = 2
    campaign = await store.move(campaign_id, "start")
    claims = Claims(engine, "test-dialer")
    taken = await claims.claim(campaign, room=10, now=next_noon_utc())
    assert len(taken.claims) == 2
    for claim in taken.claims:
        await claims.record(claim, campaign, CallReport(CallResult.ANSWERED, outcome="confirmed"))
    assert (await delivery_counts(engine, campaign_id))["pending"] == 3

    await drain(WebhookSender(engine, max_attempts=5, **FAST), engine, [campaign_id])

    rows = await event_rows(engine, campaign_id)
    ids = [str(row.id) for row in rows]
    # Two refusals of the oldest event, and nothing newer sent before it got through.
    assert [(r.delivery, r.status) for r in receiver.received] == [
        (ids[0], 500), (ids[0], 500), (ids[0], 200), (ids[1], 200), (ids[2], 200)]
    assert all(r.valid for r in receiver.received)
    assert [r.event for r in receiver.accepted()] == [
        "call.finished", "call.finished", "campaign.completed"]
    for got in receiver.accepted():
        assert got.body["id"] == int(got.delivery) and got.body["event"] == got.event
    finished = receiver.accepted()[0].body["data"]
    assert isinstance(finished, dict)
    assert finished["result"] == "answered" and finished["final_status"] == "completed"
    assert [row.attempts for row in rows] == [3, 1, 1]
    assert all(row.delivered_at is not None and row.failed_at is None for row in rows)
    assert all(row.last_error is None for row in rows)
    assert await delivery_counts(engine, campaign_id) == {
        "pending": 0, "delivered": 3, "failed": 0}


async def test_dead_endpoints_give_up_without_blocking_others(
        engine: AsyncEngine, receiver: Receiver) -> None:
    store = CampaignStore(engine)
    receiver.always_fail.add("down")
    receiver.hang.add("hang")
    down = await new_campaign(store, receiver, "down")
    refused = await new_campaign(store, receiver, "refused",
                                 url=f"http://127.0.0.1:{closed_port()}/hook")
    hang = await new_campaign(store, receiver, "hang")
    healthy = await new_campaign(store, receiver, "ok")
    for campaign_id in (down, refused, hang, healthy):
        await enqueue_events(engine, campaign_id, 2)
    sender = WebhookSender(engine, max_attempts=3, **{**FAST, "timeout_s": 0.2})

    assert await sender.deliver_due() == 2  # the healthy campaign, all in the first round
    assert (await delivery_counts(engine, healthy))["delivered"] == 2
    with structlog.testing.capture_logs() as logs:
        await drain(sender, engine, [down, refused, hang, healthy])

    expected_errors = {down: "HTTP 500", refused: "ClientConnectorError",
                       hang: "TimeoutError"}
    for campaign_id, error in expected_errors.items():
        rows = await event_rows(engine, campaign_id)
        assert [(row.attempts, row.last_error) for row in rows] == [(3, error)] * 2
        assert all(row.failed_at is not None and row.delivered_at is None for row in rows)
        assert await delivery_counts(engine, campaign_id) == {
            "pending": 0, "delivered": 0, "failed": 2}
    assert len([r for r in receiver.received if r.route == "down"]) == 6
    assert Counter(r.delivery for r in receiver.accepted("ok")).most_common(1)[0][1] == 1
    given_up = [entry for entry in logs if entry["event"] == "webhook event given up"]
    assert len(given_up) == 6
    assert all(set(entry) == {"event", "log_level", "campaign_id", "event_id"}
               for entry in given_up)


async def run_two_senders(engines: list[AsyncEngine], campaign_ids: list[str]) -> None:
    senders = [WebhookSender(e, max_attempts=5, **FAST) for e in engines]
    tasks = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        ends = time.monotonic() + 15
        while time.monotonic() < ends:
            counts = [await delivery_counts(engines[0], cid) for cid in campaign_ids]
            if all(c["pending"] == 0 for c in counts):
                break
            await asyncio.sleep(0.05)
    finally:
        for sender in senders:
            sender.stop()
        await asyncio.gather(*tasks)


@pytest.mark.parametrize("mode", ["rounds", "run"])
async def test_two_senders_deliver_each_event_once(
        engine: AsyncEngine, receiver: Receiver, database_url: str, mode: str) -> None:
    """Two senders on their own engines (as two dialer processes have) over one database.
    Fifteen campaigns of ten events fill more than one claim (BATCH events), so in the
    ``rounds`` mode both senders' simultaneous rounds get work."""
    store = CampaignStore(engine)
    routes = [f"c{number}" for number in range(15)]
    campaign_ids = [await new_campaign(store, receiver, route) for route in routes]
    receiver.flaky["c0"] = 2
    for campaign_id in campaign_ids:
        await enqueue_events(engine, campaign_id, 10)
    other = await open_engine(database_url)
    try:
        if mode == "run":
            await run_two_senders([engine, other], campaign_ids)
        else:
            senders = [WebhookSender(e, max_attempts=5, **FAST) for e in (engine, other)]
            first = await asyncio.gather(*(sender.deliver_due() for sender in senders))
            assert all(delivered > 0 for delivered in first), first
            await drain(senders[1], engine, campaign_ids)
    finally:
        await other.dispose()

    accepted = receiver.accepted()
    assert len(accepted) == 150
    assert Counter(Counter(r.delivery for r in accepted).values()) == {1: 150}
    assert all(r.valid for r in receiver.received)
    for route, campaign_id in zip(routes, campaign_ids, strict=True):
        order = [int(r.delivery) for r in receiver.accepted(route)]
        assert order == sorted(order) and len(order) == 10
        assert await delivery_counts(engine, campaign_id) == {
            "pending": 0, "delivered": 10, "failed": 0}
    assert [r.status for r in receiver.received if r.route == "c0"][:3] == [500, 500, 200]
