"""The caller's number on a Twilio call: only a phone number with its country code counts
(E.164 out), and the stream trusts it only with the MAC the signed webhook made for that
call and that number."""

from __future__ import annotations

import pytest

from app import twilio
from app.channels.opt_out import dialable


@pytest.mark.parametrize(("written", "expected"), [
    ("+12125550143", "+12125550143"),
    ("+1 (212) 555-0143", "+12125550143"),
    ("client:alice", None),
    ("anonymous", None),
    ("266696687", None),  # Twilio's stand-in for a withheld number
    ("2125550143", None),  # no country code: not guessed
    ("+1212", None),
    ("", None),
    (None, None),
])
def test_only_numbers_with_a_country_code_are_dialable(written: str | None,
                                                       expected: str | None) -> None:
    assert dialable(written) == expected


def test_the_caller_mac_binds_the_token_the_call_and_the_number() -> None:
    mac = twilio.caller_mac("token", "CA1", "+12125550143")
    assert twilio.caller_mac_valid("token", "CA1", "+12125550143", mac)
    assert not twilio.caller_mac_valid("token", "CA2", "+12125550143", mac)
    assert not twilio.caller_mac_valid("token", "CA1", "+12125550144", mac)
    assert not twilio.caller_mac_valid("other", "CA1", "+12125550143", mac)
    assert not twilio.caller_mac_valid("", "CA1", "+12125550143", twilio.caller_mac(
        "", "CA1", "+12125550143"))  # no token configured: nothing is vouched for
    assert not twilio.caller_mac_valid("token", "CA1", "+12125550143", "")
