"""Short-lived signed tokens for widget connections.

A token is ``base64url(JSON claims) . base64url(HMAC-SHA256)``: small enough for a query
string, checked without a database, and useless once expired or altered. Two kinds exist:

- ``widget``: what a host site's backend obtains (with its API key) and hands to the page;
  it opens one new conversation for an organization (and optionally an agent and a
  conversation created beforehand through the API).
- ``session``: what the server gives the page once a conversation exists; it resumes that
  conversation after a reload or a dropped connection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

TokenKind = Literal["widget", "session"]
WIDGET_TTL_S = 600
SESSION_TTL_S = 24 * 3600


class TokenError(Exception):
    """A token is missing, malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    kind: TokenKind
    org: str
    agent: str | None
    conversation: str | None
    expires: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the token signing key must be at least 32 bytes")
        self._key = key
        self._spent: dict[str, int] = {}  # nonce -> expiry, of tokens used up

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, kind: TokenKind, org: str, *, agent: str | None = None,
              conversation: str | None = None, ttl_s: int | None = None) -> tuple[str, int]:
        """A token and its expiry (Unix seconds)."""
        ttl = ttl_s if ttl_s is not None else (WIDGET_TTL_S if kind == "widget" else SESSION_TTL_S)
        claims = Claims(kind, org, agent, conversation, int(time.time()) + ttl,
                        secrets.token_hex(8))
        payload = _b64(json.dumps(asdict(claims), separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}", claims.expires

    def verify(self, token: str | None, kind: TokenKind) -> Claims:
        if not token:
            raise TokenError("missing token")
        payload, _, signature = token.partition(".")
        if not payload or not signature or len(token) > 4096:
            raise TokenError("malformed token")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise TokenError("invalid token signature")
        try:
            claims = Claims(**json.loads(_unb64(payload)))
        except (binascii.Error, ValueError, TypeError) as error:
            raise TokenError("malformed token") from error
        if claims.kind != kind:
            raise TokenError(f"a {claims.kind} token where a {kind} token was expected")
        if claims.expires < time.time():
            raise TokenError("expired token")
        return claims


    def spend(self, token: str | None, kind: TokenKind) -> Claims:
        """``verify``, and refuse the same token ever after: a token that opens a new
        conversation opens one. (Remembered by this process until the token expires.)"""
        claims = self.verify(token, kind)
        now = time.time()
        self._spent = {nonce: exp for nonce, exp in self._spent.items() if exp >= now}
        if claims.nonce in self._spent:
            raise TokenError("token already used")
        self._spent[claims.nonce] = claims.expires
        return claims


def load_or_create_key(path: Path) -> bytes:
    """The server's signing key, made once per data folder (readable by its owner only)."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_text(key.hex())
    return key
