"""The HTTP server: a status page and health check for now; channels mount here later."""

from __future__ import annotations

import time
from pathlib import Path

import structlog
from aiohttp import web

from app.config import Settings

STATIC = Path(__file__).parent / "static"
log = structlog.get_logger(__name__)

SETTINGS_KEY = web.AppKey("settings", Settings)
STARTED_KEY = web.AppKey("started", float)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def healthz(request: web.Request) -> web.Response:
    uptime = time.monotonic() - request.app[STARTED_KEY]
    return web.json_response({"status": "ok", "uptime_s": round(uptime, 1)})


def build_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[SETTINGS_KEY] = settings
    app[STARTED_KEY] = time.monotonic()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC)
    return app


def serve(settings: Settings) -> None:
    log.info("server starting", url=f"http://{settings.host}:{settings.port}/")
    web.run_app(build_app(settings), host=settings.host, port=settings.port,
                print=lambda line: print(line, flush=True))
