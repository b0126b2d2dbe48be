"""Adapts a dialogue agent to the voice session's ``Responder`` protocol."""

from __future__ import annotations

from dialog.agent import ConversationAgent
from dialog.events import CallerEvent, CallerHungUp, CallerSaid, KeypadDigits, SilenceTimeout
from voice.responder import Speech


class DialogueResponder:
    """Speaks what the dialogue agent replies; hangs up when its reply ends the call."""

    def __init__(self, agent: ConversationAgent) -> None:
        self.agent = agent

    async def greeting(self) -> Speech | None:
        reply = await self.agent.start()
        return Speech(reply.text, end_call=reply.ends_call, listen_for=reply.listen_for)

    async def heard(self, text: str) -> Speech:
        return await self._answer(CallerSaid(text))

    async def keyed(self, digits: str) -> Speech:
        return await self._answer(KeypadDigits(digits))

    async def went_silent(self, seconds: float) -> Speech:
        return await self._answer(SilenceTimeout(seconds))

    async def hung_up(self) -> None:
        await self.agent.handle(CallerHungUp())

    async def _answer(self, event: CallerEvent) -> Speech:
        reply = await self.agent.handle(event)
        return Speech(reply.text, end_call=reply.ends_call, listen_for=reply.listen_for)
