"""Adapts a dialogue agent to the voice session's ``Responder`` protocol."""

from __future__ import annotations

from datetime import date

from dialog.agent import ConversationAgent
from dialog.dates import birth_dates
from dialog.events import (
    CallerEvent,
    CallerHungUp,
    CallerSaid,
    KeypadDigits,
    Reply,
    SilenceTimeout,
)
from voice.responder import AnswerCheck, ExpectedAnswer, Speech


def _holds_a_date(text: str) -> bool:
    return bool(birth_dates(text, date.today(), asked=True))


ANSWER_CHECKS: dict[str, AnswerCheck] = {"date": _holds_a_date}


def speech(text: str, *, end_call: bool, listen_for: str | None, listen_form: str | None,
           expected: ExpectedAnswer | None = None) -> Speech:
    """A reply as the voice session speaks it, with the dialogue's hints for the recognizer
    (``listen_form`` becomes the test of which reading of the answer to take)."""
    return Speech(text, end_call=end_call, listen_for=listen_for,
                  expects=ANSWER_CHECKS.get(listen_form or ""), expected=expected)


def _reply_speech(reply: Reply) -> Speech:
    return speech(reply.text, end_call=reply.ends_call, listen_for=reply.listen_for,
                  listen_form=reply.listen_form, expected=reply.listen_expected)


class DialogueResponder:
    """Speaks what the dialogue agent replies; hangs up when its reply ends the call."""

    def __init__(self, agent: ConversationAgent) -> None:
        self.agent = agent

    async def greeting(self) -> Speech | None:
        return _reply_speech(await self.agent.start())

    async def heard(self, text: str) -> Speech:
        return await self._answer(CallerSaid(text))

    async def keyed(self, digits: str) -> Speech:
        return await self._answer(KeypadDigits(digits))

    async def went_silent(self, seconds: float) -> Speech:
        return await self._answer(SilenceTimeout(seconds))

    async def hung_up(self) -> None:
        await self.agent.handle(CallerHungUp())

    async def _answer(self, event: CallerEvent) -> Speech:
        return _reply_speech(await self.agent.handle(event))
