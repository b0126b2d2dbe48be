"""The messages a conversation is made of: what the caller did, and what the agent replies.

Every channel (phone, web chat, terminal) turns its transport into these few types, so the
dialogue layer never learns where a turn came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialog.dates import ExpectedBirthDate


@dataclass(frozen=True)
class CallerSaid:
    """A finished caller utterance (typed or transcribed)."""

    text: str


@dataclass(frozen=True)
class KeypadDigits:
    """Digits the caller keyed (DTMF), in order."""

    digits: str


@dataclass(frozen=True)
class SilenceTimeout:
    """The caller has said nothing for ``seconds`` since the agent finished speaking."""

    seconds: float


@dataclass(frozen=True)
class CallerHungUp:
    """The caller left; nothing more can be said to them."""


CallerEvent = CallerSaid | KeypadDigits | SilenceTimeout | CallerHungUp

END_CALL = "end_call"
TRANSFER = "transfer"


@dataclass(frozen=True)
class Action:
    """Something the channel or the back office must do, such as ``end_call`` or
    ``book_slot``; ``args`` carries what it needs."""

    name: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Reply:
    """The agent's answer to one event: what to say and what to do."""

    text: str
    act: str = "inform"
    actions: tuple[Action, ...] = ()
    state_changes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # What the caller's answer will likely hold, in words ("a date of birth, such as ..."):
    # a speech channel gives it to its recognizer as context. None: nothing in particular.
    listen_for: str | None = None
    # The kind of answer asked for, when it has a fixed form ("date"): a recognizer with
    # several readings of the answer may take the first of that form. None: free speech.
    listen_form: str | None = None
    # The answer hoped for, when the dialogue knows it (the contact's date of birth at the
    # date question): a recognizer may confirm it from the audio. A secret: never shown.
    listen_expected: ExpectedBirthDate | None = field(default=None, repr=False)

    @property
    def ends_call(self) -> bool:
        return any(action.name == END_CALL for action in self.actions)
