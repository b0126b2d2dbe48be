"""Reading dates of birth the way callers say them, and saying dates, times and money
back (a time the caller would like is ``dialog.time_preference``).

- ``birth_dates``: every date a caller may have meant ("March 12th 1984", "12 March 84",
  "3/12/1984", "1993, October 5th", "the 19th of September, and I was born in 1985";
  numeric forms are read month-first and day-first; a date after today or before 1900 is
  no birth date).
- ``ExpectedBirthDate``: a contact's date of birth as a speech recognizer may confirm it.
- ``speak_date`` / ``speak_time`` / ``speak_money``: the agent's way of saying them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from dialog.numbers import ordinal_suffix, words_to_digits
from dialog.spoken_dates import (
    DAY,
    MONTH,
    MONTH_DAY,
    MONTH_NUMBER,
    apart_dates,
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


# "March... sixth", "March, uh, the sixth": a pause after the month is no break in the date
_MONTH_PAUSE = re.compile(
    rf"\b{MONTH}(?:\s*(?:\.{{2,3}}|…|,)\s*|\s+)(?:(?:uh|um|er|erm|hmm)\b[\s,.…]*)*(?=\w)",
    re.IGNORECASE)


def _normal(text: str) -> str:
    """Numbers and years in digits; "o'" said for "of" ("the 31st o' January"), "oh" for a
    leading zero ("oh-three March"), month names typed with a slip spelt right, a date said
    digit by digit written as one."""
    text = _MONTH_PAUSE.sub(lambda m: f"{m[1]} ", spelt_months(text))
    text = _LEADING_OH.sub("", re.sub(r"\bo'(?=\s)", "of", text))
    return digits_said_apart(_spoken_years(words_to_digits(text)))


def birth_dates(text: str, today: date, *, asked: bool = False) -> list[date]:
    """Every full date (with a year) the caller may have said, earliest mention first; a
    date after ``today`` or before 1900 is no one's date of birth (a card's expiry, a
    policy number's digits). ``asked``: said to the date-of-birth question, where a day and
    its year may have any short clause between them ("December 25th, yep, Christmas baby,
    1981")."""
    normal = _normal(text).lower()
    found, taken = _full_dates(normal, today)
    for apart in apart_dates(normal, taken, asked=asked):
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
        if restarted := _decade_restart(normal, end, earlier):
            taken.append((end, restarted[0]))
            corrected.append((end, restarted[1]))
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


# "November 30th, nineteen fifty... fifty-eight": a year stopped at its decade and begun
# again, after a pause, with the decade's two digits.
_RESTART = re.compile(r"\s*(?:,|\.{2,3}|…)\s*(\d{2})\b(?!\s*(?:st|nd|rd|th|:|/|-))")


def _decade_restart(normal: str, end: int, earlier: date) -> tuple[int, date] | None:
    """Where the year said again ends, and the date it makes."""
    restart = _RESTART.match(normal, end)
    decade = earlier.year % 100
    if not restart or decade % 10 or int(restart[1]) // 10 != decade // 10 \
            or int(restart[1]) == decade:
        return None
    when = valid(earlier.year - decade + int(restart[1]), earlier.month, earlier.day)
    return (restart.end(), when) if when else None


def remove_birth_dates(text: str, *, between: bool = False, asked: bool = False) -> str:
    """The text without its full dates (so a birth date is not read as a wish), the year
    said apart ("1993, October 5th") included. ``between``: and without the words between
    the first date and the last, which are about the date ("August 30th, 1966. No, sorry,
    that's my brother's. August 13th, 1966.")."""
    normal = _normal(text)
    _, taken = _full_dates(normal, date.today())
    taken += [span for apart in apart_dates(normal, taken, asked=asked) for span in apart.spans]
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
        return self.born in birth_dates(reading, self.today, asked=True)

    def written(self) -> Sequence[str]:
        return written_dates(self.born)

    def rivals(self, form: int, readings: Sequence[str]) -> Sequence[str]:
        heard = [when for text in readings
                 for when in birth_dates(text, self.today, asked=True)]
        others = dict.fromkeys(when for when in (*near_dates(self.born), *heard)
                               if when != self.born)
        return [written_dates(when)[form] for when in others]


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
