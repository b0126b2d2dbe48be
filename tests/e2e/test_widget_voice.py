"""The chat widget's microphone button in a real browser.

Chromium's fake microphone plays a WAV made with espeak-ng; the widget streams it to the
real server, which transcribes it, answers, and speaks back; the page must play the agent's
audio and show both sides as turns, which the admin API must hold too. Two more tests put
a scripted socket in place of the server (playwright's WebSocket routing) to check exactly
what the page sends (through the AudioWorklet and through the ScriptProcessor fallback) and
how it plays, clears and stops audio. The last one blocks the microphone.

The page is watched by an init script (``PROBE``) that wraps the Web Audio, getUserMedia and
WebSocket APIs; the widget itself carries no test hooks.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

from app.caller_voice import speak
from tests.e2e.browser import fake_microphone, launch_chromium
from tests.e2e.test_widget_browser import demo_contact, open_widget, say, wait_for_turn
from tests.server import RunningServer, running_server
from voice.wavfile import write_wav

pytestmark = pytest.mark.slow

ORG = "riverside-clinic"
HOST = f"#ava-widget-{ORG}"
ARTIFACTS = Path(__file__).parent / "artifacts"
FRAME_BYTES = 640  # 20 ms of 16 kHz int16
AGENT_RATE = 22050
SPEECH_TIMEOUT_MS = 150_000  # speech models on two busy cores; the WAV loops every ~33 s

PROBE = """
(() => {
  const probe = window.__avaProbe = {sources: [], streams: [], sent: [], received: [],
                                     worklets: []};
  if (window.AudioWorkletNode) {
    window.AudioWorkletNode = class extends window.AudioWorkletNode {
      constructor(ctx, name, options) { super(ctx, name, options); probe.worklets.push(name); }
    };
  }
  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (when, ...rest) {
    probe.sources.push({node: this, ctx: this.context, when: when || 0,
                        duration: this.buffer.duration, rate: this.buffer.sampleRate,
                        scheduledAt: this.context.currentTime, stopped: false});
    return start.call(this, when, ...rest);
  };
  const stop = AudioBufferSourceNode.prototype.stop;
  AudioBufferSourceNode.prototype.stop = function (...args) {
    const entry = probe.sources.find(s => s.node === this);
    if (entry) { entry.stopped = true; entry.stoppedAt = this.context.currentTime; }
    return stop.apply(this, args);
  };
  const getUserMedia = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = function (constraints) {
    probe.constraints = constraints;
    return getUserMedia.call(this, constraints).then(stream => {
      probe.streams.push(stream);
      return stream;
    });
  };
  const describe = data => typeof data === "string" ? JSON.parse(data).type : data.byteLength;
  const Real = window.WebSocket;
  function Watched(url, protocols) {
    const ws = new Real(url, protocols);
    const send = ws.send.bind(ws);
    ws.send = data => { probe.sent.push(describe(data)); send(data); };
    ws.addEventListener("message", ev => probe.received.push(describe(ev.data)));
    ws.addEventListener("close", () => probe.received.push("closed"));
    return ws;
  }
  Watched.prototype = Real.prototype;
  Object.assign(Watched, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Watched;

  // What the page has scheduled, in seconds of audio, and what it stopped early.
  probe.played = () => probe.sources.reduce((total, s) => total + s.duration, 0);
  probe.schedule = () => probe.sources.map(s => ({when: s.when, duration: s.duration,
    rate: s.rate, scheduledAt: s.scheduledAt, stopped: s.stopped}));
  // Scheduled sources still to play (or playing) that nobody stopped.
  probe.pending = () => probe.sources.filter(
    s => !s.stopped && s.ctx.state !== "closed" && s.when + s.duration > s.ctx.currentTime).length;
  probe.liveTracks = () => probe.streams.flatMap(s => s.getTracks())
    .filter(t => t.readyState === "live").length;
})();
"""


def probe(page: Page, expression: str) -> Any:
    return page.evaluate(f"window.__avaProbe.{expression}")


def frames_sent(page: Page) -> list[int]:
    """The sizes of the binary frames the page sent."""
    return [item for item in probe(page, "sent") if isinstance(item, int)]


def _silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.int16)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("widget-voice"), timeout_s=240,
                        env={"AVA_PRELOAD_SPEECH_MODELS": "true"}) as running:
        yield running


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The caller's side: quiet while the agent asks its question, one answer, then quiet
    for long enough that chromium's looping of the file does not talk over the agent."""
    rate = 48000
    words = speak("Yes, this is Maria.", rate)
    path = tmp_path_factory.mktemp("caller") / "caller.wav"
    write_wav(path, np.concatenate([_silence(6, rate), words, _silence(25, rate)]), rate)
    return path


def _new_page(browser: Browser, **context_options: Any) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, **context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(PROBE)
    return page, errors


def _api(server: RunningServer, path: str) -> Any:
    request = urllib.request.Request(f"{server.url}{path}", headers=server.auth)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _mic(page: Page) -> Locator:
    return page.get_by_test_id("ava-mic")


def test_a_caller_talks_to_the_agent_through_the_microphone(
        server: RunningServer, caller_wav: Path) -> None:
    with launch_chromium(extra_args=fake_microphone(caller_wav)) as browser:
        page, errors = _new_page(browser)
        page.goto(f"{server.url}/demo/{ORG}")
        _, dob = demo_contact(page)
        open_widget(page)
        assert "May I speak with" in wait_for_turn(page, 1, "agent")

        mic = _mic(page)
        expect(mic).to_have_accessible_name("Start voice")
        expect(mic).to_have_attribute("aria-pressed", "false")
        page.get_by_role("button", name="Start voice").click()
        expect(mic).to_have_accessible_name("Stop voice")
        expect(mic).to_have_attribute("aria-pressed", "true")
        expect(mic).to_have_attribute("data-state", "live", timeout=SPEECH_TIMEOUT_MS)
        expect(page.get_by_test_id("ava-status")).to_have_text("Listening…")
        assert probe(page, "constraints")["audio"] == {
            "echoCancellation": True, "noiseSuppression": True, "channelCount": 1}

        # The agent says its open question aloud first: audio, not a new turn.
        page.wait_for_function("window.__avaProbe.played() > 1", timeout=SPEECH_TIMEOUT_MS)
        assert {s["rate"] for s in probe(page, "schedule()")} == {AGENT_RATE}

        messages = page.locator(f"{HOST} [data-testid=ava-message]")
        caller = messages.filter(has_text=re.compile("maria", re.IGNORECASE))
        # At least once: chromium loops the file, and a slow machine may hear it again (or
        # split "Yes, ... Maria" in two), each time getting the question again.
        expect(caller.and_(page.locator("[data-role=caller]")).first).to_be_visible(
            timeout=SPEECH_TIMEOUT_MS)
        question = messages.filter(has_text="date of birth")
        expect(question.first).to_be_visible(timeout=SPEECH_TIMEOUT_MS)
        expect(question.first).to_have_attribute("data-role", "agent")
        heard = probe(page, "played()")
        # ... and speaks that question too
        page.wait_for_function(f"window.__avaProbe.played() > {heard} + 1",
                               timeout=SPEECH_TIMEOUT_MS)

        sent = probe(page, "sent")
        assert sent.index("voice.start") < next(
            i for i, item in enumerate(sent) if isinstance(item, int))
        sizes = frames_sent(page)
        assert len(sizes) > 100 and set(sizes) == {FRAME_BYTES}, sizes[:20]

        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / ".gitignore").write_text("*\n")  # test output, never committed
        shot = ARTIFACTS / "widget-voice.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")

        page.get_by_role("button", name="Stop voice").click()
        expect(mic).to_have_attribute("aria-pressed", "false")
        expect(mic).to_have_accessible_name("Start voice")
        page.wait_for_function("window.__avaProbe.received.includes('voice.ended')",
                               timeout=30_000)
        assert probe(page, "liveTracks()") == 0
        expect(page.get_by_test_id("ava-status")).to_have_text("Online")

        # The chat goes on in text.
        assert "appointment with" in say(page, dob)
        conversation = page.get_by_test_id("ava-panel").get_attribute("data-conversation-id")
        shown = page.get_by_test_id("ava-message-text").all_text_contents()
        assert not errors, errors

    listed = _api(server, f"/api/v1/conversations?organization={ORG}")["conversations"]
    assert conversation in [c["id"] for c in listed]
    stored = _api(server, f"/api/v1/conversations/{conversation}")
    texts = [turn["text"] for turn in stored["turns"]]
    assert texts == shown
    roles = {turn["text"]: turn["role"] for turn in stored["turns"]}
    said = [text for text in texts if "maria" in text.lower() and roles[text] == "caller"]
    assert said, texts
    assert any("date of birth" in text and roles[text] == "agent" for text in texts), texts
    assert stored["status"] == "active"  # stopping voice does not end the chat


class ScriptedServer:
    """Stands in for the chat socket: a conversation with one agent turn, voice.ready at
    once, a canned reply to a typed message. Records what the page sends, in order."""

    def __init__(self) -> None:
        self.route: WebSocketRoute | None = None
        self.log: list[tuple[float, str | int]] = []  # (time, message type or frame size)
        self.frames: list[bytes] = []
        self.seq = 1
        self.hold_ended = False  # answer voice.stop with voice.ended only when the test says

    def attach(self, route: WebSocketRoute) -> None:
        self.route = route
        route.on_message(self._take)
        route.on_close(lambda code, _: self.log.append((time.monotonic(), f"closed {code}")))
        self.send({"type": "ready", "conversation_id": "c0ffee", "session": "s.scripted",
                   "turns": [self.turn("agent", "May I speak with Maria?", 1)],
                   "ended": False, "outcome": None})

    @staticmethod
    def turn(role: str, text: str, seq: int) -> dict[str, Any]:
        return {"seq": seq, "role": role, "text": text, "act": None}

    def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.route is not None
        self.route.send(message if isinstance(message, bytes) else json.dumps(message))

    def _take(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.log.append((time.monotonic(), len(message)))
            self.frames.append(message)
            return
        data = json.loads(message)
        self.log.append((time.monotonic(), data["type"]))
        if data["type"] == "voice.start":
            self.send({"type": "voice.ready", "sample_rate": 16000,
                       "agent_sample_rate": AGENT_RATE})
        elif data["type"] == "voice.stop" and not self.hold_ended:
            self.send({"type": "voice.ended", "by": "caller"})
        elif data["type"] == "message":
            self.send({"type": "ack", "id": data["id"], "seq": self.seq + 1})
            self.send({"type": "turn", "turn": self.turn("caller", data["text"], self.seq + 1)})
            self.send({"type": "turn", "turn": self.turn("agent", "Thank you.", self.seq + 2)})
            self.seq += 2

    def check_microphone(self, page: Page) -> None:
        """Two seconds of microphone: nothing binary before voice.start (the server would
        hang up), 20 ms frames at real-time pace, and the fake microphone's beeps in them."""
        self.wait(page, lambda: len(self.frames) >= 100)
        first_frame = next(i for i, (_, item) in enumerate(self.log) if isinstance(item, int))
        assert [item for _, item in self.log[:first_frame]][-1] == "voice.start"
        assert {len(frame) for frame in self.frames} == {FRAME_BYTES}
        stamps = [at for at, item in self.log if isinstance(item, int)]
        pace = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        assert 35 < pace < 70, pace  # 50 frames a second, give or take delivery jitter
        pcm = np.frombuffer(b"".join(self.frames), "<i2")
        assert np.abs(pcm).max() > 3000, np.abs(pcm).max()

    def types(self) -> list[str]:
        return [item for _, item in self.log if isinstance(item, str)]

    def wait(self, page: Page, predicate: Any, timeout_s: float = 15) -> None:
        """Lets playwright deliver the page's frames (its handlers run while it waits)."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, self.types()
            page.wait_for_timeout(50)


def tone(seconds: float, rate: int = AGENT_RATE) -> bytes:
    samples = np.arange(int(seconds * rate))
    wave = 8000 * np.sin(2 * math.pi * 440 * samples / rate)
    return wave.astype("<i2").tobytes()


def test_the_page_streams_plays_clears_and_stops_audio(server: RunningServer) -> None:
    scripted = ScriptedServer()
    with launch_chromium(extra_args=fake_microphone()) as browser:
        page, errors = _new_page(browser)
        page.route_web_socket(re.compile(r"/ws/chat\?"), scripted.attach)
        page.goto(f"{server.url}/demo/{ORG}")
        open_widget(page)
        wait_for_turn(page, 1, "agent")
        mic = _mic(page)

        # Keyboard: Tab from the message box reaches the microphone; Enter starts voice.
        page.get_by_test_id("ava-input").focus()
        page.keyboard.press("Tab")
        expect(mic).to_be_focused()
        page.keyboard.press("Enter")
        expect(mic).to_have_attribute("data-state", "live")
        expect(mic).to_have_attribute("aria-pressed", "true")
        scripted.check_microphone(page)
        assert probe(page, "worklets") == ["ava-mic"]

        # The agent's speech, sent much faster than real time: queued back to back.
        for _ in range(20):
            scripted.send(tone(0.25))
        page.wait_for_function("window.__avaProbe.sources.length === 20")
        schedule = probe(page, "schedule()")
        assert {s["rate"] for s in schedule} == {AGENT_RATE}
        assert schedule[0]["when"] >= schedule[0]["scheduledAt"]
        for before, after in itertools.pairwise(schedule):
            assert after["when"] == pytest.approx(before["when"] + before["duration"], abs=1e-6)
        queue_end = schedule[-1]["when"] + schedule[-1]["duration"]

        # Barge-in: the caller spoke; everything still queued stops at once.
        page.wait_for_timeout(500)
        assert probe(page, "pending()") > 10
        scripted.send({"type": "voice.clear"})
        page.wait_for_function("window.__avaProbe.pending() === 0")
        assert sum(s["stopped"] for s in probe(page, "schedule()")) > 10
        scripted.send(tone(0.25))  # the next reply starts now, not after the dropped queue
        page.wait_for_function("window.__avaProbe.sources.length === 21")
        after_clear = probe(page, "schedule()")[-1]
        assert after_clear["when"] < after_clear["scheduledAt"] + 0.2 < queue_end - 2

        # Voice turns show as turns; typing still works while talking.
        scripted.send({"type": "turn", "turn": scripted.turn("caller", "Yes, it's Maria.", 2)})
        scripted.send({"type": "turn", "turn": scripted.turn("agent", "Your date of birth?", 3)})
        scripted.seq = 3
        wait_for_turn(page, 3, "agent")
        box = page.get_by_test_id("ava-input")
        box.fill("Typed while talking")
        box.press("Enter")
        assert wait_for_turn(page, 5, "agent") == "Thank you."
        expect(mic).to_have_attribute("data-state", "live")

        # Space on the focused button stops voice: voice.stop, microphone released.
        scripted.hold_ended = True
        mic.focus()
        page.keyboard.press("Space")
        expect(mic).to_have_attribute("aria-pressed", "false")
        scripted.wait(page, lambda: "voice.stop" in scripted.types())
        assert probe(page, "liveTracks()") == 0
        frames = len(scripted.frames)
        page.wait_for_timeout(300)
        assert len(scripted.frames) == frames, "frames sent after voice.stop"

        # Started again before the server confirmed the stop: the new call asks for its
        # session only after the old one's voice.ended, so no answer is taken for the other.
        page.keyboard.press("Space")
        expect(mic).to_have_attribute("data-state", "starting")
        page.wait_for_timeout(500)
        assert scripted.types().count("voice.start") == 1
        scripted.send({"type": "voice.ended", "by": "caller"})
        expect(mic).to_have_attribute("data-state", "live")
        assert scripted.types().count("voice.start") == 2
        scripted.hold_ended = False
        mic.click()
        expect(mic).to_have_attribute("data-state", "off")

        # The server ends voice (a time limit): the microphone goes off, with a notice.
        mic.click()
        expect(mic).to_have_attribute("data-state", "live")
        scripted.send({"type": "voice.ended", "by": "time_limit"})
        expect(mic).to_have_attribute("data-state", "off")
        expect(page.get_by_test_id("ava-notice")).to_contain_text("Voice has ended")
        assert probe(page, "liveTracks()") == 0

        # Closing the chat panel stops voice too.
        mic.click()
        expect(mic).to_have_attribute("data-state", "live")
        stops = scripted.types().count("voice.stop")
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("ava-panel")).to_be_hidden()
        scripted.wait(page, lambda: scripted.types().count("voice.stop") == stops + 1)
        assert probe(page, "liveTracks()") == 0
        open_widget(page)

        # The conversation ends while talking: the microphone goes off at once, the agent's
        # goodbye still plays, and the page hangs up once voice has ended.
        mic.click()
        expect(mic).to_have_attribute("data-state", "live")
        sources = len(probe(page, "sources"))
        scripted.send({"type": "ended", "outcome": "confirmed"})
        expect(mic).to_be_disabled()
        expect(mic).to_have_attribute("data-state", "goodbye")
        assert probe(page, "liveTracks()") == 0
        scripted.send(tone(0.5))
        page.wait_for_function(f"window.__avaProbe.sources.length === {sources + 1}")
        scripted.send({"type": "voice.ended", "by": "agent"})
        expect(mic).to_have_attribute("data-state", "off")
        scripted.wait(page, lambda: scripted.types()[-1] == "closed 1000")
        expect(page.get_by_test_id("ava-notice")).to_contain_text("ended")
        assert not probe(page, "schedule()")[-1]["stopped"]  # the goodbye was not cut
        assert not errors, errors


def test_without_audio_worklet_the_script_processor_captures(server: RunningServer) -> None:
    scripted = ScriptedServer()
    with launch_chromium(extra_args=fake_microphone()) as browser:
        page, errors = _new_page(browser)
        page.add_init_script("delete window.AudioWorkletNode;")
        page.route_web_socket(re.compile(r"/ws/chat\?"), scripted.attach)
        page.goto(f"{server.url}/demo/{ORG}")
        open_widget(page)
        wait_for_turn(page, 1, "agent")
        page.get_by_role("button", name="Start voice").click()
        expect(_mic(page)).to_have_attribute("data-state", "live")
        scripted.check_microphone(page)
        assert probe(page, "worklets") == []
        page.get_by_role("button", name="Stop voice").click()
        scripted.wait(page, lambda: "voice.stop" in scripted.types())
        assert probe(page, "liveTracks()") == 0
        assert not errors, errors


DENY_MICROPHONE = """
MediaDevices.prototype.getUserMedia = () =>
  Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
"""


def test_a_blocked_microphone_leaves_typing_working(server: RunningServer) -> None:
    # No fake-UI switch: the browser asks, and with no permission granted the answer is no.
    with launch_chromium(extra_args=fake_microphone(allow=False)) as browser:
        page, errors = _new_page(browser, permissions=[])
        page.goto(f"{server.url}/demo/{ORG}")
        open_widget(page)
        wait_for_turn(page, 1, "agent")
        mic = page.get_by_role("button", name="Start voice")
        mic.click()
        notice = page.get_by_test_id("ava-notice")
        expect(notice).to_contain_text("Microphone access is blocked")
        expect(mic).to_have_attribute("aria-pressed", "false")
        expect(mic).to_be_enabled()
        assert "voice.start" not in probe(page, "sent")
        assert "date of birth" in say(page, "Yes, speaking.")
        assert not errors, errors

        # A computer with no microphone at all.
        page, errors = _new_page(browser)
        page.add_init_script(DENY_MICROPHONE)
        page.goto(f"{server.url}/demo/{ORG}")
        open_widget(page)
        wait_for_turn(page, 1, "agent")
        page.get_by_role("button", name="Start voice").click()
        expect(page.get_by_test_id("ava-notice")).to_contain_text("No microphone was found")
        assert "date of birth" in say(page, "Yes, speaking.")
        assert not errors, errors

