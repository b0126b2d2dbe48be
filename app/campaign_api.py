"""The campaign part of the admin API (``/api/v1/campaigns``): progress, outcome breakdowns
and recent activity for the dashboard page, and pause / resume.

Answers carry counts only, never a contact's name, number or date of birth. Resuming
marks the campaign running; the calls themselves are placed by a dialer process
(``python -m app campaign run``), which picks running campaigns up on its own.
The key check and the JSON errors (404 unknown campaign, 409 a move that is not allowed)
come from the middlewares in ``app.api``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import structlog
from aiohttp import web

from app.campaigns.activity import attempts_per_hour
from app.campaigns.policy import CallResult, FinalStatus
from app.campaigns.store import Campaign, CampaignNotFoundError, CampaignStore
from app.campaigns.webhooks import delivery_counts
from app.context import context_of

log = structlog.get_logger(__name__)
_ID = re.compile(r"[0-9a-f]{32}")
# Every place a contact can be, so charts and tables keep their shape while counts are 0.
CONTACT_KEYS = ("pending", "dialing", *(str(status) for status in FinalStatus))
RESULT_KEYS = (*(str(result) for result in CallResult), "dialing")


def _campaign_id(request: web.Request) -> str:
    """The path's campaign id; one that cannot be an id is simply not found (and never
    reaches the database)."""
    campaign_id = request.match_info["id"]
    if not _ID.fullmatch(campaign_id):
        raise CampaignNotFoundError("no such campaign")
    return campaign_id


def _filled(keys: tuple[str, ...], counts: dict[str, int]) -> dict[str, int]:
    return {key: 0 for key in keys} | counts


async def campaign_summary(store: CampaignStore, campaign: Campaign) -> dict[str, Any]:
    """What the campaign table shows: settings, contacts by state, progress."""
    counts = _filled(CONTACT_KEYS, await store.counts(campaign.id))
    total = sum(counts.values())
    return {
        "id": campaign.id, "name": campaign.name, "agent": campaign.agent,
        "status": campaign.status, "created_at": campaign.created_at.isoformat(),
        "completed_at": campaign.completed_at.isoformat() if campaign.completed_at else None,
        "window": campaign.options.window.describe(),
        "max_concurrent": campaign.options.max_concurrent,
        "max_attempts": campaign.options.attempts.max_attempts,
        "counts": counts, "total": total,
        "done": total - counts["pending"] - counts["dialing"],
    }


async def campaign_detail(store: CampaignStore, campaign: Campaign) -> dict[str, Any]:
    """The summary plus the breakdowns the dashboard charts."""
    hours = await attempts_per_hour(store.engine, campaign.id, campaign.created_at)
    detail = await campaign_summary(store, campaign)
    detail |= {
        "results": _filled(RESULT_KEYS, await store.results(campaign.id)),
        "outcomes": await store.outcomes(campaign.id),
        "attempts_per_hour": [{"start": hour.start.isoformat(), "attempts": hour.attempts}
                              for hour in hours],
        "webhooks": await delivery_counts(store.engine, campaign.id),
    }
    return detail


async def list_campaigns(request: web.Request) -> web.Response:
    store = context_of(request).campaigns
    return web.json_response({"campaigns": [await campaign_summary(store, campaign)
                                            for campaign in await store.all()]})


async def get_campaign(request: web.Request) -> web.Response:
    store = context_of(request).campaigns
    campaign = await store.get(_campaign_id(request))
    return web.json_response(await campaign_detail(store, campaign))


async def _move(request: web.Request, move: Literal["pause", "resume"]) -> web.Response:
    store = context_of(request).campaigns
    campaign = await store.move(_campaign_id(request), move)
    log.info("campaign moved from the admin API", campaign=campaign.id, move=move,
             status=campaign.status)
    return web.json_response(await campaign_summary(store, campaign))


async def pause_campaign(request: web.Request) -> web.Response:
    return await _move(request, "pause")


async def resume_campaign(request: web.Request) -> web.Response:
    return await _move(request, "resume")


def add_routes(app: web.Application) -> None:
    routes = app.router
    routes.add_get("/api/v1/campaigns", list_campaigns)
    routes.add_get("/api/v1/campaigns/{id}", get_campaign)
    routes.add_post("/api/v1/campaigns/{id}/pause", pause_campaign)
    routes.add_post("/api/v1/campaigns/{id}/resume", resume_campaign)
