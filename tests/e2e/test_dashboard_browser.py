"""The campaigns dashboard in a real browser against the real server.

`python -m app serve` runs as a subprocess on an SQLite file; the test writes campaigns and
their dial attempts into that file (real claims and records, as a dialer stores them) while
Debian's chromium shows ``/campaigns``. The page must show the numbers the database holds,
draw them as charts, follow new attempts live without a reload, pause a campaign, and say
clearly when the key is wrong or the server cannot be reached. A screenshot is saved in
``tests/e2e/artifacts/campaign_dashboard.png``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.campaigns.claims import CallReport
from app.campaigns.policy import CallResult
from app.campaigns.store import Campaign, CampaignStore
from app.db import open_engine
from tests.dashboard_data import (
    ANSWERED_CONFIRMED,
    ANSWERED_RESCHEDULED,
    BUSY,
    NO_ANSWER,
    OPTED_OUT,
    VOICEMAIL,
    dial,
    finish,
    running_campaign,
)
from tests.e2e.browser import checked_page, launch_chromium
from tests.server import API_KEY, RunningServer, running_server

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "artifacts"
FAILED = CallReport(CallResult.FAILED, detail="503 Service Unavailable")
T = TypeVar("T")


class Database:
    """The server's SQLite file, written by the test from a worker thread: the sync
    playwright API runs its own event loop in the test's thread, so database coroutines
    run on a fresh loop (and engine) there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._worker = ThreadPoolExecutor(max_workers=1)

    def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        async def with_engine() -> T:
            engine = await open_engine(self.url)
            try:
                return await work(engine)
            finally:
                await engine.dispose()

        return self._worker.submit(asyncio.run, with_engine()).result(timeout=60)

    def close(self) -> None:
        self._worker.shutdown()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("dashboard-db")
    opened = Database(f"sqlite+aiosqlite:///{folder / 'ava.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database: Database,
           ) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("dashboard-server"), database.url) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with checked_page(browser, 1280, 900) as opened:
        yield opened


def sign_in(page: Page, server: RunningServer, key: str = API_KEY) -> None:
    page.goto(f"{server.url}/campaigns")
    page.get_by_label("Admin API key").fill(key)
    page.get_by_role("button", name="Show campaigns").click()


def values(chart: Locator, item: str) -> dict[str, int]:
    """What a chart draws: each bar's, column's or segment's key and value."""
    drawn = chart.locator(item).evaluate_all(
        "els => els.map(e => [e.dataset.key || e.dataset.start, Number(e.dataset.value)])")
    return {key: value for key, value in drawn}


def labels(chart: Locator) -> dict[str, str]:
    """Each bar's label and the number written beside it, as the reader sees them."""
    return dict(chart.locator(".bar").evaluate_all(
        """els => els.map(e => [e.querySelector('.bar-label').textContent,
                                 e.querySelector('.bar-value').textContent])"""))


def expect_charts(page: Page, contacts: dict[str, int], outcomes: dict[str, int],
                  results: dict[str, int], finished: int) -> None:
    """Wait until the charts show these numbers (the page polls every 2 s)."""
    donut = page.get_by_test_id("chart-contacts")
    nonzero = {key: value for key, value in contacts.items() if value}
    expect(donut.locator(".segment")).to_have_count(len(nonzero))
    expect(donut.get_by_test_id("donut-total")).to_have_text(str(sum(contacts.values())))
    assert values(donut, ".segment") == nonzero
    expect(page.get_by_test_id("chart-outcomes").locator(".bar")).to_have_count(len(outcomes))
    expect(page.get_by_test_id("chart-results").locator(".bar")).to_have_count(7)
    shown: dict[str, Any] = {}
    for _ in range(3):  # a poll may land between two reads: read until they agree
        shown = {"outcomes": values(page.get_by_test_id("chart-outcomes"), ".bar"),
                 "results": values(page.get_by_test_id("chart-results"), ".bar"),
                 "hourly": sum(values(page.get_by_test_id("chart-hourly"), ".column").values())}
        if shown == {"outcomes": outcomes, "results": results, "hourly": finished}:
            break
        page.wait_for_timeout(500)
    assert shown == {"outcomes": outcomes, "results": results, "hourly": finished}
    assert labels(page.get_by_test_id("chart-outcomes")) == {
        key.replace("_", " "): str(value) for key, value in outcomes.items()}


def test_the_dashboard_shows_a_campaign_live_and_pauses_it(
        server: RunningServer, database: Database, page: Page) -> None:
    async def setup(engine: AsyncEngine) -> tuple[Campaign, list[Any]]:
        welcome = await running_campaign(engine, "Welcome calls", contacts=3)
        await dial(engine, welcome, [ANSWERED_CONFIRMED] * 3)  # all answered: completed
        renewals = await running_campaign(engine, "Spring renewals", contacts=12, blocked=1)
        under_way = await dial(engine, renewals, [ANSWERED_CONFIRMED, ANSWERED_CONFIRMED,
                                                  ANSWERED_RESCHEDULED, BUSY, NO_ANSWER],
                               still_dialing=2)
        return renewals, under_way

    renewals, under_way = database.run(setup)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, server)
    rows = page.get_by_test_id("campaign-row")
    expect(rows).to_have_count(2)
    row = rows.filter(has_text="Spring renewals")
    expect(row.get_by_test_id("campaign-progress")).to_have_text("6 of 12 (50%)")
    expect(row.get_by_test_id("status-badge")).to_have_text("running")
    expect(rows.filter(has_text="Welcome calls").get_by_test_id("status-badge")).to_have_text(
        "completed")
    expect(page.get_by_test_id("detail-title")).to_have_text("Spring renewals")
    expect(page.get_by_test_id("figure-contacts")).to_have_text("12")
    expect_charts(page,
                  contacts={"pending": 4, "dialing": 2, "completed": 3, "opted_out": 0,
                            "do_not_call": 1, "exhausted": 2},
                  outcomes={"confirmed": 2, "rescheduled": 1},
                  results={"answered": 3, "no_answer": 1, "busy": 1, "voicemail": 0,
                           "failed": 0, "interrupted": 0, "dialing": 2},
                  finished=5)
    expect(page.get_by_test_id("figures")).to_have_attribute("aria-live", "polite")

    # More calls end while the page is open: it follows them without a reload.
    page.evaluate("window.__sameDocument = true")

    async def more_calls(engine: AsyncEngine) -> None:
        await finish(engine, renewals, under_way, [ANSWERED_CONFIRMED, VOICEMAIL])
        await dial(engine, renewals, [OPTED_OUT, FAILED])

    database.run(more_calls)
    expect(row.get_by_test_id("campaign-progress")).to_have_text("10 of 12 (83%)")
    expect_charts(page,
                  contacts={"pending": 2, "dialing": 0, "completed": 4, "opted_out": 1,
                            "do_not_call": 1, "exhausted": 4},
                  outcomes={"confirmed": 3, "rescheduled": 1},
                  results={"answered": 5, "no_answer": 1, "busy": 1, "voicemail": 1,
                           "failed": 1, "interrupted": 0, "dialing": 0},
                  finished=9)
    expect(page.get_by_test_id("figure-dialing")).to_have_text("0")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("detail-status")).to_have_text("paused")
    expect(row.get_by_test_id("status-badge")).to_have_text("paused")
    expect(page.get_by_test_id("pause")).to_be_disabled()
    expect(page.get_by_test_id("resume")).to_be_focused()
    assert database.run(lambda engine: CampaignStore(engine).get(renewals.id)).status == "paused"

    elsewhere = [url for url in requested if not url.startswith(f"{server.url}/")]
    assert not elsewhere, f"the page fetched from elsewhere: {elsewhere}"
    assert f"{server.url}/campaigns/dashboard_charts.js" in requested

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
    shot = ARTIFACTS / "campaign_dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    # Keyboard only: Tab to the other campaign's name and choose it with Enter.
    page.get_by_role("button", name="Welcome calls").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("detail-title")).to_have_text("Welcome calls")
    expect(page.get_by_test_id("detail-status")).to_have_text("completed")
    expect(page.get_by_test_id("pause")).to_be_disabled()
    expect(page.get_by_test_id("resume")).to_be_disabled()


def test_a_wrong_key_and_a_lost_server_are_said_plainly(server: RunningServer,
                                                       page: Page) -> None:
    sign_in(page, server, key=API_KEY + "x")
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text("API key was refused")
    expect(page.get_by_test_id("key-form")).to_be_visible()
    expect(page.get_by_label("Admin API key")).to_be_focused()
    expect(page.get_by_test_id("campaign-table")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('ava-dashboard:api-key')") is None

    page.get_by_label("Admin API key").fill(API_KEY)
    page.get_by_role("button", name="Show campaigns").click()
    expect(page.get_by_test_id("campaign-table")).to_be_visible()
    expect(notice).to_be_hidden()

    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    expect(notice).to_contain_text("Cannot reach the server")
    expect(page.get_by_test_id("campaign-table")).to_be_visible()  # the last numbers stay
    page.unroute("**/api/v1/**")
    expect(notice).to_be_hidden(timeout=10_000)  # the next poll gets through again
