"""The CLI's view of a dialer at work: one progress bar per campaign, contacts done of all.

The bar moves when a call ends (the dialer's ``on_call`` hook wakes the poller) and at least
every ``interval_s`` from the store's counts, so calls placed by other dialer processes show
too. Its postfix is the breakdown: final statuses, the agent's outcomes, calls under way.
On a terminal the bars are drawn on stderr (log lines are printed above them); when stderr
is not a terminal (a log file, CI) a plain line is printed every ``line_every_s`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

import structlog
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from app.campaigns.claims import CallReport, Claim
from app.campaigns.policy import FinalStatus
from app.campaigns.store import CampaignStore

log = structlog.get_logger(__name__)
_IN_PROGRESS = ("pending", "dialing")


def breakdown(counts: dict[str, int], outcomes: dict[str, int]) -> str:
    """``completed=30 confirmed=25 cancelled=5 exhausted=2 dialing=4``: where contacts
    are, with the agent's outcomes after the completed count."""
    parts = []
    for status in FinalStatus:
        if counts.get(status):
            parts.append(f"{status}={counts[status]}")
            if status == FinalStatus.COMPLETED:
                parts += [f"{name}={n}" for name, n in sorted(outcomes.items())]
    if counts.get("dialing"):
        parts.append(f"dialing={counts['dialing']}")
    return " ".join(parts)


class CampaignProgress:
    """``async with CampaignProgress(store, ids) as progress:`` around a dialer's run, with
    ``on_call=progress.on_call``. An empty ``campaign_ids`` follows every running campaign."""

    def __init__(self, store: CampaignStore, campaign_ids: Sequence[str],
                 out: TextIO | None = None, interval_s: float = 1.0,
                 line_every_s: float = 5.0) -> None:
        self._store = store
        self._ids = tuple(campaign_ids)
        self._out = out or sys.stderr
        self._interval_s = interval_s
        self._line_every_s = line_every_s
        self._terminal = self._out.isatty()
        self._bars: dict[str, tqdm] = {}
        self._last_line = 0.0
        self._wake = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._logs = contextlib.ExitStack()
        self.results: Counter[str] = Counter()

    def on_call(self, claim: Claim, report: CallReport) -> None:
        self.results[str(report.result)] += 1
        self._wake.set()

    async def __aenter__(self) -> CampaignProgress:
        if self._terminal:
            self._logs.enter_context(logging_redirect_tqdm())
        self._poller = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        try:
            if error is None:
                await self.refresh(final=True)
        finally:
            for bar in self._bars.values():
                bar.close()
            self._logs.close()

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the bars are a view: a database hiccup must not stop calls
                log.warning("progress refresh failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.2)  # at most five redraws a second, however fast calls end

    async def refresh(self, final: bool = False) -> None:
        lines = final or (not self._terminal
                          and time.monotonic() - self._last_line >= self._line_every_s)
        if not (self._terminal or lines):
            return  # no bar, and no line due yet: the counts would go unused
        ids = self._ids or tuple(c.id for c in await self._store.all() if c.status == "running")
        for campaign_id in ids:
            counts = await self._store.counts(campaign_id)
            outcomes = await self._store.outcomes(campaign_id)
            total = sum(counts.values())
            done = total - sum(counts.get(state, 0) for state in _IN_PROGRESS)
            text = breakdown(counts, outcomes)
            if self._terminal:
                self._draw(campaign_id, done, total, text)
            elif lines:
                print(f"campaign {campaign_id}: {done}/{total} done {text}".rstrip(),
                      file=self._out, flush=True)
        if lines:
            self._last_line = time.monotonic()

    def _draw(self, campaign_id: str, done: int, total: int, text: str) -> None:
        bar = self._bars.get(campaign_id)
        if bar is None:
            bar = tqdm(total=total, desc=campaign_id[:8], unit="contact", file=self._out,
                       position=len(self._bars), dynamic_ncols=True, leave=True)
            self._bars[campaign_id] = bar
        bar.total = total
        bar.n = done
        bar.set_postfix_str(text, refresh=False)
        bar.refresh()
