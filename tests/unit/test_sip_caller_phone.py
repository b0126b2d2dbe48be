"""Which callers' numbers the SIP door can put on the do-not-call list: a From header whose
user part is an E.164 number (SIP or tel URI), nothing else."""

import pytest

from app.channels.sip_signalling import caller_phone


@pytest.mark.parametrize(("header", "number"), [
    ('"Ann Lee" <sip:+12125550143@pbx.example.com>;tag=1', "+12125550143"),
    ("<tel:+12125550143>;tag=9", "+12125550143"),
    ("sip:+442079460018@carrier.example;tag=2", "+442079460018"),
    ("<sip:+1-212-555-0143@carrier.example;user=phone>", "+12125550143"),
])
def test_numbers_in_from_are_read_as_e164(header: str, number: str) -> None:
    assert caller_phone(header) == number


@pytest.mark.parametrize("header", [
    None, "", "sipp <sip:caller@127.0.0.1:5000>;tag=x", "<sip:2125550143@pbx>",
    "<sip:+1212555@pbx>", "<sip:anonymous@anonymous.invalid>", "garbage <<>>",
])
def test_anything_else_is_no_number(header: str | None) -> None:
    assert caller_phone(header) is None
