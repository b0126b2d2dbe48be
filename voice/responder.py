"""What the voice session needs from whoever decides the replies.

The voice layer never imports the dialogue layer; the application adapts a dialogue agent
to this protocol. A reply is text to speak and whether the call ends after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

AnswerCheck = Callable[[str], bool]
"""Whether a reading of an utterance has the form of the answer due (say, holds a date)."""


class ExpectedAnswer(Protocol):
    """The one answer the dialogue hopes to hear (a contact's date of birth), which the
    recognizer may confirm from the audio when its readings miss it, but only against the
    near answers an impostor would give. It holds a secret: never log or store it."""

    def said_in(self, reading: str) -> bool:
        """Whether a reading already says it."""

    def written(self) -> Sequence[str]:
        """The ways Whisper writes it ("March 12, 1984.", "3/12/1984." ...)."""

    def rivals(self, form: int, readings: Sequence[str]) -> Sequence[str]:
        """The near answers it must beat, written the ``form``-th way, and any other answer
        the readings hold."""


@dataclass(frozen=True)
class Speech:
    """What the agent says next; ``end_call``: hang up once it has been heard.
    ``listen_for``: what the caller's answer will likely hold, in words, given to the
    recognizer as context for the next turns (None: the configured prompt). ``expects``:
    whether a reading of the next answer has the form asked for (None: any form).
    ``expected``: the answer hoped for, which the recognizer may confirm from the audio."""

    text: str
    end_call: bool = False
    listen_for: str | None = None
    expects: AnswerCheck | None = None
    expected: ExpectedAnswer | None = field(default=None, repr=False)


class Responder(Protocol):
    async def greeting(self) -> Speech | None:
        """The agent's opening words, or ``None`` to wait for the caller."""

    async def heard(self, text: str) -> Speech:
        """The answer to a caller utterance, as transcribed."""

    async def keyed(self, digits: str) -> Speech:
        """The answer to keypad digits (DTMF)."""

    async def went_silent(self, seconds: float) -> Speech:
        """What to say after ``seconds`` of caller silence once the agent finished."""

    async def hung_up(self) -> None:
        """The caller left; nothing more can be said."""
