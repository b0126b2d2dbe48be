"""Keypad digits gathered into one entry.

Phone transports deliver DTMF one key at a time (RFC 4733 events, Twilio ``dtmf``
messages). A caller keying a date of birth presses eight keys, which is one answer, not
eight: keys are gathered until ``#``, or until the caller pauses, and then delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

KEYS = frozenset("0123456789*#ABCD")
PAUSE_S = 2.0  # a caller keying a number presses the next key within this
MAX_KEYS = 32


class KeypadCollector:
    """``press`` each key as it comes; ``deliver`` gets the whole entry (``#`` excluded)."""

    def __init__(self, deliver: Callable[[str], Coroutine[Any, Any, None]],
                 pause_s: float = PAUSE_S) -> None:
        self._deliver = deliver
        self._pause_s = pause_s
        self._keys: list[str] = []
        self._timer: asyncio.Task[None] | None = None
        self._delivering: set[asyncio.Task[None]] = set()

    def press(self, key: str) -> None:
        """One key (anything else is ignored). ``#`` ends the entry at once."""
        key = key.upper()
        if key not in KEYS:
            return
        self._cancel_timer()
        if key != "#":
            self._keys.append(key)
        if key == "#" or len(self._keys) >= MAX_KEYS:
            self._emit()
        else:
            self._timer = asyncio.create_task(self._after_pause())

    async def _after_pause(self) -> None:
        await asyncio.sleep(self._pause_s)
        self._emit()

    def _emit(self) -> None:
        entry, self._keys = "".join(self._keys), []
        if entry:  # delivered apart from the timer, so the next key cannot cancel it
            delivery = asyncio.create_task(self._deliver(entry))
            self._delivering.add(delivery)
            delivery.add_done_callback(self._delivering.discard)

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()

    async def close(self) -> None:
        """Drop keys not yet delivered (the call is over)."""
        self._keys = []
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
