"""What a conversation has established so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialog.events import Action
from dialog.time_preference import TimePreference

INCOMPLETE = "incomplete"
WRONG_PERSON = "wrong_person"
NOT_VERIFIED = "not_verified"
OPTED_OUT = "opted_out"
TRANSFERRED = "transferred"
CALLBACK_REQUESTED = "callback_requested"
# After these the agent does not ask "Is there anything else I can help you with?".
FINAL_WITHOUT_FOLLOW_UP = frozenset({WRONG_PERSON, NOT_VERIFIED, OPTED_OUT, TRANSFERRED})


@dataclass
class DialogueState:
    step: str = "identify"
    verified: bool = False
    verify_misses: int = 0
    misunderstood_in_a_row: int = 0
    abuse_count: int = 0
    outcome: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    pending_intent: str | None = None  # said before verification, handled right after
    pending_words: str = ""  # what the pending intent was said in (a reason, say)
    heard_birth_dates: list[Any] = field(default_factory=list)
    preference: TimePreference | None = None
    offered: list[datetime] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.step == "end"

    def record(self, speaker: str, text: str) -> None:
        self.transcript.append((speaker, text))
