"""Claims on a real database (SQLite and PostgreSQL): dialers racing for one campaign never
share an attempt, the campaign's limit of calls at once holds across them, and every path a
contact can take (deferred, listed, answered, opted out, retried, exhausted, interrupted)
ends where the policy says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.carrier import Carrier
from app.campaigns.claims import CallReport, Claim, Claims
from app.campaigns.dialer import CampaignDialer, DialerConfig
from app.campaigns.do_not_call import DoNotCallList
from app.campaigns.policy import AttemptPolicy, CallingWindow, CallResult, CampaignOptions
from app.campaigns.schedule import is_lawful
from app.campaigns.store import Campaign, CampaignStore, NewContact
from app.config import Settings
from app.db import open_engine

ALL_DAY = CallingWindow(start=time(0, 0), end=time(23, 59))
NO_WAIT = AttemptPolicy(max_attempts=2, retry_delay_s={}, min_gap_s=0)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(database_url)
    yield engine
    await engine.dispose()


def contacts(count: int, zone: str = "America/New_York") -> list[NewContact]:
    return [NewContact(line=n + 2, phone=f"+1212555{n:04d}", timezone=zone,
                       contact={"name": "Test Person", "date_of_birth": "1980-01-01"},
                       context={"organization": "Riverside Clinic"}) for n in range(count)]


async def running(store: CampaignStore, people: list[NewContact], *,
                  window: CallingWindow = ALL_DAY, policy: AttemptPolicy = NO_WAIT,
                  max_concurrent: int = 10, listed: frozenset[str] = frozenset()) -> Campaign:
    options = CampaignOptions(window=window, attempts=policy, max_concurrent=max_concurrent)
    campaign, _ = await store.create("test", "appointment_confirmation", options, people,
                                     webhook_url="http://127.0.0.1:9/hook", do_not_call=listed)
    return await store.move(campaign.id, "start")


async def test_racing_dialers_share_nothing_and_respect_the_campaign_limit(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    campaign = await running(store, contacts(60), max_concurrent=25)
    dialers = [Claims(engine, f"dialer-{n}") for n in range(4)]
    rounds = await asyncio.gather(*(d.claim(campaign, room=20) for d in dialers))
    held = [(c.contact_id, c.attempt) for r in rounds for c in r.claims]
    assert len(held) == len(set(held)) == 25  # the campaign's limit, not 4 x 20
    assert (await store.counts(campaign.id))["dialing"] == 25
    # Nothing more while those calls last, from any dialer.
    assert (await dialers[0].claim(campaign, room=20)).claims == []


async def test_answered_opted_out_and_exhausted_contacts_end_where_the_policy_says(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    campaign = await running(store, contacts(3))
    claims = Claims(engine, "dialer")
    first = (await claims.claim(campaign, room=3)).claims
    answered, opted, busy = first
    await claims.record(answered, campaign, CallReport(CallResult.ANSWERED, "confirmed"))
    await claims.record(opted, campaign, CallReport(CallResult.ANSWERED, "opted_out",
                                                    opted_out=True))
    await claims.record(busy, campaign, CallReport(CallResult.BUSY, detail="486 Busy Here"))
    await claims.record(busy, campaign, CallReport(CallResult.ANSWERED, "again"))  # no effect
    second = (await claims.claim(campaign, room=3)).claims
    assert [(c.contact_id, c.attempt) for c in second] == [(busy.contact_id, 2)]
    await claims.record(second[0], campaign, CallReport(CallResult.NO_ANSWER))
    assert await store.counts(campaign.id) == {"completed": 1, "opted_out": 1, "exhausted": 1}
    assert await store.outcomes(campaign.id) == {"confirmed": 1, "opted_out": 1}
    assert await DoNotCallList(engine).contains(opted.phone)
    assert (await store.get(campaign.id)).status == "completed"
    results = [(row.attempt, row.result) for row in await store.attempts(campaign.id)
               if row.contact_id == busy.contact_id]
    assert results == [(1, "busy"), (2, "no_answer")]


async def test_listed_numbers_are_never_claimed_even_when_listed_after_import(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    people = contacts(4)
    campaign = await running(store, people, listed=frozenset({people[0].phone}))
    await DoNotCallList(engine).add([people[1].phone])
    claims = Claims(engine, "dialer")
    taken = (await claims.claim(campaign, room=4)).claims
    assert sorted(c.phone for c in taken) == sorted(p.phone for p in people[2:])
    await DoNotCallList(engine).add([taken[0].phone])  # joins the list after the claim
    assert await claims.still_allowed(taken[0], campaign) == "do_not_call"
    await claims.release(taken[0], campaign, "do_not_call")
    assert await claims.still_allowed(taken[1], campaign) is None
    counts = await store.counts(campaign.id)
    assert counts == {"do_not_call": 3, "dialing": 1}
    dialled = {row.contact_id for row in await store.attempts(campaign.id)}
    assert dialled == {taken[1].contact_id}


async def test_contacts_outside_their_window_wait_for_it_in_their_own_zone(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    window = CallingWindow(start=time(9, 0), end=time(17, 0))
    people = contacts(2, "Asia/Tokyo") + contacts(2, "America/Los_Angeles")
    people = [NewContact(n + 2, f"+4420794600{n:02d}", p.timezone, p.contact, p.context)
              for n, p in enumerate(people)]
    campaign = await running(store, people, window=window)
    now = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)  # 11:00 in Tokyo, 19:00 in Los Angeles
    claims = Claims(engine, "dialer")
    done = await claims.claim(campaign, room=10, now=now)
    assert done.considered == 4
    assert {c.timezone for c in done.claims} == {"Asia/Tokyo"}
    for row in await store.contacts(campaign.id):
        if row.timezone == "America/Los_Angeles":
            opens = row.next_at.astimezone(ZoneInfo(row.timezone))
            assert opens.replace(tzinfo=None) == datetime(2027, 6, 10, 9, 0)
            assert is_lawful(row.next_at, ZoneInfo(row.timezone), window)


async def test_a_dead_dialers_attempts_are_interrupted_then_retried_once(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    campaign = await running(store, contacts(2))
    dead = Claims(engine, "dead", lease_s=0.01)
    held = (await dead.claim(campaign, room=2)).claims
    await asyncio.sleep(0.05)
    alive = Claims(engine, "alive")
    assert await alive.recover(campaign, now=datetime.now(UTC) + timedelta(seconds=1)) == 2
    retried = (await alive.claim(campaign, room=2,
                                 now=datetime.now(UTC) + timedelta(seconds=2))).claims
    assert sorted((c.contact_id, c.attempt) for c in retried) == sorted(
        (c.contact_id, 2) for c in held)
    # The dead dialer's late report lands on its own attempt and moves nothing else.
    await dead.record(held[0], campaign, CallReport(CallResult.ANSWERED, "confirmed"))
    assert (await store.counts(campaign.id)) == {"dialing": 2}
    rows = {(row.contact_id, row.attempt): row.result for row in await store.attempts(campaign.id)}
    assert rows[(held[0].contact_id, 1)] == "answered"
    assert rows[(held[1].contact_id, 1)] == "interrupted"


async def test_a_dialer_stores_a_result_the_database_refused_once(
        engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CampaignStore(engine)
    campaign = await running(store, contacts(3))

    class Answering(Carrier):
        async def place(self, claim: Claim) -> CallReport:
            return CallReport(CallResult.ANSWERED, "confirmed")

    dialer = CampaignDialer(store, Answering(Settings()),
                            DialerConfig(max_calls=3, poll_s=0.05, until_done=True))
    store_result = dialer._claims.record
    refused: list[int] = []

    async def deadlocked_once(claim: Claim, campaign: Campaign, report: CallReport) -> None:
        if not refused:
            refused.append(claim.contact_id)
            raise OperationalError("UPDATE call_attempts", {}, Exception("deadlock detected"))
        await store_result(claim, campaign, report)

    monkeypatch.setattr(dialer._claims, "record", deadlocked_once)
    await asyncio.wait_for(dialer.run(), 60)
    assert refused
    assert await store.counts(campaign.id) == {"completed": 3}
    assert (await store.results(campaign.id)) == {"answered": 3}


async def test_a_dead_dialers_attempts_are_closed_as_soon_as_their_leases_lapse(
        engine: AsyncEngine) -> None:
    store = CampaignStore(engine)
    campaign = await running(store, contacts(3))
    dead = Claims(engine, "dead", lease_s=0.5)
    held = (await dead.claim(campaign, room=2)).claims
    assert await dead.next_lapse(campaign) is None  # its own leases are not another's
    assert await Claims(engine, "alive").next_lapse(campaign) is not None

    class Answering(Carrier):
        async def place(self, claim: Claim) -> CallReport:
            return CallReport(CallResult.ANSWERED, "confirmed")

    # The fixed round of recovery would come after a minute: the lapse itself brings it.
    dialer = CampaignDialer(store, Answering(Settings()),
                            DialerConfig(max_calls=3, poll_s=0.05, recover_every_s=60,
                                         until_done=True))
    await asyncio.wait_for(dialer.run(), 20)
    assert await store.counts(campaign.id) == {"completed": 3}
    results = {(row.contact_id, row.attempt): row.result
               for row in await store.attempts(campaign.id)}
    assert {results[(c.contact_id, 1)] for c in held} == {"interrupted"}
    assert {results[(c.contact_id, 2)] for c in held} == {"answered"}
