"""Phone calls through a Twilio-compatible media stream, replayed as Twilio documents the
protocol over a real WebSocket to the real server: the agent's audio (mu-law, transcribed
by the project's ASR) greets and answers, keyed digits verify the caller, barge-in gets a
``clear``, a transfer dials the person after the stream, and unsigned or forged requests
are refused."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import numpy as np
import pytest

from app import twilio
from app.caller_voice import speak
from tests.server import RunningServer, running_server
from tests.sip_peer import NAMES
from voice.codecs import mulaw_decode, mulaw_encode, resample

pytestmark = pytest.mark.slow
TOKEN = "test-twilio-auth-token"
TRANSFER_TO = "+15550001111"
RATE = 8000
CHUNK = RATE // 50  # 20 ms, as Twilio sends


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"AVA_TWILIO__AUTH_TOKEN": TOKEN, "AVA_TWILIO__TRANSFER_NUMBER": TRANSFER_TO,
           "AVA_PRELOAD_SPEECH_MODELS": "true"}
    with running_server(tmp_path_factory.mktemp("twilio-server"), env=env) as running:
        yield running


def signed(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio.signature(token, url, params.items())}


class Line:
    """Twilio's end of one call's media stream."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.agent_audio: list[np.ndarray] = []
        self.events: list[str] = []

    async def start(self, call_sid: str) -> None:
        await self.ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.ws.send_json({
            "event": "start", "sequenceNumber": "1", "streamSid": f"MZ{call_sid}",
            "start": {"accountSid": "AC1", "streamSid": f"MZ{call_sid}", "callSid": call_sid,
                      "tracks": ["inbound"], "customParameters": {"org": "riverside-clinic"},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}})

    async def listen(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = message.json()
            self.events.append(data["event"])
            if data["event"] == "media":
                self.agent_audio.append(mulaw_decode(base64.b64decode(data["media"]["payload"])))

    async def say(self, text: str, silence_s: float = 1.5) -> None:
        """The caller's voice in real time, as 20 ms media messages, then line noise."""
        pcm = np.concatenate([speak(text, RATE), np.zeros(int(silence_s * RATE), np.int16)])
        started = time.monotonic()
        for n, index in enumerate(range(0, len(pcm), CHUNK)):
            payload = base64.b64encode(mulaw_encode(pcm[index:index + CHUNK])).decode()
            await self.ws.send_json({"event": "media", "sequenceNumber": str(n + 2),
                                     "media": {"track": "inbound", "payload": payload}})
            await asyncio.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))

    async def key(self, digits: str) -> None:
        for digit in digits:
            await self.ws.send_json({"event": "dtmf", "dtmf": {"track": "inbound_track",
                                                               "digit": digit}})
            await asyncio.sleep(0.15)

    def heard_since(self, chunks: int) -> np.ndarray:
        audio = self.agent_audio[chunks:]
        return resample(np.concatenate(audio), RATE, 16000) if audio else np.zeros(0, np.int16)


async def stored(session: aiohttp.ClientSession, server: RunningServer) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/v1/conversations?limit=1",
                           headers=server.auth) as response:
        newest = (await response.json())["conversations"][0]
    async with session.get(f"{server.url}/api/v1/conversations/{newest['id']}",
                           headers=server.auth) as response:
        return dict(await response.json())


async def until(predicate: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_the_voice_webhook_answers_with_a_stream_and_refuses_bad_signatures(server):
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{server.url}/twilio/voice?org=riverside-clinic"
    form = {"CallSid": "CA100", "From": "+12125550143", "To": "+18005550100"}
    body = urllib.parse.urlencode(form).encode()
    answer = urllib.request.urlopen(urllib.request.Request(
        url, data=body, headers=signed(url, form))).read().decode()
    assert f'<Stream url="{server.url.replace("http", "ws")}/twilio/media">' in answer
    assert '<Parameter name="org" value="riverside-clinic"/>' in answer
    assert f"<Redirect>{server.url}/twilio/after</Redirect>" in answer
    for headers in ({}, signed(url, form, token="wrong"), signed(url, {**form, "To": "+1"})):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers))
        assert refused.value.code == 403


def _heard(speech_models: Any, audio: np.ndarray) -> str:
    """What the agent said, as Whisper hears it given the names (as a deployment would)."""
    return str(speech_models.recognizer.transcribe(audio, NAMES).text).lower()


async def test_a_call_greets_answers_verifies_by_keypad_and_clears_on_barge_in(
        server, speech_models):
    media_url = server.url.replace("http", "ws") + "/twilio/media"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(media_url, headers=signed(media_url, {}, "forged"))
        assert refused.value.status == 403
        async with session.ws_connect(media_url, headers=signed(media_url, {})) as ws:
            line = Line(ws)
            listening = asyncio.create_task(line.listen())
            await line.start("CA200")
            await until(lambda: "mark" in line.events, 60)  # the greeting has been sent
            await asyncio.sleep(4)  # and heard
            greeting = _heard(speech_models, line.heard_since(0))
            assert "riverside" in greeting and "maria" in greeting, greeting
            before = len(line.agent_audio)
            await line.say("Yes, speaking.")
            await until(lambda: len(line.agent_audio) > before + 50)
            await asyncio.sleep(4)
            answer = _heard(speech_models, line.heard_since(before))
            assert "privacy" in answer and "birth" in answer, answer
            await line.key("03121984")  # MMDDYYYY on the keypad
            record: dict[str, Any] = {}

            async def appointment_said() -> bool:
                record.update(await stored(session, server))
                return any("Dr. Patel" in t["text"] for t in record["turns"])

            deadline = time.monotonic() + 30
            while not await appointment_said():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
            assert "[keypad: 8 keys]" in [t["text"] for t in record["turns"]]
            await asyncio.sleep(0.5)
            await line.say("Wait, sorry, one moment please.")  # over the agent: barge-in
            await until(lambda: "clear" in line.events, 30)
            await ws.send_json({"event": "stop", "stop": {"callSid": "CA200"}})
            listening.cancel()
        deadline = time.monotonic() + 30
        while (final := await stored(session, server))["status"] != "ended":
            assert time.monotonic() < deadline, "the call was not ended after stop"
            await asyncio.sleep(0.5)
    assert final["channel"] == "twilio" and final["outcome"] == "incomplete"


async def test_a_transfer_dials_the_person_once_the_stream_ends(server):
    media_url = server.url.replace("http", "ws") + "/twilio/media"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(media_url, headers=signed(media_url, {})) as ws:
            line = Line(ws)
            listening = asyncio.create_task(line.listen())
            await line.start("CA300")
            await until(lambda: "mark" in line.events, 60)
            await asyncio.sleep(4)
            await line.say("Can I talk to a real person, please?")
            await until(lambda: ws.closed, 60)  # the agent hands over and ends the stream
            listening.cancel()
        record = await stored(session, server)
        assert record["outcome"] == "transferred" and record["slots"]["transfer_summary"]
        after = f"{server.url}/twilio/after"
        form = {"CallSid": "CA300", "CallStatus": "in-progress"}
        async with session.post(after, data=form, headers=signed(after, form)) as response:
            twiml = await response.text()
    assert f"<Dial>{TRANSFER_TO}</Dial>" in twiml


# -- opt-outs go on the do-not-call list ---------------------------------------------------

CALLER = "+12125550143"


async def webhook_parameters(session: aiohttp.ClientSession, server: RunningServer,
                             form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    """The ``<Stream>`` parameters the voice webhook answers ``form`` with, signed with
    ``token``; a refusal fails with its status."""
    from xml.etree import ElementTree

    url = f"{server.url}/twilio/voice?org=riverside-clinic"
    async with session.post(url, data=form, headers=signed(url, form, token)) as response:
        response.raise_for_status()
        answer = await response.text()
    return {p.get("name", ""): p.get("value", "")
            for p in ElementTree.fromstring(answer).iter("Parameter")}


async def listed_numbers(server: RunningServer) -> list[tuple[str, str]]:
    """The do-not-call list in the server's database (SQLite in its data folder)."""
    from app.campaigns.do_not_call import DoNotCallList
    from app.db import open_engine

    database = server.log_path.parent / "ava-agent" / "ava.db"
    engine = await open_engine(f"sqlite+aiosqlite:///{database}")
    try:
        return [(phone, source) for phone, source, _ in await DoNotCallList(engine).entries()]
    finally:
        await engine.dispose()


async def call_saying(server: RunningServer, session: aiohttp.ClientSession, call_sid: str,
                      parameters: dict[str, str], line: str) -> dict[str, Any]:
    """A call whose stream starts with ``parameters``, where the caller says ``line`` after
    the greeting and stays on until the agent ends the call; its stored record."""
    media_url = server.url.replace("http", "ws") + "/twilio/media"
    async with session.ws_connect(media_url, headers=signed(media_url, {})) as ws:
        line_ = Line(ws)
        listening = asyncio.create_task(line_.listen())
        await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await ws.send_json({
            "event": "start", "sequenceNumber": "1", "streamSid": f"MZ{call_sid}",
            "start": {"accountSid": "AC1", "streamSid": f"MZ{call_sid}", "callSid": call_sid,
                      "tracks": ["inbound"], "customParameters": parameters,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}})
        await until(lambda: "mark" in line_.events, 60)
        await asyncio.sleep(4)
        await line_.say(line)
        await until(lambda: ws.closed, 60)  # the agent says goodbye and ends the stream
        listening.cancel()
    deadline = time.monotonic() + 30
    while (record := await stored(session, server))["status"] != "ended":
        assert time.monotonic() < deadline, "the call was not ended"
        await asyncio.sleep(0.5)
    return record


async def test_the_webhook_passes_a_phone_callers_number_to_the_stream_and_no_other(server):
    async with aiohttp.ClientSession() as session:
        parameters = await webhook_parameters(session, server,
                                              {"CallSid": "CA500", "From": "+1 (212) 555-0143"})
        assert parameters["caller"] == CALLER  # E.164
        assert parameters["caller_mac"] == twilio.caller_mac(TOKEN, "CA500", CALLER)
        for caller in ("client:alice", "anonymous", "266696687", ""):
            parameters = await webhook_parameters(session, server,
                                                  {"CallSid": "CA501", "From": caller})
            assert "caller" not in parameters and "caller_mac" not in parameters, caller


async def test_an_opt_out_puts_the_callers_number_on_the_do_not_call_list(server):
    async with aiohttp.ClientSession() as session:
        # A forged webhook (wrong signature) gets nothing to vouch with.
        forged = {"CallSid": "CA601", "From": "+13125550188"}
        with pytest.raises(aiohttp.ClientResponseError) as refused:
            await webhook_parameters(session, server, forged, token="forged")
        assert refused.value.status == 403
        # A stream claiming a number on its own, with the MAC the webhook gave another
        # call's number: the caller opts out, and no number is listed.
        genuine = await webhook_parameters(session, server,
                                           {"CallSid": "CA600", "From": CALLER})
        claimed = {"org": "riverside-clinic", "caller": "+13125550188",
                   "caller_mac": genuine["caller_mac"]}
        record = await call_saying(server, session, "CA601", claimed,
                                   "Please stop calling me.")
        assert record["outcome"] == "opted_out", record["turns"]

        # The call the signed webhook vouched for: the number goes on the list once the
        # stream has closed (after the agent's goodbye has played).
        record = await call_saying(server, session, "CA600", genuine,
                                   "Please stop calling me.")
        assert record["outcome"] == "opted_out", record["turns"]
    deadline = time.monotonic() + 30
    while not (listed := await listed_numbers(server)):
        assert time.monotonic() < deadline, "the number was not listed"
        await asyncio.sleep(0.5)
    assert listed == [(CALLER, "opt_out")]  # and never the number the forged stream named
