"""Masking of personal data in transcripts and logs.

Card numbers (13 to 19 digits passing the Luhn check, spaces or dashes allowed), national
ids (US SSN form) and dates (numeric or spelled-out month, the shapes a date of birth takes)
are replaced by a tag saying what was there. Keys that name personal fields are masked
whatever their value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
# Not inside a longer token: one uuid4 hex id in about 450 holds a Luhn-valid run of 13 or
# more digits, and a conversation id masked in the logs can no longer be traced.
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_SSN = re.compile(r"(?<!\d)\d{3}[- ]\d{2}[- ]\d{4}(?!\d)")
_NUMERIC_DATE = re.compile(
    r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})(?!\d)")
_SPOKEN_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:\d{{4}}|'?\d{{2}})"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+(?:\d{{4}}|'?\d{{2}}))\b",
    re.IGNORECASE,
)
PERSONAL_KEYS = frozenset({
    "date_of_birth", "dob", "birth_date", "card_number", "pan", "ssn", "national_id",
    "phone", "name", "email", "address",
})


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_ok(digits) else match.group()


def redact_text(text: str) -> str:
    """Mask card numbers, national ids and dates in free text."""
    text = _CARD.sub(_mask_card, text)
    text = _SSN.sub("[national-id]", text)
    text = _NUMERIC_DATE.sub("[date]", text)
    return _SPOKEN_DATE.sub("[date]", text)


def redact_value(key: str, value: Any) -> Any:
    """Mask one logged field: by its name first, then by what its text contains."""
    if key.lower() in PERSONAL_KEYS and value not in (None, ""):
        return "[redacted]"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value
