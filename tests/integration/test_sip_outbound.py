"""The server's side calling out: `python -m app dial` registers with a trunk (SIPp as the
registrar, checking the digest), calls a real SIP peer (SIPp answering, challenging the
INVITE too), greets, verifies the keyed date of birth, and hangs up when the callee stays
silent. The callee's recorded side goes in as RTP; what it hears is transcribed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.model_loading import load_asr
from tests.conftest import run_app
from tests.sip_peer import (
    GREETING,
    Keys,
    Say,
    callee_scenario,
    caller_packets,
    free_udp_tcp_port,
    heard_as,
    registrar_scenario,
    rtp_recorder,
    run_sipp,
    sipp_log,
    transcribe_lines,
    write_pcap,
)

pytestmark = pytest.mark.slow
USER, PASSWORD = "ava", "s3cret-digest"
CONTACT = {
    "contact": {"name": "Maria Lopez", "date_of_birth": "1984-03-12",
                "timezone": "America/New_York"},
    "context": {"organization": "Riverside Clinic",
                "appointment": {"provider": "Dr. Patel", "start": "2030-05-02T15:30:00-04:00",
                                "location": "the Main Street office"},
                "open_slots": ["2030-05-03T09:00:00-04:00"]},
    "now": "2030-05-01T10:00:00-04:00",
}


def _peer(scenario: str, folder: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    folder.mkdir()
    return run_sipp(scenario, folder, "-i", "127.0.0.1", "-p", str(port), "-t", "u1", *extra,
                    wait=False, timeout_s=150)


def test_dial_registers_calls_verifies_and_hangs_up(tmp_path: Path) -> None:
    registrar_port, callee_port = free_udp_tcp_port(), free_udp_tcp_port()
    contact = tmp_path / "contact.json"
    contact.write_text(json.dumps(CONTACT))
    script = [Say(6.5, "Yes, this is Maria."), Keys(12.5, "03121984#")]  # '#' ends the entry
    pcap = write_pcap(tmp_path / "callee.pcap", caller_packets(script, total_s=18.0))
    rtp = free_udp_tcp_port()
    env = {"AVA_SIP__TRUNK__REGISTRAR": f"127.0.0.1:{registrar_port}",
           "AVA_SIP__TRUNK__PROXY": f"127.0.0.1:{callee_port}",
           "AVA_SIP__TRUNK__USERNAME": USER, "AVA_SIP__TRUNK__PASSWORD": PASSWORD,
           "AVA_SIP__TRUNK__DOMAIN": "127.0.0.1", "AVA_VOICE__SILENCE_TIMEOUT_S": "6",
           "AVA_SIP__RTP_PORT_MIN": str(rtp - rtp % 2),
           "AVA_SIP__RTP_PORT_MAX": str(rtp - rtp % 2 + 20)}
    with rtp_recorder() as heard:
        registrar = _peer(registrar_scenario(USER, PASSWORD), tmp_path / "registrar",
                          registrar_port)
        callee = _peer(callee_scenario(heard.port, pcap, USER, PASSWORD),
                       tmp_path / "callee", callee_port, "-mp", str(free_udp_tcp_port()))
        transcript = tmp_path / "call.json"
        dial = run_app("dial", "--agent", "appointment_confirmation", "--contact", str(contact),
                       "--to", f"sip:maria@127.0.0.1:{callee_port}",
                       "--transcript", str(transcript), env=env, timeout=150)
        callee.wait(30)
        registrar.wait(30)
    logs = dial.stderr[-3000:] + sipp_log(tmp_path / "callee")
    assert dial.returncode == 0, logs
    # Each SIPp passes only if its digest check passed and (callee) our BYE came and was answered.
    assert registrar.returncode == 0, sipp_log(tmp_path / "registrar")
    assert callee.returncode == 0, logs

    assert "agent:  Thank you. You have an appointment with Dr. Patel" in dial.stdout
    assert "call ended by agent" in dial.stdout
    assert "caller: [keypad: 8 keys]" in dial.stdout  # never the digits themselves
    call = json.loads(transcript.read_text())
    assert call["rtp"]["keys"] == 9 and call["ended_by"] == "agent"  # 8 digits and #
    assert "03121984" not in transcript.read_text()

    lines = transcribe_lines(load_asr(threads=1), heard.save(tmp_path / "heard.wav"))
    said = [heard_as(lines, GREETING),
            heard_as(lines, "For your privacy, could you confirm your date of birth?"),
            heard_as(lines, "Thank you. You have an appointment with Dr. Patel at the "
                            "Main Street office. Will you be able to make it?")]
    assert said == sorted(said), lines
    assert heard.max_gap_s() < 0.1


def test_dial_to_a_peer_that_refuses_fails_with_its_reason(tmp_path: Path) -> None:
    contact = tmp_path / "contact.json"
    contact.write_text(json.dumps(CONTACT))
    busy = free_udp_tcp_port()
    scenario = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="busy">\n'
                '<recv request="INVITE"/>\n<send><![CDATA[\nSIP/2.0 486 Busy Here\n'
                '[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]b[call_number]\n'
                '[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n\n]]></send>\n'
                '<recv request="ACK"/>\n</scenario>\n')
    peer = _peer(scenario, tmp_path / "busy", busy)
    result = run_app("dial", "--agent", "tests.agents:ScriptedAgent", "--contact", str(contact),
                     "--to", f"sip:maria@127.0.0.1:{busy}", timeout=120)
    peer.wait(30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "call failed: 486 Busy Here"
    assert peer.returncode == 0, sipp_log(tmp_path / "busy")  # it got its ACK
