"""Ten simultaneous SIP calls from real SIPp callers to the real server on loopback: every
call is answered, greeted and answered in turn, and ended by a BYE; none is dropped, every
line the agent said is heard whole at the peer, and no call's agent stream pauses for more
than 100 ms while the others set up, listen, think and speak."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.model_loading import load_asr
from tests.server import RunningServer, running_server
from tests.sip_load import CallerScript, LoadCall, simultaneous_calls
from tests.sip_peer import (
    GREETING,
    Say,
    free_udp_tcp_port,
    heard_as,
    sip_conversations,
    sip_server_env,
    transcribe_lines,
)

pytestmark = pytest.mark.slow
SIP_PORT = free_udp_tcp_port()
CALLS = 10
MAX_GAP_S = 0.1
END_WAIT_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = sip_server_env(SIP_PORT, AVA_SIP__MAX_CALLS_PER_SOURCE=str(CALLS))
    with running_server(tmp_path_factory.mktemp("sip-load"), env=env) as running:
        yield running


def caller(index: int) -> CallerScript:
    """Callers answer the greeting and the date-of-birth question at slightly different
    moments, as real callers would, and hang up once the agent has had time to answer."""
    shift = (index % 5) * 0.4
    return CallerScript((Say(7.0 + shift, "Yes, this is Maria."),
                         Say(15.0 + shift, "March twelfth, nineteen eighty four.")),
                        hang_up_s=32.0)


def logged(server: RunningServer, event: str) -> Iterator[dict[str, Any]]:
    """The server's JSON log entries for ``event``."""
    for line in server.log().splitlines():
        if line.startswith("{") and f'"{event}"' in line:
            yield json.loads(line)


def conversations_by_call(server: RunningServer) -> dict[str, dict[str, Any]]:
    """Each answered call's stored conversation, by SIP Call-ID (the server logs the pair),
    once all have ended: the server ends a conversation just after the caller's BYE, and
    with ten calls on two cores that can come a moment after the last caller hung up."""
    deadline = time.monotonic() + END_WAIT_S
    while True:
        stored = {c["id"]: c for c in sip_conversations(server)}
        by_call = {entry["call"]: stored[entry["conversation"]]
                   for entry in logged(server, "sip call answered")}
        if all(c["status"] == "ended" for c in by_call.values()) or (
                time.monotonic() > deadline):
            return by_call
        time.sleep(0.2)


def assert_heard_whole(call: LoadCall, conversation: dict[str, Any], cut_off: int,
                       recognizer: object) -> None:
    """Every agent line of the stored conversation is in the call's audio, in order; the
    last one may be cut short when the caller hung up on it, and as many as the server
    says the caller talked over (``cut_off``) may be missing."""
    said = [t["text"] for t in conversation["turns"] if t["role"] == "agent"]
    assert said[0] == GREETING
    checked = said if call.agent_hung_up() else said[:-1]
    lines = transcribe_lines(recognizer, call.heard.save(call.folder / "heard.wav"))
    where = []
    for text in checked:
        try:
            where.append(heard_as(lines, text))
        except AssertionError:
            cut_off -= 1
            assert cut_off >= 0, (call.index, f"not heard: {text!r}", said, lines)
    assert where == sorted(where), (call.index, said, lines)


def test_ten_simultaneous_calls_run_whole_and_without_gaps(server: RunningServer,
                                                           tmp_path: Path) -> None:
    with simultaneous_calls(SIP_PORT, [caller(i) for i in range(CALLS)], tmp_path) as calls:
        failed = [call.index for call in calls if not call.finished_ok()]
        assert not failed, calls[failed[0]].log() + server.log()[-3000:] if failed else ""
        gaps = [round(call.heard.max_gap_s(), 3) for call in calls]
        assert max(gaps) <= MAX_GAP_S, gaps
        for call in calls:  # a stream from answer to BYE: every 20 ms packet arrived
            arrivals = [at for at, _ in call.heard.packets]
            assert len(arrivals) >= 0.98 * (max(arrivals) - min(arrivals)) * 50 > 5 * 50

        by_call = conversations_by_call(server)
        assert sorted(by_call) == sorted(call.call_id() for call in calls)
        assert {c["status"] for c in by_call.values()} == {"ended"}
        cut_off = {entry["call"]: entry["cut_off"] for entry in logged(server, "call ended")}
        recognizer = load_asr(threads=2)
        for call in calls:
            conversation = by_call[call.call_id()]
            assert len([t for t in conversation["turns"] if t["role"] == "caller"]) >= 1
            assert_heard_whole(call, conversation, cut_off[call.call_id()], recognizer)
