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
from tests.ports import free_rtp_range
from tests.sip_peer import (
    ANSWER_BYE,
    GREETING,
    Keys,
    Say,
    callee_bye,
    callee_scenario,
    caller_packets,
    free_media_port,
    free_udp_tcp_port,
    heard_as,
    registrar_scenario,
    rtp_recorder,
    run_sipp,
    sdp_offer,
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
    rtp = free_rtp_range(21)
    env = {"AVA_SIP__TRUNK__REGISTRAR": f"127.0.0.1:{registrar_port}",
           "AVA_SIP__TRUNK__PROXY": f"127.0.0.1:{callee_port}",
           "AVA_SIP__TRUNK__USERNAME": USER, "AVA_SIP__TRUNK__PASSWORD": PASSWORD,
           "AVA_SIP__TRUNK__DOMAIN": "127.0.0.1", "AVA_VOICE__SILENCE_TIMEOUT_S": "6",
           "AVA_SIP__RTP_PORT_MIN": str(rtp), "AVA_SIP__RTP_PORT_MAX": str(rtp + 20)}
    with rtp_recorder() as heard:
        registrar = _peer(registrar_scenario(USER, PASSWORD), tmp_path / "registrar",
                          registrar_port)
        callee = _peer(callee_scenario(heard.port, pcap, USER, PASSWORD),
                       tmp_path / "callee", callee_port, "-mp", str(free_media_port()))
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


# -- over TCP ---------------------------------------------------------------------------
# SIPp answers on TCP only (-t t1), so the call exists only if the dialer used TCP; the
# INVITE's Via and Contact must say TCP too. Its 200 OK carries a Record-Route of two
# (made-up) proxies: our ACK and BYE must name them as Route, in reverse order (RFC 3261
# section 12.1.2), and be addressed to SIPp's Contact.

_TCP_HEAD = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:callee@[local_ip]:[local_port];transport=tcp>"""

_ROUTED = ("Route: &lt;sip:proxy-a[.]invalid;lr>[[:space:]]+"  # an XML attribute: &lt; is <
           "Route: &lt;sip:proxy-b[.]invalid;lr>")

# The agent's BYE answered, its Route headers checked on the way.
_AGENT_BYE = ANSWER_BYE.replace(
    '"/>', '"><action>\n<ereg regexp="{routed}" search_in="msg" check_it="true" '
    'assign_to="bye_routed"/>\n</action></recv>', 1)


def tcp_callee_scenario(media_port: int, pcap: Path, *, hangs_up_after_s: float | None
                        ) -> str:
    """SIPp answering over TCP, checking what the INVITE, ACK and (ours) BYE say; it plays
    ``pcap``, then hangs up after ``hangs_up_after_s`` or waits for our BYE."""
    answer = (f"SIP/2.0 200 OK\n{_TCP_HEAD}\n"
              "Record-Route: <sip:proxy-b.invalid;lr>, <sip:proxy-a.invalid;lr>\n"
              f"Content-Type: application/sdp\nContent-Length: [len]\n\n"
              f"{sdp_offer(media_port, 1)}\n")
    steps = [
        '<recv request="INVITE"><action>\n'
        '<ereg regexp="SIP/2[.]0/TCP " search_in="hdr" header="Via:" check_it="true" '
        'assign_to="via_tcp"/>\n'
        '<ereg regexp="transport=tcp" search_in="hdr" header="Contact:" check_it="true" '
        'assign_to="contact_tcp"/>\n'
        '<ereg regexp="[^ ].*" search_in="hdr" header="From:" check_it="true" '
        'assign_to="caller"/>\n'
        '<ereg regexp="sips?:[^>]*" search_in="hdr" header="Contact:" check_it="true" '
        'assign_to="caller_contact"/>\n</action></recv>\n',
        f"<send><![CDATA[\nSIP/2.0 180 Ringing\n{_TCP_HEAD}\nContent-Length: 0\n\n]]></send>\n",
        f"<send><![CDATA[\n{answer}]]></send>\n",
        '<recv request="ACK"><action>\n'
        f'<ereg regexp="^ACK sip:callee@127[.]0[.]0[.]1:[0-9]+;transport=tcp SIP/2[.]0" '
        'search_in="msg" check_it="true" assign_to="ack_target"/>\n'
        f'<ereg regexp="{_ROUTED}" search_in="msg" check_it="true" assign_to="ack_routed"/>\n'
        '</action></recv>\n',
        f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n',
        (_AGENT_BYE.format(timeout_ms=60000, routed=_ROUTED) if hangs_up_after_s is None
         else callee_bye(int(hangs_up_after_s * 1000))),
        '<Reference variables="via_tcp,contact_tcp,ack_target,ack_routed,caller,'
        'caller_contact"/>\n']
    if hangs_up_after_s is None:
        steps[-1] = steps[-1].replace("ack_routed,", "ack_routed,bye_routed,")
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="tcp-callee">\n'
            + "".join(steps) + "</scenario>\n")


@pytest.mark.parametrize("who_hangs_up", ["agent", "callee"])
def test_dial_over_tcp_greets_and_ends_with_bye(tmp_path: Path, who_hangs_up: str) -> None:
    callee_port, rtp = free_udp_tcp_port(), free_rtp_range(21)
    contact = tmp_path / "contact.json"
    contact.write_text(json.dumps(CONTACT))
    script = [Say(7.0, "Okay, goodbye.")] if who_hangs_up == "agent" else []
    pcap = write_pcap(tmp_path / "callee.pcap", caller_packets(script, total_s=10.0))
    env = {"AVA_SIP__RTP_PORT_MIN": str(rtp), "AVA_SIP__RTP_PORT_MAX": str(rtp + 20)}
    folder = tmp_path / "callee"
    folder.mkdir()
    with rtp_recorder() as heard:
        scenario = tcp_callee_scenario(
            heard.port, pcap, hangs_up_after_s=None if who_hangs_up == "agent" else 9.0)
        callee = run_sipp(scenario, folder, "-i", "127.0.0.1", "-p", str(callee_port),
                          "-t", "t1", "-mp", str(free_media_port()), wait=False,
                          timeout_s=100)
        dial = run_app("dial", "--agent", "tests.agents:ScriptedAgent", "--contact",
                       str(contact), "--to", f"sip:maria@127.0.0.1:{callee_port};transport=tcp",
                       env=env, timeout=100)
        callee.wait(30)
    logs = dial.stderr[-3000:] + sipp_log(folder)
    assert dial.returncode == 0, logs
    # SIPp passes only if every check above held and the BYE, ours or its own, was answered.
    assert callee.returncode == 0, logs
    assert f"call ended by {'agent' if who_hangs_up == 'agent' else 'caller'}" in dial.stdout
    if who_hangs_up == "agent":
        assert "agent:  Thank you for calling. Goodbye." in dial.stdout
    lines = transcribe_lines(load_asr(threads=1), heard.save(tmp_path / "heard.wav"))
    heard_as(lines, "Hello, this is the test line at Riverside Clinic. How can I help you "
                    "today?")
