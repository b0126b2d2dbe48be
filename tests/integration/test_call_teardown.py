"""A phone call whose dialogue stops answering still ends, on the real voice session and RTP
media: the call's time limit hangs up, and when even that hang-up never returns, the call's
ceiling tears it down, so its line (and a campaign's contact) is released."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from app.channels import sip_call
from app.channels.sip_call import PhoneCall
from app.channels.sip_media import MediaPath
from app.channels.sip_rtp import RtpPorts
from app.channels.sip_settings import SipSettings
from voice.config import VoiceConfig
from voice.responder import Speech

pytestmark = pytest.mark.slow

TIME_LIMIT_S = 10.0
OVERRUN_S = 2.0


class WedgedResponder:
    """Greets, then never answers again: not the caller's words, not the hang-up."""

    def __init__(self) -> None:
        self.asked_to_hang_up = asyncio.Event()

    async def greeting(self) -> Speech | None:
        return Speech("Hi, this is Ava.")

    async def heard(self, text: str) -> Speech:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def keyed(self, digits: str) -> Speech:
        return await self.heard(digits)

    async def went_silent(self, seconds: float) -> Speech:
        return await self.heard("")

    async def hung_up(self) -> None:
        self.asked_to_hang_up.set()
        await asyncio.Event().wait()


async def test_a_call_whose_dialogue_hangs_is_torn_down_after_its_time_limit(
        speech_models: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip_call, "OVERRUN_S", OVERRUN_S)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the peer: takes our RTP, says nothing
    sink.bind(("127.0.0.1", 0))
    settings = SipSettings()
    rtp = await RtpPorts("127.0.0.1", 41000, 41100).open()
    responder = WedgedResponder()
    phone = PhoneCall("wedged", speech_models, VoiceConfig(max_call_s=TIME_LIMIT_S),
                      responder, rtp, MediaPath(sink.getsockname(), payload_type=0),
                      settings, "1")
    started = time.monotonic()
    try:
        ended_by = await asyncio.wait_for(phone.run(), TIME_LIMIT_S + 30)
    finally:
        sink.close()
    took = time.monotonic() - started

    assert ended_by == "time_limit"
    assert responder.asked_to_hang_up.is_set()  # the time limit tried the polite way first
    assert TIME_LIMIT_S <= took < TIME_LIMIT_S + OVERRUN_S + 2 * sip_call.DRAIN_S
    assert phone.session.closed
    assert [turn.agent for turn in phone.session.turns][:1] == ["Hi, this is Ava."]
