"""Webhook signatures as a receiver checks them, the URL check and the retry delays."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from app.campaigns.webhooks import backoff_delay, check_webhook_url, sign, verify

SECRET = "5f" * 32
BODY = b'{"id":7,"event":"call.finished","created_at":"2025-01-01T00:00:00+00:00","data":{}}'
NOW = 1_750_000_000


def test_round_trip() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify(SECRET, header, BODY, now=NOW)
    assert verify(SECRET, header, BODY, now=NOW + 299)


def test_signature_is_the_documented_hmac() -> None:
    """A receiver in another language computes HMAC-SHA256 over ``<t>.<raw body>``."""
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_tampered_body_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, header, BODY.replace(b"7", b"8"), now=NOW)
    assert not verify(SECRET, header, BODY + b" ", now=NOW)


def test_wrong_secret_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify("6f" * 32, header, BODY, now=NOW)


def test_changed_timestamp_is_refused() -> None:
    mac = sign(SECRET, NOW, BODY).split(",v1=")[1]
    assert not verify(SECRET, f"t={NOW + 1},v1={mac}", BODY, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_stale_or_future_timestamp_is_refused(offset: int) -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify(SECRET, header, BODY, now=NOW + offset)
    assert verify(SECRET, header, BODY, now=NOW + offset, tolerance_s=abs(offset))


def test_any_of_several_v1_values_may_match() -> None:
    """A sender moving to a new secret may send both signatures for a while."""
    good = sign(SECRET, NOW, BODY).split(",v1=")[1]
    other = sign("6f" * 32, NOW, BODY).split(",v1=")[1]
    assert verify(SECRET, f"t={NOW},v1={other},v1={good}", BODY, now=NOW)
    assert not verify(SECRET, f"t={NOW},v1={other}", BODY, now=NOW)


@pytest.mark.parametrize("header", [
    "",
    "garbage",
    "t=,v1=",
    f"v1={'a' * 64}",  # no timestamp
    f"t={NOW}",  # no signature
    f"t=abc,v1={'a' * 64}",
    f"t=-5,v1={'a' * 64}",
    f"t={NOW},v1=zz",
    f"t={NOW},v1={'A' * 64}",  # hex is lower case
    f"t={NOW},t={NOW},v1={'a' * 64}",
    f"t={NOW};v1={'a' * 64}",
    f"t=١٢٣,v1={'a' * 64}",  # non-ASCII digits
    f"t={NOW},v1={'é' * 64}",
    f"t={NOW},v1={'a' * 64}," + "x" * 2000,
])
def test_malformed_header_is_refused(header: str) -> None:
    assert not verify(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/ava", "http://127.0.0.1:8080/x?y=1", "  HTTPS://example.org  ",
    "https://user:pass@example.org/hook", "http://[::1]:9000/",
])
def test_webhook_url_accepted(url: str) -> None:
    assert check_webhook_url(url) == url.strip()


@pytest.mark.parametrize(("url", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    ("ftp://example.org/x", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("example.org/hook", "http:// or https://"),
    ("https:///no-host", "no host"),
    ("https://example.org/a b", "spaces"),
    ("https://example.org/\x00", "control"),
    ("https://example.org:99999/", "port"),
    ("https://example.org:abc/", "port"),
    ("https://[::1/", "cannot be parsed"),
    ("https://example.org/" + "a" * 2000, "longer than"),
])
def test_webhook_url_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_webhook_url(url)


def test_refusal_does_not_repeat_the_url() -> None:
    with pytest.raises(ValueError) as caught:
        check_webhook_url("ftp://secret-token@example.org/")
    assert "secret-token" not in str(caught.value)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(1)
    for failures, full in [(1, 2.0), (2, 4.0), (3, 8.0), (10, 1024.0), (13, 3600.0),
                           (500, 3600.0)]:
        delays = [backoff_delay(failures, 2.0, 3600.0, rng) for _ in range(200)]
        assert all(0.75 * full <= delay <= full for delay in delays)
        assert max(delays) - min(delays) > 0.1 * full  # spread, not in step
