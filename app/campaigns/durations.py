"""Durations as an operator writes them on the command line: ``90s``, ``30m``, ``2h``, ``1d``,
and the retry list ``no_answer=2h,busy=30m,voicemail=1d,failed=1h``."""

from __future__ import annotations

import math
import re

from app.campaigns.policy import RETRYABLE, CallResult

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``90s``, ``1.5h``, or ``1h30m``); ``ValueError`` when unreadable."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("an empty duration: write it as 90s, 30m, 2h or 1d")
    position, seconds = 0, 0.0
    for match in _DURATION.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or not math.isfinite(seconds):
        raise ValueError(f"duration '{text}': write it as 90s, 30m, 2h or 1d")
    return seconds


def parse_retry_delays(text: str) -> dict[CallResult, float]:
    """``no_answer=2h,busy=30m`` as seconds per call result; only results that are retried
    (no_answer, busy, voicemail, failed, interrupted) may be named."""
    delays: dict[CallResult, float] = {}
    names = ", ".join(str(result) for result in RETRYABLE)
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, duration = part.partition("=")
        try:
            result = CallResult(name.strip().lower())
        except ValueError:
            result = None
        if not sep or result not in RETRYABLE:
            raise ValueError(f"'{part.strip()}': expected RESULT=DURATION with RESULT "
                             f"one of {names}")
        assert result is not None
        delays[result] = parse_duration(duration)
    return delays


def format_duration(seconds: float) -> str:
    """The shortest exact form among ``1d``, ``2h``, ``30m``, ``90s`` (``1.5s`` if need be)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"
