"""Many simultaneous SIP calls from SIPp to the server, each with its own RTP recorder, and
the caller-felt response time read at the peer: from the end of a caller line, as the pcap
played it, to the first agent packet with speech in it.

Times are wall-clock on both sides: SIPp's message log stamps the ACK it sent (the pcap
starts playing right after it), the recorder stamps each agent packet as it arrives."""

from __future__ import annotations

import contextlib
import gc
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from tests.sip_peer import (
    RATE,
    RtpRecorder,
    Say,
    caller_args,
    caller_packets,
    caller_scenario,
    realtime_priority,
    run_sipp,
    sipp_log,
    write_pcap,
)
from tests.speech import active_spans, speak
from voice.codecs import mulaw_decode

SPEECH_DB = -40.0  # a packet at or above this level holds speech
_STAMP = re.compile(r"^-+ (\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}\.\d+)", re.MULTILINE)
_PLAY_START = re.compile(r"message sent[^\n]*\n+ACK ", re.MULTILINE)


@dataclass(frozen=True)
class CallerScript:
    """One caller: the lines said at their seconds after the answer, and when to hang up."""

    lines: tuple[Say, ...]
    hang_up_s: float

    def speech_ends(self) -> list[float]:
        """Seconds after the pcap starts at which each line's sound ends."""
        ends = []
        for line in self.lines:
            spans = active_spans(speak(line.text, RATE), RATE, threshold_db=SPEECH_DB)
            ends.append(line.at_s + spans[-1][1])
        return ends


@dataclass
class LoadCall:
    """One call under way: its SIPp process, its folder, the agent's audio as it arrives."""

    index: int
    script: CallerScript
    folder: Path
    heard: RtpRecorder
    sipp: subprocess.Popen[str] | None = None

    def finished_ok(self) -> bool:
        """SIPp ran its whole scenario: answered, and ended by a BYE from either side."""
        return self.sipp is not None and self.sipp.returncode == 0

    def call_id(self) -> str:
        text = (self.folder / "sipp-messages.log").read_text(errors="replace")
        found = re.search(r"^Call-ID: (\S+)", text, re.MULTILINE)
        assert found, f"no Call-ID in call {self.index}"
        return found.group(1)

    def agent_hung_up(self) -> bool:
        return "BYE sip:caller" in (self.folder / "sipp-messages.log").read_text(errors="replace")

    def log(self) -> str:
        return sipp_log(self.folder)

    def played_from(self) -> float:
        """Wall-clock second the caller's pcap began: when SIPp sent the ACK."""
        text = (self.folder / "sipp-messages.log").read_text(errors="replace")
        ack = _PLAY_START.search(text)
        assert ack, f"no ACK sent in call {self.index}"
        stamps = [m for m in _STAMP.finditer(text) if m.start() < ack.start()]
        assert stamps, f"no time stamp before the ACK in call {self.index}"
        day, clock = stamps[-1].groups()
        return datetime.fromisoformat(f"{day}T{clock}").timestamp()

    def response_times(self) -> list[float | None]:
        """For each caller line: seconds from its end to the start of the agent's next
        speech (``None`` when the agent was still talking then, or never spoke again)."""
        start = self.played_from()
        arrivals, loud = speech_packets(self.heard)
        results: list[float | None] = []
        for end in self.script.speech_ends():
            at = start + end
            after = np.flatnonzero(arrivals >= at)
            if not len(after) or loud[after[0]]:  # talking over the caller's line end
                results.append(None)
                continue
            onsets = after[loud[after]]
            results.append(float(arrivals[onsets[0]] - at) if len(onsets) else None)
        return results


def speech_packets(heard: RtpRecorder) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times of the agent's packets (wall clock) and whether each holds speech."""
    packets = sorted((at, payload) for at, _, pt, payload in heard.audio_packets() if pt == 0)
    arrivals = np.array([at for at, _ in packets])
    levels = np.array([_level_db(mulaw_decode(payload)) for _, payload in packets])
    return arrivals, levels >= SPEECH_DB


def _level_db(pcm: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0
    return 20 * np.log10(rms / 32768 + 1e-9)


@contextmanager
def recorders(count: int) -> Iterator[list[RtpRecorder]]:
    """``count`` recorders served by one thread, at the highest priority the test may
    take, with the garbage collector off: the peer's clock must not be what stalls."""
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sockets.append(sock)
    heard = [RtpRecorder(sock, clock=time.time) for sock in sockets]
    stop = threading.Event()

    def record() -> None:
        realtime_priority()
        by_socket = dict(zip(sockets, heard, strict=True))
        while not stop.is_set():
            ready, _, _ = select.select(sockets, [], [], 0.2)
            for sock in ready:
                with contextlib.suppress(BlockingIOError):
                    by_socket[sock].packets.append((time.time(), sock.recv(2048)))

    thread = threading.Thread(target=record, name="rtp-recorders", daemon=True)
    gc.disable()
    thread.start()
    try:
        yield heard
    finally:
        stop.set()
        thread.join(2)
        gc.enable()
        for sock in sockets:
            sock.close()


@contextmanager
def simultaneous_calls(sip_port: int, scripts: list[CallerScript], folder: Path, *,
                       stagger_s: float = 0.3, timeout_s: float = 120) -> Iterator[list[LoadCall]]:
    """Start one SIPp caller per script, ``stagger_s`` apart, all to the riverside-clinic
    service; yields the calls once every SIPp has exited (or been stopped at the timeout)."""
    with recorders(len(scripts)) as heard:
        calls = []
        for index, script in enumerate(scripts):
            call_folder = folder / f"call-{index:02d}"
            call_folder.mkdir(parents=True)
            calls.append(LoadCall(index, script, call_folder, heard[index]))
        scenarios = [caller_scenario(call.heard.port,
                                     write_pcap(call.folder / "caller.pcap", _packets(call.script)),
                                     talk_s=call.script.hang_up_s,
                                     either_hangs_up=True) for call in calls]
        for call, scenario in zip(calls, scenarios, strict=True):
            call.sipp = run_sipp(scenario, call.folder, *caller_args(sip_port, "u1"),
                                 timeout_s=timeout_s, wait=False)
            time.sleep(stagger_s)
        deadline = time.monotonic() + timeout_s + 10
        for call in calls:
            assert call.sipp is not None
            try:
                call.sipp.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                call.sipp.kill()
                call.sipp.wait()
        time.sleep(0.3)  # the last packets in flight
        yield calls


def _packets(script: CallerScript) -> list[tuple[float, bytes]]:
    return caller_packets(list(script.lines), total_s=script.hang_up_s)
