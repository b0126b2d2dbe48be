"""The RTP pacer process, for real: a UDP socket handed over, G.711 paced at 20 ms, queued
audio in order, barge-in clearing, a codec change, and a pacer killed mid-call."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from app.channels.sip_sender import PACER, RtpSender, SendTo
from voice.codecs import Encoding, decode


class Peer:
    """A UDP socket that keeps every packet with its arrival time."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.packets: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.packets.append((time.monotonic(), self.sock.recv(2048)))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()

    def payload_types(self) -> set[int]:
        return {data[1] & 0x7F for _, data in self.packets}

    def sequences(self) -> list[int]:
        return [struct.unpack_from("!H", data, 2)[0] for _, data in self.packets]

    def loud_packets(self, encoding: Encoding) -> int:
        return sum(np.abs(decode(data[12:], encoding)).max() > 1000 for _, data in self.packets)


@pytest.fixture
def peer() -> Iterator[Peer]:
    listening = Peer()
    yield listening
    listening.close()


def tone(seconds: float) -> np.ndarray:
    return (np.sin(np.arange(int(8000 * seconds)) * 0.3) * 8000).astype(np.int16)


def start_sender(peer: Peer, drained: asyncio.Event) -> tuple[RtpSender, socket.socket]:
    ours = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ours.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    sender = RtpSender(ours, SendTo(peer.sock.getsockname(), 0, Encoding.MULAW),
                       lambda: loop.call_soon_threadsafe(drained.set))
    PACER.add(sender)
    return sender, ours


async def test_audio_goes_out_paced_in_order_and_drains(peer: Peer) -> None:
    drained = asyncio.Event()
    sender, ours = start_sender(peer, drained)
    sender.play(tone(0.5))
    await asyncio.wait_for(drained.wait(), 3)
    await asyncio.sleep(0.3)  # silence keeps flowing after the speech
    await sender.closed()
    ours.close()
    assert sender.stats.sent >= 40
    assert sender.stats.max_gap_s < 0.06
    assert peer.loud_packets(Encoding.MULAW) == 25  # 0.5 s of tone, no more, no less
    sequences = peer.sequences()
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(sequences))
    gaps = np.diff([at for at, _ in peer.packets])
    assert abs(float(np.median(gaps)) - 0.02) < 0.003


async def test_clear_drops_what_is_queued_and_update_changes_codec(peer: Peer) -> None:
    drained = asyncio.Event()
    sender, ours = start_sender(peer, drained)
    sender.play(tone(5.0))
    await asyncio.sleep(0.3)
    drained.clear()
    sender.clear()  # the caller barged in
    await asyncio.wait_for(drained.wait(), 1)
    assert not sender.queued
    sender.update(SendTo(peer.sock.getsockname(), 8, Encoding.ALAW))
    await asyncio.sleep(0.2)
    await sender.closed()
    ours.close()
    assert peer.loud_packets(Encoding.MULAW) < 30  # far less than the 250 queued
    assert peer.payload_types() == {0, 8}


async def test_a_killed_pacer_is_restarted_and_the_call_carries_on(peer: Peer) -> None:
    drained = asyncio.Event()
    sender, ours = start_sender(peer, drained)
    await asyncio.sleep(0.2)
    process = PACER._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(5)
    before = len(peer.packets)
    sender.play(tone(0.2))  # the next message finds the pacer gone and starts a new one
    await asyncio.sleep(0.6)
    await sender.closed()
    ours.close()
    assert PACER._process is not process
    assert len(peer.packets) > before + 10
