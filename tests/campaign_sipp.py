"""The callees of a SIP campaign, played by one SIPp process: the kind of callee is in the
number dialled (``+1212555KNNN``: K the kind, NNN any), the scenario branches on it with
``ereg`` on the To header, and people and machines answer with recorded speech (espeak-ng
pcaps, a 1 kHz beep after the machine's greeting).

What the test reads back: SIPp's message log (every INVITE, with the number dialled, our
RTP port and how SIPp answered it: the network's own record of the calls) and the agent's
audio of each answered call, from one RTP recorder that every answer's SDP points at,
told apart by the port each call sends from (the dialer's RTP ports rotate, so none is
reused within a run).
"""

from __future__ import annotations

import contextlib
import enum
import re
import socket
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app.caller_voice import speak
from tests.sip_peer import (
    Keys,
    Say,
    callee_bye,
    caller_packets,
    realtime_priority,
    sipp,
    write_pcap,
)
from voice.codecs import mulaw_decode, mulaw_encode

RATE = 8000
PREFIX = "+1212555"
DATE_OF_BIRTH = "1984-03-12"  # every person who confirms keys this one in
VOICEMAIL_GREETING = ("Hi, you've reached five five five, zero one three four. Please leave "
                      "a message after the tone.")


class Kind(enum.IntEnum):
    """The callee behind a number: its digit after the prefix."""

    OPTS_OUT = 0  # a person: "Hello?" ... "Please stop calling me."
    CONFIRMS = 1  # a person who confirms the appointment
    VOICEMAIL = 2  # a machine: greeting, beep, then it records
    BUSY = 3  # 486 Busy Here
    NO_ANSWER = 4  # rings until cancelled
    UNKNOWN = 5  # 404 Not Found
    SILENT = 6  # a person who answers and says nothing
    LISTED = 7  # on the do-not-call list before the start (busy if ever dialled)
    LISTED_LATER = 8  # busy, put on the do-not-call list after its first attempt
    HANGS_UP = 9  # answers, then hangs up before saying anything

    @property
    def answers(self) -> bool:
        return self in (Kind.OPTS_OUT, Kind.CONFIRMS, Kind.VOICEMAIL, Kind.SILENT,
                        Kind.HANGS_UP)


def number(kind: Kind, index: int) -> str:
    return f"{PREFIX}{int(kind)}{index:03d}"


def kind_of(phone: str) -> Kind:
    return Kind(int(phone[len(PREFIX)]))


# -- what the callees say ---------------------------------------------------------------

def _packets(pcm: np.ndarray) -> list[tuple[float, bytes]]:
    """20 ms PCMU RTP packets of ``pcm`` (8 kHz)."""
    audio = mulaw_encode(pcm)
    packets = []
    for index in range(len(audio) // 160):
        header = bytes([0x80, 0x80 if index == 0 else 0]) + \
            (1000 + index).to_bytes(2, "big") + (index * 160).to_bytes(4, "big") + \
            (0x5EED).to_bytes(4, "big")
        packets.append((index * 0.02, header + audio[index * 160:(index + 1) * 160]))
    return packets


def beep(seconds: float, hz: float = 1000.0, level: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def voicemail_audio(record_s: float = 25.0) -> np.ndarray:
    """A machine's side: its greeting, a 1 kHz beep, then silence while it records."""
    return np.concatenate([np.zeros(int(0.3 * RATE), np.int16), speak(VOICEMAIL_GREETING),
                           np.zeros(int(0.3 * RATE), np.int16), beep(0.6),
                           np.zeros(int(record_s * RATE), np.int16)])


OPT_OUT_SCRIPT: list[Say | Keys] = [Say(0.3, "Hello?"), Say(9.0, "Please stop calling me.")]
CONFIRM_SCRIPT: list[Say | Keys] = [
    Say(0.3, "Hello, this is Maria speaking."), Say(9.5, "Yes, speaking."),
    Keys(15.5, "03121984#"), Say(31.0, "Yes, I will be there."),
    Say(41.0, "No, that's all. Thank you.")]


def write_pcaps(folder: Path) -> dict[Kind, Path]:
    """The recorded side of each answering kind."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        Kind.OPTS_OUT: write_pcap(folder / "opts-out.pcap", caller_packets(OPT_OUT_SCRIPT, 30)),
        Kind.CONFIRMS: write_pcap(folder / "confirms.pcap", caller_packets(CONFIRM_SCRIPT, 60)),
        Kind.VOICEMAIL: write_pcap(folder / "voicemail.pcap", _packets(voicemail_audio())),
        Kind.SILENT: write_pcap(folder / "silent.pcap", caller_packets([], 30)),
    }


# -- the scenario -----------------------------------------------------------------------

_HEAD = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]"""
_CONTACT = "Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>"
_SDP = """v=0
o=callee 2000 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv"""


def _send(status: str, *, cseq: str = "[last_CSeq:]", extra: str = "", sdp: str = "",
          retrans: bool = False) -> str:
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{sdp}" if sdp \
        else "Content-Length: 0\n"
    extra = f"{extra}\n" if extra else ""
    attributes = ' retrans="500"' if retrans else ""
    return (f"<send{attributes}><![CDATA[\nSIP/2.0 {status}\n{_HEAD}\n{cseq}\n{extra}{body}\n"
            "]]></send>\n")


def _refuse(label: str, status: str) -> str:
    return (f'<label id="{label}"/>\n' + _send(status) +
            '<recv request="ACK"/>\n<nop hide="true" next="end"/>\n')


def callees_scenario(media_port: int, pcaps: dict[Kind, Path], bye_wait_s: float = 120) -> str:
    """SIPp as every callee of the campaign at once (one SIPp call per INVITE)."""
    flags = "".join(
        f'<ereg regexp="sip:\\{PREFIX}{int(kind)}" search_in="hdr" header="To:" '
        f'check_it="false" assign_to="k{int(kind)}"/>\n' for kind in Kind)
    steps = [f'<recv request="INVITE"><action>\n{flags}'
             '<ereg regexp="([0-9]+)" search_in="hdr" header="CSeq:" check_it="true" '
             'assign_to="cseq,cseqnumber"/>\n'
             '<ereg regexp="[^ ].*" search_in="hdr" header="From:" check_it="true" '
             'assign_to="caller"/>\n'
             '<ereg regexp="sips?:[^>;]*" search_in="hdr" header="Contact:" check_it="true" '
             'assign_to="caller_contact"/>\n</action></recv>\n']
    jumps = {Kind.BUSY: "busy", Kind.LISTED: "busy", Kind.LISTED_LATER: "busy",
             Kind.NO_ANSWER: "ring", Kind.UNKNOWN: "unknown"}
    steps += [f'<nop hide="true" test="k{int(kind)}" next="{label}"/>\n'
              for kind, label in jumps.items()]
    steps += [_send("180 Ringing", extra=_CONTACT),
              _send("200 OK", extra=_CONTACT, sdp=_SDP.format(port=media_port), retrans=True),
              '<recv request="ACK"/>\n']
    steps += [f'<nop hide="true" test="k{int(kind)}" next="play{int(kind)}"/>\n'
              for kind in (*pcaps, Kind.HANGS_UP)]
    steps.append('<nop hide="true" next="hangup"/>\n')
    steps.append(f'<label id="play{int(Kind.HANGS_UP)}"/>\n' + callee_bye(1500, _CONTACT)
                 + '<nop hide="true" next="end"/>\n')
    for kind, pcap in pcaps.items():
        steps.append(f'<label id="play{int(kind)}"/>\n'
                     f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                     '<nop hide="true" next="hangup"/>\n')
    steps += ['<label id="hangup"/>\n',
              f'<recv request="BYE" timeout="{int(bye_wait_s * 1000)}"/>\n',
              _send("200 OK"), '<nop hide="true" next="end"/>\n',
              _refuse("busy", "486 Busy Here"), _refuse("unknown", "404 Not Found"),
              '<label id="ring"/>\n', _send("180 Ringing", extra=_CONTACT),
              '<recv request="CANCEL" timeout="60000"/>\n', _send("200 OK"),
              _send("487 Request Terminated", cseq="CSeq: [$cseqnumber] INVITE"),
              '<recv request="ACK"/>\n', '<label id="end"/>\n',
              '<Reference variables="cseq"/>\n']
    body = "".join(steps)
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="callees">\n'
            f"{body}</scenario>\n")


@contextmanager
def sipp_callees(folder: Path, port: int, media_port: int, pcaps: dict[Kind, Path],
                 ) -> Iterator[subprocess.Popen[bytes]]:
    """One SIPp UAS answering every call to 127.0.0.1:``port`` until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "callees.xml"
    scenario.write_text(callees_scenario(media_port, pcaps))
    command = [sipp(), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-t", "u1",
               "-nostdin", "-trace_msg",
               "-message_file", str(folder / "messages.log"),
               "-trace_err", "-error_file", str(folder / "errors.log"),
               "-mp", str(port + 2)]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        assert process.poll() is None, (folder / "errors.log").read_text(errors="replace") \
            if (folder / "errors.log").exists() else "sipp did not start"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# -- reading SIPp's record ----------------------------------------------------------------

@dataclass
class SippCall:
    """One INVITE SIPp received, as its message log tells it."""

    call_id: str
    phone: str
    invited_at: datetime
    rtp_port: int | None
    responses: list[int] = field(default_factory=list)
    cancelled: bool = False
    bye: bool = False  # we hung up
    callee_hung_up: bool = False

    @property
    def result(self) -> str:
        """What happened on the line: busy, no_answer, answered, hung_up (answered, then
        the callee hung up) or failed."""
        final = next((code for code in self.responses if code >= 200), None)
        if final == 486:
            return "busy"
        if final == 487 or (final is None and self.cancelled):
            return "no_answer"
        if final == 200:
            return "hung_up" if self.callee_hung_up else "answered"
        return "failed"


_ENTRY = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)", re.M)


def read_messages(log: Path) -> list[SippCall]:
    """Every call SIPp received, from its ``-trace_msg`` log, in the order of the INVITEs."""
    text = log.read_text(errors="replace")
    stamps = list(_ENTRY.finditer(text))
    calls: dict[str, SippCall] = {}
    for index, stamp in enumerate(stamps):
        end = stamps[index + 1].start() if index + 1 < len(stamps) else len(text)
        _entry(calls, stamp.group(1), text[stamp.end():end])
    return sorted(calls.values(), key=lambda call: call.invited_at)


def _entry(calls: dict[str, SippCall], stamp: str, entry: str) -> None:
    call_id = re.search(r"^Call-ID:\s*(\S+)", entry, re.M | re.I)
    start = re.search(r"^(INVITE|CANCEL|BYE|ACK) sip:(\+?\d+)?|^SIP/2\.0 (\d{3})", entry, re.M)
    if call_id is None or start is None:
        return
    key, received = call_id.group(1), "message received" in entry
    if start.group(1) == "INVITE" and received and key not in calls:
        port = re.search(r"^m=audio (\d+)", entry, re.M)
        at = datetime.strptime(" ".join(stamp.split()), "%Y-%m-%d %H:%M:%S.%f")
        calls[key] = SippCall(key, start.group(2) or "", at.astimezone(UTC),
                              int(port.group(1)) if port else None)
    call = calls.get(key)
    if call is None:
        return
    if start.group(3) and not received and "INVITE" in _cseq(entry):
        call.responses.append(int(start.group(3)))
    elif start.group(1) == "CANCEL" and received:
        call.cancelled = True
    elif start.group(1) == "BYE":
        if received:
            call.bye = True
        else:
            call.callee_hung_up = True


def _cseq(entry: str) -> str:
    found = re.search(r"^CSeq:\s*(.+)$", entry, re.M | re.I)
    return found.group(1) if found else ""


# -- the agent's audio --------------------------------------------------------------------

class StreamRecorder:
    """A UDP socket on loopback keeping every RTP payload sent to it, by source port.

    Its thread asks for real-time priority and the socket for a large buffer: on a loaded
    box the measuring side must not be what loses packets. A packet missing all the same
    is counted (``lost``) and heard as 20 ms of silence, not spliced over."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is not None:
                with contextlib.suppress(OSError):
                    self.sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
                    break
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.streams: dict[int, dict[int, bytes]] = defaultdict(dict)
        self._last: dict[int, int] = {}  # each stream's last sequence number, unwrapped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StreamRecorder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _run(self) -> None:
        realtime_priority()
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, (_, port) = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12 and data[1] & 0x7F == 0:  # PCMU audio
                number = _unwrapped(self._last.get(port), int.from_bytes(data[2:4]))
                self.streams[port][number] = data[12:]
                self._last[port] = number

    def lost(self, port: int) -> int:
        """Packets of the call sending from ``port`` that never arrived."""
        stream = self.streams.get(port, {})
        return max(stream) - min(stream) + 1 - len(stream) if stream else 0

    def audio(self, port: int) -> np.ndarray:
        """What the call sending from ``port`` said (8 kHz), in sequence order."""
        stream = self.streams.get(port, {})
        if not stream:
            return np.zeros(0, np.int16)
        silence = b"\xff" * 160
        payloads = [stream.get(number, silence) for number in range(min(stream), max(stream) + 1)]
        return mulaw_decode(b"".join(payloads))


def _unwrapped(last: int | None, sequence: int) -> int:
    """An RTP sequence number (16 bits, wrapping) as a count, near the stream's ``last``."""
    if last is None:
        return sequence
    return last + ((sequence - last + 0x8000) & 0xFFFF) - 0x8000
