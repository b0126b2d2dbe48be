from datetime import datetime

import pytest

from dialog.agent import SILENT_GOODBYE, STILL_THERE, ConversationSetup
from dialog.events import CallerHungUp, CallerSaid, SilenceTimeout
from dialog.registry import UnknownAgentError, agent_factory
from tests.agents import GREETING, SCRIPT, ScriptedAgent

SETUP = ConversationSetup(contact={}, context={}, now=datetime(2026, 11, 23, 10, 0))


async def test_silence_gets_one_reprompt_then_a_polite_end():
    agent = ScriptedAgent(SETUP)
    assert (await agent.start()).text == GREETING
    first = await agent.handle(SilenceTimeout(8))
    assert first.text == STILL_THERE and not first.ends_call
    second = await agent.handle(SilenceTimeout(8))
    assert second.text == SILENT_GOODBYE and second.ends_call
    assert (await agent.handle(CallerSaid("hello?"))).text == ""  # the call is over


async def test_speech_resets_the_silence_count():
    agent = ScriptedAgent(SETUP)
    await agent.handle(SilenceTimeout(8))
    assert (await agent.handle(CallerSaid("yes I'm here"))).text == SCRIPT[0]
    assert not (await agent.handle(SilenceTimeout(8))).ends_call


async def test_hang_up_ends_without_words():
    reply = await ScriptedAgent(SETUP).handle(CallerHungUp())
    assert reply.text == "" and reply.ends_call


def test_agents_are_found_by_import_path():
    assert agent_factory("tests.agents:ScriptedAgent") is ScriptedAgent


@pytest.mark.parametrize(("name", "message"), [
    ("no_such_agent", "unknown agent 'no_such_agent'"),
    ("tests.agents:Missing", "cannot load agent"),
    ("tests.agents:GREETING", "not a ConversationAgent subclass"),
])
def test_unknown_agents_are_named_in_the_error(name, message):
    with pytest.raises(UnknownAgentError, match=message):
        agent_factory(name)
