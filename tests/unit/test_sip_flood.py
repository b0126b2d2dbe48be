"""The SIP door's flood limits: a token bucket per source address, requests inside a call
passing free, and the limits on calls at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from aiosipua import SipMessage, SipRequest, SipResponse, SipUAS

from app.channels import sip_flood
from app.channels.sip_flood import FloodGate, SourceBuckets, forget_later, over_call_limits
from app.channels.sip_settings import SipSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _request(method: str, to_tag: str = "", call_id: str = "c1") -> SipRequest:
    to = f"<sip:clinic@127.0.0.1>{';tag=' + to_tag if to_tag else ''}"
    message = SipMessage.parse(
        f"{method} sip:clinic@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;"
        f"branch=z9hG4bK1\r\nFrom: <sip:x@127.0.0.2>;tag=a\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n".encode())
    assert isinstance(message, SipRequest)
    return message


def test_a_source_gets_its_burst_then_the_rate_and_others_are_untouched() -> None:
    clock = FakeClock()
    buckets = SourceBuckets(rate_per_s=10, burst=5, clock=clock)
    assert [buckets.take("127.0.0.2") for _ in range(7)] == [True] * 5 + [False] * 2
    assert buckets.take("127.0.0.1")  # another address has its own bucket
    clock.now += 0.25  # 2.5 tokens back
    assert [buckets.take("127.0.0.2") for _ in range(3)] == [True, True, False]
    clock.now += 60  # refilled, but never past the burst
    assert sum(buckets.take("127.0.0.2") for _ in range(10)) == 5


def test_the_table_of_sources_is_bounded() -> None:
    clock = FakeClock()
    buckets = SourceBuckets(rate_per_s=1, burst=1, max_sources=3, clock=clock)
    assert buckets.take("a") and not buckets.take("a")
    for source in ("b", "c", "d"):  # "a" is the least recently seen: forgotten
        assert buckets.take(source)
    assert len(buckets._buckets) == 3
    assert buckets.take("a")


def test_requests_inside_a_known_call_and_responses_pass_free() -> None:
    buckets = SourceBuckets(rate_per_s=0.001, burst=1, clock=FakeClock())
    gate = FloodGate(buckets, {"live": object()}.get)
    peer = ("127.0.0.2", 5060)
    assert gate.admits(_request("OPTIONS", call_id="x1"), peer)  # the one token
    assert not gate.admits(_request("INVITE", call_id="x2"), peer)
    assert gate.admits(_request("BYE", to_tag="t", call_id="live"), peer)
    assert not gate.admits(_request("BYE", to_tag="t", call_id="unknown"), peer)
    assert not gate.admits(_request("INVITE", call_id="live"), peer)  # no To tag: new
    assert gate.admits(SipResponse(status_code=200, reason_phrase="OK"), peer)


def test_calls_at_once_are_limited_per_source_and_in_all() -> None:
    settings = SipSettings(max_calls=4, max_calls_per_source=2)
    assert over_call_limits(settings, Counter({"a": 1}), "a") is None
    assert over_call_limits(settings, Counter({"a": 2}), "a") == \
        "too many calls from one address"
    assert over_call_limits(settings, Counter({"a": 2}), "b") is None
    assert over_call_limits(settings, Counter({"a": 2, "b": 2}), "c") == "too many calls"


async def test_a_call_done_with_is_forgotten_by_the_user_agent_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip_flood, "FORGET_AFTER_S", 0.05)
    uas = SipUAS(SimpleNamespace())  # type: ignore[arg-type]
    refused, again = SimpleNamespace(call_id="c1"), SimpleNamespace(call_id="c2")
    calls: dict[str, Any] = {"c1": refused, "c2": SimpleNamespace(call_id="c2")}
    uas._calls = calls
    forget_later(uas, refused)  # type: ignore[arg-type]
    forget_later(uas, again)  # type: ignore[arg-type]  # c2 is now another call: kept
    assert set(calls) == {"c1", "c2"}
    await asyncio.sleep(0.1)
    assert set(calls) == {"c2"}
