"""Reading dates and times the way callers say them, and saying them back.

- ``birth_dates``: every date a caller may have meant ("March 12th 1984", "12 March 84",
  "3/12/1984", "1993, October 5th", "the 19th of September, and I was born in 1985";
  numeric forms are read month-first and day-first; a date after today or before 1900 is
  no birth date).
- ``TimePreference``: "Thursday afternoon", "next week", "tomorrow at 3", "quarter past
  three", "after lunch", corrections ("Tuesday, no, Wednesday": the later words win).
- ``ExpectedBirthDate``: a contact's date of birth as a speech recognizer may confirm it.
- ``speak_date`` / ``speak_time`` / ``speak_money``: the agent's way of saying them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from dialog.numbers import ordinal_suffix, words_to_digits
from dialog.spoken_dates import (
    DAY,
    MONTH,
    MONTH_DAY,
    MONTH_NUMBER,
    apart_dates,
    clock_words,
    digits_said_apart,
    month_and_day,
    spelt_months,
    valid,
)

_YEAR = r"(?:'\s*)?(\d{4}|\d{2})(?:,?\s+(\d{4}))?"  # a second year: a recognizer's restart
_DATE_PATTERNS = (
    re.compile(rf"\b{MONTH}\s+(?:the\s+)?{DAY},?\s+(?:of\s+)?{_YEAR}\b", re.I),  # March 12, 84
    # 12 March 84; "the 12th on/and March" is how a recognizer may write "of"
    re.compile(rf"\b(?:the\s+)?{DAY}\s+(?:(?:of|on|and)\s+)?{MONTH},?\s+{_YEAR}\b", re.I),
)
# How a recognizer writes a spoken year: "1,984"; "nineteen hundred ninety" as "1900, 90",
# "1900-90" or, the "nineteen" lost, "100-90"; "nineteen hundred eighty seven" as
# "1900, 1987".
_THOUSANDS_YEAR = re.compile(r"\b(1|2),(\d{3})\b(?!,\d)")
_HUNDRED_YEAR = re.compile(
    r"\b(19|20|1)00[,-]?\s*(?:(\d{2})|((?:19|20)\d{2}))\b(?![,.]?\d)")
# "nineteen eighty four" as "1980, 4": the decade, then the year's last digit on its own.
_DECADE_YEAR = re.compile(r"\b((?:19|20)[1-9])0,?\s+([1-9])\b(?![,.]?\d)")
# "nineteen ninety" as two numbers after a month and day: "6-5-19-90", "3 12 19 84", "June 5,
# 19 90". Only after both, so "March 20 84" stays the 20th of March, '84, and "5/19/83" the
# 19th of May, '83.
_SPLIT_YEAR = re.compile(
    rf"(?<![\d:])((?:{MONTH.replace('(', '(?:', 1)}|\d{{1,2}})[\s,/.-]+\d{{1,2}}(?:st|nd|rd|th)?"
    r"[\s,/.-]+)(19|20)[\s,/.-]+(\d{2})(?![\d:])", re.IGNORECASE)
# Not inside a code ("ESM-A-26-07-14", which ``words_to_digits`` writes "ESM-A - 26-07-14").
_NUMERIC = re.compile(r"(?<![\d:])(?<!\w[/.-])(?<!\w\s-\s)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*"
                      r"(\d{2}|\d{4})(?![\d:]|[/.-]\w)")
# A pause between numbers said one by one, as written: a comma or an ellipsis ("12... 2... 77").
_PAUSE = r"\s*(?:,|\.{2,3}|…)?\s+"
# "3 12 1984" said as numbers: a recognizer writes "3, 12, 1984" (a four-digit year only,
# so a list of small numbers is not a date).
_SPOKEN_NUMERIC = re.compile(rf"(?<![\d:,])(\d{{1,2}}){_PAUSE}(\d{{1,2}}){_PAUSE}(\d{{4}})"
                             r"(?![\d:])")
# "the twelfth of the ninth, fifty-eight": the month by its number, day first.
_ORDINAL_MONTH = re.compile(rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)\s+of\s+the\s+"
                            rf"(\d{{1,2}})(?:st|nd|rd|th),?\s+{_YEAR}\b", re.I)
# "six eleven ninety-five" as a whole answer: three numbers and nothing else said in digits
# (within a longer turn, three small numbers are more often something else).
_BARE_NUMERIC = re.compile(rf"^[^\d]{{0,30}}?(?<![\d:])(\d{{1,2}}){_PAUSE}(\d{{1,2}}){_PAUSE}"
                           r"(\d{2})(?![\d:])[^\d]{0,30}$")
# A date corrected right after it is said, the rest kept: a year ("4th of September,
# 74... sorry, 73") or a day ("March 3 1980, no, March 4th").
_CORRECTING = re.compile(r"[\s,.…-]*(?:(?:no|sorry|i mean|actually|rather|wait|or|make that|"
                         r"it's|it was)\b[\s,.…-]*)+", re.I)
_YEAR_ALONE = re.compile(rf"(?:'\s*)?(\d{{4}}|\d{{2}})\b(?!\s*(?:st|nd|rd|th|:)|[\s,]+(?:of\s+)?"
                         rf"{MONTH})", re.I)
_ISO = re.compile(r"(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")
_ORDINAL_DAY = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2})|\s+(\d{2})(?!\d))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)?"
                   r"(?=\W|$)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
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


def _year(text: str, today: date) -> int:
    value = int(text)
    if len(text) == 4:
        return value
    return 2000 + value if value <= today.year % 100 else 1900 + value


def _spoken_years(text: str) -> str:
    """Years as a recognizer may have written them, as four digits."""
    def hundreds(match: re.Match[str]) -> str:
        if match[3]:
            return match[3]
        century = "19" if match[1] == "1" else match[1]
        return f"{century}{match[2]}" if int(match[2]) >= 10 else match[0]

    text = _THOUSANDS_YEAR.sub(
        lambda m: m[1] + m[2] if 1900 <= int(m[1] + m[2]) <= 2099 else m[0], text)
    text = _HUNDRED_YEAR.sub(hundreds, text)
    text = _SPLIT_YEAR.sub(lambda m: m[1] + m[2] + m[3], text)
    return _DECADE_YEAR.sub(lambda m: m[1] + m[2], text)


# "oh-three March": a day or month said with its leading zero; not the "oh" of a year
# ("twenty oh six", "nineteen oh five")
_LEADING_OH = re.compile(
    r"(?<!teen )(?<!twenty )(?<!thousand )(?<!\d )\boh[- ](?=(?:one|two|three|four|five|six|"
    r"seven|eight|nine|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|[1-9])\b)",
    re.I)


def _normal(text: str) -> str:
    """Numbers and years in digits; "o'" said for "of" ("the 31st o' January"), "oh" for a
    leading zero ("oh-three March"), month names typed with a slip spelt right, a date said
    digit by digit written as one."""
    text = _LEADING_OH.sub("", re.sub(r"\bo'(?=\s)", "of", spelt_months(text)))
    return digits_said_apart(_spoken_years(words_to_digits(text)))


def birth_dates(text: str, today: date) -> list[date]:
    """Every full date (with a year) the caller may have said, earliest mention first; a
    date after ``today`` or before 1900 is no one's date of birth (a card's expiry, a
    policy number's digits)."""
    normal = _normal(text).lower()
    found, taken = _full_dates(normal, today)
    for apart in apart_dates(normal, taken):
        when = valid(_year(apart.year, today), apart.month, apart.day)
        if when:
            found.append((min(start for start, _ in apart.spans), when))
    return [when for _, when in sorted(found, key=lambda item: item[0])
            if when.year >= 1900 and when <= today]


def _full_dates(normal: str, today: date) -> tuple[list[tuple[int, date]], list[tuple[int, int]]]:
    """The dates said in one piece (where each starts) and the spans they take."""
    found: list[tuple[int, date]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(normal):
            taken.append(match.span())
            groups = match.groups()
            month_name, day = (groups[0], groups[1]) if groups[0][0].isalpha() else \
                (groups[1], groups[0])
            month_number = MONTH_NUMBER[month_name.lower().rstrip(".")]
            # "June 5, 1990, 1998": the year said again differently; either may be meant
            for year in filter(None, groups[2:4]):
                if when := valid(_year(year, today), month_number, int(day)):
                    found.append((match.start(), when))
    for match in _ORDINAL_MONTH.finditer(normal):
        taken.append(match.span())
        if when := valid(_year(match[3], today), int(match[2]), int(match[1])):
            found.append((match.start(), when))
    found += _corrections(normal, today, found, taken)
    for match in _ISO.finditer(normal):
        taken.append(match.span())
        if when := valid(int(match[1]), int(match[3]), int(match[4])):
            found.append((match.start(), when))
    for match in (*_NUMERIC.finditer(normal), *_SPOKEN_NUMERIC.finditer(normal),
                  *_BARE_NUMERIC.finditer(normal)):
        taken.append(match.span(1)[:1] + match.span(3)[1:])
        year = _year(match[3], today)
        for month, day in ((match[1], match[2]), (match[2], match[1])):  # US first
            if when := valid(year, int(month), int(day)):
                found.append((match.start(), when))
    return found, taken


def _corrections(normal: str, today: date, found: list[tuple[int, date]],
                 taken: list[tuple[int, int]]) -> list[tuple[int, date]]:
    """The dates corrected right after a full date: a new year, or a new month and day,
    with the rest of the date said before (their spans join ``taken``)."""
    corrected: list[tuple[int, date]] = []
    for start, earlier in found:
        end = max(end for begin, end in taken if begin == start)
        if not (correcting := _CORRECTING.match(normal, end)):
            continue
        if year := _YEAR_ALONE.match(normal, correcting.end()):
            taken.append((end, year.end()))
            when = valid(_year(year[1], today), earlier.month, earlier.day)
        elif (day := MONTH_DAY.match(normal, correcting.end())) and \
                not _YEAR_ALONE.match(normal, day.end() + 1):
            taken.append((end, day.end()))
            when = valid(earlier.year, *month_and_day(day))
        else:
            continue
        if when:
            corrected.append((correcting.end(), when))
    return corrected


def remove_birth_dates(text: str, *, between: bool = False) -> str:
    """The text without its full dates (so a birth date is not read as a wish), the year
    said apart ("1993, October 5th") included. ``between``: and without the words between
    the first date and the last, which are about the date ("August 30th, 1966. No, sorry,
    that's my brother's. August 13th, 1966.")."""
    normal = _normal(text)
    _, taken = _full_dates(normal, date.today())
    taken += [span for apart in apart_dates(normal, taken) for span in apart.spans]
    if between and len(taken) > 1:
        taken = [(min(start for start, _ in taken), max(end for _, end in taken))]
    for start, end in sorted(taken, reverse=True):
        normal = normal[:start] + " " + normal[end:]
    return " ".join(normal.split())


def written_dates(when: date) -> tuple[str, ...]:
    """The ways Whisper writes a spoken date of birth. The year said in two digits ("12
    March 84") has its own forms: scored against the four-digit year, the true date was
    not told from its neighbours, and scored as said it beats them by a wide margin."""
    day = f"{when.day}{ordinal_suffix(when.day)}"
    short = f"{when.year % 100:02d}"
    return (f"{when:%B} {when.day}, {when.year}.", f"{when.day} {when:%B} {when.year}.",
            f"{when.month}/{when.day}/{when.year}.", f"{when:%B} {day}, {when.year}.",
            f"The {day} of {when:%B}, {when.year}.", f"{when.day} {when:%B} {short}.",
            f"{when.month}/{when.day}/{short}.", f"{when:%B} {day}, {short}.")


def near_dates(when: date) -> list[date]:
    """Dates a caller guessing close to ``when`` would say: a day or two off, a month off,
    a year or ten years off, ten days off, and the day and month swapped."""
    near: list[date | None] = [when + timedelta(days=shift) for shift in (-10, -2, -1, 1, 2, 10)]
    for years in (-10, -1, 1, 10):
        near.append(valid(when.year + years, when.month, when.day))
    for months in (-1, 1):
        index = when.month - 1 + months
        near.append(valid(when.year + index // 12, index % 12 + 1, when.day))
    near.append(valid(when.year, when.day, when.month))
    return [other for other in dict.fromkeys(near) if other is not None and other != when]


@dataclass(frozen=True)
class ExpectedBirthDate:
    """A contact's date of birth, for a recognizer to confirm from the audio against the
    dates near it (``voice.responder.ExpectedAnswer``). Never shown in a repr."""

    born: date = field(repr=False)
    today: date = field(repr=False)

    def said_in(self, reading: str) -> bool:
        return self.born in birth_dates(reading, self.today)

    def written(self) -> Sequence[str]:
        return written_dates(self.born)

    def rivals(self, form: int, readings: Sequence[str]) -> Sequence[str]:
        heard = [when for text in readings for when in birth_dates(text, self.today)]
        others = dict.fromkeys(when for when in (*near_dates(self.born), *heard)
                               if when != self.born)
        return [written_dates(when)[form] for when in others]


@dataclass(frozen=True)
class TimePreference:
    """When a caller would like something; every field optional."""

    day: date | None = None
    weekday: int | None = None
    after: date | None = None  # "next week": on or after this day
    before: date | None = None
    hours: tuple[int, int] | None = None  # part of the day, [start, end)
    at: time | None = None

    @property
    def empty(self) -> bool:
        return self == TimePreference()

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
    rf"\b(?:can't|cannot|can not|couldn't|won't be able to)\s+(?:do|make|come(?:\s+in)?)\s+"
    rf"(?:it\s+)?(?:on\s+|in\s+the\s+)?(?:a\s+)?{_WHEN_WORD}"
    rf"|\b(?:not|never)\s+(?:on\s+)?(?:a\s+)?{_WHEN_WORD}"
    rf"|\b{_WHEN_WORD}(?:'s|'re|\s+is|\s+are)?\s+(?:no good|not good|bad|out|"
    r"(?:not|never)\s+(?:going to|gonna)\s+work|(?:doesn't|don't|won't|isn't|aren't)\s+"
    r"(?:work|good))")


def parse_preference(text: str, now: datetime) -> TimePreference:
    """When the caller would like it. Later words correct earlier ones; a day ruled out
    ("Could we do Friday? Wednesday's no good.") is no wish."""
    normal = _REFUSED.sub(" ", clock_words(words_to_digits(text).lower()))
    preference = TimePreference()
    for segment in CORRECTION.split(normal):
        preference = preference.merged(_segment_preference(segment, now))
    return preference


def _segment_preference(text: str, now: datetime) -> TimePreference:
    today = now.date()
    found = TimePreference(**_day_fields(text, today))
    hours = next((span for words, span in _PARTS_OF_DAY if words.search(text)), None)
    at = _clock_time(text, hours)
    if re.search(r"\b(?:after|from|later than)\s+\d", text) and at:
        hours, at = (at.hour, 24), None
    elif re.search(r"\b(?:before|by|earlier than)\s+\d", text) and at:
        hours, at = (0, at.hour), None
    return replace(found, hours=hours, at=at)


def _day_fields(text: str, today: date) -> dict[str, Any]:
    if "day after tomorrow" in text:
        return {"day": today + timedelta(days=2)}
    if "tomorrow" in text:
        return {"day": today + timedelta(days=1)}
    if re.search(r"\btoday\b|\bthis (?:afternoon|morning|evening)\b", text):
        return {"day": today}
    monday = today - timedelta(days=today.weekday())
    if "next week" in text:
        return {"after": monday + timedelta(days=7), "before": monday + timedelta(days=14)}
    if "this week" in text:
        return {"after": today, "before": monday + timedelta(days=7)}
    for index, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}s?\b", text):
            return {"weekday": index}
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


def speak_date(when: date | datetime) -> str:
    """ "Tuesday, March 12" """
    return f"{when:%A}, {when:%B} {when.day}"


def speak_time(when: datetime | time) -> str:
    """ "3:30 PM" """
    hour = when.hour % 12 or 12
    return f"{hour}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"


def speak_day_and_time(when: datetime) -> str:
    return f"{speak_date(when)} at {speak_time(when)}"


def speak_full_date(when: date) -> str:
    """ "March 12, 2027" """
    return f"{when:%B} {when.day}, {when.year}"


def speak_money(amount: object, symbol: str = "$") -> str:
    """ "$1,284" or "$1,284.50"; text is said as it is given."""
    if isinstance(amount, str):
        try:
            value = float(amount.replace(",", "").lstrip(symbol))
        except ValueError:
            return amount
    elif isinstance(amount, int | float):
        value = float(amount)
    else:
        return str(amount)
    cents = round(value * 100) % 100
    return f"{symbol}{value:,.2f}" if cents else f"{symbol}{round(value):,}"
