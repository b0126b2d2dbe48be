"""What the voice session needs from whoever decides the replies.

The voice layer never imports the dialogue layer; the application adapts a dialogue agent
to this protocol. A reply is text to speak and whether the call ends after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Heard:
    """A caller utterance, as transcribed."""

    text: str


@dataclass(frozen=True)
class Keyed:
    """Keypad digits (DTMF) the caller pressed."""

    digits: str


@dataclass(frozen=True)
class WentSilent:
    """Nothing from the caller for ``seconds`` after the agent finished speaking."""

    seconds: float


@dataclass(frozen=True)
class HungUp:
    """The caller left the call."""


VoiceEvent = Heard | Keyed | WentSilent | HungUp


@dataclass(frozen=True)
class Speech:
    """What the agent says next; ``end_call``: hang up once it has been heard."""

    text: str
    end_call: bool = False


class Responder(Protocol):
    async def greeting(self) -> Speech | None:
        """The agent's opening words, or ``None`` to wait for the caller."""

    async def reply(self, event: VoiceEvent) -> Speech:
        """The answer to one caller event."""
