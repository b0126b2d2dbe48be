"""The HTTP server: demo pages with the chat widget, the widget's WebSocket, the admin API,
``/healthz`` and ``/metrics``.

Everything a request handler needs lives in one ``ServerContext`` on the application,
built at start-up: the database, the loaded dialogue models, the organizations, the token
signer and the metrics registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from app import api, campaign_api, campaign_pages, pages
from app.agent_catalog import AgentCatalog
from app.campaigns.store import CampaignStore
from app.channels import media_stream, sip_server, web_chat
from app.config import Settings
from app.context import CONTEXT, SETTINGS, ServerContext, api_keys
from app.conversation_store import ConversationStore
from app.conversations import ConversationService
from app.db import open_database
from app.gc_pauses import freeze_loaded_objects, watch_long_pauses
from app.metrics import Metrics
from app.model_loading import SpeechModelsOnce
from app.organizations import DEFAULT_FILE, load_organizations
from app.tokens import TokenSigner, load_or_create_key

log = structlog.get_logger(__name__)


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Start-up and shut-down of everything the handlers use."""
    from app.dialogue import load_dialogue, load_router

    settings = app[SETTINGS]
    metrics = Metrics()
    engine = await open_database(settings.database_url, settings.data_dir)
    store = ConversationStore(engine)
    abandoned = await store.end_abandoned()
    if abandoned:
        log.info("conversations left open by the last run ended", count=abandoned)
    dialogue = load_dialogue(settings, tracker=settings.chat_tracker, batching=True)
    organizations = load_organizations(settings.organizations_file or DEFAULT_FILE)
    catalog = AgentCatalog(organizations, load_router(settings), dialogue.knowledge)
    app[CONTEXT] = ServerContext(
        settings=settings,
        organizations=organizations,
        agents=catalog,
        conversations=ConversationService(store, metrics, catalog.factory),
        campaigns=CampaignStore(engine),
        knowledge=dialogue.knowledge,
        signer=TokenSigner(load_or_create_key(settings.data_dir / "token-key")),
        metrics=metrics,
        api_keys=api_keys(settings),
        speech_models=SpeechModelsOnce(settings.voice),
        started=time.monotonic())
    watch_long_pauses()
    freeze_loaded_objects()  # the dialogue models; the speech models freeze once loaded
    if settings.preload_speech_models:
        app[CONTEXT].speech_models.preload()
    log.info("server ready", organizations=len(app[CONTEXT].organizations),
             agents=len(dialogue.agents))
    reaper = asyncio.create_task(_end_idle_chats(app[CONTEXT]))
    yield
    reaper.cancel()
    await app[CONTEXT].conversations.end_all()
    await engine.dispose()


async def _end_idle_chats(context: ServerContext) -> None:
    idle_s = context.settings.chat_idle_timeout_s
    while True:
        await asyncio.sleep(min(60.0, idle_s / 4))
        ended = await context.conversations.end_idle(idle_s)
        if ended:
            log.info("idle chats ended", count=ended)


async def healthz(request: web.Request) -> web.Response:
    uptime = time.monotonic() - request.app[CONTEXT].started
    return web.json_response({"status": "ok", "uptime_s": round(uptime, 1)})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[CONTEXT].metrics
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})


def build_app(settings: Settings, static: Path = pages.STATIC) -> web.Application:
    app = web.Application(client_max_size=1 << 20,
                          middlewares=[api.error_middleware, api.key_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(sip_server.sip_service)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    pages.add_routes(app)
    api.add_routes(app)
    campaign_api.add_routes(app)
    campaign_pages.add_routes(app)
    web_chat.add_routes(app)
    media_stream.add_routes(app)
    app.router.add_static("/static/", static)
    return app


def serve(settings: Settings) -> None:
    log.info("server starting", url=f"http://{settings.host}:{settings.port}/")
    web.run_app(build_app(settings), host=settings.host, port=settings.port,
                access_log=None, print=lambda line: print(line, flush=True))
