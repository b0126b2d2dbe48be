"""How the SIP carrier reads a dial: the dialer's refusals as call results, an opt-out from
the agent's outcome or action, what a screened call says to whoever answered, and no reply
to what the callee says once the agent has ended the conversation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app.campaigns.call_screen import ScreenedResponder
from app.campaigns.policy import CallResult
from app.campaigns.sip_carrier import CallResponder, opted_out, result_of_refusal
from app.channels.sip_dial import DialError
from app.conversation_store import ConversationStore
from app.conversations import ConversationService, Exchange
from app.db import open_engine
from app.metrics import Metrics
from dialog.agent import ConversationSetup
from dialog.events import Action
from tests.agents import GOODBYE, ScriptedAgent
from voice.responder import Speech


@pytest.mark.parametrize(("error", "result"), [
    ("486 Busy Here", CallResult.BUSY),
    ("600 Busy Everywhere", CallResult.BUSY),
    ("no answer", CallResult.NO_ANSWER),
    ("408 Request Timeout", CallResult.NO_ANSWER),
    ("480 Temporarily Unavailable", CallResult.NO_ANSWER),
    ("487 Request Terminated", CallResult.NO_ANSWER),
    ("404 Not Found", CallResult.FAILED),
    ("503 Service Unavailable", CallResult.FAILED),
    ("registration with 127.0.0.1:5060 failed: 403 Forbidden", CallResult.FAILED),
    ("cannot resolve gw.example: [Errno -2]", CallResult.FAILED),
])
def test_refusals_map_to_call_results(error: str, result: CallResult) -> None:
    assert result_of_refusal(DialError(error)) is result


def _agent(outcome: str | None, *actions: str) -> Any:
    return SimpleNamespace(state=SimpleNamespace(
        outcome=outcome, actions=[Action(name) for name in actions]))


def test_an_opt_out_is_read_from_the_outcome_or_the_action() -> None:
    assert opted_out(_agent("opted_out"), "opted_out")
    assert opted_out(_agent(None, "opt_out"), None)  # an agent that only acts on it
    assert not opted_out(_agent("confirmed", "end_call"), "confirmed")
    stateless: Any = SimpleNamespace()  # an agent without a dialogue state
    assert not opted_out(stateless, None)


class _Agent:
    async def greeting(self) -> Speech | None:
        return Speech("Hi, this is Ava.")

    async def heard(self, text: str) -> Speech:
        return Speech(f"you said {text}")

    async def keyed(self, digits: str) -> Speech:
        return Speech("thanks")

    async def went_silent(self, seconds: float) -> Speech:
        return Speech("Are you still there?")

    async def hung_up(self) -> None:
        return None


def test_a_screened_call_speaks_for_whoever_answered() -> None:
    async def scenario() -> None:
        nobody = ScreenedResponder()
        assert await nobody.greeting() is None and (await nobody.heard("hi")).text == ""
        person = ScreenedResponder()
        person.agent = _Agent()
        assert await person.greeting() == Speech("Hi, this is Ava.")
        assert (await person.heard("hello")).text == "you said hello"
        machine = ScreenedResponder()
        machine.voicemail = "Please call us back."
        assert await machine.greeting() == Speech("Please call us back.", end_call=True)
        assert (await machine.went_silent(4)).text == ""

    asyncio.run(scenario())


def test_words_after_the_agent_ended_the_conversation_get_no_reply() -> None:
    """The callee's "bye" heard while the agent's goodbye plays: nothing more is said, the
    call ends (the conversation service refuses turns of an ended conversation)."""
    async def scenario() -> None:
        engine = await open_engine("sqlite+aiosqlite:///:memory:")
        try:
            service = ConversationService(ConversationStore(engine), Metrics(),
                                          lambda _org, _name: ScriptedAgent)
            setup = ConversationSetup({}, {}, datetime.now(UTC))
            record = await service.start("campaign", "scripted", setup, "campaign")
            responder = CallResponder(service, record.id, _nobody)
            assert (await responder.heard("goodbye")) == Speech(GOODBYE, end_call=True)
            assert (await responder.heard("thanks, bye")) == Speech("", end_call=True)
            assert (await responder.went_silent(4)) == Speech("", end_call=True)
        finally:
            await engine.dispose()

    asyncio.run(scenario())


async def _nobody(_: Exchange) -> None:
    return None
