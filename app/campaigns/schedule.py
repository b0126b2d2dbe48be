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
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.campaigns.policy import RETRYABLE, AttemptPolicy, CallingWindow, CallResult

_SEARCH_DAYS = 15  # two weeks and a day: every allowed weekday comes round at least twice
_RESOLUTION = timedelta(seconds=1)  # time-zone changes happen on whole seconds


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
        for opening in _openings(day, window, zone):
            if opening >= after and is_lawful(opening, zone, window):
                return opening
    raise ValueError(f"the window {window.describe()} never opens in {zone.key}")


def _openings(day: date, window: CallingWindow, zone: ZoneInfo) -> list[datetime]:
    """The instants at which ``day``'s wall clock reaches the window's start, earliest
    first: the start itself; both occurrences of it in a repeated hour (a look taken
    between them gets the second); or, when a spring-forward gap skips it, the jump."""
    first = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
    second = datetime.combine(day, window.start, tzinfo=zone).replace(fold=1).astimezone(UTC)
    if first <= second:
        return [first] if first == second else [first, second]
    # Skipped: fold=1 reads it with the offset after the jump (an instant before it),
    # fold=0 with the one before (an instant after it). The jump lies between. Wall clocks
    # are compared with their dates: a midnight start skipped (Santiago, 7 September 2025)
    # has the evening before on one side of the jump, and 23:00 is past 00:00 as a time.
    wall_start = datetime.combine(day, window.start)

    def reached(instant: datetime) -> bool:
        return instant.astimezone(zone).replace(tzinfo=None) >= wall_start

    before, after = second, first
    while after - before > _RESOLUTION:
        middle = before + (after - before) / 2
        if reached(middle):
            after = middle
        else:
            before = middle
    whole = after.replace(microsecond=0)  # the jump is on a whole second: this one or the next
    return [whole if reached(whole) else whole + _RESOLUTION]


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
