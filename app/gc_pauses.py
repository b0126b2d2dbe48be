"""Garbage-collection pauses kept away from live calls.

A full collection walks every object the process holds, and a server with Whisper, Piper,
the SLM, torch and transformers loaded holds hundreds of thousands of them: one pass takes
0.1-0.3 s on this class of machine, holding the GIL the whole time, and every call's
playout, transcripts and replies wait (measured while RTP was still timed in this process:
228 ms gaps in all ten calls' audio at once; the RTP pacer now sends it). Freezing what
the process loaded at start moves those objects out of the collector's reach; collections
then only walk what calls create, which is little and short-lived. Long pauses that remain
are logged, so a regression shows.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

LONG_PAUSE_S = 0.05
_started: dict[int, float] = {}


def freeze_loaded_objects() -> None:
    """Collect once, then exempt every surviving object from future collections. Call it
    after the models are loaded; objects loaded later are frozen by calling it again."""
    gc.collect()
    gc.freeze()
    log.info("gc.frozen", objects=gc.get_freeze_count())


def _timed(phase: str, info: dict[str, Any]) -> None:
    generation = int(info["generation"])
    if phase == "start":
        _started[generation] = time.perf_counter()
        return
    took = time.perf_counter() - _started.pop(generation, time.perf_counter())
    if took >= LONG_PAUSE_S:
        log.warning("gc.long_pause", generation=generation, ms=round(took * 1000, 1),
                    collected=info.get("collected"))


def watch_long_pauses() -> None:
    """Log every collection that holds the interpreter for ``LONG_PAUSE_S`` or more."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)
