"""The campaign and dnc commands, end to end: a contact list with bad rows, a do-not-call
list, a campaign paused and resumed, dialled to completion through a simulated carrier
(``tests.campaign_carriers``), and its exports checked row by row. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time as time_module
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.campaigns.policy import CallResult, FinalStatus
from tests.campaign_carriers import expected_report
from tests.conftest import ROOT, run_app

pytestmark = pytest.mark.slow

AGENT = "appointment_confirmation"
MAX_ATTEMPTS = 3
CONTEXT = ["Riverside Clinic", "Dr. Patel", "2026-11-24T15:30:00", "the Main Street office"]
HEADER = ["phone", "timezone", "name", "date_of_birth", "external_id", "context.organization",
          "context.appointment.provider", "context.appointment.start",
          "context.appointment.location"]
LISTED_BEFORE_IMPORT = "+12125550110"  # added as "(212) 555-0110" with --region US
LISTED_AFTER_IMPORT = "+12125550111"  # added between create and start


def _zones() -> list[str]:
    """Four zones whose clocks are not near midnight now: the widest window the CLI takes,
    00:00-23:59, closes for a minute there, and this test must not wait for it."""
    now = datetime.now(UTC)
    candidates = ["America/New_York", "America/Chicago", "Europe/London", "Asia/Tokyo",
                  "Australia/Sydney", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin"]
    return [zone for zone in candidates
            if now.astimezone(ZoneInfo(zone)).time() < time(23, 45)][:4]


def _write_contacts(path: Path) -> tuple[list[str], dict[int, str]]:
    """20 good rows (last digits 0-9 twice) and 4 bad ones; returns the good numbers and
    the bad rows' lines with the start of their reason."""
    zones = _zones()
    rows: list[list[str]] = []
    phones = []
    for i in range(20):
        phone = f"+1212555{100 + i:04d}"
        phones.append(phone)
        written = "212-555-0112" if phone.endswith("112") else phone  # national: --region
        rows.append([written, zones[i % 4], f"Person {i}", "1980-01-02", f"EXT-{i}", *CONTEXT])
    rows.insert(5, [])  # a blank row, skipped
    bad = [["+1555", zones[0], "Bad Number", "1980-01-02", "B1", *CONTEXT],
           ["+12125550150", "EST", "Bad Zone", "1980-01-02", "B2", *CONTEXT],
           ["+12125550151", zones[1], "No Birthday", "", "B3", *CONTEXT],
           ["(212) 555-0100", zones[2], "Twice", "1980-01-02", "B4", *CONTEXT]]
    rows += bad
    with path.open("w", encoding="utf-8-sig", newline="") as file:  # with a BOM, as Excel
        csv.writer(file).writerows([HEADER, *rows])
    first_bad = len(rows) - len(bad) + 2  # the header is line 1
    reasons = ["phone: '+1555'", "timezone: 'EST'", f"{AGENT} needs contact.date_of_birth",
               "phone: the same number as line 2"]
    return phones, {first_bad + i: reason for i, reason in enumerate(reasons)}


def _cli(env: dict[str, str], *args: str, code: int = 0,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = run_app(*args, env=env, timeout=timeout)
    assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "AVA_DATA_DIR": str(tmp_path / "data"),
            "AVA_LOG_LEVEL": "warning"}


def test_campaign_runs_to_completion_within_its_rules(env: dict[str, str],
                                                      tmp_path: Path) -> None:
    contacts, rejects = tmp_path / "contacts.csv", tmp_path / "rejects.csv"
    phones, bad_lines = _write_contacts(contacts)
    _cli(env, "dnc", "add", "(212) 555-0110", "--region", "US")

    created = json.loads(_cli(
        env, "campaign", "create", "--agent", AGENT, "--contacts", str(contacts),
        "--region", "US", "--window", "00:00-23:59", "--max-attempts", str(MAX_ATTEMPTS),
        "--retry", "no_answer=0.3s,busy=0.3s,voicemail=0.3s,failed=0.3s", "--min-gap", "0.3s",
        "--max-concurrent", "3", "--rejects", str(rejects), "--json").stdout)
    assert (created["imported"], created["rejected"], created["do_not_call"]) == (20, 4, 1)
    with rejects.open(encoding="utf-8") as file:
        reported = {int(row["line"]): row["reason"] for row in csv.DictReader(file)}
    assert reported.keys() == bad_lines.keys()
    assert all(reported[line].startswith(start) for line, start in bad_lines.items())
    campaign = created["id"]

    _cli(env, "dnc", "add", LISTED_AFTER_IMPORT)
    refused = _cli(env, "campaign", "pause", campaign, code=2)
    assert "cannot pause a campaign that is draft" in refused.stderr
    _cli(env, "campaign", "start", campaign, "--no-wait")
    _cli(env, "campaign", "pause", campaign)
    paused = json.loads(_cli(env, "campaign", "status", campaign, "--json").stdout)
    assert paused["status"] == "paused"
    assert paused["counts"] == {"pending": 19, "do_not_call": 1}

    ran = _cli(env, "campaign", "resume", campaign, "--carrier",
               "tests.campaign_carriers:InstantCarrier", "--max-calls", "4")
    assert f"campaign {campaign} is completed" in ran.stdout
    assert f"campaign {campaign}: 20/20 done" in ran.stderr  # the progress, off a terminal

    exported = _cli(env, "campaign", "export", campaign, "--format", "json").stdout
    assert "Person" not in exported and "1980-01-02" not in exported
    records = json.loads(exported)["contacts"]
    assert sorted(r["phone"] for r in records) == phones
    for record in records:
        _check_record(record)
    _check_csv_matches(env, campaign, tmp_path / "export.csv", records)

    listed = json.loads(_cli(env, "dnc", "list", "--json").stdout)
    opted_out = {r["phone"] for r in records if r["final_status"] == FinalStatus.OPTED_OUT}
    assert {e["phone"] for e in listed if e["source"] == "opt_out"} == opted_out
    assert len(opted_out) == 2
    confirmed = [r for r in records if r["outcome"] == "confirmed"]
    assert len(confirmed) == 8  # last digit 0-4, twice, less the two listed numbers


def _check_record(record: dict[str, object]) -> None:
    """The record says what the carrier's rule and the policy say must have happened."""
    phone = str(record["phone"])
    calls = record["calls"]
    assert isinstance(calls, list)
    assert record["state"] == "done"
    assert [c["attempt"] for c in calls] == list(range(1, len(calls) + 1))
    assert record["attempts"] == len(calls) <= MAX_ATTEMPTS
    if phone in (LISTED_BEFORE_IMPORT, LISTED_AFTER_IMPORT):
        assert (record["final_status"], calls) == (FinalStatus.DO_NOT_CALL, [])
        return
    expected = expected_report(phone)
    assert all(c["result"] == expected.result and c["dialed_at"] and c["ended_at"]
               for c in calls), record
    assert record["last_result"] == expected.result
    if expected.result != CallResult.ANSWERED:
        assert (record["final_status"], len(calls)) == (FinalStatus.EXHAUSTED, MAX_ATTEMPTS)
    elif expected.opted_out:
        assert (record["final_status"], len(calls)) == (FinalStatus.OPTED_OUT, 1)
    else:
        assert (record["final_status"], record["outcome"]) == (FinalStatus.COMPLETED, "confirmed")
        assert len(calls) == 1 and calls[0]["conversation_id"]


def _check_csv_matches(env: dict[str, str], campaign: str, out: Path,
                       records: list[dict[str, object]]) -> None:
    _cli(env, "campaign", "export", campaign, "--format", "csv", "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["phone"] for row in rows] == [r["phone"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["final_status"] == record["final_status"]
        assert int(row["attempts"]) == record["attempts"]
        assert row["external_id"] == record["external_id"]
        assert "name" not in row and "date_of_birth" not in row


def test_strict_import_refuses_the_whole_list(tmp_path: Path) -> None:
    """Refusals happen before the database is written: SQLite alone shows them."""
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ava.db'}",
           "AVA_DATA_DIR": str(tmp_path / "data"), "AVA_LOG_LEVEL": "warning"}
    contacts = tmp_path / "contacts.csv"
    _, bad_lines = _write_contacts(contacts)
    refused = _cli(env, "campaign", "create", "--agent", AGENT, "--contacts", str(contacts),
                   "--region", "US", "--strict", code=2)
    assert "4 rows refused: nothing imported (--strict)" in refused.stderr
    assert f"line {max(bad_lines)}: phone: the same number as line 2" in refused.stderr
    assert json.loads(_cli(env, "campaign", "list", "--json").stdout) == []
    unknown = _cli(env, "campaign", "create", "--agent", "nope", "--contacts", str(contacts),
                   code=2)
    assert "unknown agent 'nope'" in unknown.stderr
    missing = _cli(env, "campaign", "status", "f" * 32, code=2)
    assert "no campaign" in missing.stderr


def test_sigterm_lets_the_calls_under_way_finish(tmp_path: Path) -> None:
    """A stopped dialer places no new call but records every call it had started; the
    campaign stays running for another dialer."""
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ava.db'}",
           "AVA_DATA_DIR": str(tmp_path / "data"), "AVA_LOG_LEVEL": "info"}
    contacts = tmp_path / "contacts.csv"
    _write_contacts(contacts)
    campaign = json.loads(_cli(env, "campaign", "create", "--agent", AGENT, "--contacts",
                               str(contacts), "--region", "US", "--window", "00:00-23:59",
                               "--max-concurrent", "4", "--json").stdout)["id"]
    dialer = subprocess.Popen(
        [sys.executable, "-m", "app", "campaign", "start", campaign, "--carrier",
         "tests.campaign_carriers:SlowCarrier"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    early: list[str] = []
    try:
        assert dialer.stderr is not None
        for line in dialer.stderr:  # the signal handlers are in place once it says so
            early.append(line)
            if "dialer started" in line:
                break
        time_module.sleep(0.5)  # the first calls are under way (each lasts two seconds)
        dialer.send_signal(signal.SIGTERM)
        out, err = dialer.communicate(timeout=30)
    finally:
        dialer.kill()
    assert dialer.returncode == 0, "".join(early) + err
    assert "SIGTERM: no new calls" in err
    assert f"campaign {campaign} is running" in out
    records = json.loads(_cli(env, "campaign", "export", campaign, "--format", "json").stdout)
    calls = [call for record in records["contacts"] for call in record["calls"]]
    assert 1 <= len(calls) <= 4  # the first round only: nothing new after the signal
    assert all(call["result"] == "answered" and call["ended_at"] for call in calls)
    assert sum(r["state"] == "pending" for r in records["contacts"]) == 20 - len(calls)
