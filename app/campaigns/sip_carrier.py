"""The real carrier of campaigns: each attempt dialled over SIP, screened for an answering
machine, and held by the campaign's agent when a person answers.

One carrier holds, for all its calls: the speech models and the dialogue layer (loaded
once), the conversation store (the campaign database) and one multi-call ``Dialer``. A call
goes to ``sip:<phone>@<gateway>``, the gateway being ``AVA_SIP__CAMPAIGN_GATEWAY``, else the
trunk's proxy or registrar.

How a dial becomes a ``CallReport``:

- refused: 486/600 busy -> ``busy``; no answer within the ring timeout, 408, 480, 487 ->
  ``no_answer``; any other refusal -> ``failed``;
- answered by a person -> ``answered`` with the agent's outcome, ``opted_out`` when the
  caller asked not to be called again; the conversation is stored on channel ``campaign``
  (caller turns redacted, as every channel's) and its id reported;
- answered by a machine -> ``voicemail``: the compliant message is left after the beep and
  stored as a one-turn conversation;
- hung up before anyone could tell -> ``no_answer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from zoneinfo import ZoneInfo

import numpy as np
import structlog

from app.campaigns.answering_machine import AmdConfig, Verdict, voicemail_message
from app.campaigns.call_screen import ScreenedResponder, Screening, Transcriber, screen_call
from app.campaigns.carrier import Carrier
from app.campaigns.claims import CallReport, Claim
from app.campaigns.policy import CallResult
from app.channels.sip_call import PhoneCall
from app.channels.sip_dial import Dialer, DialError
from app.channels.voice_bridge import ConversationResponder
from app.config import Settings
from app.conversation_store import ConversationStore
from app.conversations import ConversationError, ConversationService, Exchange
from app.errors import InputError
from app.metrics import Metrics
from dialog.agent import ConversationAgent, ConversationSetup
from dialog.events import CallerSaid, KeypadDigits, SilenceTimeout
from dialog.registry import agent_factory
from dialog.state import OPTED_OUT
from voice.codecs import resample
from voice.responder import Speech
from voice.session import SpeechModels

log = structlog.get_logger(__name__)
CHANNEL = "campaign"
OPT_OUT_ACTION = "opt_out"
_BUSY = {486, 600}
_NO_ANSWER = {408, 480, 487}
PLACED_KEPT = 100_000


@dataclass(frozen=True)
class PlacedCall:
    """Timings of one dial, for benchmarks (no personal data)."""

    result: CallResult
    screening: str | None  # the detection's reason, for answered calls
    first_agent_audio_s: float | None  # from the answer to the agent's first audio
    duration_s: float


def result_of_refusal(error: DialError) -> CallResult:
    """busy, no answer or failed, from the dialer's error (``486 Busy Here``, ``no
    answer``, ...)."""
    text = str(error)
    if text == "no answer":
        return CallResult.NO_ANSWER
    code = re.match(r"(\d{3})\b", text)
    status = int(code.group(1)) if code else 0
    if status in _BUSY:
        return CallResult.BUSY
    if status in _NO_ANSWER:
        return CallResult.NO_ANSWER
    return CallResult.FAILED


def opted_out(agent: ConversationAgent, outcome: str | None) -> bool:
    """The caller asked not to be called again: the agent's outcome, or its action."""
    state = getattr(agent, "state", None)
    actions = getattr(state, "actions", [])
    return outcome == OPTED_OUT or any(a.name == OPT_OUT_ACTION for a in actions)


async def _shown(_: Exchange) -> None:
    """Nobody watches a campaign call's turns as they happen; they are stored."""


class CallResponder(ConversationResponder):
    """The agent's side of a campaign call. What the callee says after the agent has ended
    the conversation (heard while its goodbye plays: "thanks, bye") gets no reply, only the
    call's end: should the goodbye's own hang-up have been lost, the call still ends."""

    async def _answer(self, event: CallerSaid | KeypadDigits | SilenceTimeout) -> Speech:
        try:
            return await super()._answer(event)
        except ConversationError as error:
            if error.code != "ended":
                raise
            return Speech("", end_call=True)


@dataclass(frozen=True)
class _Shared:
    """What every call of a carrier uses: loaded and opened once, in ``__aenter__``."""

    settings: Settings
    amd: AmdConfig
    gateway: str
    models: SpeechModels
    dialer: Dialer
    store: ConversationStore
    metrics: Metrics

    def transcriber(self) -> Transcriber:
        recognizer = self.models.recognizer

        async def transcribe(pcm: np.ndarray) -> str:
            audio = resample(pcm, 8000, 16000)
            return (await asyncio.to_thread(recognizer.transcribe, audio)).text

        return transcribe


class SipCarrier(Carrier):
    """``placed`` keeps the timings of the latest calls (benchmarks read them)."""

    def __init__(self, settings: Settings, amd: AmdConfig | None = None) -> None:
        super().__init__(settings)
        self.amd = amd or AmdConfig()
        self.placed: deque[PlacedCall] = deque(maxlen=PLACED_KEPT)
        self._stack = contextlib.AsyncExitStack()
        self._shared: _Shared | None = None

    def gateway(self) -> str:
        sip = self.settings.sip
        gateway = sip.campaign_gateway or sip.trunk.proxy or sip.trunk.registrar
        if not gateway:
            raise InputError("campaign calls need a gateway: set AVA_SIP__CAMPAIGN_GATEWAY "
                             "(host:port) or the trunk's proxy or registrar")
        return gateway

    async def __aenter__(self) -> SipCarrier:
        from app.db import open_database
        from app.dialogue import load_dialogue
        from app.model_loading import load_speech_models

        gateway = self.gateway()
        models = await asyncio.to_thread(load_speech_models, self.settings.voice)
        # Campaign agents are flow agents: the dialogue layer registers them.
        await asyncio.to_thread(load_dialogue, self.settings)
        engine = await open_database(self.settings.database_url, self.settings.data_dir)
        self._stack.push_async_callback(engine.dispose)
        dialer = await self._stack.enter_async_context(Dialer(self.settings.sip))
        self._shared = _Shared(self.settings, self.amd, gateway, models, dialer,
                               ConversationStore(engine), Metrics())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self._shared = None
        await self._stack.aclose()

    async def place(self, claim: Claim) -> CallReport:
        if self._shared is None:
            raise RuntimeError("use the carrier as `async with carrier:`")
        started = time.monotonic()
        try:
            agent = _agent(claim)
        except Exception as error:  # a contact the agent cannot take: nobody is called
            log.warning("campaign agent not built", campaign=claim.campaign_id,
                        contact=claim.contact_id, error=type(error).__name__)
            return CallReport(CallResult.FAILED, detail=f"agent: {type(error).__name__}")
        call = _CampaignCall(self._shared, claim, agent)
        report = await call.place()
        self.placed.append(PlacedCall(report.result, call.screening_reason,
                                      call.first_agent_audio_s, time.monotonic() - started))
        log.info("campaign call", campaign=claim.campaign_id, contact=claim.contact_id,
                 attempt=claim.attempt, result=str(report.result), outcome=report.outcome,
                 screening=call.screening_reason)
        return report


def _agent(claim: Claim) -> ConversationAgent:
    """The campaign's agent for this contact, built before the dial: a contact it cannot
    talk to is never called. Its clock is the contact's local time."""
    now = datetime.now(ZoneInfo(claim.timezone))
    return agent_factory(claim.agent)(ConversationSetup(claim.contact, claim.context, now,
                                                                     keypad=True))


class _CampaignCall:
    """One dial of one contact: screening, then the agent's conversation or the message."""

    def __init__(self, shared: _Shared, claim: Claim, agent: ConversationAgent) -> None:
        self._shared = shared
        self._claim = claim
        self._agent = agent
        self._store = shared.store
        self._service = ConversationService(shared.store, shared.metrics,
                                            lambda _org, _name: lambda _setup: agent)
        self._responder = ScreenedResponder()
        self._screening: Screening | None = None
        self._conversation: str | None = None
        self.first_agent_audio_s: float | None = None

    @property
    def screening_reason(self) -> str | None:
        return None if self._screening is None else self._screening.reason

    async def place(self) -> CallReport:
        shared, claim = self._shared, self._claim
        uri = f"sip:{claim.phone}@{shared.gateway}"
        try:
            phone = await shared.dialer.call(uri, shared.models, shared.settings.voice,
                                             self._responder, screen=self._screen)
        except DialError as error:
            return CallReport(result_of_refusal(error), detail=str(error)[:200])
        finally:
            if self._conversation is not None:
                await self._service.hang_up(self._conversation)
        self.first_agent_audio_s = next(
            (t.marks.first_agent_audio for t in phone.session.turns
             if t.marks.first_agent_audio is not None), None)
        return await self._report()

    async def _screen(self, phone: PhoneCall) -> None:
        """Decide who answered, then set up what the session says to them."""
        shared = self._shared
        screening = await screen_call(phone, shared.transcriber(), shared.amd)
        self._screening = screening
        if screening.verdict is Verdict.PERSON:
            claim = self._claim
            record = await self._service.start(claim.campaign_id, claim.agent,
                                               self._agent.setup, CHANNEL)
            self._conversation = record.id
            self._responder.agent = CallResponder(self._service, record.id, _shown,
                                                   answer_silence=True)
        elif screening.verdict is Verdict.MACHINE:
            context = self._claim.context
            callback = context.get("callback_number") or shared.settings.sip.callback_number
            self._responder.voicemail = voicemail_message(
                _text(context.get("organization")), _text(callback))

    async def _report(self) -> CallReport:
        screening = self._screening
        if screening is None or screening.verdict is None:
            return CallReport(CallResult.NO_ANSWER, detail="hung up before the agent spoke")
        if screening.verdict is Verdict.MACHINE:
            conversation = await self._store_voicemail()
            return CallReport(CallResult.VOICEMAIL, conversation_id=conversation,
                              detail=f"voicemail left ({screening.reason}, "
                                     f"{screening.machine_ready})")
        if self._conversation is None:  # the conversation could not be started
            return CallReport(CallResult.FAILED, detail="the agent could not start")
        record = await self._store.get(self._conversation)
        outcome = record.outcome if record is not None else None
        return CallReport(CallResult.ANSWERED, outcome=outcome,
                          opted_out=opted_out(self._agent, outcome),
                          conversation_id=self._conversation,
                          detail=f"person ({screening.reason})")

    async def _store_voicemail(self) -> str:
        """The message left, as a one-turn conversation (the machine's greeting is not
        kept: it may name the person)."""
        claim, message = self._claim, self._responder.voicemail or ""
        record = await self._store.create(claim.campaign_id, claim.agent, CHANNEL)
        await self._store.append_turn(record.id, "agent", message, act="voicemail")
        await self._store.update_state(record.id, outcome="voicemail", slots={}, ended=True)
        return record.id


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
