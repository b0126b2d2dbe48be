"""Adapts a dialogue agent to the voice session's ``Responder`` protocol."""

from __future__ import annotations

from dialog.agent import ConversationAgent
from dialog.events import CallerEvent, CallerHungUp, CallerSaid, KeypadDigits, SilenceTimeout
from voice.responder import Heard, HungUp, Keyed, Speech, VoiceEvent, WentSilent


def to_caller_event(event: VoiceEvent) -> CallerEvent:
    match event:
        case Heard(text=text):
            return CallerSaid(text)
        case Keyed(digits=digits):
            return KeypadDigits(digits)
        case WentSilent(seconds=seconds):
            return SilenceTimeout(seconds)
        case HungUp():
            return CallerHungUp()
    raise TypeError(f"unknown voice event {event!r}")


class DialogueResponder:
    """Speaks what the dialogue agent replies; hangs up when its reply ends the call."""

    def __init__(self, agent: ConversationAgent) -> None:
        self.agent = agent

    async def greeting(self) -> Speech | None:
        reply = await self.agent.start()
        return Speech(reply.text, end_call=reply.ends_call)

    async def reply(self, event: VoiceEvent) -> Speech:
        reply = await self.agent.handle(to_caller_event(event))
        return Speech(reply.text, end_call=reply.ends_call)
