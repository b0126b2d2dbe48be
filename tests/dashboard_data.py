"""A small running campaign with real dial attempts, written straight into a database, for
the dashboard and campaign API tests.

The attempts go through the real claim and record steps (``app.campaigns.claims``), as a
dialer would store them; only the calls themselves are skipped. Contacts live in UTC with
an all-day window, so a claim is lawful whenever the test runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.claims import CallReport, Claim, Claims
from app.campaigns.policy import AttemptPolicy, CallingWindow, CallResult, CampaignOptions
from app.campaigns.schedule import next_lawful
from app.campaigns.store import Campaign, CampaignStore, NewContact
from app.db import utc_now

AGENT = "appointment_confirmation"
WINDOW = CallingWindow.parse("00:00-23:59", "mon-sun")
DATE_OF_BIRTH = "1980-01-02"
PERSONAL = ("Person ", DATE_OF_BIRTH, "+1212555")  # none of it may reach an API answer
WEBHOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens: events stay queued or fail

ANSWERED_CONFIRMED = CallReport(CallResult.ANSWERED, outcome="confirmed")
ANSWERED_RESCHEDULED = CallReport(CallResult.ANSWERED, outcome="rescheduled")
OPTED_OUT = CallReport(CallResult.ANSWERED, opted_out=True, detail="asked not to be called")
BUSY = CallReport(CallResult.BUSY, detail="486 Busy Here")
NO_ANSWER = CallReport(CallResult.NO_ANSWER)
VOICEMAIL = CallReport(CallResult.VOICEMAIL)


def people(count: int) -> list[NewContact]:
    return [NewContact(line=index + 2, phone=f"+1212555{index:04d}", timezone="UTC",
                       contact={"name": f"Person {index}", "date_of_birth": DATE_OF_BIRTH,
                                "external_id": f"ext-{index}"},
                       context={"organization": "Riverside Clinic"})
            for index in range(count)]


async def running_campaign(engine: AsyncEngine, name: str, contacts: int,
                           blocked: int = 0) -> Campaign:
    """A started campaign of ``contacts`` people, the first ``blocked`` of them on the
    do-not-call list; one attempt each, so every unanswered call ends its contact."""
    listed = people(contacts)
    options = CampaignOptions(window=WINDOW, attempts=AttemptPolicy(max_attempts=1),
                              max_concurrent=contacts)
    store = CampaignStore(engine)
    campaign, _ = await store.create(name, AGENT, options, listed, webhook_url=WEBHOOK_URL,
                                     do_not_call=frozenset(p.phone for p in listed[:blocked]))
    return await store.move(campaign.id, "start")


async def dial(engine: AsyncEngine, campaign: Campaign, reports: Sequence[CallReport],
               still_dialing: int = 0) -> list[Claim]:
    """Claim ``len(reports) + still_dialing`` contacts and record ``reports`` for the
    first ones; returns the claims left under way (``record`` them later)."""
    claims = Claims(engine, "dashboard-test", lease_s=3600)
    now = next_lawful(utc_now(), ZoneInfo("UTC"), WINDOW)
    wanted = len(reports) + still_dialing
    taken = (await claims.claim(campaign, wanted, now)).claims
    assert len(taken) == wanted, f"claimed {len(taken)} of {wanted}"
    for claim, report in zip(taken, reports, strict=False):
        await claims.record(claim, campaign, report)
    return taken[len(reports):]


async def finish(engine: AsyncEngine, campaign: Campaign, claimed: Sequence[Claim],
                 reports: Sequence[CallReport]) -> None:
    """Record how the calls under way ended."""
    claims = Claims(engine, "dashboard-test", lease_s=3600)
    for claim, report in zip(claimed, reports, strict=True):
        await claims.record(claim, campaign, report)
