"""The campaign admin API on the real server, over SQLite and PostgreSQL.

The test writes a campaign and its dial attempts into the database the server reads (real
claims and records, as a dialer stores them), then checks what ``/api/v1/campaigns``
answers: progress, breakdowns, attempts per hour, no personal data, the key, unknown ids,
and pause / resume with the moves that are not allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.campaigns.store import CampaignStore
from app.db import open_engine
from tests.dashboard_data import (
    ANSWERED_CONFIRMED,
    ANSWERED_RESCHEDULED,
    BUSY,
    NO_ANSWER,
    OPTED_OUT,
    PERSONAL,
    VOICEMAIL,
    dial,
    running_campaign,
)
from tests.server import RunningServer, running_server

pytestmark = pytest.mark.slow

REPORTS = [ANSWERED_CONFIRMED, ANSWERED_CONFIRMED, ANSWERED_RESCHEDULED, OPTED_OUT, BUSY,
           NO_ANSWER, VOICEMAIL]
# 10 contacts: 1 on the do-not-call list, 7 attempts recorded, 1 call under way, 1 waiting.
COUNTS = {"pending": 1, "dialing": 1, "completed": 3, "opted_out": 1, "do_not_call": 1,
          "exhausted": 3}
RESULTS = {"answered": 4, "no_answer": 1, "busy": 1, "voicemail": 1, "failed": 0,
           "interrupted": 0, "dialing": 1}
OUTCOMES = {"confirmed": 2, "rescheduled": 1}
TIMEOUT_S = 30


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server", database_url) as running:
        yield running


def _call(server: RunningServer, method: str, path: str, key: bool = True,
          ) -> tuple[int, Any, str]:
    response = requests.request(method, server.url + path, timeout=TIMEOUT_S,
                                headers=server.auth if key else {})
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response.status_code, response.json(), response.text


def _error_code(server: RunningServer, method: str, path: str, key: bool = True,
                ) -> tuple[int, str]:
    status, body, _ = _call(server, method, path, key)
    return status, body["error"]["code"]


async def test_campaign_progress_breakdowns_and_moves(database_url: str,
                                                      server: RunningServer) -> None:
    engine = await open_engine(database_url)
    try:
        store = CampaignStore(engine)
        campaign = await running_campaign(engine, "Renewal reminders", contacts=10, blocked=1)
        await dial(engine, campaign, REPORTS, still_dialing=1)
        draft, _ = await store.create("Not started", "appointment_confirmation",
                                      campaign.options, [])

        assert _error_code(server, "GET", "/api/v1/campaigns", key=False) == (401, "unauthorized")
        status, listed, text = _call(server, "GET", "/api/v1/campaigns")
        assert status == 200
        assert [c["id"] for c in listed["campaigns"]] == [campaign.id, draft.id]
        summary = listed["campaigns"][0]
        assert summary["name"] == "Renewal reminders" and summary["status"] == "running"
        assert summary["agent"] == "appointment_confirmation"
        assert summary["counts"] == COUNTS and summary["total"] == 10 and summary["done"] == 8
        assert summary["window"] == "00:00-23:59 mon,tue,wed,thu,fri,sat,sun"
        assert summary["max_concurrent"] == 10 and summary["max_attempts"] == 1
        assert summary["completed_at"] is None
        assert listed["campaigns"][1]["total"] == 0 and listed["campaigns"][1]["done"] == 0
        assert not any(personal in text for personal in PERSONAL)

        status, detail, text = _call(server, "GET", f"/api/v1/campaigns/{campaign.id}")
        assert status == 200
        assert {k: detail[k] for k in summary} == summary
        assert detail["results"] == RESULTS and detail["outcomes"] == OUTCOMES
        hours = detail["attempts_per_hour"]
        assert 1 <= len(hours) <= 2  # created moments ago (2 if an hour began since)
        assert hours[-1]["attempts"] >= 1 and sum(h["attempts"] for h in hours) == 7
        assert hours[-1]["start"].endswith(":00:00+00:00")
        assert sum(detail["webhooks"].values()) == 7, detail["webhooks"]  # call.finished
        assert not any(personal in text for personal in PERSONAL)

        _check_unknown_ids(server)
        _check_page(server)
        await _check_moves(server, store, campaign.id, draft.id)
    finally:
        await engine.dispose()


def _check_unknown_ids(server: RunningServer) -> None:
    unknown = uuid.uuid4().hex
    for method, path in [("GET", f"/api/v1/campaigns/{unknown}"),
                         ("GET", "/api/v1/campaigns/not-a-campaign"),
                         ("POST", f"/api/v1/campaigns/{unknown}/pause"),
                         ("POST", f"/api/v1/campaigns/{unknown}/resume")]:
        assert _error_code(server, method, path) == (404, "not_found"), (method, path)
        assert _error_code(server, method, path, key=False) == (401, "unauthorized")


def _check_page(server: RunningServer) -> None:
    """The dashboard page and its files load without a key; they hold no data."""
    page = requests.get(f"{server.url}/campaigns", timeout=TIMEOUT_S)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'src="/campaigns/dashboard.js"' in page.text
    for name in ("dashboard.js", "dashboard_charts.js", "dashboard.css"):
        asset = requests.get(f"{server.url}/campaigns/{name}", timeout=TIMEOUT_S)
        assert asset.status_code == 200 and asset.text, name
    assert requests.get(f"{server.url}/campaigns/ava.db", timeout=TIMEOUT_S).status_code == 404


async def _check_moves(server: RunningServer, store: CampaignStore, campaign_id: str,
                       draft_id: str) -> None:
    path = f"/api/v1/campaigns/{campaign_id}"
    status, paused, _ = _call(server, "POST", f"{path}/pause")
    assert status == 200 and paused["status"] == "paused" and paused["total"] == 10
    assert (await store.get(campaign_id)).status == "paused"
    assert _error_code(server, "POST", f"{path}/pause") == (409, "conflict")

    status, resumed, _ = _call(server, "POST", f"{path}/resume")
    assert status == 200 and resumed["status"] == "running"
    assert (await store.get(campaign_id)).status == "running"
    assert _error_code(server, "POST", f"{path}/resume") == (409, "conflict")

    for move in ("pause", "resume"):  # a draft is started, not resumed
        assert _error_code(server, "POST", f"/api/v1/campaigns/{draft_id}/{move}") == (
            409, "conflict")
    assert (await store.get(draft_id)).status == "draft"
