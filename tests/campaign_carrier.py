"""A simulated carrier for campaign tests and benchmarks: a test double of the telephone
network (never of the database), plugged in with
``--carrier tests.campaign_carrier:SimulatedCarrier``.

Each dial takes a few milliseconds (``AVA_SIM_CARRIER_MS``: ``LOW-HIGH`` or one number;
default 5-20) and gets a result fixed by a hash of (phone, attempt), so a rerun dials the
same numbers into the same answers: about half answered (outcome ``confirmed``), the rest
no answer, busy, voicemail or failed.

When ``AVA_SIM_CARRIER_LOG`` names a file, every dial appends ``DIAL <contact_id>
<attempt> <phone> <pid>`` before the wait and ``DONE <contact_id> <attempt> <result> <pid>``
after it. The file is opened with ``O_APPEND`` and each line is one ``os.write`` with no
buffering in between, so the lines of several processes never interleave and every line
written before a SIGKILL is on disk: it is the network's own record of what was dialled.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from types import TracebackType

from app.campaigns.carrier import Carrier
from app.campaigns.claims import CallReport, Claim
from app.campaigns.policy import CallResult
from app.config import Settings

# Cumulative shares (out of 100) of each result, in the order they are checked.
RESULT_SHARES: tuple[tuple[int, CallResult], ...] = (
    (50, CallResult.ANSWERED),
    (70, CallResult.NO_ANSWER),
    (80, CallResult.BUSY),
    (92, CallResult.VOICEMAIL),
    (100, CallResult.FAILED),
)
ANSWERED_OUTCOME = "confirmed"


def simulated_result(phone: str, attempt: int) -> CallResult:
    """The result the simulated network gives attempt ``attempt`` to ``phone``, always."""
    digest = hashlib.sha256(f"{phone}/{attempt}".encode()).digest()
    roll = int.from_bytes(digest[:4], "big") % 100
    return next(result for share, result in RESULT_SHARES if roll < share)


def dial_delay_range(raw: str | None) -> tuple[float, float]:
    """``AVA_SIM_CARRIER_MS`` (``5-20`` or ``0``) as (low, high) seconds."""
    low, sep, high = (raw or "5-20").partition("-")
    low_s = float(low) / 1000
    high_s = float(high) / 1000 if sep else low_s
    if low_s < 0 or high_s < low_s:
        raise ValueError(f"AVA_SIM_CARRIER_MS={raw!r}: expected LOW-HIGH milliseconds")
    return low_s, high_s


class SimulatedCarrier(Carrier):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._delay = dial_delay_range(os.environ.get("AVA_SIM_CARRIER_MS"))
        self._log_path = os.environ.get("AVA_SIM_CARRIER_LOG")
        self._log_fd: int | None = None
        self._pid = os.getpid()

    async def __aenter__(self) -> SimulatedCarrier:
        if self._log_path:
            self._log_fd = os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    async def place(self, claim: Claim) -> CallReport:
        self._write(f"DIAL {claim.contact_id} {claim.attempt} {claim.phone} {self._pid}\n")
        low, high = self._delay
        if high > 0:
            await asyncio.sleep(random.uniform(low, high))
        result = simulated_result(claim.phone, claim.attempt)
        self._write(f"DONE {claim.contact_id} {claim.attempt} {result} {self._pid}\n")
        if result == CallResult.ANSWERED:
            return CallReport(result, outcome=ANSWERED_OUTCOME)
        return CallReport(result, detail=f"simulated {result}")

    def _write(self, line: str) -> None:
        """One ``write`` per line on an ``O_APPEND`` descriptor: atomic between processes
        and on disk (in the page cache) once it returns, whatever kills us next. A few
        dozen bytes to a local file: not worth a thread."""
        if self._log_fd is not None:
            os.write(self._log_fd, line.encode())
