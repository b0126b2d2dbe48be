"""SIP load benchmark: N simultaneous calls from real SIPp callers to the real server on
loopback, for N in ``AVA_BENCH_SIP_LEVELS`` (default 1,2,4,6,8,10), ``AVA_BENCH_SIP_ROUNDS``
rounds of N calls each (default 2, for enough lines per level); one call alone is the
baseline, measured in the same run.

Each caller answers the greeting, gives a date of birth and confirms the appointment, at
moments spread over a few seconds (seeded), then hangs up. Figures per level, read at the
peer: the time from the end of each caller line (as the pcap played it) to the first
packet of the agent's answer with speech in it, p50/p95 (lines the agent was still talking
over are counted apart); the longest pause in any call's agent stream; calls completed.
Then the most calls whose p95 stays under 1.5 s.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from app.config import Settings
from tests.server import running_server
from tests.sip_load import CallerScript, LoadCall, simultaneous_calls
from tests.sip_peer import Say, free_udp_tcp_port, sip_server_env
from voice.latency import summarize

TARGET_P95_MS = 1500.0
LINES = ((6.5, "Yes, this is Maria."),
         (15.0, "March twelfth, nineteen eighty four."),
         (28.0, "Yes, I will be there."))
HANG_UP_S = 40.0


def levels() -> list[int]:
    return [int(n) for n in os.environ.get("AVA_BENCH_SIP_LEVELS", "1,2,4,6,8,10").split(",")]


def scripts(count: int, rng: random.Random) -> list[CallerScript]:
    """Callers who speak at their own moments: each line 0-2.5 s later than the earliest."""
    return [CallerScript(tuple(Say(at + rng.uniform(0, 2.5), text) for at, text in LINES),
                         hang_up_s=HANG_UP_S) for _ in range(count)]


def rounds() -> int:
    return int(os.environ.get("AVA_BENCH_SIP_ROUNDS", "2"))


def level_figures(calls: list[LoadCall]) -> dict[str, Any]:
    measured: list[float] = []
    talked_over = 0
    for call in calls:
        for seconds in call.response_times():
            if seconds is None:
                talked_over += 1
            else:
                measured.append(seconds)
    return {"calls": len(calls) // rounds(), "rounds": rounds(),
            "completed": sum(call.finished_ok() for call in calls),
            "response_ms": summarize(measured, unit_scale=1000),
            "lines_talked_over_or_unanswered": talked_over,
            "max_agent_audio_gap_ms": round(max(c.heard.max_gap_s() for c in calls) * 1000, 1)}


def run(settings: Settings, progress: Callable[[str], None]) -> dict[str, Any]:
    del settings  # the server under test reads its own environment
    rng = random.Random(20261124)
    sip_port = free_udp_tcp_port()
    results = []
    with TemporaryDirectory() as folder:
        env = sip_server_env(sip_port, AVA_SIP__MAX_CALLS_PER_SOURCE="100",
                             AVA_SIP__MAX_CALLS="100")
        with running_server(Path(folder) / "server", env=env):
            for count in levels():
                progress(f"{count} simultaneous calls, {rounds()} rounds")
                calls: list[LoadCall] = []
                for round_ in range(rounds()):
                    with simultaneous_calls(sip_port, scripts(count, rng),
                                            Path(folder) / f"level-{count}-{round_}",
                                            timeout_s=HANG_UP_S + 60) as placed:
                        calls.extend(placed)
                figures = level_figures(calls)
                progress(f"{count} calls: response {figures['response_ms']}, "
                         f"max gap {figures['max_agent_audio_gap_ms']} ms")
                results.append(figures)
    holding = [r["calls"] for r in results
               if r["completed"] == r["calls"] * r["rounds"] and r["response_ms"].get("n")
               and r["response_ms"]["p95"] < TARGET_P95_MS]
    return {"benchmark": "sip_load",
            "measured_at": "the SIP peer: caller line end (pcap) to first agent speech packet",
            "baseline": results[0] if results else None,
            "levels": results,
            "target_p95_ms": TARGET_P95_MS,
            "max_calls_with_p95_under_target": max(holding, default=0)}
