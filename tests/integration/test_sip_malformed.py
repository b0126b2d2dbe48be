"""Malformed SIP while a call is in progress: garbage datagrams, a flood of them from one
address, RFC 4475 torture messages (invalid ones, and valid but tortuous ones) over UDP,
and garbage over TCP. Each gets an error response or silence, never a success; the server
keeps answering; and the call in progress (SIPp, real RTP) carries on: the agent answers the
caller's line that comes after the barrage, and its audio stream has no gap over 100 ms."""

from __future__ import annotations

import random
import socket
import time
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
    sip_server_env,
    sipp_log,
    transcribe_lines,
    write_pcap,
)

pytestmark = pytest.mark.slow
SIP_PORT = free_udp_tcp_port()
FLOOD = 3000  # datagrams from one address, as fast as the socket sends them

# RFC 4475 section 3.1.2 (invalid) and 3.1.1 (valid, tortuous) messages. The Via of each is
# made to name the test's own socket (VIA), so that the answers come back here and no
# traffic leaves loopback; request URIs name no organization, so no call is set up.
TORTURE: dict[str, list[str]] = {  # name: the message's lines, the body's after an empty one
    "badinv01 (extraneous header field separators)": [
        "INVITE sip:user@example.com SIP/2.0", "To: sip:j.user@example.com",
        "From: sip:caller@example.net;tag=134161461246", "Max-Forwards: 7",
        "Call-ID: badinv01.0ha0isndaksdjasdf3234nas", "CSeq: 8 INVITE",
        "Via: SIP/2.0/UDP {via};;,;,,", 'Contact: "Joe" <sip:joe@example.org>;;;;',
        "Content-Length: 0", ""],
    "clerr (Content-Length larger than the message)": [
        "INVITE sip:user@example.com SIP/2.0", "Max-Forwards: 80",
        "To: sip:j.user@example.com", "From: sip:caller@example.net;tag=93942939o2",
        "Contact: <sip:caller@hungry.example.net>", "Call-ID: clerr.0ha0isndaksdjweiafasdk3",
        "CSeq: 8 INVITE", "Via: SIP/2.0/UDP {via};branch=z9hG4bK-39234-23523",
        "Content-Type: application/sdp", "Content-Length: 9999", "", "v=0"],
    "ncl (negative Content-Length)": [
        "INVITE sip:user@example.com SIP/2.0", "Max-Forwards: 254",
        "To: sip:j.user@example.com", "From: sip:caller@example.net;tag=32394234",
        "Call-ID: ncl.0ha0isndaksdj2193423r542w35", "CSeq: 0 INVITE",
        "Via: SIP/2.0/UDP {via};branch=z9hG4bKkdjuw",
        "Contact: <sip:caller@example53.example.net>", "Content-Type: application/sdp",
        "Content-Length: -999", "", "v=0"],
    "scalar02 (overlarge scalar fields)": [
        "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/TCP {via};branch=z9hG4bKsdfoi3",
        "To: <sip:user@example.com>", "From: <sip:user@example.com>;tag=239232jh3",
        "CSeq: 36893488147419103232 REGISTER",
        "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32", "Max-Forwards: 300",
        "Expires: 1029384756729384756",
        "Contact: <sip:user@host129.example.com>;expires=280297596632815",
        "Content-Length: 0", ""],
    "quotbal (unterminated quoted display name)": [
        "INVITE sip:user@example.com SIP/2.0", 'To: "Mr. J. User <sip:j.user@example.com>',
        "From: sip:caller@example.net;tag=93334", "Max-Forwards: 10",
        "Call-ID: quotbal.aksdj", "Contact: <sip:caller@host59.example.net>",
        "CSeq: 8 INVITE", "Via: SIP/2.0/UDP {via};branch=z9hG4bK-34823",
        "Content-Length: 0", ""],
    "ltgtruri (request URI in angle brackets)": [
        "INVITE <sip:user@example.com> SIP/2.0", "To: sip:user@example.com",
        "From: sip:caller@example.net;tag=39291", "Max-Forwards: 23",
        "Call-ID: ltgtruri.1@192.0.2.5", "CSeq: 1 INVITE",
        "Via: SIP/2.0/UDP {via};branch=z9hG4bKkdjuw",
        "Contact: <sip:caller@host5.example.net>", "Content-Length: 0", ""],
    "lwsruri (space inside the request URI)": [
        "INVITE sip:user@example.com; lr SIP/2.0", "To: sip:user@example.com;tag=3xfe-9921883",
        "From: sip:caller@example.net;tag=231413434", "Max-Forwards: 5",
        "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423", "CSeq: 2130706432 INVITE",
        "Via: SIP/2.0/UDP {via};branch=z9hG4bKkdjuw2395",
        "Contact: <sip:caller@host1.example.net>", "Content-Length: 0", ""],
    "badvers (SIP/7.0)": [
        "OPTIONS sip:t.watson@example.org SIP/7.0",
        "Via:     SIP/7.0/UDP {via};branch=z9hG4bKkdjuw", "Max-Forwards:     70",
        "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe",
        "To:      T. Watson <sip:t.watson@example.org>",
        "Call-ID: badvers.31417@c.example.com", "CSeq:    1 OPTIONS", "l: 0", ""],
    "mismatch01 (CSeq method differs from the request's)": [
        "OPTIONS sip:user@example.com SIP/2.0", "To: sip:j.user@example.com",
        "From: sip:caller@example.net;tag=34525", "Max-Forwards: 6",
        "Call-ID: mismatch01.dj0234sxdfl3", "CSeq: 8 INVITE",
        "Via: SIP/2.0/UDP {via};branch=z9hG4bKkdjuw", "l: 0", ""],
    "bigcode (response code past 699)": [
        "SIP/2.0 4294967301 better not break the receiver",
        "Via: SIP/2.0/UDP {via};branch=z9hG4bK2",
        "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i", "CSeq: 353494 INVITE",
        "From: <sip:user@example.com>;tag=39ansfi3", "To: <sip:user@example.edu>;tag=902jndnke3",
        "Content-Length: 0", ""],
    "intmeth (an unknown method of odd but legal characters)": [
        "!interesting-Method0123456789_*+`.%indeed'~ "
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
        "(doesn't-it)@example.com SIP/2.0",
        "Via: SIP/2.0/TCP {via};branch=z9hG4bK-.!%66*_+`'~",
        'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" '
        "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
        '"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0";tag=_token~1\'+`*%!-.',
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~", "Max-Forwards: 255",
        "extensionHeader-!.%*+_`'~: \xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb",
        "Content-Length: 0", ""],
}


def torture(name: str, via: str) -> bytes:
    """The message, with CRLF line ends, its Via naming ``via``; bytes exactly as written
    (the escapes above are raw bytes, UTF-8 where the RFC has UTF-8)."""
    return "\r\n".join(TORTURE[name]).replace("{via}", via).encode("latin-1") + b"\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sip-server"),
                        env=sip_server_env(SIP_PORT)) as running:
        yield running


def _answers(sock: socket.socket, wait_s: float) -> list[bytes]:
    sock.settimeout(wait_s)
    answers = []
    while True:
        try:
            answers.append(sock.recv(65535))
        except TimeoutError:
            return answers


def _status(answer: bytes) -> int:
    assert answer.startswith(b"SIP/2.0 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def _options(via: str, call_id: str) -> bytes:
    return (f"OPTIONS sip:riverside-clinic@127.0.0.1:{SIP_PORT} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via};branch=z9hG4bK{call_id};rport\r\nMax-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={call_id}\r\nTo: <sip:riverside-clinic@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def _barrage(sock: socket.socket) -> dict[str, list[int]]:
    """Everything malformed, over UDP and TCP; the status codes each message drew."""
    via = f"127.0.0.1:{sock.getsockname()[1]}"
    target = ("127.0.0.1", SIP_PORT)
    drew: dict[str, list[int]] = {}
    for name in TORTURE:
        sock.sendto(torture(name, via), target)
        drew[name] = [_status(answer) for answer in _answers(sock, 0.3)]
    junk = random.Random(4475)
    long_via = b"INVITE sip:riverside-clinic@127.0.0.1 SIP/2.0\r\nVia: " + b"A" * 8000
    garbage = [b"", b"\r\n\r\n", b"\x00" * 512, junk.randbytes(1400), b"INVITE",
               b"SIP/2.0 200 OK\r\n\r\n", b"X" * 60000, long_via + b"\r\n\r\n"]
    for datagram in garbage:
        sock.sendto(datagram, target)
    for _ in range(FLOOD):
        sock.sendto(junk.randbytes(junk.randrange(1, 600)), target)
    drew["garbage and flood"] = [_status(answer) for answer in _answers(sock, 0.5)]
    huge_body = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n"
    for junk_stream in (junk.randbytes(70000), huge_body):
        with socket.create_connection(target, timeout=5) as tcp:
            tcp.sendall(junk_stream)
            time.sleep(0.2)
    return drew


def test_malformed_sip_gets_errors_or_silence_and_the_call_carries_on(
        server: RunningServer, tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "caller.pcap",
                      caller_packets([Say(10.0, "Yes, this is Maria.")], total_s=13.0))
    with rtp_recorder() as heard, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sipp = run_sipp(caller_scenario(heard.port, pcap, talk_s=18), tmp_path,
                        *caller_args(SIP_PORT, "u1"), timeout_s=100, wait=False)
        deadline = time.monotonic() + 60
        while not heard.packets:  # the call is answered once the agent's audio flows
            assert time.monotonic() < deadline and sipp.poll() is None, sipp_log(tmp_path)
            time.sleep(0.1)
        started = time.monotonic()
        drew = _barrage(sock)
        barrage_s = time.monotonic() - started
        sock.sendto(_options(f"127.0.0.1:{sock.getsockname()[1]}", "still-there"),
                    ("127.0.0.1", SIP_PORT))
        still_answering = [_status(answer) for answer in _answers(sock, 2.0)]
        sipp.wait(100)
    assert barrage_s < 8, barrage_s  # all of it hit the call's first seconds
    for name, statuses in drew.items():
        assert all(status == 100 or 400 <= status < 700 for status in statuses), (name, statuses)
    assert still_answering == [200]
    assert sipp.returncode == 0, sipp_log(tmp_path) + server.log()[-3000:]

    lines = transcribe_lines(load_asr(threads=1), heard.save(tmp_path / "heard.wav"))
    said = [heard_as(lines, GREETING),
            heard_as(lines, "For your privacy, could you confirm your date of birth?")]
    assert said == sorted(said), lines
    assert heard.max_gap_s() < 0.1
    assert "Traceback" not in server.log()
