"""What a campaign allows: when a contact may be called (``CallingWindow``), how often and how
soon again (``AttemptPolicy``), and how many calls at once (``CampaignOptions``).

The window is in the contact's own local time, so one campaign over four time zones calls
each contact between 08:00 and 21:00 where that contact lives.
"""

from __future__ import annotations

import enum
from datetime import time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CallResult(enum.StrEnum):
    """How one dial attempt went, as the carrier (or the dialer) reports it."""

    ANSWERED = "answered"  # a person: the agent held the conversation
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"  # a machine answered; a message was left
    FAILED = "failed"  # the network or the callee refused the call
    INTERRUPTED = "interrupted"  # the dialer died mid-attempt; the outcome is unknown


RETRYABLE = (CallResult.NO_ANSWER, CallResult.BUSY, CallResult.VOICEMAIL, CallResult.FAILED,
             CallResult.INTERRUPTED)


class FinalStatus(enum.StrEnum):
    """Why a contact will not be called again."""

    COMPLETED = "completed"  # answered: the agent's outcome says how it went
    OPTED_OUT = "opted_out"  # asked not to be called: on the do-not-call list now
    DO_NOT_CALL = "do_not_call"  # the number was on the list when its turn came
    EXHAUSTED = "exhausted"  # every attempt used without reaching the person


class CallingWindow(BaseModel):
    """Local hours and days on which a call may be placed: ``start <= local time < end``."""

    model_config = ConfigDict(frozen=True)

    start: time = time(8, 0)
    end: time = time(21, 0)
    days: frozenset[int] = Field(default=frozenset(range(7)),
                                 description="ISO weekdays numbered 0 (Monday) to 6")

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("window times are local to each contact: give no offset")
        return value

    @model_validator(mode="after")
    def _check(self) -> CallingWindow:
        if self.start >= self.end:
            raise ValueError("the window must start before it ends (same day)")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("days must be a non-empty set of weekdays 0..6")
        return self

    @classmethod
    def parse(cls, hours: str = "08:00-21:00", days: str = "mon-sun") -> CallingWindow:
        """From the CLI's ``08:00-21:00`` and ``mon-fri`` or ``mon,wed,sat``."""
        start, sep, end = hours.partition("-")
        if not sep:
            raise ValueError(f"window hours '{hours}': expected HH:MM-HH:MM")
        return cls(start=_clock(start), end=_clock(end), days=frozenset(_parse_days(days)))

    def describe(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} {days}"


def _clock(text: str) -> time:
    """``9:30`` or ``09:30`` as a time of day."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"'{text.strip()}' is not a time of day like 08:00")
    return time(int(hours), int(minutes))  # raises ValueError for 25:00


def _parse_days(text: str) -> set[int]:
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        try:
            lo = WEEKDAYS.index(first[:3])
            hi = WEEKDAYS.index(last[:3]) if sep else lo
        except ValueError:
            raise ValueError(f"days '{text}': use mon..sun, as mon-fri or mon,wed") from None
        if hi < lo:
            raise ValueError(f"days '{text}': a range runs forward (mon-fri)")
        days.update(range(lo, hi + 1))
    return days


class AttemptPolicy(BaseModel):
    """How many dials a contact may get, and how long to wait before the next one."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(3, ge=1, le=20)
    retry_delay_s: dict[CallResult, float] = Field(default_factory=lambda: {
        CallResult.NO_ANSWER: 2 * 3600.0,
        CallResult.BUSY: 30 * 60.0,
        CallResult.VOICEMAIL: 24 * 3600.0,
        CallResult.FAILED: 3600.0,
        CallResult.INTERRUPTED: 3600.0,
    })
    min_gap_s: float = Field(4 * 3600.0, ge=0,
                             description="the least time between two dials to one contact")

    @field_validator("retry_delay_s")
    @classmethod
    def _retryable_only(cls, delays: dict[CallResult, float]) -> dict[CallResult, float]:
        for result, delay in delays.items():
            if result not in RETRYABLE:
                raise ValueError(f"'{result}' ends a contact; it has no retry delay")
            if delay < 0:
                raise ValueError(f"retry delay for '{result}' is negative")
        return delays

    def delay_after(self, result: CallResult) -> float:
        """Seconds from the end of a ``result`` attempt to the next dial: its retry delay,
        but never less than the minimum gap."""
        return max(self.retry_delay_s.get(result, self.min_gap_s), self.min_gap_s)


class CampaignOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: CallingWindow = Field(default_factory=CallingWindow)
    attempts: AttemptPolicy = Field(default_factory=AttemptPolicy)
    max_concurrent: int = Field(4, ge=1, le=1000, description="calls at once, all dialers")
