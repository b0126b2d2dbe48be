"""Crash test on PostgreSQL: a 10,000-contact campaign dialled by dialer processes that are
killed with SIGKILL 50 times at random moments and restarted, against the simulated carrier
(``tests.campaign_carrier``: a double of the network, the database is the real one).

What must hold afterwards: the campaign completed and every contact has a final status; the
carrier's own log (written before each dial, surviving the kills) shows no (contact,
attempt) dialled twice and nothing dialled that the database does not know of; every
attempt has a result, and every result the carrier gave is the stored one, unless the
dialer died between the answer and the database write (then it is ``interrupted``, which
at most ``max_calls`` attempts per kill can be); attempt caps, the minimum gap and the
calling window held. Once with one dialer, once with two sharing the campaign.

Each dialer is ``python -m app campaign run``, in a process forked from one that has the
app imported already (``tests.campaign_dialers``), so a restart takes milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.campaigns.policy import (
    RETRYABLE,
    AttemptPolicy,
    CallingWindow,
    CallResult,
    CampaignOptions,
    FinalStatus,
)
from app.campaigns.schedule import is_lawful
from app.campaigns.store import Campaign, CampaignStore, NewContact
from app.db import open_engine
from tests.campaign_dialers import start_cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

CONTACTS = 10_000
KILLS = 50
KILL_DELAY_S = (0.05, 0.6)
MAX_CALLS = 40  # per dialer process (two of them meet the campaign-wide MAX_CONCURRENT)
MAX_CONCURRENT = 50  # per campaign, all dialers
MAX_ATTEMPTS = 3
LEASE_S = 2  # a killed dialer's calls are closed this soon after; an attempt takes < 0.6 s
# Calls of 20-100 ms: at most MAX_CONCURRENT / 0.06 s = 833 dials a second however fast the
# machine, so the ~17,500 dials take over 20 s and outlast the kills (about 16 s of random
# delays when two dialers take turns being killed).
CARRIER_MS = "20-100"
FIRST_DIAL_TIMEOUT_S = 60.0  # a restarted dialer waits for lapsed leases before it dials
FINISH_TIMEOUT_S = 400.0
SEED = 6_2025
# Whole hours, half and quarter hours, both hemispheres: at any moment one of them may be at
# 23:59, where the window (end exclusive) is closed and the contact must wait a minute.
ZONES = ("America/Los_Angeles", "America/New_York", "America/St_Johns", "Europe/London",
         "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney",
         "Pacific/Chatham")
WINDOW = CallingWindow.parse("00:00-23:59", "mon-sun")


def campaign_options() -> CampaignOptions:
    return CampaignOptions(
        window=WINDOW, max_concurrent=MAX_CONCURRENT,
        attempts=AttemptPolicy(max_attempts=MAX_ATTEMPTS, min_gap_s=1.0,
                               retry_delay_s=dict.fromkeys(RETRYABLE, 1.0)))


def contacts(count: int) -> list[NewContact]:
    return [NewContact(line=index + 2, phone=f"+1202{index:07d}",
                       timezone=ZONES[index % len(ZONES)],
                       contact={"name": f"Contact {index}", "date_of_birth": "1980-01-01",
                                "external_id": f"crash-{index}"},
                       context={"organization": "crash test"})
            for index in range(count)]


@dataclass
class CarrierLog:
    """The simulated carrier's append-only log (``DIAL|DONE contact attempt x pid``)."""

    path: Path
    _offset: int = 0
    _pending: bytes = b""
    dialling_pids: set[int] = field(default_factory=set)

    async def poll(self) -> None:
        """Read what was appended since the last poll; note which processes dialled."""
        data = await asyncio.to_thread(self._read_from, self._offset)
        self._offset += len(data)
        *lines, self._pending = (self._pending + data).split(b"\n")
        self.dialling_pids.update(int(line.split()[-1]) for line in lines
                                  if line.startswith(b"DIAL "))

    def _read_from(self, offset: int) -> bytes:
        if not self.path.exists():
            return b""
        with self.path.open("rb") as log:
            log.seek(offset)
            return log.read()

    def entries(self) -> list[tuple[str, int, int, str]]:
        """(kind, contact, attempt, phone or result) of every complete line."""
        found = []
        for line in self.path.read_text().splitlines():
            kind, contact, attempt, value, _pid = line.split()
            found.append((kind, int(contact), int(attempt), value))
        return found


@dataclass
class DialerFleet:
    """Dialer processes on one campaign, each restartable after a SIGKILL."""

    database_url: str
    campaign_id: str
    carrier_log: CarrierLog
    stderr_path: Path
    processes: list[BaseProcess] = field(default_factory=list)

    def start(self) -> BaseProcess:
        """``python -m app campaign run ...``, forked (``tests.campaign_dialers``)."""
        env = {**os.environ, "DATABASE_URL": self.database_url, "AVA_LOG_LEVEL": "warning",
               "AVA_SIM_CARRIER_LOG": str(self.carrier_log.path),
               "AVA_SIM_CARRIER_MS": CARRIER_MS}
        return start_cli(["campaign", "run", self.campaign_id,
                          "--carrier", "tests.campaign_carrier:SimulatedCarrier",
                          "--max-calls", str(MAX_CALLS), "--lease-s", str(LEASE_S),
                          "--until-done"], env, ROOT, self.stderr_path)

    async def dialling_one(self, rng: random.Random) -> int:
        """The index of a random process that has placed a call since it started (waiting
        for one if none has yet): a kill before its first call would test little."""
        deadline = time.monotonic() + FIRST_DIAL_TIMEOUT_S
        while True:
            await self.carrier_log.poll()
            dialled = [index for index, process in enumerate(self.processes)
                       if process.pid in self.carrier_log.dialling_pids]
            if dialled:
                return rng.choice(dialled)
            assert all(process.exitcode is None for process in self.processes), (
                f"a dialer exited before the kills were done:\n{self.stderr_tail()}")
            assert time.monotonic() < deadline, f"no dialer dialled:\n{self.stderr_tail()}"
            await asyncio.sleep(0.05)

    async def kill_and_restart(self, index: int) -> None:
        self.processes[index].kill()  # SIGKILL
        await asyncio.to_thread(self.processes[index].join)
        self.processes[index] = self.start()

    async def finish(self) -> None:
        """Wait for every dialer to stop by itself (``--until-done``)."""
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        for process in self.processes:
            await asyncio.to_thread(process.join, max(deadline - time.monotonic(), 0))
        codes = [process.exitcode for process in self.processes]
        assert codes == [0] * len(codes), f"exit codes {codes}:\n{self.stderr_tail()}"

    def stderr_tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    async def close(self) -> None:
        """End whatever is still running (after a failure; a finished run left nothing)."""
        for process in self.processes:
            if process.exitcode is None:
                process.kill()
                await asyncio.to_thread(process.join)


async def crash_and_finish(fleet: DialerFleet, dialers: int, rng: random.Random) -> float:
    """Start ``dialers`` processes; KILLS times: a random moment after one of them has
    started dialling, SIGKILL it and start a new one in its place. Then let them all run
    to completion. Returns how long the kills took."""
    started = time.monotonic()
    try:
        fleet.processes = [fleet.start() for _ in range(dialers)]
        for _ in range(KILLS):
            victim = await fleet.dialling_one(rng)
            await asyncio.sleep(rng.uniform(*KILL_DELAY_S))
            assert fleet.processes[victim].exitcode is None, (
                f"the campaign ended before the kills were done:\n{fleet.stderr_tail()}")
            await fleet.kill_and_restart(victim)
        killing_s = time.monotonic() - started
        await fleet.finish()
    finally:
        await fleet.close()
    return killing_s


@dataclass(frozen=True)
class Tally:
    dials: int
    attempts: int
    interrupted: int
    answers_lost_to_kills: int
    final: dict[str, int]


def check_outcome(campaign: Campaign, contact_rows: Sequence[Any],
                  attempt_rows: Sequence[Any], log: CarrierLog) -> Tally:
    assert campaign.status == "completed"
    assert len(contact_rows) == CONTACTS
    assert {row.state for row in contact_rows} == {"done"}
    assert all(row.final_status in set(FinalStatus) for row in contact_rows)

    entries = log.entries()
    dials = Counter((contact, attempt) for kind, contact, attempt, _ in entries
                    if kind == "DIAL")
    twice = [key for key, times in dials.items() if times > 1]
    assert not twice, f"dialled twice for one attempt: {twice[:10]}"
    stored = {(row.contact_id, row.attempt): row for row in attempt_rows}
    unknown = [key for key in dials if key not in stored]
    assert not unknown, f"dialled without an attempt in the database: {unknown[:10]}"
    assert all(row.result is not None for row in attempt_rows)
    undialled = [key for key, row in stored.items()
                 if row.result != CallResult.INTERRUPTED and key not in dials]
    assert not undialled, f"a result for a call the carrier never placed: {undialled[:10]}"

    lost = 0
    for kind, contact, attempt, result in entries:
        if kind == "DONE":
            if stored[(contact, attempt)].result == CallResult.INTERRUPTED:
                lost += 1  # killed between the carrier's answer and the database write
            else:
                assert stored[(contact, attempt)].result == result, (contact, attempt)
    interrupted = sum(row.result == CallResult.INTERRUPTED for row in attempt_rows)
    assert interrupted <= KILLS * MAX_CALLS
    check_contacts(contact_rows, attempt_rows)
    return Tally(dials=sum(dials.values()), attempts=len(attempt_rows),
                 interrupted=interrupted, answers_lost_to_kills=lost,
                 final=dict(Counter(row.final_status for row in contact_rows)))


def check_contacts(contact_rows: Sequence[Any], attempt_rows: Sequence[Any]) -> None:
    """Per contact: attempts numbered 1..n, n within the cap, spaced by the minimum gap,
    dialled inside the window, and a final status that follows from the last result."""
    by_contact: dict[int, list[Any]] = defaultdict(list)
    for row in attempt_rows:
        by_contact[row.contact_id].append(row)
    gap = timedelta(seconds=1)
    for contact in contact_rows:
        attempts = sorted(by_contact[contact.id], key=lambda row: row.attempt)
        assert [row.attempt for row in attempts] == list(range(1, contact.attempts + 1))
        assert 1 <= contact.attempts <= MAX_ATTEMPTS
        for earlier, later in itertools.pairwise(attempts):
            assert earlier.result != CallResult.ANSWERED, contact.id  # answered ends it
            assert later.claimed_at - earlier.claimed_at >= gap, contact.id
        for row in attempts:
            if row.dialed_at is not None:
                assert is_lawful(row.dialed_at, ZoneInfo(contact.timezone), WINDOW), contact.id
        last = attempts[-1].result
        if contact.final_status == FinalStatus.COMPLETED:
            assert last == CallResult.ANSWERED and contact.outcome == "confirmed", contact.id
        else:
            assert contact.final_status == FinalStatus.EXHAUSTED, contact.id
            assert contact.attempts == MAX_ATTEMPTS and last != CallResult.ANSWERED


@pytest.mark.parametrize("dialers", [1, 2])
async def test_dialers_killed_fifty_times_complete_the_campaign_once_per_attempt(
        postgres_database_url: str, tmp_path: Path, dialers: int) -> None:
    engine = await open_engine(postgres_database_url)
    try:
        store = CampaignStore(engine)
        started = time.monotonic()
        campaign, _ = await store.create(f"crash {dialers}", "welcome", campaign_options(),
                                         contacts(CONTACTS))
        imported_s = time.monotonic() - started
        await store.move(campaign.id, "start")
        fleet = DialerFleet(postgres_database_url, campaign.id,
                            CarrierLog(tmp_path / "carrier.log"), tmp_path / "dialers.log")
        killing_s = await crash_and_finish(fleet, dialers, random.Random(SEED + dialers))
        tally = check_outcome(await store.get(campaign.id), await store.contacts(campaign.id),
                              await store.attempts(campaign.id), fleet.carrier_log)
    finally:
        await engine.dispose()
    print(f"\ncrash test, {dialers} dialer(s): {CONTACTS} contacts imported in "
          f"{imported_s:.1f} s, {KILLS} kills in {killing_s:.0f} s, {tally.dials} dials, "
          f"{tally.attempts} attempts, {tally.interrupted} interrupted "
          f"({tally.answers_lost_to_kills} after the carrier answered), final {tally.final}, "
          f"{time.monotonic() - started:.0f} s in all")
