"""The SIP door's own pieces, without a network: RTP headers, the jitter buffer, RFC 4733
key presses, offer/answer, and the settings."""

from __future__ import annotations

import struct

import pytest
from aiosipua import parse_sdp, serialize_sdp
from pydantic import ValidationError

from app.channels.sip_dtmf import TelephoneEvents
from app.channels.sip_jitter import JitterBuffer
from app.channels.sip_rtp import RtpPacket
from app.channels.sip_sdp import MediaNegotiationError, answer, offer, path_from_answer
from app.channels.sip_settings import SipSettings
from app.channels.sip_signalling import request_user
from tests.sip_peer import RtpRecorder


def test_rtp_packets_round_trip_and_odd_headers_are_read() -> None:
    packet = RtpPacket(payload_type=8, sequence=65535, timestamp=2**32 - 160, ssrc=7,
                       payload=b"\xd5" * 160, marker=True)
    assert RtpPacket.parse(packet.build()) == packet
    # CSRCs, a header extension and padding around a 3-byte payload.
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0, 1, 2, 3)
    data = header + b"\0" * 8 + struct.pack("!HH", 0xBEDE, 1) + b"\0" * 4 + b"abc" + b"\0\0\x03"
    assert RtpPacket.parse(data).payload == b"abc"  # type: ignore[union-attr]
    assert RtpPacket.parse(b"\x40" + b"\0" * 20) is None  # version 1
    assert RtpPacket.parse(b"\x80\x00") is None


def test_the_jitter_buffer_reorders_drops_late_and_counts_losses() -> None:
    jitter = JitterBuffer(depth=3)
    jitter.put(10, b"a")
    jitter.put(12, b"c")
    assert jitter.take() is None  # still filling
    jitter.put(11, b"b")
    jitter.put(11, b"b")  # twice
    assert [jitter.take(), jitter.take(), jitter.take()] == [b"a", b"b", b"c"]
    jitter.put(15, b"f")
    jitter.put(13, b"d")
    assert jitter.take() == b"d"
    assert jitter.take() is None and jitter.playing  # 14 never came: lost
    assert jitter.take() == b"f"
    jitter.put(14, b"e")  # too late now
    assert jitter.take() is None and not jitter.playing  # empty: an underrun
    stats = jitter.stats
    assert (stats.duplicate, stats.lost, stats.late, stats.underruns) == (1, 1, 1, 1)


def test_the_jitter_buffer_follows_sequence_wraparound_and_restarts() -> None:
    jitter = JitterBuffer(depth=1)
    for sequence in (65534, 65535, 0, 1):
        jitter.put(sequence, bytes([sequence % 256]))
    assert [jitter.take() for _ in range(4)] == [b"\xfe", b"\xff", b"\x00", b"\x01"]
    jitter.put(30000, b"new")  # a jump: the stream started anew
    assert jitter.take() == b"new" and jitter.stats.resets == 1


def _event(key: int, end: bool, duration: int) -> bytes:
    return struct.pack("!BBH", key, (0x80 if end else 0) | 10, duration)


def test_a_key_press_counts_once_however_many_packets_carry_it() -> None:
    events = TelephoneEvents()
    pressed = [events.key_pressed(ts, _event(key, end, d))
               for ts, key, end, d in [(160, 3, False, 160), (160, 3, False, 320),
                                       (160, 3, True, 480), (160, 3, True, 480),
                                       (800, 3, False, 160), (1600, 11, True, 160),
                                       (2400, 16, False, 160)]]
    assert pressed == ["3", None, None, None, "3", "#", None]  # 16 is flash, not a key
    assert events.key_pressed(3200, b"\x01") is None  # too short to be an event


def test_an_offer_is_answered_with_g711_and_the_peers_event_type() -> None:
    sdp = serialize_sdp(offer("127.0.0.1", 20000, "1"))
    assert "m=audio 20000 RTP/AVP 0 8 101" in sdp
    peer = sdp.replace("0 8 101", "8 96").replace("101 telephone-event", "96 telephone-event")
    ours, path = answer(parse_sdp(peer), "127.0.0.1", 30000, "9", version=3)
    text = serialize_sdp(ours)
    assert "m=audio 30000 RTP/AVP 8 96" in text and "o=- 9 3 IN IP4" in text
    assert (path.remote, path.payload_type, path.dtmf_payload_type) == (("127.0.0.1", 20000), 8, 96)
    assert path.send and path.receive
    assert path_from_answer(parse_sdp(text)).remote == ("127.0.0.1", 30000)


def test_hold_offers_and_unusable_offers() -> None:
    base = serialize_sdp(offer("127.0.0.1", 20000, "1"))
    _, held = answer(parse_sdp(base.replace("a=sendrecv", "a=sendonly")), "127.0.0.1", 1, "1")
    assert not held.send and held.receive
    _, old_hold = answer(parse_sdp(base.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")),
                         "127.0.0.1", 1, "1")
    assert not old_hold.send
    with pytest.raises(MediaNegotiationError):
        answer(parse_sdp(base.replace("0 8 101", "9 101")), "127.0.0.1", 1, "1")  # G.722 only


def test_the_request_user_names_the_organization() -> None:
    assert request_user("sip:riverside-clinic@127.0.0.1:5070") == "riverside-clinic"
    assert request_user("sip:riverside%2Dclinic@host;transport=tcp") == "riverside-clinic"
    assert request_user("sip:127.0.0.1:5070") is None


def test_sip_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import Settings

    monkeypatch.setenv("AVA_SIP__ENABLED", "true")
    monkeypatch.setenv("AVA_SIP__TRANSPORTS", "tcp")
    monkeypatch.setenv("AVA_SIP__ALLOWED_PEERS", "10.0.0.0/8, 192.0.2.7")
    sip = Settings().sip
    assert sip.enabled and sip.transports == ["tcp"]
    assert sip.allows("10.1.2.3") and sip.allows("192.0.2.7")
    assert not sip.allows("127.0.0.1") and not sip.allows("not-an-address")
    with pytest.raises(ValidationError):
        SipSettings(host="0.0.0.0")  # where would peers send RTP?
    with pytest.raises(ValidationError):
        SipSettings(rtp_port_min=30000, rtp_port_max=30001)


def test_the_test_recorder_keeps_a_stream_in_order_across_the_sequence_wrap() -> None:
    """A stream that starts near 65535 wraps to 0; the recorded audio keeps the order sent."""
    recorder = RtpRecorder(sock=None)  # type: ignore[arg-type]
    for index in range(6):
        sequence = (65533 + index) & 0xFFFF
        header = struct.pack("!BBHII", 0x80, 0, sequence, 160 * index, 1)
        recorder.packets.append((float(index), header + bytes([index]) * 160))
    assert [payload[0] for *_, payload in recorder.audio_packets()] == [0, 1, 2, 3, 4, 5]
    assert [sequence for _, sequence, *_ in recorder.audio_packets()] == list(
        range(65533, 65539))
