"""Campaign scheduling benchmark: how fast ``Claims.claim`` works through a contact list, on
SQLite (a file) and on PostgreSQL (a throwaway database, created and dropped here).

100,000 contacts spread over 24 time zones are imported into one campaign (08:00-21:00 every
day, so at any moment about half of them are inside their window and half outside). Claim
rounds then run until no contact is due: each round looks at due contacts, hands out up to
``ROOM`` calls and moves the out-of-window ones to their next opening; an instant carrier
records every claimed call as answered right away, so the next round finds the next ones.

Figures per engine: the import time, claim-round latency (median, p95), contacts considered
per second and calls claimed per second of claim time, and calls per second of wall time
(claims and records). The baseline in the same run: the same with 10,000 contacts (does a
round slow down as the list grows?), and SQLite against PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.campaigns.claims import CallReport, Claims
from app.campaigns.policy import CallingWindow, CallResult, CampaignOptions
from app.campaigns.store import CampaignStore, NewContact
from app.config import Settings
from app.db import database_url, open_engine
from voice.latency import summarize

CONTACTS = 100_000
BASELINE_CONTACTS = 10_000
ROOM = 100  # calls one claim round may hand out (the campaign's limit too)
# Every whole-hour offset from UTC-10 to UTC+13, one zone each (with and without DST).
ZONES = ("Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
         "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
         "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London", "Europe/Berlin",
         "Europe/Helsinki", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka",
         "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane",
         "Pacific/Noumea", "Pacific/Auckland", "Pacific/Tongatapu")
WINDOW = CallingWindow.parse("08:00-21:00", "mon-sun")
ADMIN_URL = os.environ.get("AVA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
Report = Callable[[str], None]


def contact_list(count: int) -> list[NewContact]:
    return [NewContact(line=index + 2, phone=f"+1303{index:07d}",
                       timezone=ZONES[index % len(ZONES)],
                       contact={"name": f"Contact {index}", "date_of_birth": "1980-01-01",
                                "external_id": f"bench-{index}"},
                       context={"organization": "bench"})
            for index in range(count)]


async def claim_until_idle(url: str, count: int, report: Report) -> dict[str, Any]:
    """Import ``count`` contacts into a fresh database at ``url`` and claim until none is
    due; the figures of that run."""
    engine = await open_engine(url)
    try:
        store = CampaignStore(engine)
        contacts = contact_list(count)
        started = time.perf_counter()
        campaign, _ = await store.create("bench", "welcome",
                                         CampaignOptions(window=WINDOW, max_concurrent=ROOM),
                                         contacts)
        import_s = time.perf_counter() - started
        campaign = await store.move(campaign.id, "start")
        claims = Claims(engine, "bench-dialer")
        answered = CallReport(CallResult.ANSWERED, outcome="confirmed")
        round_s: list[float] = []
        record_s: list[float] = []
        considered = claimed = 0
        started = time.perf_counter()
        while True:
            began = time.perf_counter()
            done = await claims.claim(campaign, ROOM)
            round_s.append(time.perf_counter() - began)
            considered += done.considered
            claimed += len(done.claims)
            if done.considered == 0:
                break
            for claim in done.claims:
                began = time.perf_counter()
                await claims.record(claim, campaign, answered)
                record_s.append(time.perf_counter() - began)
        wall_s = time.perf_counter() - started
        counts = await store.counts(campaign.id)
    finally:
        await engine.dispose()
    claim_s = sum(round_s)
    report(f"{count} contacts: {claimed} calls, {considered} considered in {len(round_s)} "
           f"rounds, {claim_s:.1f} s claiming, {wall_s:.1f} s in all")
    return {
        "contacts": count, "import_s": round(import_s, 2),
        "imported_per_s": round(count / import_s),
        "rounds": len(round_s), "considered": considered, "claimed": claimed,
        "deferred": counts.get("pending", 0), "completed": counts.get("completed", 0),
        "claim_round_ms": summarize(round_s, unit_scale=1000),
        "record_ms": summarize(record_s, unit_scale=1000),
        "considered_per_s": round(considered / claim_s),
        "claimed_per_s": round(claimed / claim_s),
        "calls_per_s_wall": round(claimed / wall_s, 1),
        "wall_s": round(wall_s, 1),
    }


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def on_postgres(count: int, report: Report) -> dict[str, Any]:
    """The run on a database created for it, dropped afterwards."""
    name = f"ava_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        return await claim_until_idle(database_url(url, Path()), count, report)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def on_sqlite(count: int, report: Report) -> dict[str, Any]:
    with TemporaryDirectory(prefix="campaign-bench-") as folder:
        return await claim_until_idle(f"sqlite+aiosqlite:///{Path(folder) / 'ava.db'}",
                                      count, report)


async def _run(report: Report) -> dict[str, Any]:
    figures: dict[str, Any] = {"setup": {
        "contacts": CONTACTS, "baseline_contacts": BASELINE_CONTACTS, "zones": len(ZONES),
        "window": WINDOW.describe(), "room_per_round": ROOM,
        "carrier": "instant: each claimed call recorded as answered at once"}}
    for engine, measure in (("sqlite", on_sqlite), ("postgresql", on_postgres)):
        report(f"{engine}: baseline, {BASELINE_CONTACTS} contacts")
        baseline = await measure(BASELINE_CONTACTS, report)
        report(f"{engine}: {CONTACTS} contacts")
        full = await measure(CONTACTS, report)
        figures[engine] = {"full": full, "baseline": baseline,
                           "considered_per_s_vs_baseline": round(
                               full["considered_per_s"] / baseline["considered_per_s"], 2)}
    figures["postgresql_vs_sqlite_considered_per_s"] = round(
        figures["postgresql"]["full"]["considered_per_s"]
        / figures["sqlite"]["full"]["considered_per_s"], 2)
    return figures


def run(settings: Settings, report: Report) -> dict[str, Any]:
    """``settings`` is the harness's; the databases are made here."""
    return asyncio.run(_run(report))
