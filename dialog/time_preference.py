"""When a caller would like something: "Thursday afternoon", "next week", "tomorrow at
3", "quarter past three", "after lunch", a day ruled out ("Wednesday's no good"), and
corrections ("Tuesday, no, Wednesday": the later words win)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from dialog.numbers import words_to_digits
from dialog.spoken_dates import MONTH_DAY, clock_words, month_and_day, valid

# "the 14th", not "the 1st one" (an offered slot chosen, or none offered yet)
_ORDINAL_DAY = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:one|ones|option|slot)\b)")
# "whatever's the soonest you have": any time, earliest first
_SOONEST = re.compile(r"\b(?:soonest|earliest|as soon as|asap|first available|next available)\b")
_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2})|\s+(\d{2})(?!\d))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)?"
                   r"(?=\W|$)")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CORRECTION = re.compile(r"\b(?:no|nope|actually|i mean|sorry|rather|wait|make that|"
                        r"scratch that|or rather|instead)\b[,.]?", re.IGNORECASE)
# Parts of the day, the more precise first: [start, end) hours.
_PARTS_OF_DAY = tuple((re.compile(words), hours) for words, hours in (
    (r"\bafter\s+lunch", (13, 24)), (r"\bafter\s+(?:noon|midday)\b", (12, 24)),
    (r"\bbefore\s+(?:lunch|noon|midday)", (0, 12)),
    (r"\bearly\s+(?:in\s+the\s+)?morning", (6, 10)), (r"\blate\s+morning", (10, 12)),
    (r"\bearly\s+(?:in\s+the\s+)?afternoon", (12, 15)), (r"\blate\s+afternoon", (15, 17)),
    (r"\bmorning", (6, 12)), (r"\bafternoon", (12, 17)), (r"\bevening", (17, 21)),
    (r"\blunch", (11, 14)), (r"\bnoon|\bmidday", (11, 13)), (r"\bnight", (17, 22))))


@dataclass(frozen=True)
class TimePreference:
    """When a caller would like something; every field optional."""

    day: date | None = None
    weekday: int | None = None
    after: date | None = None  # "next week": on or after this day
    before: date | None = None
    hours: tuple[int, int] | None = None  # part of the day, [start, end)
    at: time | None = None
    soonest: bool | None = None  # "the soonest you have": any time will do
    # weekdays ruled out ("any afternoon but not Friday"); alone, no wish
    excluded: frozenset[int] | None = None

    @property
    def empty(self) -> bool:
        return replace(self, excluded=None) == TimePreference()

    def merged(self, later: TimePreference) -> TimePreference:
        """This preference with whatever ``later`` says replacing it."""
        changes = {name: getattr(later, name) for name in self.__dataclass_fields__
                   if getattr(later, name) is not None}
        if changes.get("day") is not None or changes.get("weekday") is not None:
            changes.setdefault("day", later.day)
            changes.setdefault("weekday", later.weekday)
        return replace(self, **changes)

    def matches(self, when: datetime) -> bool:
        if self.day and when.date() != self.day:
            return False
        if self.excluded and when.weekday() in self.excluded:
            return False
        if self.weekday is not None and when.weekday() != self.weekday:
            return False
        if self.after and when.date() < self.after:
            return False
        if self.before and when.date() >= self.before:
            return False
        if self.hours and not self.hours[0] <= when.hour < self.hours[1]:
            return False
        return not (self.at and (when.hour, when.minute) != (self.at.hour, self.at.minute))


_WHEN_WORD = (r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|tomorrow|weekends?|"
              r"mornings?|afternoons?|evenings?)")
# A day or a part of the day the caller rules out: "Wednesday's no good", "I can't do
# Thursday", "not Monday", "mornings don't work".
_REFUSED = re.compile(
    rf"\b(?:can'?t|cannot|can not|couldn'?t|won'?t be able to)\s+(?:do|make|come(?:\s+in)?)\s+"
    rf"(?:it\s+)?(?:on\s+|in\s+the\s+)?(?:a\s+)?{_WHEN_WORD}"
    rf"|\b(?:not|never)\s+(?:on\s+)?(?:a\s+)?{_WHEN_WORD}"
    rf"|\b{_WHEN_WORD}(?:'s|'re|\s+is|\s+are)?\s+(?:no good|not good|bad|out|"
    r"(?:not|never)\s+(?:going to|gonna)\s+work|(?:doesn'?t|don'?t|won'?t|isn'?t|aren'?t)\s+"
    r"(?:work|good))")


# "I've got a school thing that morning": the time already booked, no wish
_THAT_TIME = re.compile(r"\bthat\s+(?:morning|afternoon|evening|night)\b")


def parse_preference(text: str, now: datetime) -> TimePreference:
    """When the caller would like it. Later words correct earlier ones; a day ruled out
    ("Could we do Friday? Wednesday's no good.") is no wish."""
    said = _THAT_TIME.sub(" ", clock_words(words_to_digits(text).lower()))
    preference = TimePreference()
    for segment in CORRECTION.split(_REFUSED.sub(" ", said)):
        preference = preference.merged(_segment_preference(segment, now))
    ruled_out = frozenset(index for refusal in _REFUSED.finditer(said)
                          for index, name in enumerate(WEEKDAYS) if name[:3] in refusal[0])
    return replace(preference, excluded=ruled_out) if ruled_out else preference


def _segment_preference(text: str, now: datetime) -> TimePreference:
    today = now.date()
    found = TimePreference(**_day_fields(text, today))
    hours = next((span for words, span in _PARTS_OF_DAY if words.search(text)), None)
    at = _clock_time(text, hours)
    if re.search(r"\b(?:after|from|later than)\s+\d", text) and at:
        hours, at = (at.hour, 24), None
    elif re.search(r"\b(?:before|by|earlier than)\s+\d", text) and at:
        hours, at = (0, at.hour), None
    return replace(found, hours=hours, at=at, soonest=True if _SOONEST.search(text) else None)


def _day_fields(text: str, today: date) -> dict[str, Any]:
    if "day after tomorrow" in text:
        return {"day": today + timedelta(days=2)}
    if "tomorrow" in text:
        return {"day": today + timedelta(days=1)}
    if re.search(r"\btoday\b|\bthis (?:afternoon|morning|evening)\b", text):
        return {"day": today}
    monday = today - timedelta(days=today.weekday())
    # the day named last: "minding the grandkids on Wednesday ... anything on a Friday?"
    named = [(match.start(), index) for index, name in enumerate(WEEKDAYS)
             for match in re.finditer(rf"\b{name}s?\b", text)]
    weekday = max(named)[1] if named else None
    on = {} if weekday is None else {"weekday": weekday}  # "Wednesday of next week"
    if "next week" in text:
        return {"after": monday + timedelta(days=7), "before": monday + timedelta(days=14), **on}
    if "this week" in text:
        return {"after": today, "before": monday + timedelta(days=7), **on}
    if on:
        return on
    if match := MONTH_DAY.search(text):
        return {"day": _upcoming(today, *month_and_day(match))}
    if match := _ORDINAL_DAY.search(text):
        day = int(match[1])
        when = valid(today.year, today.month, day)
        if when is None or when < today:
            following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
            when = valid(following.year, following.month, day)
        return {"day": when} if when else {}
    return {}


def _upcoming(today: date, month: int, day: int) -> date | None:
    when = valid(today.year, month, day)
    if when is not None and when < today:
        when = valid(today.year + 1, month, day)
    return when


def _clock_time(text: str, part_of_day: tuple[int, int] | None) -> time | None:
    """The first clock time in ``text``; bare hours read as office hours (3 is 3 PM)."""
    cleaned = re.sub(r"\b\d{1,2}(?:st|nd|rd|th)\b", " ", text)
    if re.search(r"\b(?:noon|midday)\b", cleaned) and not re.search(
            r"\b(?:after|before)\s*(?:noon|midday)", cleaned):
        return time(12, 0)
    for match in _TIME.finditer(cleaned):
        hour, minute = int(match[1]), int(match[2] or match[3] or 0)
        suffix = (match[4] or "").replace(".", "")
        if not suffix and not (match[2] or match[3]) and not _near_time_words(cleaned, match):
            continue  # a lone number is not a time unless "at 3" or "3 in the afternoon"
        if hour > 23 or minute > 59:
            continue
        if suffix.startswith("p") and hour < 12:
            hour += 12
        elif suffix.startswith("a") and hour == 12:
            hour = 0
        elif not suffix.startswith(("a", "p")) and hour < 12 and (
                (part_of_day and part_of_day[0] >= 12) or (not part_of_day and hour < 8)):
            hour += 12
        return time(hour, minute)
    return None


def _near_time_words(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - 12): match.start()]
    after = text[match.end(): match.end() + 20]
    return bool(re.search(r"\b(?:at|around|after|before|by|from)\s*$", before)
                or re.search(r"^\s*(?:in the|this)\s+(?:morning|afternoon|evening)", after))
