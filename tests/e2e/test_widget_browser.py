"""The chat widget in a real browser against the real server.

`python -m app serve` runs as a subprocess with its own data folder; Debian's chromium opens
the Riverside Clinic demo page and holds a whole appointment-confirmation chat through the
widget, reloading the page halfway. The transcript the page shows is then checked against
the one the admin API returns.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from playwright.sync_api import Browser, Page, expect

from app.redaction import redact_text
from tests.e2e.browser import checked_page, launch_chromium
from tests.server import API_KEY, RunningServer, running_server

pytestmark = pytest.mark.slow

ORG = "riverside-clinic"
HOST = f"#ava-widget-{ORG}"
ARTIFACTS = Path(__file__).parent / "artifacts"
REPLY_TIMEOUT_MS = 90_000
SLOT = re.compile(r"[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2} at \d{1,2}:\d{2} [AP]M")


class Shown(NamedTuple):
    seq: int
    role: str
    text: str


def _get(url: str, key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("widget-server")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with checked_page(browser) as opened:
        yield opened


def shown_turns(page: Page) -> list[Shown]:
    """Every message bubble in the transcript, in page order; a bubble not yet stored by
    the server (no seq) fails the test: the callers wait until everything is settled."""
    rows = page.get_by_test_id("ava-message").evaluate_all(
        """els => els.map(e => ({seq: e.dataset.seq || null, role: e.dataset.role,
             pending: e.dataset.pending,
             text: e.querySelector('[data-testid=ava-message-text]').textContent}))""")
    unsettled = [row for row in rows if row["seq"] is None or row["pending"] != "false"]
    assert not unsettled, f"messages not stored yet: {unsettled}"
    return [Shown(int(row["seq"]), row["role"], row["text"]) for row in rows]


def wait_for_turn(page: Page, seq: int, role: str) -> str:
    """The text of turn ``seq`` once the page shows it as a stored turn."""
    message = page.locator(f'{HOST} [data-testid=ava-message][data-seq="{seq}"]'
                           f'[data-role="{role}"][data-pending="false"]')
    expect(message).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    return message.get_by_test_id("ava-message-text").text_content() or ""


def say(page: Page, text: str) -> str:
    """Type ``text`` and press Enter; returns the agent's reply once the page shows it."""
    last = max(turn.seq for turn in shown_turns(page))
    box = page.get_by_test_id("ava-input")
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    # the caller's words are on the page at once: as typed until the server has stored
    # them, then as stored (redacted, when they hold a date of birth)
    shown = re.compile(f"{re.escape(text)}|{re.escape(redact_text(text))}")
    expect(page.get_by_test_id("ava-message").filter(has_text=shown).last).to_be_visible()
    wait_for_turn(page, last + 1, "caller")
    reply = wait_for_turn(page, last + 2, "agent")
    expect(page.get_by_test_id("ava-typing")).to_be_hidden()
    return reply


def open_widget(page: Page) -> None:
    """Open the chat panel unless the page already restored it open."""
    panel = page.get_by_test_id("ava-panel")
    if not panel.is_visible():
        page.get_by_role("button", name="Open chat").click()
    expect(panel).to_be_visible()


def demo_contact(page: Page) -> tuple[str, str]:
    """The name and date of birth the demo page tells the visitor to give."""
    text = page.get_by_test_id("demo-contact").text_content() or ""
    found = re.fullmatch(r"\s*(?P<name>[^,]+), born (?P<dob>.+?)\s*", text)
    assert found, f"demo contact not shown as 'Name, born DATE': {text!r}"
    return found["name"], found["dob"]


def test_a_whole_chat_reschedules_and_survives_a_reload(server: RunningServer, page: Page) -> None:
    page.goto(f"{server.url}/demo/{ORG}")
    name, dob = demo_contact(page)
    open_widget(page)
    panel = page.get_by_test_id("ava-panel")
    expect(panel).to_have_attribute("role", "dialog")
    assert f"May I speak with {name}" in wait_for_turn(page, 1, "agent")

    assert "date of birth" in say(page, "Yes, speaking.")
    stated = say(page, dob)
    assert "appointment with" in stated and "make it" in stated, stated
    assert "pick another time" in say(page, "No, I can't make it.")

    # Reload after verification: the page must show exactly the same turns again.
    conversation = panel.get_attribute("data-conversation-id")
    assert conversation
    before = shown_turns(page)
    assert [turn.seq for turn in before] == list(range(1, 8))
    assert [turn.role for turn in before] == ["agent", "caller"] * 3 + ["agent"]
    page.reload()
    open_widget(page)
    wait_for_turn(page, before[-1].seq, "agent")
    assert shown_turns(page) == before
    expect(panel).to_have_attribute("data-conversation-id", conversation)

    assert "day and time" in say(page, "Yes please.")
    offer = say(page, "The earliest you have.")
    slots = SLOT.findall(offer)
    assert 1 <= len(slots) <= 3, offer
    confirmed = say(page, "The first one.")
    assert f"now on {slots[0]}" in confirmed, (slots, confirmed)
    assert "anything else I can help you with" in confirmed
    say(page, "No, that's everything.")
    expect(page.get_by_test_id("ava-input")).to_be_disabled()
    expect(page.get_by_test_id("ava-send")).to_be_disabled()
    expect(page.get_by_test_id("ava-notice")).to_contain_text("ended")
    shown = shown_turns(page)

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
    shot = ARTIFACTS / "widget-rescheduled.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")

    assert _get(f"{server.url}/api/v1/conversations/{conversation}")[0] == 401
    status, record = _get(f"{server.url}/api/v1/conversations/{conversation}", API_KEY)
    assert status == 200, status
    stored = [Shown(turn["seq"], turn["role"], turn["text"]) for turn in record["turns"]]
    assert stored == shown
    assert record["outcome"] == "rescheduled" and record["status"] == "ended", record
    assert record["channel"] == "web" and record["organization"] == ORG
    assert not any(dob in turn.text for turn in stored), "the date of birth was stored"


def test_keyboard_opens_and_closes_the_chat(server: RunningServer, page: Page) -> None:
    page.goto(f"{server.url}/demo/{ORG}")
    bubble = page.get_by_role("button", name="Open chat")
    panel = page.get_by_test_id("ava-panel")
    expect(bubble).to_be_visible()
    expect(panel).to_be_hidden()
    for _ in range(15):
        page.keyboard.press("Tab")
        if bubble.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        pytest.fail("Tab never reached the chat bubble")
    expect(bubble).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    box = page.get_by_role("textbox", name="Your message")
    expect(box).to_be_focused()
    expect(page.get_by_test_id("ava-bubble")).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("ava-transcript")).to_have_attribute("aria-live", "polite")
    expect(panel).to_have_attribute("aria-label", "Chat with Riverside Clinic")
    wait_for_turn(page, 1, "agent")  # the greeting arrives while the panel is open

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bubble).to_be_focused()
    expect(bubble).to_have_attribute("aria-expanded", "false")


# Fault injection in the page (the server stays real): every socket the widget opens is
# recorded with the frames it sends, and while ``__avaOffline`` is set new sockets go to a
# closed port, as when the network is down; ``__avaDropAfterSend`` closes the socket the
# moment the next message has gone out, before any ack can come back.
CUT_NETWORK = """
(() => {
  const Real = window.WebSocket;
  window.__avaSockets = []; window.__avaSent = []; window.__avaOffline = false;
  window.__avaDropAfterSend = false;
  function Wrapped(url, protocols) {
    const ws = new Real(window.__avaOffline ? "ws://127.0.0.1:9/" : url, protocols);
    const send = ws.send.bind(ws);
    ws.send = data => {
      window.__avaSent.push(data); send(data);
      if (window.__avaDropAfterSend && JSON.parse(data).type === "message") {
        window.__avaDropAfterSend = false; ws.close();
      }
    };
    window.__avaSockets.push(ws);
    return ws;
  }
  Wrapped.prototype = Real.prototype;
  Object.assign(Wrapped, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Wrapped;
})();
"""


def sent_messages(page: Page) -> list[dict[str, Any]]:
    frames = [json.loads(raw) for raw in page.evaluate("window.__avaSent")]
    return [frame for frame in frames if frame["type"] == "message"]


def test_a_dropped_connection_loses_and_doubles_nothing(server: RunningServer, page: Page) -> None:
    page.add_init_script(CUT_NETWORK)
    page.goto(f"{server.url}/demo/{ORG}")
    _, dob = demo_contact(page)
    open_widget(page)
    wait_for_turn(page, 1, "agent")

    # The socket drops the moment a message went out, before its ack: the widget
    # reconnects with its session, and the message is taken once.
    box = page.get_by_test_id("ava-input")
    box.fill("Yes, speaking.")
    page.evaluate("window.__avaDropAfterSend = true")
    box.press("Enter")
    assert "date of birth" in wait_for_turn(page, 3, "agent")
    # Sent again under the same id unless the new socket's transcript already held the
    # reply (the widget re-sends what has no agent turn after it).
    sends = [m for m in sent_messages(page) if m["text"] == "Yes, speaking."]
    assert len(sends) in (1, 2) and len({m["id"] for m in sends}) == 1, sends
    assert page.evaluate("window.__avaSockets.length") == 2

    # Offline: the message typed meanwhile waits on the page and goes out on reconnect.
    page.evaluate("window.__avaOffline = true; window.__avaSockets.at(-1).close()")
    expect(page.get_by_test_id("ava-status")).to_have_text("Reconnecting…")
    box.fill(dob)
    box.press("Enter")
    pending = page.locator(f'{HOST} [data-testid=ava-message][data-pending="true"]')
    expect(pending).to_have_text(re.compile(re.escape(dob)))
    expect(page.get_by_test_id("ava-notice")).to_contain_text("Not connected")
    page.wait_for_timeout(1500)  # several failed reconnects; the message must stay queued
    expect(pending).to_have_count(1)
    assert not [m for m in sent_messages(page) if m["text"] == dob]
    page.evaluate("window.__avaOffline = false")
    assert "make it" in wait_for_turn(page, 5, "agent")
    expect(page.get_by_test_id("ava-status")).to_have_text("Online")
    expect(page.get_by_test_id("ava-notice")).to_have_text("")

    shown = shown_turns(page)
    assert [(turn.seq, turn.role) for turn in shown] == [
        (1, "agent"), (2, "caller"), (3, "agent"), (4, "caller"), (5, "agent")]
    conversation = page.get_by_test_id("ava-panel").get_attribute("data-conversation-id")
    status, record = _get(f"{server.url}/api/v1/conversations/{conversation}", API_KEY)
    assert status == 200
    assert [Shown(t["seq"], t["role"], t["text"]) for t in record["turns"]] == shown


def test_a_refused_session_starts_a_new_chat(server: RunningServer, page: Page) -> None:
    page.goto(f"{server.url}/demo/{ORG}")
    key = f"ava-widget:{ORG}:appointment_confirmation"
    page.evaluate("""key => { sessionStorage.setItem(key, JSON.stringify("forged.session"));
                              sessionStorage.setItem(key + ":open", "true"); }""", key)
    page.reload()
    expect(page.get_by_test_id("ava-panel")).to_be_visible()
    expect(page.get_by_test_id("ava-notice")).to_contain_text("expired")
    assert "May I speak with" in wait_for_turn(page, 1, "agent")
    assert page.evaluate("key => JSON.parse(sessionStorage.getItem(key))", key) != "forged.session"
    expect(page.get_by_test_id("ava-input")).to_be_enabled()


# Counts, every few milliseconds, how many caller bubbles show each text at once.
WATCH_DOUBLES = """
(() => {
  window.__avaMostShown = {};
  setInterval(() => {
    const host = document.querySelector("#ava-widget-riverside-clinic");
    if (!host || !host.shadowRoot) return;
    const counts = {};
    for (const el of host.shadowRoot.querySelectorAll(
        "[data-testid=ava-message][data-role=caller] [data-testid=ava-message-text]")) {
      counts[el.textContent] = (counts[el.textContent] || 0) + 1;
    }
    for (const [text, n] of Object.entries(counts)) {
      window.__avaMostShown[text] = Math.max(window.__avaMostShown[text] || 0, n);
    }
  }, 4);
})();
"""


def test_a_reload_while_the_agent_answers_shows_the_message_once(
        server: RunningServer, page: Page) -> None:
    page.add_init_script(WATCH_DOUBLES)
    page.goto(f"{server.url}/demo/{ORG}")
    open_widget(page)
    wait_for_turn(page, 1, "agent")
    box = page.get_by_test_id("ava-input")
    box.fill("Yes, speaking.")
    box.press("Enter")
    page.reload()  # the reply is still being made: stored caller turn, no ack yet
    open_widget(page)
    assert "date of birth" in wait_for_turn(page, 3, "agent")
    expect(page.locator(f"{HOST} [data-testid=ava-message]")).to_have_count(3)
    assert [(t.seq, t.role, t.text) for t in shown_turns(page)][1] == (2, "caller",
                                                                      "Yes, speaking.")
    assert page.evaluate("window.__avaMostShown")["Yes, speaking."] == 1
