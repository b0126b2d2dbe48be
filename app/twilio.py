"""Twilio's side of a phone call: webhook signatures and the TwiML answers.

Twilio signs every webhook (and the media stream's WebSocket handshake) with
``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the account's auth token, over the
full URL followed by each POST parameter's name and value, sorted by name. A request
whose signature does not match is refused before anything else is read from it.

The WebSocket's messages are not signed (the handshake's signature covers the URL only, the
same for every call), so what a stream's ``start`` says is trusted only when the signed
webhook vouched for it: the caller's number travels as a ``<Parameter>`` together with
``caller_mac``, an HMAC (keyed with the auth token) over the call's SID and that number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio sends for ``url`` with these POST parameters."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]],
                    received: str | None) -> bool:
    if not received or not auth_token:
        return False
    return hmac.compare_digest(signature(auth_token, url, params), received)


def caller_mac(auth_token: str, call_sid: str, number: str) -> str:
    """What the webhook puts beside the caller's number for the stream of call ``call_sid``."""
    payload = f"ava-caller\x00{call_sid}\x00{number}".encode()
    return hmac.new(auth_token.encode(), payload, hashlib.sha256).hexdigest()


def caller_mac_valid(auth_token: str, call_sid: str, number: str, received: str) -> bool:
    if not auth_token or not call_sid or not number or not received:
        return False
    return hmac.compare_digest(caller_mac(auth_token, call_sid, number), received)


def connect_stream(stream_url: str, after_url: str, parameters: dict[str, str]) -> str:
    """Answer a call by streaming its audio to ``stream_url``; once the stream ends, Twilio
    asks ``after_url`` what to do next (hang up, or a transfer)."""
    params = "".join(f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
                     for name, value in parameters.items())
    return ('<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f"<Stream url={quoteattr(stream_url)}>{params}</Stream></Connect>"
            f"<Redirect>{escape(after_url)}</Redirect></Response>")


def dial(number: str) -> str:
    """Transfer the caller to ``number`` (a person)."""
    return ('<?xml version="1.0" encoding="UTF-8"?><Response>'
            f"<Dial>{escape(number)}</Dial></Response>")


def hang_up(message: str | None = None) -> str:
    say = f"<Say>{escape(message)}</Say>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{say}<Hangup/></Response>'
