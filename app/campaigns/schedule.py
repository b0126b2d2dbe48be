"""When a contact may be dialled: pure functions of instants, zones and policies.

Everything here takes and returns timezone-aware instants; local time exists only inside
``is_lawful``, where an instant is read on the contact's wall clock. That is what keeps
daylight-saving changes harmless: a local time that does not exist (02:30 on a
spring-forward night) is never produced, and one that happens twice is judged by the
instant, not by the clock.

``decide`` is the one function the dialer's claim step asks; the property tests check that
it never says "dial" outside the window, over the attempt cap or before the minimum gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.campaigns.policy import RETRYABLE, AttemptPolicy, CallingWindow, CallResult

_SEARCH_DAYS = 15  # two weeks and a day: every allowed weekday comes round at least twice


def is_lawful(at: datetime, zone: ZoneInfo, window: CallingWindow) -> bool:
    """True when ``at``, on the contact's wall clock, is an allowed day and hour."""
    local = at.astimezone(zone)
    return local.weekday() in window.days and window.start <= local.time() < window.end


def next_lawful(after: datetime, zone: ZoneInfo, window: CallingWindow) -> datetime:
    """The earliest instant at or after ``after`` on which a call is lawful (in UTC)."""
    if is_lawful(after, zone, window):
        return after.astimezone(UTC)
    first_day = after.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        # A start inside a spring-forward gap (fold=0) lands on the first instant after it.
        opening = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        if opening >= after and is_lawful(opening, zone, window):
            return opening
    raise ValueError(f"the window {window.describe()} never opens in {zone.key}")


def retry_at(ended_at: datetime, result: CallResult, attempts_made: int,
             policy: AttemptPolicy) -> datetime | None:
    """When the next attempt may come after one that ended with ``result`` (window aside),
    or None when the contact is done: the result is final or the attempts are used up."""
    if result not in RETRYABLE or attempts_made >= policy.max_attempts:
        return None
    return ended_at + timedelta(seconds=policy.delay_after(result))


@dataclass(frozen=True)
class Decision:
    """What the claim step does with a due contact: dial it now, or look again at
    ``next_at`` (None: never; the attempts are used up)."""

    dial: bool
    next_at: datetime | None


def decide(now: datetime, zone: ZoneInfo, window: CallingWindow, policy: AttemptPolicy,
           attempts_made: int, last_dialed_at: datetime | None) -> Decision:
    """Whether a contact whose turn has come may be dialled at ``now``."""
    if attempts_made >= policy.max_attempts:
        return Decision(dial=False, next_at=None)
    earliest = now
    if last_dialed_at is not None:
        earliest = max(now, last_dialed_at + timedelta(seconds=policy.min_gap_s))
    if earliest == now and is_lawful(now, zone, window):
        return Decision(dial=True, next_at=None)
    return Decision(dial=False, next_at=next_lawful(earliest, zone, window))
