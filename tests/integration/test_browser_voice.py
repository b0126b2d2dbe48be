"""Voice over the chat widget's WebSocket, as the widget's microphone button uses it: the
caller's 16 kHz audio goes into the same voice session as phone calls, the agent's speech
comes back as audio, both sides show up as stored chat turns, and speaking over the agent
makes the server tell the page to drop the agent's buffered audio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import numpy as np
import pytest

from app.caller_voice import speak
from tests.server import RunningServer, running_server

pytestmark = pytest.mark.slow
RATE = 16000
FRAME = RATE // 50  # 20 ms


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("voice-server"),
                        env={"AVA_PRELOAD_SPEECH_MODELS": "true"}) as running:
        yield running


class Page:
    """What the widget does with the socket: plays audio, shows turns."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.audio_bytes = 0
        self.turns: list[dict[str, Any]] = []
        self.audio_at_turn: list[int] = []  # audio bytes received when each turn came
        self.events: list[str] = []

    async def listen(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.audio_bytes += len(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                data = message.json()
                self.events.append(data["type"])
                if data["type"] == "turn":
                    self.turns.append(data["turn"])
                    self.audio_at_turn.append(self.audio_bytes)

    async def talk(self, pcm: np.ndarray, then_silence_s: float = 1.5) -> None:
        """Real-time microphone audio: the utterance, then room silence."""
        audio = np.concatenate([pcm, np.zeros(int(then_silence_s * RATE), np.int16)])
        started = time.monotonic()
        for index in range(0, len(audio), FRAME):
            await self.ws.send_bytes(audio[index:index + FRAME].tobytes())
            await asyncio.sleep(max(0.0, started + (index + FRAME) / RATE - time.monotonic()))

    async def wait_for(self, predicate: Any, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, (self.audio_bytes, self.events[-10:],
                                                 self.turns[-3:])
            await asyncio.sleep(0.1)


async def open_chat(session: aiohttp.ClientSession,
                    server: RunningServer) -> aiohttp.ClientWebSocketResponse:
    """A new demo chat's socket, as the widget opens it."""
    async with session.get(f"{server.url}/demo/riverside-clinic/token"
                           "?agent=appointment_confirmation") as response:
        token = (await response.json())["token"]
    return await session.ws_connect(f"{server.url}/ws/chat?token={token}", origin=server.url)


async def test_a_voice_exchange_through_the_chat_socket(server):
    async with aiohttp.ClientSession() as session:
        async with await open_chat(session, server) as ws:
            page = Page(ws)
            listening = asyncio.create_task(page.listen())
            await ws.send_json({"type": "voice.start"})
            await page.wait_for(lambda: "voice.ready" in page.events, 120)
            # The agent speaks its open question aloud: audio arrives before anyone speaks.
            await page.wait_for(lambda: page.audio_bytes > RATE, 30)
            await asyncio.sleep(5)  # let the greeting play out
            await page.talk(speak("Yes, this is Maria.", RATE))
            await page.wait_for(lambda: any("date of birth" in t["text"] for t in page.turns))
            caller = [t for t in page.turns if t["role"] == "caller"]
            assert caller and "maria" in caller[0]["text"].lower()
            question = next(i for i, t in enumerate(page.turns) if "date of birth" in t["text"])
            heard_before = page.audio_at_turn[question]
            await page.wait_for(lambda: page.audio_bytes > heard_before + RATE // 2, 30)
            # Barge in while the agent asks for the date of birth.
            await page.talk(speak("March twelfth, nineteen eighty four.", RATE))
            await page.wait_for(lambda: "voice.clear" in page.events, 30)
            await page.wait_for(lambda: any("Dr. Patel" in t["text"] for t in page.turns))
            await ws.send_json({"type": "voice.stop"})
            await page.wait_for(lambda: "voice.ended" in page.events, 30)
            listening.cancel()
        async with session.get(f"{server.url}/api/v1/conversations", headers=server.auth) as r:
            conversation = (await r.json())["conversations"][0]
        async with session.get(f"{server.url}/api/v1/conversations/{conversation['id']}",
                               headers=server.auth) as r:
            stored = await r.json()
    texts = [turn["text"] for turn in stored["turns"]]
    assert any("date of birth" in text for text in texts)
    assert any("Dr. Patel" in text for text in texts)
    assert stored["status"] == "active"  # stopping voice does not end the chat


async def test_audio_before_voice_start_closes_the_socket(server):
    async with aiohttp.ClientSession() as session, await open_chat(session, server) as ws:
        await ws.receive_json()
        await ws.send_bytes(b"\x00\x00" * FRAME)
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1003
