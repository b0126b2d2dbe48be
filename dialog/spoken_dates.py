"""The parts of a spoken date or time that callers say apart or in words, for
``dialog.dates`` (text already through ``words_to_digits``):

- ``apart_dates``: a day and month whose year is said before them ("1993, October 5th")
  or in another clause ("the 19th of September, and I was born in 1985").
- ``clock_words``: "quarter past 3", "half past 2", "half 2", "10 to 4" as "3:15", "2:30",
  "2:30", "3:50".
- ``digits_said_apart``: a date said digit by digit ("0, 1, 1, 9, 1, 9, 5, 9") as "01/19/1959".
- ``spelt_months``: a month name typed with a slip ("feburary", "Septmber") as the month.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from dialog.numbers import MONTHS

MONTH_NUMBER = {name: i + 1 for i, name in enumerate(MONTHS)}
MONTH_NUMBER.update({name[:3]: i + 1 for i, name in enumerate(MONTHS)})
MONTH_NUMBER["sept"] = 9
MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|" \
        r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# "March 12", "March the 12th", "the 12th of March", "12 March": (month, day) or (day, month)
MONTH_DAY = re.compile(
    rf"\b{MONTH}\s+(?:the\s+)?{DAY}\b|\b(?:the\s+)?{DAY}\s+(?:of\s+)?{MONTH}\b", re.I)
_ANY_MONTH = re.compile(rf"\b{MONTH}(?!\w)", re.I)

# A year said on its own: not part of a longer number, a price, a time or an amount.
_LONE_YEAR = re.compile(
    r"(?<![\w$£€])(?<![\d$£€][\s,.:/-])(?:'\s*)?(\d{4}|\d{2})"
    r"(?!\w|[.,:/-]\d|\s*(?:%|percent|dollars|bucks|pounds|euros|cents)\b)", re.I)
_FILLER = r"uh|um+|er|erm|ah|hmm+|mm|so|well|like|yeah|i mean|let me see|let's see"
# Between a day and its year when they are said together: pauses, fillers, "in", "of".
_CLOSE = re.compile(rf"(?:[\s,.;:!?…-]|\b(?:{_FILLER}|in|of|on|the|year)\b)*", re.I)
_PAUSE = re.compile(rf"(?:[\s,.;:!?…-]|\b(?:{_FILLER})\b)*", re.I)  # a two-digit year's gap
_BORN = re.compile(r"\bborn\b|\bbirth", re.I)
_MAX_CLAUSE_GAP = 80  # characters between a day and a year said in another clause


@dataclass(frozen=True)
class ApartDate:
    """A day and month with a year said apart from them, and where each part is."""

    month: int
    day: int
    year: str  # as said: two or four digits
    spans: tuple[tuple[int, int], tuple[int, int]]


def valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def month_and_day(match: re.Match[str]) -> tuple[int, int]:
    """The month and day a ``MONTH_DAY`` match names."""
    name, day = (match[1], match[2]) if match[1] else (match[4], match[3])
    return MONTH_NUMBER[name.lower().rstrip(".")], int(day)


def apart_dates(text: str, taken: list[tuple[int, int]], *,
                asked: bool = False) -> Iterator[ApartDate]:
    """Days and months (outside the ``taken`` spans, the full dates already read) paired
    with the year said nearest before or after them. ``asked``: the text answers the
    date-of-birth question, so it speaks of birth as much as "I was born ..." does."""
    days = list(MONTH_DAY.finditer(text))
    about_birth = asked or bool(_BORN.search(text))
    spoken = [*taken, *(day.span() for day in days)]
    years = [y for y in _LONE_YEAR.finditer(text)
             if (len(y[1]) == 2 or 1900 <= int(y[1]) <= 2099) and not _inside(y.span(), spoken)]
    for match in days:
        if _inside(match.span(), taken):
            continue
        month, day = month_and_day(match)
        before = [y for y in years if y.end() <= match.start()][-1:]
        after = [y for y in years if y.start() >= match.end()][:1]
        for year in (*before, *after):
            first, second = sorted((match.span(), year.span()))
            gap = text[first[1]:second[0]]
            if year in after:  # "February 9th. The 9th. 1982.": the day said again
                gap = re.sub(rf"\b(?:the\s+)?0?{day}(?:st|nd|rd|th)?\b", " ", gap, flags=re.I)
            if _said_together(gap, year, ahead=year in after, about_birth=about_birth):
                yield ApartDate(month, day, year[1], (match.span(), year.span()))


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in spans)


def _said_together(gap: str, year: re.Match[str], *, ahead: bool, about_birth: bool) -> bool:
    """Whether a day and a year with ``gap`` between them are one date: a pause or
    "in"/"of" between, or any short clause when the caller speaks of birth. A two-digit
    year counts only after the day, past a pause ("March 3rd... 82")."""
    if re.search(r"[\d$£€]", gap) or _ANY_MONTH.search(gap):
        return False
    if len(year[1]) == 2:
        return ahead and bool(_PAUSE.fullmatch(gap))
    if _CLOSE.fullmatch(gap):
        return True
    return len(gap) <= _MAX_CLAUSE_GAP and about_birth


# Numbers said one after another with pauses between ("0, 1, 1, 9, 1959"; "12... 2... 77").
_NUMBER_RUN = re.compile(
    r"(?<![\d:.,/-])\d{1,4}(?:\s*(?:,|\.{2,3}|…)?\s+\d{1,4})+(?![\d:]|[.,/-]\d)")
_MIN_APART = 4  # numbers in the run: three ("3, 12, 1984") is read as month, day, year


def digits_said_apart(text: str) -> str:
    """A date said as its eight digits in four or more pieces, the way it is keyed (month,
    day, year; "zero one, one nine, nineteen fifty-nine"), written "01/19/1959"."""
    def written(match: re.Match[str]) -> str:
        pieces = re.findall(r"\d+", match[0])
        digits = "".join(pieces)
        if len(pieces) < _MIN_APART or len(digits) != 8:
            return match[0]
        return f"{digits[:2]}/{digits[2:4]}/{digits[4:]}"

    return _NUMBER_RUN.sub(written, text)


# Months long enough that a slip in typing one still leaves it plain ("feburary", "agust")
_LONG_MONTHS = tuple(name for name in MONTHS if len(name) >= 6)
_WORD = re.compile(r"\b[a-z]{5,}\b", re.I)
_SLIP = 0.8  # difflib ratio: one letter out of place or missing in a six-letter month


def spelt_months(text: str) -> str:
    """Month names typed with a slip, as the month ("feburary 14 1988")."""
    def month(match: re.Match[str]) -> str:
        word = match[0].lower()
        if word in MONTHS or word[0] not in {name[0] for name in _LONG_MONTHS}:
            return match[0]
        close = difflib.get_close_matches(word, _LONG_MONTHS, n=1, cutoff=_SLIP)
        return close[0] if close else match[0]

    return _WORD.sub(month, text)


# "quarter past 3", "a quarter to 4", "half past 2", "20 past 3", "10 to 4", "5 after 9"
_CLOCK_WORDS = re.compile(
    r"\b(?:a\s+)?(quarter|half|5|10|20|25)\s+(?:minutes\s+)?(past|after|to|till|til|of|before)"
    r"\s+(\d{1,2})\b(?![:\d]|\s*(?:minutes|hours|days|weeks)\b)", re.I)
_RANGE = re.compile(r"\b(?:from|between|anywhere|anytime|any time)\s*$", re.I)
# "half three" (British and Australian): half past three, not half of three hours
_HALF_HOUR = re.compile(r"\bhalf\s+(\d{1,2})\b(?![:\d]|\s*(?:minutes|hours|days|weeks)\b)",
                        re.I)


def clock_words(text: str) -> str:
    """Clock times said in words as digits: "quarter past 3" is "3:15", "10 to 4" "3:50"."""
    def digits(match: re.Match[str]) -> str:
        minutes = {"quarter": 15, "half": 30}.get(match[1].lower()) or int(match[1])
        hour, forward = int(match[3]), match[2].lower() in ("past", "after")
        if not 1 <= hour <= 12 or (match[1].lower() == "half" and not forward):
            return match[0]
        if not forward and _RANGE.search(text[:match.start()]):
            return match[0]  # "from 10 to 4" is a range, not 3:50
        if not forward:
            hour, minutes = (hour - 2) % 12 + 1, 60 - minutes
        return f"{hour}:{minutes:02d}"

    text = _CLOCK_WORDS.sub(digits, text)
    return _HALF_HOUR.sub(lambda m: f"{m[1]}:30" if 1 <= int(m[1]) <= 12 else m[0], text)
