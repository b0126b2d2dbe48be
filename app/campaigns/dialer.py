"""The dialer: claims due contacts of running campaigns and places their calls.

Any number of dialer processes may share the database; ``app.campaigns.claims`` keeps them
from overlapping. One dialer runs up to ``max_calls`` calls at once across campaigns, each
campaign also bounded by its own limit. While calls last their leases are renewed; when
another dialer's lease runs out (and at least every ``recover_every_s``) the dialer closes
the attempts of dialers that died, so their share of the campaign's calls is free again.

Stopping (``stop()``, SIGINT/SIGTERM in the CLI) stops new claims and waits for the calls
under way; an attempt the dialer never got to dial is given back, never counted. Each dialer
also delivers the campaigns' outcome webhooks (``WebhookSender``), so they go out while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from app.campaigns.carrier import Carrier
from app.campaigns.claims import CallReport, Claim, Claims
from app.campaigns.policy import CallResult
from app.campaigns.store import Campaign, CampaignStore
from app.campaigns.webhooks import WebhookSender
from app.db import utc_now

log = structlog.get_logger(__name__)
RECORD_TRIES = 6  # a finished call's result is retried this often (0.2 s, 0.4 s, ... apart)
RECOVER_SOONEST_S = 0.1  # a lapsed lease another dialer is closing: look again after this


@dataclass(frozen=True)
class DialerConfig:
    max_calls: int = 8
    poll_s: float = 0.5  # how often to look for due contacts when nothing else wakes us
    lease_s: float = 60.0
    recover_every_s: float = 5.0
    until_done: bool = False  # stop once none of the campaigns is running any more
    campaign_ids: tuple[str, ...] = ()  # empty: every running campaign


def dialer_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:12]}"


ProgressHook = Callable[[Claim, CallReport], None]


class CampaignDialer:
    def __init__(self, store: CampaignStore, carrier: Carrier, config: DialerConfig,
                 on_call: ProgressHook | None = None) -> None:
        self._store = store
        self._carrier = carrier
        self._config = config
        self._claims = Claims(store.engine, dialer_id(), config.lease_s)
        self._on_call = on_call
        self._calls: dict[asyncio.Task[None], Claim] = {}
        self._stopping = asyncio.Event()
        self._next_recovery: dict[str, float] = {}
        self.considered = 0

    @property
    def id(self) -> str:
        return self._claims.dialer_id

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        log.info("dialer started", dialer=self.id, max_calls=self._config.max_calls)
        renewer = asyncio.create_task(self._renew_leases())
        webhooks = WebhookSender(self._store.engine)
        sending = asyncio.create_task(webhooks.run())
        try:
            while not self._stopping.is_set():
                campaigns = await self._campaigns()
                if self._config.until_done and not campaigns and not self._calls:
                    break
                for campaign in campaigns:
                    await self._serve(campaign)
                await self._wait(campaigns)
            if self._calls:
                await asyncio.wait(self._calls)
            webhooks.stop()
            await webhooks.deliver_due()  # the last outcomes' events, before we go
        finally:
            webhooks.stop()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await sending
        log.info("dialer stopped", dialer=self.id)

    async def _campaigns(self) -> list[Campaign]:
        wanted = set(self._config.campaign_ids)
        return [c for c in await self._store.all()
                if c.status == "running" and (not wanted or c.id in wanted)]

    async def _serve(self, campaign: Campaign) -> None:
        """Recover and claim for one campaign; a database error (a deadlock with another
        dialer, a dropped connection) skips this round instead of ending the dialer."""
        try:
            await self._recover(campaign)
            await self._start_calls(campaign)
        except SQLAlchemyError as error:
            log.warning("claim round failed", campaign=campaign.id, error=type(error).__name__)

    async def _recover(self, campaign: Campaign) -> None:
        """Close lapsed attempts; the next look is due when the first lease still running
        lapses, or ``recover_every_s`` from now if that is sooner."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_recovery.get(campaign.id, -1e9):
            return
        self._next_recovery[campaign.id] = loop.time() + self._config.recover_every_s
        recovered = await self._claims.recover(campaign)
        if recovered:
            log.warning("attempts of a stopped dialer closed", campaign=campaign.id,
                        interrupted=recovered)
        lapse = await self._claims.next_lapse(campaign)
        if lapse is not None:
            wait = max((lapse - utc_now()).total_seconds(), RECOVER_SOONEST_S)
            self._next_recovery[campaign.id] = min(self._next_recovery[campaign.id],
                                                   loop.time() + wait)

    async def _start_calls(self, campaign: Campaign) -> None:
        room = self._config.max_calls - len(self._calls)
        if room <= 0:
            return
        claimed = await self._claims.claim(campaign, room)
        self.considered += claimed.considered
        for claim in claimed.claims:
            task = asyncio.create_task(self._call(claim, campaign))
            self._calls[task] = claim
            task.add_done_callback(self._calls.pop)

    async def _wait(self, campaigns: list[Campaign]) -> None:
        """Until a call ends, the poll interval passes, a recovery in one of ``campaigns``
        is due, or ``stop`` is called."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        waiters: set[asyncio.Future[Any]] = {stopping, *self._calls}
        due = min((self._next_recovery.get(c.id, float("inf")) for c in campaigns),
                  default=float("inf"))
        timeout = min(self._config.poll_s, due - asyncio.get_running_loop().time())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()

    async def _call(self, claim: Claim, campaign: Campaign) -> None:
        reason = await self._claims.still_allowed(claim, campaign)
        if reason is not None:
            await self._claims.release(claim, campaign, reason)
            return
        try:
            report = await self._carrier.place(claim)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a carrier bug must not take the dialer down
            log.exception("carrier failed", campaign=claim.campaign_id, contact=claim.contact_id)
            report = CallReport(CallResult.FAILED, detail=f"carrier error: {type(error).__name__}")
        await self._record(claim, campaign, report)
        if self._on_call is not None:
            self._on_call(claim, report)

    async def _record(self, claim: Claim, campaign: Campaign, report: CallReport) -> None:
        """Store the call's result, retrying through passing database errors: a result
        given up here would only come back as ``interrupted`` once the lease lapsed."""
        for attempt in range(RECORD_TRIES):
            try:
                await self._claims.record(claim, campaign, report)
                return
            except SQLAlchemyError as error:
                if attempt == RECORD_TRIES - 1:
                    raise
                log.warning("storing a call result failed; retrying", campaign=campaign.id,
                            error=type(error).__name__)
                await asyncio.sleep(0.2 * 2 ** attempt)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self._config.lease_s / 3)
            try:
                await self._claims.renew(list(self._calls.values()))
            except Exception:  # the database may be back on the next round
                log.exception("lease renewal failed", dialer=self.id)
