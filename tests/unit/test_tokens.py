"""Widget and session tokens: what is issued verifies; anything altered, expired or of the
wrong kind is refused with a reason."""

import time

import pytest

from app.tokens import TokenError, TokenSigner, load_or_create_key

KEY = b"k" * 32


def test_issued_token_verifies_with_its_claims():
    signer = TokenSigner(KEY)
    token, expires = signer.issue("widget", "riverside-clinic", agent="appointment_confirmation")
    claims = signer.verify(token, "widget")
    assert (claims.org, claims.agent, claims.conversation) == (
        "riverside-clinic", "appointment_confirmation", None)
    assert claims.expires == expires > time.time()


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda token: None, "missing"),
    (lambda token: "", "missing"),
    (lambda token: "no-dot-here", "malformed"),
    (lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "signature"),
    (lambda token: "e30" + token[token.index("."):], "signature"),
    (lambda token: token + "x" * 5000, "malformed"),
])
def test_altered_tokens_are_refused(mangle, reason):
    signer = TokenSigner(KEY)
    token, _ = signer.issue("widget", "org")
    with pytest.raises(TokenError, match=reason):
        signer.verify(mangle(token), "widget")


def test_a_token_signed_with_another_key_is_refused():
    token, _ = TokenSigner(b"other-key-" * 4).issue("widget", "org")
    with pytest.raises(TokenError, match="signature"):
        TokenSigner(KEY).verify(token, "widget")


def test_expired_and_wrong_kind_tokens_are_refused():
    signer = TokenSigner(KEY)
    expired, _ = signer.issue("widget", "org", ttl_s=-1)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(expired, "widget")
    session, _ = signer.issue("session", "org", conversation="c1")
    with pytest.raises(TokenError, match="session token where a widget"):
        signer.verify(session, "widget")


def test_short_keys_are_refused_and_the_key_file_is_private(tmp_path):
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner(b"short")
    path = tmp_path / "data" / "token-key"
    key = load_or_create_key(path)
    assert len(key) == 32 and load_or_create_key(path) == key
    assert path.stat().st_mode & 0o077 == 0


def test_a_spent_token_is_refused_the_second_time():
    signer = TokenSigner(KEY)
    token, _ = signer.issue("widget", "org")
    assert signer.spend(token, "widget").org == "org"
    with pytest.raises(TokenError, match="already used"):
        signer.spend(token, "widget")
    other, _ = signer.issue("widget", "org")
    assert signer.spend(other, "widget").org == "org"
