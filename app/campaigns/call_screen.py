"""Listening to an answered campaign call before the agent speaks (``screen_call``), and the
responder that then speaks for whoever answered (``ScreenedResponder``).

``screen_call`` takes the callee's audio off the call while it decides (the voice session
has not started, so nothing of the greeting reaches the agent as a caller turn), feeds it to
the rules of ``app.campaigns.answering_machine``, and, for a machine, waits until it is
ready to record. A stretch with no audio arriving counts as silence: a line that sends no
RTP while nobody speaks is common.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import structlog

from app.campaigns.answering_machine import (
    RATE,
    AmdConfig,
    Decision,
    GreetingClassifier,
    GreetingEnd,
    Verdict,
    machine_phrase,
)
from app.channels.sip_call import PhoneCall
from voice.responder import Responder, Speech

log = structlog.get_logger(__name__)
POLL_S = 0.1  # no audio for this long counts as this much silence
T = TypeVar("T")
Transcriber = Callable[[np.ndarray], Awaitable[str]]  # 8 kHz PCM -> text


@dataclass(frozen=True)
class Screening:
    """Who answered. ``verdict`` is ``None`` when the callee hung up before it was known."""

    verdict: Verdict | None
    reason: str
    decided_s: float  # seconds of audio heard when the verdict was reached
    greeting_s: float = 0.0
    machine_ready: str | None = None  # beep, silence or timeout: when the message was left


async def screen_call(phone: PhoneCall, transcribe: Transcriber,
                      config: AmdConfig | None = None) -> Screening:
    """Person or machine, for a call just answered; for a machine, returns once it is
    ready to record a message."""
    config = config or AmdConfig()
    frames: asyncio.Queue[np.ndarray] = asyncio.Queue()
    phone.listener = frames.put_nowait
    try:
        greeting: list[np.ndarray] = []
        classifier = GreetingClassifier(config)
        decision = await _listen(frames, phone, classifier.feed, greeting)
        if decision is None:
            return Screening(None, "hung_up", classifier.heard_s)
        if decision.verdict is Verdict.UNSURE:
            decision = await _by_transcript(decision, greeting, transcribe)
        if decision.verdict is Verdict.PERSON:
            return Screening(decision.verdict, decision.reason, decision.at_s,
                             decision.greeting_s)
        end = GreetingEnd(config, beep_under_way=classifier.tone_under_way)
        ready = await _listen(frames, phone, end.feed, None)
        if ready is None:
            return Screening(None, "hung_up", decision.at_s + end.waited_s)
        return Screening(decision.verdict, decision.reason, decision.at_s,
                         decision.greeting_s, ready)
    finally:
        phone.listener = None


async def _listen(frames: asyncio.Queue[np.ndarray], phone: PhoneCall,
                     feed: Callable[[np.ndarray], T | None],
                     keep: list[np.ndarray] | None) -> T | None:
    """Feed the callee's audio to ``feed`` until it returns something; ``None`` when the
    callee hangs up first. ``keep`` collects the audio fed."""
    while not phone.peer_gone:
        try:
            pcm = await asyncio.wait_for(frames.get(), POLL_S)
        except TimeoutError:
            pcm = np.zeros(int(POLL_S * RATE), dtype=np.int16)
        if keep is not None:
            keep.append(pcm)
        found = feed(pcm)
        if found is not None:
            return found
    return None


async def _by_transcript(decision: Decision, greeting: list[np.ndarray],
                         transcribe: Transcriber) -> Decision:
    """A middling greeting: a machine if its words are a machine's, else a person."""
    text = await transcribe(np.concatenate(greeting)) if greeting else ""
    phrase = machine_phrase(text)
    log.info("greeting transcribed", machine_phrase=phrase, greeting_s=decision.greeting_s)
    if phrase is not None:
        return Decision(Verdict.MACHINE, "machine_phrase", decision.at_s, decision.greeting_s)
    return Decision(Verdict.PERSON, decision.reason, decision.at_s, decision.greeting_s)


class ScreenedResponder:
    """The voice session's responder on a screened call: the agent's (``agent``) once a
    person answered; the voicemail message, then hang up, once a machine did."""

    def __init__(self) -> None:
        self.agent: Responder | None = None
        self.voicemail: str | None = None

    async def greeting(self) -> Speech | None:
        if self.voicemail is not None:
            return Speech(self.voicemail, end_call=True)
        return await self.agent.greeting() if self.agent is not None else None

    async def heard(self, text: str) -> Speech:
        return await self.agent.heard(text) if self.agent is not None else Speech("")

    async def keyed(self, digits: str) -> Speech:
        return await self.agent.keyed(digits) if self.agent is not None else Speech("")

    async def went_silent(self, seconds: float) -> Speech:
        if self.agent is not None:
            return await self.agent.went_silent(seconds)
        return Speech("")

    async def hung_up(self) -> None:
        if self.agent is not None:
            await self.agent.hung_up()
