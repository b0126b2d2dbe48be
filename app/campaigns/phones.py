"""Phone numbers as the dialer and the do-not-call list store them: E.164 (``+12125550143``).

One function normalises every number that enters the system (a contact list, a do-not-call
import, a number typed on the command line), so the list lookup right before each dial
compares like with like: ``(212) 555-0143`` with region US and ``+1 212 555 0143`` are the
same row.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from app.errors import InputError

_TOO_FEW = (ValidationResult.TOO_SHORT, ValidationResult.INVALID_LENGTH)


def check_region(region: str | None) -> str | None:
    """``region`` upper-cased when it is a known ISO country code (``US``, ``GB``), else an
    ``InputError``; None stays None (every number must then start with +)."""
    if region is None:
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(f"--region '{region[:20]}': not a country code such as US, GB or DE")
    return code


def normalize_phone(text: str, region: str | None = None) -> str:
    """``text`` as an E.164 number; ``ValueError`` saying what is wrong when it is not a
    number that can be dialled. ``region`` (``US``) reads numbers written without +."""
    written = text.strip()
    if not written:
        raise ValueError("phone: missing")
    shown = written[:40]  # the report quotes what it could not read, within reason
    try:
        number = phonenumbers.parse(written, region.upper() if region else None)
    except NumberParseException as error:
        if error.error_type != NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError(f"phone: '{shown}' is not a phone number") from None
        if region is None:
            raise ValueError(f"phone: '{shown}' has no country code: write it as "
                             "+<country code><number> or pass --region") from None
        raise ValueError(f"phone: '{shown}' has an unknown country code") from None
    if number.extension:
        raise ValueError(f"phone: '{shown}' has an extension, which cannot be dialled")
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        length = "too few" if possible in _TOO_FEW else "too many"
        raise ValueError(f"phone: '{shown}' has {length} digits for country code "
                         f"+{number.country_code}")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise ValueError(f"phone: '{shown}' is not a valid number for region {where}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
