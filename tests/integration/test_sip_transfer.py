"""Transfer to a person over SIP: a real SIP peer (SIPp) calls the server and asks for a
person; the agent says its transfer line, then the server sends REFER (RFC 3515) to the
configured destination in the call's dialog. The peer accepts it (202), reports progress
in NOTIFYs (sipfrag 100, then 200) and gets BYE; or it refuses the REFER (405) and still
gets BYE. The call record keeps the outcome ``transferred``, the summary, and how the REFER
went."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.model_loading import load_asr
from tests.server import RunningServer, running_server
from tests.sip_peer import (
    GREETING,
    RtpRecorder,
    Say,
    caller_args,
    caller_packets,
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
DESK = "sip:desk@pbx.example.com"
TRANSFER_LINE = ("Of course. Let me transfer you to a member of our team now. They can help "
                 "with anything else you need.")

_HEAD = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq}
Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70"""
_INVITE = """<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{head}
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1000 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {media_port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rtd="true"/>
<send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{ack_head}
Content-Length: 0
]]></send>
<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
<recv request="REFER" timeout="60000"/>
"""
_ANSWER = """<send><![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
"""
_NOTIFY = """<send retrans="500"><![CDATA[
NOTIFY sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{head}
Event: refer
Subscription-State: {state}
Content-Type: message/sipfrag;version=2.0
Content-Length: [len]

SIP/2.0 {sipfrag}
]]></send>
<recv response="200"/>
"""
_BYE = '<recv request="BYE" timeout="30000"/>\n' + _ANSWER.format(status="200 OK")


def _in_dialog(cseq: str) -> str:
    return _HEAD.format(to_tag="[peer_tag_param]", cseq=cseq)


def caller(media_port: int, pcap: Path, refer_answer: str) -> str:
    """SIPp calling the server and playing ``pcap``; the REFER it then gets is answered
    ``refer_answer``; when that is 202, two NOTIFYs follow (Trying, then OK). The server's
    BYE is answered."""
    steps = _INVITE.format(head=_HEAD.format(to_tag="", cseq="1 INVITE"),
                           ack_head=_in_dialog("1 ACK"), media_port=media_port, pcap=pcap)
    steps += _ANSWER.format(status=refer_answer)
    if refer_answer.startswith("202"):
        steps += _NOTIFY.format(head=_in_dialog("2 NOTIFY"), state="active;expires=60",
                                sipfrag="100 Trying")
        steps += _NOTIFY.format(head=_in_dialog("3 NOTIFY"),
                                state="terminated;reason=noresource", sipfrag="200 OK")
    steps += _BYE
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="transferred">\n'
            f"{steps}</scenario>\n")


def received_refer(folder: Path) -> dict[str, str]:
    """The headers of the REFER SIPp received (from its message log), by lower-case name."""
    lines = (folder / "sipp-messages.log").read_text(errors="replace").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("REFER "))
    headers = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = sip_server_env(SIP_PORT, AVA_SIP__TRANSFER_TO=DESK, AVA_SIP__TRANSFER_TIMEOUT_S="10")
    with running_server(tmp_path_factory.mktemp("sip-server"), env=env) as running:
        yield running


def _call(server: RunningServer, folder: Path,
          refer_answer: str) -> tuple[dict[str, Any], RtpRecorder]:
    """One call asking for a person; the stored conversation and the agent's audio."""
    pcap = write_pcap(folder / "caller.pcap",
                      caller_packets([Say(7.0, "I want to talk to a person.")], total_s=10.0))
    with rtp_recorder() as heard:
        sipp = run_sipp(caller(heard.port, pcap, refer_answer), folder,
                        *caller_args(SIP_PORT, "u1"), timeout_s=90)
    # SIPp succeeds only if every step came: the REFER, the NOTIFYs' 200s, then BYE.
    assert sipp.returncode == 0, sipp_log(folder) + server.log()[-3000:]
    return sip_conversations(server)[0], heard  # the newest: this call's


def test_a_caller_asking_for_a_person_is_referred_to_the_desk(server: RunningServer,
                                                              tmp_path: Path) -> None:
    stored, heard = _call(server, tmp_path, "202 Accepted")
    refer = received_refer(tmp_path)
    assert refer["refer-to"] == f"<{DESK}>"
    assert refer["referred-by"].startswith("<sip:riverside-clinic@")
    assert "person" in refer["x-ava-summary"].lower(), refer
    assert len(refer["x-ava-summary"]) <= 200

    assert stored["status"] == "ended"
    assert stored["outcome"] == "transferred"
    slots = stored["slots"]
    assert "person" in slots["transfer_summary"].lower(), slots
    assert (slots["transfer_result"], slots["transfer_accepted"]) == ("connected", True)
    # The transfer line was played out before the REFER went.
    lines = transcribe_lines(load_asr(threads=1), heard.save(tmp_path / "heard.wav"))
    assert heard_as(lines, GREETING) < heard_as(lines, TRANSFER_LINE), lines


def test_a_refused_refer_ends_the_call_and_is_recorded(server: RunningServer,
                                                       tmp_path: Path) -> None:
    stored, _ = _call(server, tmp_path, "405 Method Not Allowed")
    assert received_refer(tmp_path)["refer-to"] == f"<{DESK}>"
    assert stored["outcome"] == "transferred"
    assert stored["slots"]["transfer_summary"]
    assert stored["slots"]["transfer_result"] == "refused"
    assert stored["slots"]["transfer_accepted"] is False
    assert stored["slots"]["transfer_status"] == 405
    assert "Traceback" not in server.log()
