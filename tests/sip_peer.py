"""A real SIP peer for the SIP tests: SIPp (Debian's sip-tester) with scenarios written here,
the caller's side as a pcap of RTP (espeak-ng speech in PCMU, RFC 4733 key presses) that
SIPp plays, and an RTP recorder standing where the peer's SDP says its audio goes, so the
agent's packets can be timed, decoded and transcribed."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.caller_voice import speak
from app.channels.sip_jitter import extended_sequence
from tests.ports import free_media_port, free_rtp_range, free_udp_tcp_port
from tests.server import RunningServer
from tests.speech import active_spans, words
from voice.codecs import Encoding, mulaw_decode, mulaw_encode, resample
from voice.wavfile import write_wav

RATE = 8000
PACKET = 160  # samples in 20 ms
DTMF_PT = 101
KEYS = "0123456789*#"
GREETING = "Hi, this is Ava calling from Riverside Clinic. May I speak with Maria Lopez?"
NAMES = "Riverside Clinic, Maria Lopez, Dr. Patel."


@dataclass(frozen=True)
class Say:
    at_s: float
    text: str


@dataclass(frozen=True)
class Keys:
    at_s: float
    keys: str
    press_ms: int = 120
    gap_ms: int = 200


# -- the caller's RTP as a pcap ---------------------------------------------------------

def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    return ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF


def _frame(payload: bytes, src_port: int, dst_port: int) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                               bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])))
    ip[10:12] = struct.pack("!H", _ipv4_checksum(bytes(ip)))
    ethernet = b"\x00" * 12 + b"\x08\x00"
    return ethernet + bytes(ip) + udp


def _rtp(pt: int, seq: int, ts: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, 0x5EED) + payload


def _key_packets(key: str, press_ms: int) -> list[bytes]:
    """One key press as RFC 4733 payloads, one per 20 ms, the end packet sent three times."""
    event, steps = KEYS.index(key), max(1, press_ms // 20)
    payloads = [struct.pack("!BBH", event, 10, PACKET * (step + 1)) for step in range(steps)]
    end = struct.pack("!BBH", event, 0x80 | 10, PACKET * steps)
    return [*payloads, end, end, end]


def caller_packets(script: list[Say | Keys], total_s: float) -> list[tuple[float, bytes]]:
    """The caller's side, 20 ms RTP packets for ``total_s``: silence, the lines spoken at
    their seconds, and key presses in place of audio while a key is down."""
    track = np.zeros(int(total_s * RATE), dtype=np.int32)
    for item in script:
        if isinstance(item, Say):
            clip = speak(item.text, RATE)
            start = int(item.at_s * RATE)
            track[start:start + len(clip)] += clip[: max(0, len(track) - start)]
    audio = mulaw_encode(np.clip(track, -32768, 32767).astype(np.int16))
    keyed: dict[int, list[tuple[int, bytes]]] = {}  # packet index -> (event start ts, payload)
    for item in script:
        if isinstance(item, Keys):
            index = int(item.at_s * 50)
            for key in item.keys:
                start_ts = index * PACKET
                for offset, payload in enumerate(_key_packets(key, item.press_ms)):
                    keyed.setdefault(index + offset, []).append((start_ts, payload))
                index += (item.press_ms + 60 + item.gap_ms) // 20
    packets, seq = [], 1000
    for index in range(len(audio) // PACKET):
        at = index * 0.02
        if index in keyed:
            for start_ts, payload in keyed[index]:
                packets.append((at, _rtp(DTMF_PT, seq, start_ts, payload)))
                seq += 1
            continue
        packets.append((at, _rtp(0, seq, index * PACKET,
                                 audio[index * PACKET:(index + 1) * PACKET], index == 0)))
        seq += 1
    return packets


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for at, payload in packets:
            frame = _frame(payload, 7000, 7002)
            seconds = 1_700_000_000 + int(at)
            out.write(struct.pack("<IIII", seconds, round((at % 1) * 1e6) % 1_000_000,
                                  len(frame), len(frame)))
            out.write(frame)
    return path


# -- the agent's RTP, as the peer receives it ---------------------------------------------

@dataclass
class RtpRecorder:
    """A UDP socket on loopback collecting every packet sent to it, with arrival times."""

    sock: socket.socket
    packets: list[tuple[float, bytes]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic  # time.time to compare with another log
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.packets.append((self.clock(), data))

    def audio_packets(self) -> list[tuple[float, int, int, bytes]]:
        """(arrival, extended sequence, payload type, payload) of each packet, in sequence
        order. The sender starts at a random 16-bit sequence number, so a call may wrap
        past 65535: sorted as sent, its first seconds would come last."""
        parsed, highest = [], None
        for at, data in sorted(self.packets, key=lambda p: p[0]):
            if len(data) <= 12:
                continue
            sequence = struct.unpack_from("!H", data, 2)[0]
            if highest is not None:
                sequence = extended_sequence(sequence, highest)
            highest = sequence if highest is None else max(highest, sequence)
            parsed.append((at, sequence, data[1] & 0x7F, data[12:]))
        return sorted(parsed, key=lambda p: p[1])

    def audio(self) -> np.ndarray:
        """Everything the agent sent, decoded (PCMU), 8 kHz."""
        payloads = [payload for _, _, pt, payload in self.audio_packets() if pt == 0]
        return mulaw_decode(b"".join(payloads)) if payloads else np.zeros(0, np.int16)

    def save(self, path: Path) -> np.ndarray:
        """The agent's audio, also written to ``path`` (a WAV to listen to when a test fails)."""
        pcm = self.audio()
        write_wav(path, pcm, RATE, Encoding.PCM16)
        return pcm

    def max_gap_s(self) -> float:
        """The longest wait between two packets arriving, once the stream began."""
        times = sorted(at for at, _ in self.packets)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


@contextmanager
def rtp_recorder() -> Iterator[RtpRecorder]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    recorder = RtpRecorder(sock)
    recorder._thread = threading.Thread(target=recorder._run, daemon=True)
    recorder._thread.start()
    try:
        yield recorder
    finally:
        recorder._stop.set()
        recorder._thread.join(2)
        sock.close()


def transcribe_lines(recognizer: object, pcm: np.ndarray, prompt: str = NAMES, *,
                     min_gap_s: float = 0.35) -> list[str]:
    """What the agent said, one entry per stretch of speech (pauses of ``min_gap_s`` split them).
    ``prompt`` gives Whisper the names a deployment would give it (``AVA_VOICE__ASR_PROMPT``):
    without them Whisper tiny tends to stop early in a long line after "Dr."."""
    lines = []
    for start, end in active_spans(pcm, RATE, min_gap_s=min_gap_s):
        piece = pcm[max(0, int((start - 0.3) * RATE)): int((end + 0.5) * RATE)]
        if end - start >= 0.3:
            audio = resample(piece, RATE, 16000)
            lines.append(recognizer.transcribe(audio, prompt).text)  # type: ignore[attr-defined]
    return lines


# -- SIPp -------------------------------------------------------------------------------

def sipp() -> str:
    path = shutil.which("sipp")
    assert path, "sipp is not installed (apt-get install sip-tester)"
    return path


def run_sipp(scenario: str, folder: Path, *args: str, timeout_s: float = 120,
             wait: bool = True) -> subprocess.Popen[str]:
    """SIPp with ``scenario`` (XML text), its messages logged in ``folder``; waited for
    unless ``wait`` is false (then the caller waits)."""
    path = folder / "scenario.xml"
    path.write_text(scenario)
    command = [sipp(), "-sf", str(path), "-m", "1", "-l", "1", "-nostdin",
               "-trace_msg", "-message_file", str(folder / "sipp-messages.log"),
               "-trace_err", "-error_file", str(folder / "sipp-errors.log"),
               "-timeout", f"{int(timeout_s)}s", "-timeout_error", *args]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    if wait:
        process.wait(timeout_s + 10)
    return process


def sipp_log(folder: Path) -> str:
    parts = []
    for name in ("sipp-messages.log", "sipp-errors.log"):
        if (folder / name).exists():
            parts.append((folder / name).read_text(errors="replace")[-6000:])
    return "\n".join(parts)


# -- SIPp scenarios ---------------------------------------------------------------------

_HEAD = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70"""

_SDP = """\
v=0
o=caller 1000 {version} IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a={direction}"""


def _request(method: str, cseq: int, body: str = "", in_dialog: bool = True) -> str:
    head = _HEAD.format(to_tag="[peer_tag_param]" if in_dialog else "", cseq=cseq,
                        method=method)
    uri = "sip:[service]@[remote_ip]:[remote_port]"
    content = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + body if body \
        else "Content-Length: 0\n"
    retrans = ' retrans="500"' if method != "ACK" else ""
    return f"<send{retrans}><![CDATA[\n{method} {uri} SIP/2.0\n{head}\n{content}\n]]></send>\n"


def sdp_offer(port: int, version: int, direction: str = "sendrecv") -> str:
    """The peer's SDP: PCMU and telephone-events at ``port`` on loopback."""
    return _SDP.format(port=port, version=version, direction=direction)


def _transaction(method: str, cseq: int, body: str = "") -> str:
    """An in-dialog request and its 200 (ACKed when it is an INVITE)."""
    text = _request(method, cseq, body)
    text += '<recv response="100" optional="true"/>\n<recv response="200"/>\n'
    if method == "INVITE":
        text += _request("ACK", cseq)
    return text


def callee_bye(pause_ms: int, contact: str = "") -> str:
    """SIPp as the called side hanging up after ``pause_ms``: its BYE (with ``contact``, a
    Contact header line, when given) and the 200 that answers it."""
    contact_line = f"{contact}\n" if contact else ""
    return (f'<pause milliseconds="{pause_ms}"/>\n<send retrans="500"><![CDATA[\n'
            "BYE [$caller_contact] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            "From: <sip:callee@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\n"
            "To: [$caller]\nCall-ID: [call_id]\nCSeq: 1 BYE\n"
            f"{contact_line}Max-Forwards: 70\nContent-Length: 0\n\n"
            ']]></send>\n<recv response="200"/>\n')


def realtime_priority() -> None:
    """The calling thread ahead of the server's (SCHED_FIFO), so that on a loaded box the
    measuring side is not what stalls; a test without the privilege keeps its priority."""
    with contextlib.suppress(OSError):
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(10))


ANSWER_BYE = """<recv request="BYE" timeout="{timeout_ms}"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""


def caller_scenario(media_port: int, pcap: Path, *, talk_s: float, hold_at_s: float | None = None,
                    agent_hangs_up: bool = False, either_hangs_up: bool = False,
                    bye_wait_s: float = 60) -> str:
    """SIPp calling the server: INVITE with SDP (our recorder as its audio address), ACK,
    the pcap played, optionally a hold and an unhold re-INVITE at ``hold_at_s``; then BYE
    after ``talk_s`` seconds, or, with ``agent_hangs_up``, the server's BYE answered; with
    ``either_hangs_up``, the server's BYE answered if it comes before ``talk_s``."""
    steps = [_request("INVITE", 1, sdp_offer(media_port, 1), in_dialog=False),
             '<recv response="100" optional="true"/>\n<recv response="180" optional="true"/>\n'
             '<recv response="200" rtd="true"/>\n', _request("ACK", 1),
             f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n']
    cseq, waited = 1, 0.0
    if hold_at_s is not None:
        steps.append(f'<pause milliseconds="{int(hold_at_s * 1000)}"/>\n')
        steps.append(_transaction("INVITE", 2, sdp_offer(media_port, 2, "sendonly")))
        steps.append('<pause milliseconds="1000"/>\n')
        steps.append(_transaction("INVITE", 3, sdp_offer(media_port, 3, "sendrecv")))
        cseq, waited = 3, hold_at_s + 1.0
    if agent_hangs_up:
        steps.append(ANSWER_BYE.format(timeout_ms=int(bye_wait_s * 1000)))
    elif either_hangs_up:  # the agent's BYE answered, else ours at talk_s
        wait_ms = int(max(0.0, talk_s - waited) * 1000)
        steps.append(ANSWER_BYE.replace('"/>', '" ontimeout="caller_bye"/>', 1)
                     .format(timeout_ms=wait_ms))
        steps.append('<nop next="done"/>\n<label id="caller_bye"/>\n')
        steps.append(_transaction("BYE", cseq + 1) + '<label id="done"/>\n')
    else:
        steps.append(f'<pause milliseconds="{int(max(0.0, talk_s - waited) * 1000)}"/>\n')
        steps.append(_transaction("BYE", cseq + 1))
    return _scenario("caller", steps)


def _scenario(name: str, steps: list[str]) -> str:
    body = "".join(steps)
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
            f"{body}</scenario>\n")


_RESPONSE_HEAD = """\
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""


def _response(status: str, extra: str = "", body: str = "") -> str:
    content = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + body if body \
        else "Content-Length: 0\n"
    extra = f"{extra}\n" if extra else ""
    return f"SIP/2.0 {status}\n{_RESPONSE_HEAD}\n{extra}{content}"


def _send(message: str, *, retrans: bool = False, next_label: str | None = None) -> str:
    attributes = (' retrans="500"' if retrans else "") + \
        (f' next="{next_label}"' if next_label else "")
    return f"<send{attributes}><![CDATA[\n{message}\n]]></send>\n"


def _challenge(header: str, realm: str) -> str:
    return f'{header}: Digest realm="{realm}", nonce="[pid]n[call_number]", qop="auth"'


def _checked(request: str, user: str, password: str) -> str:
    """Receive ``request`` and check its digest credentials; wrong ones get 403."""
    return (f'<recv request="{request}"><action><verifyauth assign_to="authvalid" '
            f'username="{user}" password="{password}"/></action></recv>\n'
            '<nop hide="true" test="authvalid" next="good"/>\n'
            + _send(_response("403 Forbidden"), next_label="end") +
            '<label id="good"/>\n')


def registrar_scenario(user: str, password: str) -> str:
    """SIPp as a registrar: REGISTER challenged (401), then accepted if the digest is right."""
    challenge = _response("401 Unauthorized", _challenge("WWW-Authenticate", "ava-test"))
    steps = ['<recv request="REGISTER"/>\n', _send(challenge),
             _checked("REGISTER", user, password),
             _send(_response("200 OK", "[last_Contact:]\nExpires: 300")),
             '<label id="end"/>\n']
    return _scenario("registrar", steps)


def callee_scenario(media_port: int, pcap: Path, user: str, password: str,
                    bye_wait_s: float = 90) -> str:
    """SIPp answering a call: the INVITE challenged (401) and accepted once its digest is
    right, our recorder as its audio address, the pcap played; the caller's BYE answered."""
    contact = "Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>"
    # 401, not 407: SIPp's verifyauth reads Authorization, not Proxy-Authorization.
    challenge = _response("401 Unauthorized", _challenge("WWW-Authenticate", "ava-test"))
    steps = ['<recv request="INVITE"/>\n', _send(challenge), '<recv request="ACK"/>\n',
             _checked("INVITE", user, password),
             _send(_response("180 Ringing", contact)),
             _send(_response("200 OK", contact, sdp_offer(media_port, 1)), retrans=True),
             '<recv request="ACK" rtd="true"/>\n',
             f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n',
             ANSWER_BYE.format(timeout_ms=int(bye_wait_s * 1000)),
             '<label id="end"/>\n']
    return _scenario("callee", steps)


# -- the server under test --------------------------------------------------------------

def sip_server_env(sip_port: int, **extra: str) -> dict[str, str]:
    """Environment for ``running_server``: SIP on ``sip_port`` (UDP and TCP), RTP ports
    of its own, speech models loaded at start."""
    low = free_rtp_range(41)
    return {"AVA_SIP__ENABLED": "true", "AVA_SIP__PORT": str(sip_port),
            "AVA_SIP__RTP_PORT_MIN": str(low), "AVA_SIP__RTP_PORT_MAX": str(low + 40),
            "AVA_PRELOAD_SPEECH_MODELS": "true", **extra}


def caller_args(sip_port: int, transport: str = "u1", service: str = "riverside-clinic"
                ) -> list[str]:
    """SIPp options for a call from loopback to the server's ``service``."""
    return ["-i", "127.0.0.1", "-p", str(free_udp_tcp_port()), "-mp", str(free_media_port()),
            "-t", transport, "-s", service, f"127.0.0.1:{sip_port}"]


def sip_conversations(server: RunningServer) -> list[dict[str, Any]]:
    """Every stored conversation of channel ``sip``, newest first, with its turns."""
    def get(path: str) -> Any:
        request = urllib.request.Request(f"{server.url}{path}", headers=server.auth)
        return json.loads(urllib.request.urlopen(request, timeout=10).read())

    listed = get("/api/v1/conversations")["conversations"]
    return [get(f"/api/v1/conversations/{c['id']}") for c in listed if c["channel"] == "sip"]


def heard_as(lines: list[str], expected: str, *, at_least: float = 0.6) -> int:
    """Index of the transcribed line where ``expected`` was said: the line that holds enough
    of its words (the share must reach ``at_least``: Whisper tiny over G.711 drops or bends a
    word now and then), else the first of the fewest lines (up to four) that do together
    (a pause can split a sentence); fails naming what was heard otherwise."""
    def bag(text: str) -> set[str]:
        return {"dr" if word == "doctor" else word for word in words(text)}

    want = bag(expected)
    for joined in (1, 2, 3, 4):
        scores = [len(want & bag(" ".join(lines[index:index + joined]))) / len(want)
                  for index in range(len(lines))]
        best = max(range(len(lines)), key=scores.__getitem__, default=-1)
        if best >= 0 and scores[best] >= at_least:
            return best
    raise AssertionError(f"not heard: {expected!r} in {lines!r}")
