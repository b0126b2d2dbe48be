"""Chat load benchmark: 200 widget conversations at once over WebSockets on loopback,
against the real server (``python -m app serve`` in a subprocess, real models, its own
data folder; SQLite, and PostgreSQL too when ``AVA_BENCH_DATABASE_URL`` is set).

Every conversation does what a visitor of the riverside-clinic demo page does: gets a demo
token, connects with the page's origin and reschedules the appointment in six turns, with
a second or so of reading and typing between turns. Connections are ramped up over a few
seconds, and none is closed before all are open, so all of them are open at the peak.

Figures: reply latency (message sent -> the agent's turn received) over all turns and over
the first turn only, errors (error messages, unexpected closes, timeouts), conversations
completed and their outcomes, wall time, turns per second and the server's peak resident
memory; and the baseline in the same run: the same chat, one conversation alone.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psutil

from app.config import Settings
from tests.server import RunningServer, running_server
from voice.latency import percentile

ORG = "riverside-clinic"
CONVERSATIONS = 200
RAMP_S = 5.0
THINK_S = (0.5, 1.5)  # the visitor reads the reply and types the next message
BASELINE_RUNS = 3  # one conversation alone, this many times one after another
TURN_TIMEOUT_S = 120.0
END_TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 15.0
SEED = 20240412
# The demo contact's open slots are 2, 3 and 4 days ahead (organizations.yaml).
SLOT_DAYS_AHEAD = (2, 3, 4)
DEMO_TIMEZONE = ZoneInfo("America/New_York")
Report = Callable[[str], None]


def chat_lines(index: int) -> list[str]:
    """What visitor ``index`` types: confirms who they are and their date of birth, asks
    to move the appointment to one of the days with open slots, takes the first offer."""
    day = datetime.now(DEMO_TIMEZONE) + timedelta(days=SLOT_DAYS_AHEAD[index % 3])
    return ["Yes, speaking.", "March 12th, 1984", "Can I move it to another day?",
            f"{day:%A} would be better.", "The first one.", "No, that's all."]


class ChatFailure(Exception):
    """Something a visitor would see as broken: an error message, a dropped connection,
    a reply that never comes. ``counted``: the socket's reader has counted it already."""

    def __init__(self, message: str, counted: bool = False) -> None:
        super().__init__(message)
        self.counted = counted


@dataclass
class ChatResult:
    connect_ms: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    outcome: str | None = None
    ended: bool = False
    errors: list[str] = field(default_factory=list)


class ChatSocket:
    """One widget connection: a reader task files the server's frames as they come."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.outcome: str | None = None
        self.errors: list[str] = []
        self.closing = False
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = message.json()
            if frame["type"] == "error":
                self.errors.append(f"error message {frame.get('code')}")
            elif frame["type"] == "ended":
                self.outcome = frame.get("outcome")
                self.ended.set()
            await self.frames.put(frame)
        if not self.closing:
            self.errors.append(f"unexpected close {self.ws.close_code}")
        await self.frames.put({"type": "closed"})

    async def next_frame(self, timeout_s: float) -> dict[str, Any]:
        try:
            frame = await asyncio.wait_for(self.frames.get(), timeout_s)
        except TimeoutError:
            raise ChatFailure("timeout") from None
        if frame["type"] in ("closed", "error"):
            raise ChatFailure(frame["type"], counted=True)
        return frame

    async def say(self, message_id: str, text: str) -> float:
        """Sends a message; seconds until the agent's reply turn is in."""
        started = time.perf_counter()
        await self.ws.send_json({"type": "message", "id": message_id, "text": text})
        while True:
            frame = await self.next_frame(TURN_TIMEOUT_S)
            if frame["type"] == "turn" and frame["turn"]["role"] == "agent":
                return time.perf_counter() - started

    async def close(self) -> None:
        self.closing = True
        await self.ws.close()
        await self._reader


class Crowd:
    """How many connections are open; the peak is reached when all are."""

    def __init__(self, size: int) -> None:
        self.size, self.open, self.peak, self.connected = size, 0, 0, 0
        self.all_connected = asyncio.Event()

    def opened(self) -> None:
        self.open += 1
        self.connected += 1
        self.peak = max(self.peak, self.open)
        if self.connected == self.size:
            self.all_connected.set()

    def closed(self) -> None:
        self.open -= 1

    def gave_up(self) -> None:
        """A connection that failed before it opened: the others need not wait for it."""
        self.size -= 1
        if self.connected >= self.size:
            self.all_connected.set()


async def _demo_token(session: aiohttp.ClientSession, server: RunningServer) -> str:
    url = f"{server.url}/demo/{ORG}/token?agent=appointment_confirmation"
    async with session.get(url) as response:
        if response.status != 200:
            raise ChatFailure(f"token: HTTP {response.status}")
        return str((await response.json())["token"])


async def _connect(session: aiohttp.ClientSession, server: RunningServer) -> ChatSocket:
    token = await _demo_token(session, server)
    try:
        ws = await session.ws_connect(f"{server.url}/ws/chat?token={token}",
                                      origin=server.url, heartbeat=None)
    except aiohttp.WSServerHandshakeError as error:
        raise ChatFailure(f"handshake: HTTP {error.status}") from None
    return ChatSocket(ws)


async def _converse(chat: ChatSocket, index: int, result: ChatResult) -> None:
    think = random.Random(SEED + index)
    for n, text in enumerate(chat_lines(index)):
        if chat.ended.is_set():
            break
        await asyncio.sleep(think.uniform(*THINK_S))
        result.latencies_ms.append(1000 * await chat.say(f"v{index}-m{n}", text))
    try:
        await asyncio.wait_for(chat.ended.wait(), END_TIMEOUT_S)
    except TimeoutError:
        raise ChatFailure("timeout waiting for the end") from None


async def visitor(session: aiohttp.ClientSession, server: RunningServer, index: int,
                  crowd: Crowd, result: ChatResult) -> None:
    """One visitor's whole chat, into ``result``; failures are counted, never raised."""
    started = time.perf_counter()
    try:
        chat = await _connect(session, server)
    except (ChatFailure, aiohttp.ClientError) as error:
        crowd.gave_up()
        result.errors.append(f"connect: {error or type(error).__name__}")
        return
    crowd.opened()
    try:
        ready = await chat.next_frame(TURN_TIMEOUT_S)
        if ready["type"] != "ready" or len(ready["turns"]) != 1:
            raise ChatFailure(f"unexpected first frame {ready['type']}")
        result.connect_ms = 1000 * (time.perf_counter() - started)
        await _converse(chat, index, result)
        await crowd.all_connected.wait()  # nobody leaves before everybody is in
    except ChatFailure as error:
        if not error.counted:
            result.errors.append(str(error))
    except (aiohttp.ClientError, ConnectionError) as error:
        result.errors.append(f"connection: {type(error).__name__}")
    finally:
        await chat.close()
        crowd.closed()
    result.errors += chat.errors
    result.outcome, result.ended = chat.outcome, chat.ended.is_set()


async def _progress(crowd: Crowd, results: list[ChatResult], report: Report) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        turns = sum(len(r.latencies_ms) for r in results)
        report(f"  {time.perf_counter() - started:.0f} s: {crowd.open} open "
               f"(peak {crowd.peak}), {turns} turns answered")


async def hold_conversations(server: RunningServer, count: int, ramp_s: float,
                             report: Report | None = None
                             ) -> tuple[list[ChatResult], Crowd, float]:
    """``count`` visitors arriving evenly over ``ramp_s`` seconds; their results, the
    connection counts and the wall time from the first arrival to the last goodbye."""
    crowd = Crowd(count)
    results = [ChatResult() for _ in range(count)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def arrive(index: int) -> None:
            await asyncio.sleep(ramp_s * index / count)
            await visitor(session, server, index, crowd, results[index])

        started = time.perf_counter()
        progress = asyncio.create_task(_progress(crowd, results, report)) if report else None
        await asyncio.gather(*(arrive(i) for i in range(count)))
        wall_s = time.perf_counter() - started
        if progress:
            progress.cancel()
    return results, crowd, wall_s


def latency_ms(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), **{name: round(percentile(ordered, q), 1) for name, q in
                                  (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
            "max": round(ordered[-1], 1)}


def summarize_chats(results: list[ChatResult]) -> dict[str, Any]:
    turns = [ms for r in results for ms in r.latencies_ms]
    errors = Counter(error for r in results for error in r.errors)
    return {
        "conversations": len(results),
        "completed": sum(r.ended and not r.errors for r in results),
        "outcomes": dict(Counter(str(r.outcome) for r in results)),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "turns": len(turns),
        "reply_latency_ms": latency_ms(turns),
        "first_turn_reply_latency_ms": latency_ms([r.latencies_ms[0] for r in results
                                                   if r.latencies_ms]),
        "token_and_connect_to_ready_ms": latency_ms([r.connect_ms for r in results
                                                     if r.connect_ms is not None]),
    }


class ServerRss:
    """Samples a process's resident memory every 100 ms in a thread; the peak in MB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def mb_now(self) -> float:
        return round(self.process.memory_info().rss / 2**20, 1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def server_pid(server: RunningServer) -> int:
    """The server subprocess this process started (``--port`` names it)."""
    port = server.url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        command = child.cmdline()
        if "serve" in command and port in command:
            return child.pid
    raise RuntimeError(f"no server process on port {port}")


def _run_backend(server: RunningServer, report: Report) -> dict[str, Any]:
    rss = ServerRss(server_pid(server))
    figures: dict[str, Any] = {"server_rss_mb_idle": rss.mb_now()}
    report("warm-up conversation")
    asyncio.run(hold_conversations(server, 1, 0))
    report(f"baseline: one conversation alone, {BASELINE_RUNS} times")
    alone: list[ChatResult] = []
    for _ in range(BASELINE_RUNS):
        alone += asyncio.run(hold_conversations(server, 1, 0))[0]
    figures["baseline_one_conversation"] = summarize_chats(alone)
    report(f"load: {CONVERSATIONS} conversations, ramped up over {RAMP_S:.0f} s")
    results, crowd, wall_s = asyncio.run(
        hold_conversations(server, CONVERSATIONS, RAMP_S, report))
    load = summarize_chats(results)
    load.update(peak_open_connections=crowd.peak, wall_s=round(wall_s, 1),
                turns_per_s=round(load["turns"] / wall_s, 2))
    figures["load"] = load
    figures["server_peak_rss_mb"] = rss.stop()
    alone_p50 = figures["baseline_one_conversation"]["reply_latency_ms"].get("p50")
    if alone_p50:
        figures["p50_under_load_over_alone"] = round(load["reply_latency_ms"]["p50"] / alone_p50,
                                                     2)
    report(f"load: {load['errors']} errors, {load['completed']}/{CONVERSATIONS} completed, "
           f"p50 {load['reply_latency_ms'].get('p50')} ms (alone {alone_p50} ms)")
    return figures


def run(settings: Settings, report: Report) -> dict[str, Any]:
    """``settings`` is the harness's; the server reads its own from the environment."""
    backends: dict[str, str | None] = {"sqlite": None}
    if os.environ.get("AVA_BENCH_DATABASE_URL"):
        backends["postgresql"] = os.environ["AVA_BENCH_DATABASE_URL"]
    figures: dict[str, Any] = {
        "setup": {"conversations": CONVERSATIONS, "ramp_s": RAMP_S, "think_s": list(THINK_S),
                  "turns_per_conversation": len(chat_lines(0)), "organization": ORG,
                  "transport": "WebSocket on loopback, client and server on this machine",
                  "chat_tracker": settings.chat_tracker}}
    for name, database_url in backends.items():
        report(f"{name}: starting the server")
        with TemporaryDirectory(prefix="chat-load-") as folder, running_server(
                Path(folder), database_url) as server:
            figures[name] = _run_backend(server, report)
    return figures
