"""An inbound phone call over SIP (UDP) from a real SIP peer (SIPp) to the real server: the
caller's recorded speech goes in as RTP, the agent's RTP comes back to the peer's audio
address and is transcribed by the project's Whisper. The agent greets, answers the caller's
line, and when the caller then stays silent, asks once and hangs up with BYE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.model_loading import load_asr
from tests.server import RunningServer, running_server
from tests.sip_peer import (
    GREETING,
    Say,
    caller_args,
    caller_packets,
    caller_scenario,
    free_udp_tcp_port,
    heard_as,
    rtp_recorder,
    run_sipp,
    sip_conversations,
    sip_server_env,
    sipp_log,
    transcribe_lines,
    write_pcap,
)

pytestmark = pytest.mark.slow
SIP_PORT = free_udp_tcp_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = sip_server_env(SIP_PORT, AVA_VOICE__SILENCE_TIMEOUT_S="4")
    with running_server(tmp_path_factory.mktemp("sip-server"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def recognizer() -> object:
    return load_asr(threads=1)


def test_a_call_is_greeted_answered_and_ended_by_the_agent(server: RunningServer,
                                                           recognizer: object,
                                                           tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "caller.pcap",
                      caller_packets([Say(7.0, "Yes, this is Maria.")], total_s=10.0))
    with rtp_recorder() as heard:
        scenario = caller_scenario(heard.port, pcap, talk_s=0, agent_hangs_up=True,
                                   bye_wait_s=60)
        sipp = run_sipp(scenario, tmp_path, *caller_args(SIP_PORT, "u1"), timeout_s=100)
    # SIPp succeeds only if the server answered, and then sent BYE, which SIPp answered.
    assert sipp.returncode == 0, sipp_log(tmp_path) + server.log()[-3000:]

    lines = transcribe_lines(recognizer, heard.save(tmp_path / "heard.wav"))
    said = [heard_as(lines, GREETING),
            heard_as(lines, "For your privacy, could you confirm your date of birth?"),
            heard_as(lines, "Are you still there?"),
            heard_as(lines, "I'm sorry, I can't hear you. I'll end the call now. Goodbye.")]
    assert said == sorted(said), lines  # in that order
    # One steady 20 ms stream, silence included, from answer to BYE.
    assert heard.max_gap_s() < 0.1
    assert len(heard.packets) > 20 * 50

    [stored] = sip_conversations(server)
    assert stored["organization"] == "riverside-clinic"
    assert stored["status"] == "ended"
    caller = [t["text"].lower() for t in stored["turns"] if t["role"] == "caller"]
    assert caller[0].startswith(("yes", "yeah")), caller  # what Whisper heard, stored as said
    assert caller[1:] == ["[silence: 4 s]", "[silence: 4 s]"], caller
    agent = [t["text"] for t in stored["turns"] if t["role"] == "agent"]
    assert agent[1] == "For your privacy, could you confirm your date of birth?"


def test_a_call_to_an_unknown_organization_is_refused(server: RunningServer,
                                                      tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "caller.pcap", caller_packets([], total_s=1.0))
    scenario = caller_scenario(free_udp_tcp_port(), pcap, talk_s=0)
    sipp = run_sipp(scenario, tmp_path, *caller_args(SIP_PORT, "u1", "no-such-org"),
                    timeout_s=20)
    assert sipp.returncode != 0
    assert "SIP/2.0 404" in sipp_log(tmp_path)
