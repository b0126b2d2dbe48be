"""The inbound agent: the first request is routed, then the chosen agent holds the rest;
unsure requests get one clarifying question, then a person."""

from __future__ import annotations

from datetime import datetime

from dialog.agent import ConversationSetup
from dialog.events import END_CALL, TRANSFER, CallerHungUp, CallerSaid
from dialog.inbound import ASK, InboundAgent
from dialog.router import CLARIFY, HUMAN, ROUTE, Routing
from tests.agents import GREETING, ScriptedAgent

SETUP = ConversationSetup(contact={"name": "Maria Lopez"},
                          context={"organization": "Riverside Clinic"},
                          now=datetime(2026, 11, 23, 10, 0).astimezone())


class TableRouter:
    """Routes by the first word it finds in the request (a stand-in for the trained router)."""

    def __init__(self, table: dict[str, Routing]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def route_async(self, text: str, threshold: float | None = None) -> Routing:
        self.asked.append(text)
        for word, routing in self.table.items():
            if word in text.lower():
                return routing
        return Routing("out_of_scope", 0.9, ROUTE)


class Knowledge:
    def answer(self, organization: str, question: str, context: str = "") -> str | None:
        return "We open at eight." if "open" in question else None


ROUTES = {
    "appointment": Routing("appointment_confirmation", 0.93, ROUTE),
    "open": Routing("general_question", 0.88, ROUTE),
    "person": Routing("human", 0.95, ROUTE),
    "hmm": Routing("appointment_confirmation", 0.4, CLARIFY,
                   (("general_question", 0.3), ("renewal_reminder", 0.2))),
    "gibberish": Routing("welcome_call", 0.1, HUMAN),
}


def inbound(router: TableRouter) -> InboundAgent:
    return InboundAgent(SETUP, router, {"appointment_confirmation": ScriptedAgent}, Knowledge())


async def test_the_first_request_hands_the_conversation_to_the_routed_agent():
    router = TableRouter(ROUTES)
    agent = inbound(router)
    assert (await agent.start()).text == ASK.format(organization="Riverside Clinic")
    handed = await agent.handle(CallerSaid("I need to change my appointment"))
    assert handed.text.endswith(GREETING) and agent.routed_to == "appointment_confirmation"
    await agent.handle(CallerSaid("is it still on"))
    assert isinstance(agent.inner, ScriptedAgent) and agent.inner.heard == ["is it still on"]
    assert router.asked == ["I need to change my appointment"]  # routed once only


async def test_questions_are_answered_from_knowledge_and_no_ends_the_chat():
    agent = inbound(TableRouter(ROUTES))
    await agent.start()
    answer = await agent.handle(CallerSaid("When do you open?"))
    assert "We open at eight." in answer.text and "anything else" in answer.text
    goodbye = await agent.handle(CallerSaid("No, that's all, thanks."))
    assert goodbye.ends_call and agent.state.outcome == "answered"


async def test_a_person_is_asked_for_or_the_router_gives_up():
    for request in ("Can I talk to a person?", "gibberish"):
        agent = inbound(TableRouter(ROUTES))
        await agent.start()
        reply = await agent.handle(CallerSaid(request))
        assert [a.name for a in reply.actions] == [TRANSFER, END_CALL]
        assert agent.state.outcome == "transferred"


async def test_an_unsure_request_gets_one_question_then_a_person():
    agent = inbound(TableRouter(ROUTES))
    await agent.start()
    question = await agent.handle(CallerSaid("hmm, about my thing"))
    assert question.text == ("Sorry, just to be sure: is this about your appointment or "
                             "a question?")
    second = await agent.handle(CallerSaid("hmm, the other thing"))
    assert second.act == "transfer"


async def test_out_of_scope_requests_say_what_the_agent_can_do():
    agent = inbound(TableRouter(ROUTES))
    await agent.start()
    reply = await agent.handle(CallerSaid("What's the weather like?"))
    assert "your appointment or a question" in reply.text and not reply.ends_call


async def test_hanging_up_before_routing_is_incomplete():
    agent = inbound(TableRouter(ROUTES))
    await agent.start()
    await agent.handle(CallerHungUp())
    assert agent.state.outcome == "incomplete"
