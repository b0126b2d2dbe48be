"""Keypad digits over SIP: a real SIP peer (SIPp, over TCP this time) calls the server, says
who it is and a wrong date of birth, is offered the keypad, then keys the date of birth as
RFC 4733 telephone-events; the agent verifies it and speaks the appointment. The caller then
puts the call on hold and takes it back (re-INVITEs), and hangs up with BYE."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.model_loading import load_asr
from tests.server import RunningServer, running_server
from tests.sip_peer import (
    GREETING,
    Keys,
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
HOLD_AT_S, HOLD_S = 45.0, 1.0  # after the agent has spoken the appointment


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sip-server"),
                        env=sip_server_env(SIP_PORT)) as running:
        yield running


def test_a_keyed_date_of_birth_verifies_the_caller(server: RunningServer,
                                                   tmp_path: Path) -> None:
    # Maria Lopez, born 1984-03-12, says another date, then keys MMDDYYYY. Whisper heard
    # "January first, nineteen ninety." from espeak over the line as words that were not a
    # date ("Can do every birth, ..."), which the agent rightly met with why it asks; this
    # line came out as a date, if not always this one, in 12 of 12 cuts of the audio.
    script = [Say(7.0, "Yes, this is Maria."), Say(14.0, "It's the fourth of July, 1976."),
              Keys(31.0, "03121984")]
    pcap = write_pcap(tmp_path / "caller.pcap", caller_packets(script, total_s=36.0))
    with rtp_recorder() as heard:
        scenario = caller_scenario(heard.port, pcap, talk_s=HOLD_AT_S + HOLD_S + 3,
                                   hold_at_s=HOLD_AT_S)
        sipp = run_sipp(scenario, tmp_path, *caller_args(SIP_PORT, "t1"), timeout_s=120)
    # The INVITE, both re-INVITEs (hold, unhold) and the BYE each got their 200 over TCP.
    assert sipp.returncode == 0, sipp_log(tmp_path) + server.log()[-3000:]

    lines = transcribe_lines(load_asr(threads=1), heard.save(tmp_path / "heard.wav"))
    greeting = heard_as(lines, GREETING)
    question = heard_as(lines, "For your privacy, could you confirm your date of birth?")
    verified = heard_as(lines, "Thank you. You have an appointment with Dr. Patel at the "
                               "Main Street office. Will you be able to make it?")
    assert greeting < question < verified, lines

    [stored] = sip_conversations(server)
    turns = [(t["role"], t["text"]) for t in stored["turns"]]
    keyed = turns.index(("caller", "[keypad: 8 keys]"))  # the digits themselves are not kept
    # a phone line has a keypad: the agent offers it after the missed date
    offer = next((i for i, (role, text) in enumerate(turns) if "key it in" in text), None)
    assert offer is not None and turns[offer][0] == "agent" and offer < keyed, turns
    assert turns[keyed + 1][0] == "agent"
    assert turns[keyed + 1][1].startswith("Thank you. You have an appointment with Dr. Patel")
    assert stored["status"] == "ended"

    # On hold the server stops sending; otherwise its stream has no gap over 100 ms.
    times = sorted(at for at, _ in heard.packets)
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert 0.5 < gaps[-1] < HOLD_S + 1.0, gaps[-3:]
    assert gaps[-2] < 0.1, gaps[-3:]
