"""The campaigns dashboard page (``/campaigns``) and its script and style.

The page itself is static and public: it holds no data. Its script asks for the admin API
key, keeps it in the tab's ``sessionStorage`` and reads ``/api/v1/campaigns`` with it,
drawing the charts itself (inline SVG, nothing fetched from elsewhere).
"""

from __future__ import annotations

from aiohttp import web

from app.pages import STATIC

_JS = "application/javascript; charset=utf-8"
ASSETS = {  # path under /campaigns/ -> (file in app/static, content type)
    "dashboard.js": ("dashboard.js", _JS),
    "dashboard_charts.js": ("dashboard_charts.js", _JS),
    "dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
}


def _file(name: str, content_type: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={"Content-Type": content_type,
                                                    "Cache-Control": "no-cache"})


async def dashboard_page(request: web.Request) -> web.FileResponse:
    return _file("dashboard.html", "text/html; charset=utf-8")


async def dashboard_asset(request: web.Request) -> web.FileResponse:
    asset = ASSETS.get(request.match_info["asset"])
    if asset is None:
        raise web.HTTPNotFound(text="no such file")
    return _file(*asset)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/campaigns", dashboard_page)
    app.router.add_get("/campaigns/{asset}", dashboard_asset)
