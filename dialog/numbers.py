"""Spoken numbers to digits: "twelfth" -> "12th", "nineteen eighty four" -> "1984",
"three thirty" stays for the time parser to read as two numbers.

Callers speak numbers in words and transcribers write them either way; everything after
this module sees digits.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
    "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_MONTH_WORDS = frozenset(MONTHS) | {m[:3] for m in MONTHS} | {"sept"}
# "one" is a number only next to other numbers: "the first one", "no one" are not.
_NOT_BEFORE_ONE = frozenset({"the", "that", "this", "no", "any", "which", "every", "some",
                             "each", "another", "other", "last", "earlier", "later", "early",
                             "late", "a", "first", "second", "third", "next", "only",
                             "best", "worst", "just", "with"})
_WORD = re.compile(r"\d+(?:[:/.,-]\d+)*(?:st|nd|rd|th)?|[A-Za-z]+(?:['’-][A-Za-z]+)*|\S")
# "half nine'd be good", "two'll do": a contraction glued to a number word
_NUMBER_CONTRACTION = re.compile(
    "\\b(" + "|".join((*_UNITS, *_TENS, *_ORDINALS)) + r")(['’](?:d|ll)\b)", re.I)


# "nineteen-eighty", "twenty-twenty": a year's two halves written with a hyphen
_YEAR_HYPHEN = re.compile(r"\b(eighteen|nineteen|twenty)-(?=[a-z])", re.IGNORECASE)


def ordinal_suffix(value: int) -> str:
    return "th" if 10 <= value % 100 <= 20 else _SUFFIX.get(value % 10, "th")


def _small_number(words: list[str], index: int) -> tuple[int, int, bool] | None:
    """A number below 100 starting at ``index``: (value, words used, is ordinal)."""
    word = words[index].lower()
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in _TENS:
        if parts[1] in _UNITS and 0 < _UNITS[parts[1]] < 10:
            return _TENS[parts[0]] + _UNITS[parts[1]], 1, False
        if parts[1] in _ORDINALS and _ORDINALS[parts[1]] < 10:
            return _TENS[parts[0]] + _ORDINALS[parts[1]], 1, True
    if word in _ORDINALS:
        return _ORDINALS[word], 1, True
    if word in _UNITS and word != "oh":
        return _UNITS[word], 1, False
    if word in _TENS:
        following = words[index + 1].lower() if index + 1 < len(words) else ""
        if following in _UNITS and 0 < _UNITS[following] < 10 and following != "oh":
            return _TENS[word] + _UNITS[following], 2, False
        if following in _ORDINALS and _ORDINALS[following] < 10:
            return _TENS[word] + _ORDINALS[following], 2, True
        if word == "twenty" and following == "first":
            return 21, 2, True
        return _TENS[word], 1, False
    return None


def _year(words: list[str], index: int) -> tuple[int, int] | None:
    """ "nineteen eighty four", "two thousand five", "twenty twenty": (year, words used)."""
    first = _small_number(words, index)
    if first is None or first[2]:
        return None
    lowered = [w.lower() for w in words]
    if lowered[index] == "two" and index + 1 < len(words) and lowered[index + 1] == "thousand":
        return _thousands_year(lowered, index + 2)
    if first[0] not in (19, 20) or index + first[1] >= len(words):
        return None
    after = index + first[1]
    if lowered[after] == "hundred":  # "nineteen hundred (and) eighty four"
        return _hundreds_year(words, first[0], after + 1, first[1] + 1)
    if lowered[after] == "oh" and after + 1 < len(words):
        unit = _small_number(words, after + 1)
        if unit is not None and unit[0] < 10 and not unit[2]:
            return first[0] * 100 + unit[0], first[1] + 2
    second = _small_number(words, after)
    if second is None or second[2] or second[0] < 10:
        return None
    return first[0] * 100 + second[0], first[1] + second[1]


def _thousands_year(words: list[str], index: int) -> tuple[int, int]:
    """The rest of "two thousand [and] one" from ``index`` (after "thousand")."""
    skip = 1 if index + 1 < len(words) and words[index] == "and" else 0
    rest = _small_number(words, index + skip) if index + skip < len(words) else None
    after = index + skip + rest[1] if rest else 0
    if rest is None or rest[2] or (after < len(words) and words[after] == "hundred"):
        return 2000, 2  # "two thousand and five hundred" is no year
    return 2000 + rest[0], 2 + skip + rest[1]


def _hundreds_year(words: list[str], century: int, index: int,
                   used: int) -> tuple[int, int] | None:
    """The rest of "nineteen hundred [and] eighty four" from ``index`` (after "hundred")."""
    if index < len(words) and words[index].lower() == "and":
        index, used = index + 1, used + 1
    rest = _small_number(words, index) if index < len(words) else None
    if rest is None or rest[2]:
        return century * 100, used
    return century * 100 + rest[0], used + rest[1]


def words_to_digits(text: str) -> str:
    """Rewrite number words as digits; ordinals keep a suffix ("12th")."""
    text = _YEAR_HYPHEN.sub(r"\1 ", _NUMBER_CONTRACTION.sub(r"\1 \2", text))
    tokens = _WORD.findall(text)
    out: list[str] = []
    index = 0
    while index < len(tokens):
        year = _year(tokens, index)
        if year is not None:
            out.append(str(year[0]))
            index += year[1]
            continue
        number = _small_number(tokens, index)
        if number is not None and _reads_as_number(tokens, index, number[1], number[2]):
            value, used, is_ordinal = number
            out.append(f"{value}{ordinal_suffix(value)}" if is_ordinal else str(value))
            index += used
            continue
        out.append(tokens[index])
        index += 1
    return _join(out)


def _reads_as_number(tokens: list[str], index: int, used: int, is_ordinal: bool) -> bool:
    """Whether the number words from ``index`` (``used`` of them) mean a number here ("wait
    a second" does not; "twenty first of June" does)."""
    before = tokens[index - 1].lower() if index else ""
    after = tokens[index + used].lower() if index + used < len(tokens) else ""
    if is_ordinal:  # dates: "the twelfth", "March twelfth", "twelfth of March"
        return (before in _MONTH_WORDS or before in ("the", "on") or after == "of"
                or after in _MONTH_WORDS or before.isdigit())
    if tokens[index].lower() == "one":
        # "the 1st one" is no number; "quarter past one", "around one" are
        ordinal = before[:1].isdigit() and before.endswith(("st", "nd", "rd", "th"))
        return before not in _NOT_BEFORE_ONE and not ordinal
    return True


def _join(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if text and not re.match(r"[,.!?;:)/%]", token) and not text.endswith(("(", "/", "$")):
            text += " "
        text += token
    return text
