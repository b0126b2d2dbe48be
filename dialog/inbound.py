"""An inbound conversation whose purpose is not known yet.

The agent asks how it can help and routes the first request (``dialog.router``): to one of
the organization's domain agents, which then holds the rest of the conversation (identity
check first, as always); to a knowledge answer; or to a person. A request the router is
unsure of gets one clarifying question; a second unsure answer goes to a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from dialog.agent import ConversationAgent, ConversationSetup
from dialog.engine import KnowledgeSource
from dialog.events import (
    END_CALL,
    TRANSFER,
    Action,
    CallerHungUp,
    CallerSaid,
    KeypadDigits,
    Reply,
)
from dialog.registry import AgentFactory
from dialog.router import CLARIFY, HUMAN, Routing
from dialog.state import INCOMPLETE, TRANSFERRED, DialogueState

INBOUND = "inbound"
INBOUND_DESCRIPTION = ("An inbound chat or call of unknown purpose: the first request is routed "
                       "to a domain agent, a knowledge answer or a person.")
GENERAL_QUESTION, PERSON = "general_question", "human"
TOPICS = {"welcome_call": "your new account", "renewal_reminder": "your policy renewal",
          "appointment_confirmation": "your appointment", GENERAL_QUESTION: "a question",
          PERSON: "talking to a person"}
ASK = "Hi, this is Ava from {organization}. How can I help you today?"
HANDOVER = "I can help with that."
WHICH = "Sorry, just to be sure: is this about {first} or {second}?"
NOT_HERE = ("I'm sorry, I can't help with that here. I can help with {topics}. "
            "What would you like to do?")
NO_ANSWER = "I'm sorry, I don't have an answer to that."
ANYTHING_ELSE = "Is there anything else I can help you with?"
TO_PERSON = "Let me connect you with a person who can help. Please hold."
GOODBYE = "Thank you for contacting us. Goodbye."
ANSWERED = "answered"
_DONE = re.compile(r"^\W*(no|nope|nah)\b|\b(that's all|that is all|nothing else|goodbye|bye)\b",
                   re.IGNORECASE)


class RequestRouter(Protocol):
    async def route_async(self, text: str, threshold: float | None = None) -> Routing:
        """Where a first request goes."""


class InboundAgent(ConversationAgent):
    """Routes the first request, then hands the conversation to the agent it chose."""

    def __init__(self, setup: ConversationSetup, router: RequestRouter,
                 agents: Mapping[str, AgentFactory], knowledge: KnowledgeSource | None) -> None:
        super().__init__(setup)
        self._router = router
        self._agents = dict(agents)
        self._knowledge = knowledge
        self._own_state = DialogueState(step="route")
        self._unsure = 0
        self._answered = False  # a question was answered: "no, that's all" ends the chat
        self.routed_to: str | None = None
        self.inner: ConversationAgent | None = None

    @property
    def state(self) -> DialogueState:
        """The dialogue state of the agent in charge (this one until a request is routed)."""
        inner_state = getattr(self.inner, "state", None)
        return inner_state if isinstance(inner_state, DialogueState) else self._own_state

    @property
    def organization(self) -> str:
        return str(self.setup.context.get("organization") or "our office")

    async def _opening(self) -> Reply:
        return Reply(ASK.format(organization=self.organization), act="greet")

    async def _respond(self, event: CallerSaid | KeypadDigits) -> Reply:
        if self.inner is not None:
            return await self.inner.handle(event)
        text = event.text if isinstance(event, CallerSaid) else event.digits
        if not text.strip():
            return Reply(ASK.format(organization=self.organization), act="reprompt")
        if self._answered and _DONE.search(text):
            self._own_state.outcome = ANSWERED
            return Reply(GOODBYE, act="goodbye", actions=(Action(END_CALL),))
        routing = await self._router.route_async(text)
        self._own_state.record("caller", text)
        return await self._follow(routing, text)

    async def _follow(self, routing: Routing, text: str) -> Reply:
        label = routing.label
        if routing.decision == HUMAN or label == PERSON:
            return self._to_person()
        if routing.decision == CLARIFY:
            return self._clarify(routing)
        if label in self._agents:
            return await self._hand_over(label)
        if label == GENERAL_QUESTION:
            return self._answer(text)
        return Reply(NOT_HERE.format(topics=self._topics()), act="reprompt")

    async def _hand_over(self, label: str) -> Reply:
        self.routed_to = label
        self.inner = self._agents[label](self.setup)
        opening = await self.inner.start()
        return Reply(f"{HANDOVER} {opening.text}", act=opening.act, actions=opening.actions)

    def _clarify(self, routing: Routing) -> Reply:
        """One question to tell the likeliest topics apart; still unsure: a person."""
        self._unsure += 1
        if self._unsure > 1:
            return self._to_person()
        labels = (routing.label, *(label for label, _ in routing.alternatives))
        offered = [label for label in labels if label in self._agents or label == GENERAL_QUESTION]
        if len(offered) < 2:
            return Reply(NOT_HERE.format(topics=self._topics()), act="reprompt")
        return Reply(WHICH.format(first=TOPICS[offered[0]], second=TOPICS[offered[1]]),
                     act="clarify")

    def _answer(self, question: str) -> Reply:
        answer = self._knowledge.answer(self.organization, question) if self._knowledge else None
        self._answered = True
        return Reply(f"{answer or NO_ANSWER} {ANYTHING_ELSE}", act="answer")

    def _to_person(self) -> Reply:
        self._own_state.outcome = TRANSFERRED
        summary = " | ".join(f"{who}: {said}" for who, said in self._own_state.transcript[-8:])
        transfer = Action(TRANSFER, {"summary": summary})
        self._own_state.actions.append(transfer)
        return Reply(TO_PERSON, act="transfer", actions=(transfer, Action(END_CALL)))

    def _topics(self) -> str:
        names = [TOPICS[label] for label in self._agents if label in TOPICS]
        names.append(TOPICS[GENERAL_QUESTION])
        return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]

    async def _on_hang_up(self) -> None:
        if self.inner is not None:
            await self.inner.handle(CallerHungUp())
        elif self._own_state.outcome is None:
            self._own_state.outcome = INCOMPLETE


def inbound_factory(router: RequestRouter, agents: Mapping[str, AgentFactory],
                    knowledge: KnowledgeSource | None) -> AgentFactory:
    """An ``AgentFactory`` of inbound agents for one organization's agents."""
    def create(setup: ConversationSetup) -> ConversationAgent:
        return InboundAgent(setup, router, agents, knowledge)

    return create

