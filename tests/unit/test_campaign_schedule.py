"""Property tests of the campaign scheduler: over random contacts, windows, time zones,
daylight-saving dates and attempt policies, it never proposes a call outside the contact's
local window, over the attempt cap, or sooner than the minimum gap after the last one."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.campaigns.policy import RETRYABLE, AttemptPolicy, CallingWindow, CallResult
from app.campaigns.schedule import decide, is_lawful, next_lawful, retry_at

# Zones with daylight saving north and south, half- and quarter-hour offsets, a 30-minute
# DST shift (Lord Howe), negative DST (Dublin) and none at all.
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Dublin",
         "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe", "America/Sao_Paulo",
         "America/St_Johns", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham",
         "Asia/Tokyo", "UTC", "America/Santiago", "Africa/Casablanca")
YEARS = range(2025, 2029)


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """The instants at which ``zone_name`` changes its UTC offset in ``YEARS``."""
    zone = ZoneInfo(zone_name)
    found = []
    at = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    end = datetime(YEARS[-1] + 1, 1, 1, tzinfo=UTC)
    while at < end:
        later = at + timedelta(hours=6)
        if at.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            lo, hi = at, later
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        at = later
    return tuple(found)


def test_the_zones_have_transitions_to_test() -> None:
    assert len(transitions("America/New_York")) == 2 * len(YEARS)
    assert len(transitions("Australia/Lord_Howe")) == 2 * len(YEARS)
    assert transitions("Asia/Tokyo") == ()


@st.composite
def instants(draw: st.DrawFn, zone_name: str) -> datetime:
    """Any instant in the years, or one within hours of a daylight-saving change."""
    near = transitions(zone_name)
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return base + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)),
                                seconds=draw(st.integers(0, 59)))
    return draw(st.datetimes(datetime(YEARS[0], 1, 1), datetime(YEARS[-1], 12, 31),
                             timezones=st.just(UTC)))


@st.composite
def windows(draw: st.DrawFn) -> CallingWindow:
    # Any minutes, and often short windows in the small hours, which DST changes skip or
    # repeat (a window can lie wholly inside a skipped hour).
    if draw(st.booleans()):
        start = draw(st.integers(0, 23 * 60 + 58))
        end = draw(st.integers(start + 1, 24 * 60 - 1))
    else:
        start = draw(st.integers(0, 4 * 60))
        end = start + draw(st.integers(1, 90))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return CallingWindow(start=time(start // 60, start % 60), end=time(end // 60, end % 60),
                         days=days)


@st.composite
def policies(draw: st.DrawFn) -> AttemptPolicy:
    delays = {result: float(draw(st.integers(0, 3 * 86400))) for result in RETRYABLE}
    return AttemptPolicy(max_attempts=draw(st.integers(1, 6)), retry_delay_s=delays,
                         min_gap_s=float(draw(st.integers(0, 2 * 86400))))


@st.composite
def contacts(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    zone_name = draw(st.sampled_from(ZONES))
    return ZoneInfo(zone_name), draw(instants(zone_name))


@settings(max_examples=400, deadline=None)
@given(contact=contacts(), window=windows(),
       probes=st.lists(st.floats(0, 1, exclude_max=True), max_size=12))
def test_next_lawful_is_the_first_lawful_instant(contact: tuple[ZoneInfo, datetime],
                                                 window: CallingWindow,
                                                 probes: list[float]) -> None:
    zone, after = contact
    found = next_lawful(after, zone, window)
    assert found >= after
    assert is_lawful(found, zone, window)
    # Nothing earlier was lawful: the second before it, and random instants in between.
    if found > after:
        assert not is_lawful(found - timedelta(seconds=1), zone, window)
        for share in probes:
            probe = after + (found - after) * share
            assert probe >= found or not is_lawful(probe, zone, window)


@settings(max_examples=400, deadline=None)
@given(contact=contacts(), window=windows(), policy=policies(),
       results=st.lists(st.sampled_from(list(CallResult)), min_size=1, max_size=8),
       lags=st.lists(st.integers(-7200, 7200), min_size=8, max_size=8),
       call_seconds=st.integers(0, 1800))
def test_the_scheduler_never_proposes_an_unlawful_or_extra_call(
        contact: tuple[ZoneInfo, datetime], window: CallingWindow, policy: AttemptPolicy,
        results: list[CallResult], lags: list[int], call_seconds: int) -> None:
    """Play a contact's life: the dialer looks when told, give or take a random lag (late,
    as a busy dialer is, or early, as after a retry time was edited), dials when ``decide``
    says so, and reports the next result."""
    zone, now = contact
    dials: list[datetime] = []
    for step in range(40):
        decision = decide(now, zone, window, policy, len(dials), dials[-1] if dials else None)
        if decision.dial:
            assert is_lawful(now, zone, window), "dialled outside the window"
            assert len(dials) < policy.max_attempts, "dialled over the cap"
            if dials:
                assert now - dials[-1] >= timedelta(seconds=policy.min_gap_s)
            dials.append(now)
            result = results[(len(dials) - 1) % len(results)]
            retry = retry_at(now + timedelta(seconds=call_seconds), result, len(dials), policy)
            if retry is None:
                assert result not in RETRYABLE or len(dials) == policy.max_attempts
                return
            now = retry
        elif decision.next_at is None:
            assert len(dials) >= policy.max_attempts
            return
        else:
            assert decision.next_at > now or not is_lawful(now, zone, window)
            now = decision.next_at
        now += timedelta(seconds=lags[step % len(lags)])
        if dials:
            now = max(now, dials[-1])
    assert len(dials) <= policy.max_attempts


def test_spring_forward_start_inside_the_gap_opens_when_the_clock_jumps() -> None:
    zone = ZoneInfo("America/New_York")
    window = CallingWindow(start=time(2, 30), end=time(5, 0))
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 never happens that night, and at
    # 03:00 the wall clock is already inside the window.
    found = next_lawful(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), zone, window)
    assert found.astimezone(zone).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 0)


def test_a_look_between_the_two_occurrences_of_a_repeated_start_gets_the_second() -> None:
    zone = ZoneInfo("America/New_York")
    window = CallingWindow(start=time(1, 30), end=time(13, 0))
    # 2025-11-02 02:00 EDT falls back to 01:00 EST: 01:30 happens twice. A look at
    # 01:10 EST (after the first 01:30, before the second) opens at the second.
    found = next_lawful(datetime(2025, 11, 2, 6, 10, tzinfo=UTC), zone, window)
    assert found == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)


def test_a_window_inside_the_skipped_hour_waits_for_the_next_allowed_day() -> None:
    zone = ZoneInfo("America/New_York")
    sundays = CallingWindow(start=time(2, 0), end=time(2, 45), days=frozenset({6}))
    found = next_lawful(datetime(2026, 3, 8, 0, 0, tzinfo=UTC), zone, sundays)
    assert found.astimezone(zone).replace(tzinfo=None) == datetime(2026, 3, 15, 2, 0)


def test_fall_back_hour_is_judged_by_the_instant() -> None:
    zone = ZoneInfo("Europe/London")
    window = CallingWindow(start=time(1, 30), end=time(2, 0))
    # 2026-10-25 01:00-02:00 happens twice in London: both passes are inside the window.
    first = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)  # 01:45 BST
    second = datetime(2026, 10, 25, 1, 45, tzinfo=UTC)  # 01:45 GMT
    assert is_lawful(first, zone, window) and is_lawful(second, zone, window)
    assert not is_lawful(datetime(2026, 10, 25, 2, 15, tzinfo=UTC), zone, window)


@pytest.mark.parametrize(("hours", "days", "described"), [
    ("08:00-21:00", "mon-sun", "08:00-21:00 mon,tue,wed,thu,fri,sat,sun"),
    ("9:30-17:00", "mon-fri", "09:30-17:00 mon,tue,wed,thu,fri"),
    ("10:00-12:00", "sat,mon", "10:00-12:00 mon,sat"),
])
def test_window_parsing(hours: str, days: str, described: str) -> None:
    assert CallingWindow.parse(hours, days).describe() == described


@pytest.mark.parametrize(("hours", "days"), [
    ("21:00-08:00", "mon"), ("8-21", "mon"), ("08:00-21:00", "fri-mon"),
    ("08:00-21:00", "funday"), ("08:00-21:00", ""),
])
def test_bad_windows_are_refused(hours: str, days: str) -> None:
    with pytest.raises(ValueError):
        CallingWindow.parse(hours, days)


def test_a_retry_never_comes_sooner_than_the_minimum_gap() -> None:
    policy = AttemptPolicy(retry_delay_s={CallResult.BUSY: 60.0}, min_gap_s=3600.0)
    ended = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert retry_at(ended, CallResult.BUSY, 1, policy) == ended + timedelta(hours=1)
    assert retry_at(ended, CallResult.ANSWERED, 1, policy) is None
    assert retry_at(ended, CallResult.BUSY, policy.max_attempts, policy) is None


def test_a_window_opening_at_a_skipped_midnight_opens_at_the_jump() -> None:
    """Santiago skipped from 00:00 to 01:00 on Sunday 7 September 2025: a window from
    midnight opens at 01:00 that day (04:00 UTC), not on the next day it runs."""
    window = CallingWindow(start=time(0, 0), end=time(8, 19), days=frozenset({0, 1, 6}))
    found = next_lawful(datetime(2025, 9, 6, 12, tzinfo=UTC), ZoneInfo("America/Santiago"),
                        window)
    assert found == datetime(2025, 9, 7, 4, tzinfo=UTC)
