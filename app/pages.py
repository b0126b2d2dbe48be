"""The pages a person opens: the list of sample organizations, a demo page for each with
the chat widget on it, and the widget script itself."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from app.agent_catalog import AgentCatalog
from app.context import context_of
from app.organizations import Organization
from dialog.inbound import INBOUND

STATIC = Path(__file__).parent / "static"


def _organization(request: web.Request) -> Organization:
    org = context_of(request).organizations.get(request.match_info["org"])
    if org is None:
        raise web.HTTPNotFound(text="no such organization")
    return org


async def index(request: web.Request) -> web.Response:
    items = "\n".join(
        f'<li><a href="/demo/{org.id}">{html.escape(org.name)}</a> '
        f'<span class="agent">{html.escape(org.default_agent)}</span> · '
        f'<a href="/demo/{org.id}?agent={INBOUND}">inbound</a> '
        '<span class="agent">(say what you need; the router chooses)</span></li>'
        for org in context_of(request).organizations.values())
    page = (STATIC / "index.html").read_text().replace("{{organizations}}", items)
    return web.Response(text=page, content_type="text/html")


async def demo_page(request: web.Request) -> web.Response:
    org = _organization(request)
    contact = org.demo.contact if org.demo else {}
    demo_contact = (f"{contact.get('name', '')}, born {contact.get('date_of_birth', '')}"
                    if contact else "")
    agent = request.query.get("agent") or org.default_agent
    if agent not in AgentCatalog.names(org):
        raise web.HTTPNotFound(text="this organization does not use that agent")
    fills = {"org": org.id, "org_name": org.name, "agent": agent,
             "demo_contact": demo_contact}
    page = (STATIC / "demo.html").read_text()
    for name, value in fills.items():
        page = page.replace("{{" + name + "}}", html.escape(value))
    return web.Response(text=page, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def demo_token(request: web.Request) -> web.Response:
    """What a host site's backend does for its pages, done by the server for its own demo
    pages: a short-lived widget token for the organization's demo contact."""
    org = _organization(request)
    if org.demo is None:
        raise web.HTTPNotFound(text="this organization has no demo contact")
    agent = request.query.get("agent") or INBOUND  # as a host site's page without data-agent
    if agent not in AgentCatalog.names(org):
        raise web.HTTPBadRequest(text="this organization does not use that agent")
    token, expires = context_of(request).signer.issue("widget", org.id, agent=agent)
    return web.json_response({"token": token, "expires_at": expires},
                             headers={"Cache-Control": "no-store"})


async def widget_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "widget.js", headers={
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/widget.js", widget_script)
    app.router.add_get("/demo/{org}", demo_page)
    app.router.add_get("/demo/{org}/token", demo_token)
