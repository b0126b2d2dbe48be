"""The base every conversational agent derives from.

The base owns what is the same for every agent: how silence is handled and what a hang-up
means. A concrete agent implements two methods, ``_opening`` and ``_respond``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialog.events import (
    END_CALL,
    Action,
    CallerEvent,
    CallerHungUp,
    CallerSaid,
    KeypadDigits,
    Reply,
    SilenceTimeout,
)

STILL_THERE = "Are you still there?"
SILENT_GOODBYE = "I'm sorry, I can't hear you. I'll end the call now. Goodbye."


@dataclass(frozen=True)
class ConversationSetup:
    """What an agent knows when the conversation starts."""

    contact: dict[str, Any]
    context: dict[str, Any]
    now: datetime
    # The caller can key digits (a phone line): a prompt may offer the keypad.
    keypad: bool = False


class ConversationAgent(ABC):
    """One conversation with one caller. Not shared between conversations."""

    max_silent_prompts = 1

    def __init__(self, setup: ConversationSetup) -> None:
        self.setup = setup
        self.ended = False
        self._silent_prompts = 0
        self._turn_lock = asyncio.Lock()

    async def start(self) -> Reply:
        """The agent's first words."""
        return await self._opening()

    async def handle(self, event: CallerEvent) -> Reply:
        """The reply to one caller event. Events are taken one at a time, in order: a
        channel may ask again before the last reply is ready (the caller went on talking)."""
        async with self._turn_lock:
            return await self._handle(event)

    async def _handle(self, event: CallerEvent) -> Reply:
        if self.ended:
            return Reply("", act="closed")
        if isinstance(event, SilenceTimeout):
            reply = self._on_silence()
        elif isinstance(event, CallerHungUp):
            await self._on_hang_up()
            reply = Reply("", act="hang_up", actions=(Action(END_CALL),))
        else:
            self._silent_prompts = 0
            reply = await self._respond(event)
        self.ended = reply.ends_call
        return reply

    def _on_silence(self) -> Reply:
        if self._silent_prompts < self.max_silent_prompts:
            self._silent_prompts += 1
            return Reply(STILL_THERE, act="reprompt")
        return Reply(SILENT_GOODBYE, act="goodbye", actions=(Action(END_CALL),))

    async def _on_hang_up(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Record whatever a caller leaving means for this agent."""

    @abstractmethod
    async def _opening(self) -> Reply:
        """What the agent says first."""

    @abstractmethod
    async def _respond(self, event: CallerSaid | KeypadDigits) -> Reply:
        """The reply to something the caller said or keyed."""
