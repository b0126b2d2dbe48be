"""Flood limits at the server's SIP door, so that one address cannot starve other callers
or take every RTP port.

- **Requests outside a call** (INVITE, OPTIONS, REGISTER, CANCEL, strays) spend a token of
  their source address's bucket (``flood_requests_per_s``, up to ``flood_burst`` saved up).
  With none left the request is dropped without an answer: an answer would cost us as much
  as the request cost the sender, and over UDP the source address may be forged, so
  answering would make the server reflect the flood at whoever owns that address. A real
  caller loses nothing lasting: its UDP user agent sends the INVITE again (0.5, 1, 2, 4 s
  later) and one of those finds a token.
- Requests **inside a call** the server holds (a To tag and a Call-ID it knows: ACK, BYE,
  re-INVITE, NOTIFY) and responses are never limited: calls in progress carry on.
- **Calls at once**, per source address (``max_calls_per_source``) and in all
  (``max_calls``): an INVITE past either gets 503 with Retry-After (RFC 3261 section
  21.5.4: the server is full, not the callee busy; a proxy in front tries another worker).
  Those INVITEs already passed the request bucket, so these answers are few.

Datagrams that do not parse as SIP never reach the gate: the transport drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiosipua import IncomingCall, SipRequest, SipResponse, SipUAS
from aiosipua.transport import SipTransport

from app.channels.sip_settings import SipSettings
from app.channels.sip_signalling import USER_AGENT

log = structlog.get_logger(__name__)
RETRY_AFTER_S = 10
FORGET_AFTER_S = 32.0  # 64 * T1: every retransmission of the call's last exchange is over
MAX_SOURCES = 4096  # buckets kept; the least recently seen source is forgotten first


@dataclass
class _Bucket:
    tokens: float
    updated: float
    dropped: int = 0


class SourceBuckets:
    """A token bucket per source address, ``rate_per_s`` tokens a second up to ``burst``.

    At most ``max_sources`` buckets are kept (forged UDP sources could otherwise grow the
    table without end); forgetting one gives its source a full bucket again, which costs
    at most one burst."""

    def __init__(self, rate_per_s: float, burst: int, max_sources: int = MAX_SOURCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_sources = max_sources
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, source: str) -> bool:
        """Spend one of ``source``'s tokens; False when it has none (drop the request)."""
        now = self._clock()
        bucket = self._buckets.pop(source, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[source] = bucket  # the most recently seen last
        while len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1:
            if bucket.dropped == 0:
                log.warning("sip flood limited", peer=source)
            bucket.dropped += 1
            return False
        bucket.tokens -= 1
        if bucket.dropped:
            log.warning("sip flood dropped", peer=source, requests=bucket.dropped)
            bucket.dropped = 0
        return True


class FloodGate:
    """In front of a SIP user agent (call ``install`` after it has started): requests
    outside the calls ``find_call`` knows (by Call-ID) spend their source's tokens; the rest
    pass."""

    def __init__(self, buckets: SourceBuckets, find_call: Callable[[str], object | None]
                 ) -> None:
        self._buckets = buckets
        self._find_call = find_call

    def admits(self, message: SipRequest | SipResponse, address: tuple[str, int]) -> bool:
        if not isinstance(message, SipRequest):
            return True
        to = message.to_addr
        if to is not None and to.tag and self._find_call(message.call_id or "") is not None:
            return True
        return self._buckets.take(address[0])

    def install(self, transport: SipTransport) -> None:
        deliver = transport.on_message

        def on_message(message: SipRequest | SipResponse, address: tuple[str, int]) -> None:
            if deliver is not None and self.admits(message, address):
                deliver(message, address)

        transport.on_message = on_message


def over_call_limits(settings: SipSettings, sources: Counter[str], source: str) -> str | None:
    """Why a new call from ``source`` may not start, given the calls held per source; None
    when it may."""
    if sum(sources.values()) >= settings.max_calls:
        return "too many calls"
    if sources[source] >= settings.max_calls_per_source:
        return "too many calls from one address"
    return None


def refuse_full(sip: IncomingCall) -> None:
    """503 Service Unavailable with Retry-After to an INVITE, and its dialog ended."""
    response = sip.dialog.create_response(sip.invite, 503, "Service Unavailable")
    response.headers.set_single("Retry-After", str(RETRY_AFTER_S))
    response.headers.set_single("User-Agent", USER_AGENT)
    sip.dialog.terminate()
    if sip.transport is not None:
        with contextlib.suppress(RuntimeError, OSError):  # a TCP caller already gone
            sip.transport.send_reply(response)


def forget_later(uas: SipUAS, sip: IncomingCall) -> None:
    """Let the user agent forget a call the server is done with, once late retransmissions
    are over. aiosipua keeps an INVITE answered with an error until its ACK comes, and a
    call we hung up on for good: a flood of INVITEs that never ACK would otherwise grow its
    table without end. (aiosipua has no public way to drop a call.)"""
    def forget() -> None:
        if uas._calls.get(sip.call_id) is sip:
            del uas._calls[sip.call_id]

    asyncio.get_running_loop().call_later(FORGET_AFTER_S, forget)
