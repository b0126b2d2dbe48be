"""Keypad keys from RFC 4733 telephone-event packets.

A key press is sent as several packets sharing one RTP timestamp (the event's start), the
last ones with the end bit, often repeated; it counts once. The keys are gathered into
entries by ``voice.keypad.KeypadCollector``.
"""

from __future__ import annotations

EVENT_KEYS = "0123456789*#ABCD"


def telephone_event_key(payload: bytes) -> tuple[str, bool] | None:
    """The key and end bit of one telephone-event payload; ``None`` for events that are not
    keypad keys (flash, tones) and payloads too short to be events."""
    if len(payload) < 4:
        return None
    event = payload[0]
    if event >= len(EVENT_KEYS):
        return None
    return EVENT_KEYS[event], bool(payload[1] & 0x80)


class TelephoneEvents:
    """Turns a stream of telephone-event packets into key presses, each reported once."""

    def __init__(self) -> None:
        self._last_start: int | None = None

    def key_pressed(self, timestamp: int, payload: bytes) -> str | None:
        """The key of a press that starts with this packet, or ``None`` for packets of a
        press already reported (and for anything that is not a key)."""
        event = telephone_event_key(payload)
        if event is None or timestamp == self._last_start:
            return None
        self._last_start = timestamp
        return event[0]
