"""The admin API (``/api/v1``, described by ``/openapi.json``): organizations, agents,
conversations with their transcripts, widget tokens and knowledge passages.

Every ``/api/`` request needs ``Authorization: Bearer <API key>`` (``key_middleware``).
Errors are JSON ``{"error": {"code", "message"}}``, turned from typed errors in one middleware.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import structlog
import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.agent_catalog import AgentCatalog
from app.campaigns.store import CampaignNotFoundError, CampaignStateError
from app.context import context_of
from app.conversation_store import ConversationRecord, TurnRecord
from app.conversations import MAX_MESSAGE_CHARS, ConversationError
from app.organizations import Organization
from dialog.agent import ConversationSetup
from dialog.catalog import load_flows
from dialog.inbound import ANSWERED, INBOUND, INBOUND_DESCRIPTION
from dialog.registry import UnknownAgentError
from dialog.render import MissingContextError
from dialog.state import TRANSFERRED
from knowledge.store import Passage

log = structlog.get_logger(__name__)
OPENAPI = Path(__file__).parent / "static" / "openapi.yaml"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUS = {"not_found": 404, "bad_request": 400, "too_long": 413, "ended": 409,
          "conflict": 409, "unauthorized": 401, "invalid": 422, "internal": 500}


def error_response(code: str, message: str, status: int | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}},
                             status=status or STATUS.get(code, 400))


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Typed errors become JSON error replies here, and nowhere else."""
    try:
        return await handler(request)
    except ConversationError as error:
        return error_response(error.code, str(error))
    except ValidationError as error:
        return error_response("invalid", _validation_message(error))
    except (MissingContextError, UnknownAgentError) as error:
        return error_response("invalid", str(error))
    except CampaignNotFoundError as error:
        return error_response("not_found", str(error))
    except CampaignStateError as error:
        return error_response("conflict", str(error))
    except web.HTTPException as error:
        if not request.path.startswith("/api/") or error.status < 400:
            raise
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "too_long"}.get(error.status, "bad_request")
        response = error_response(code, error.text or error.reason, error.status)
        for name in ("Allow", "WWW-Authenticate"):
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response
    except Exception:
        log.exception("request failed", path=request.path)
        return error_response("internal", "internal error")


@web.middleware
async def key_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every ``/api/`` route needs the key, checked here once for all of them (a path that
    names no route still gets its 404)."""
    if request.path.startswith("/api/") and request.match_info.http_exception is None:
        _require_key(request)
    return await handler(request)


def _require_key(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not any(
            hmac.compare_digest(key.encode(), known.encode())
            for known in context_of(request).api_keys):
        raise web.HTTPUnauthorized(text="a valid API key is needed (Authorization: Bearer ...)",
                                   headers={"WWW-Authenticate": "Bearer"})


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConversationError("bad_request", "the body is not JSON") from None
    return model.model_validate(raw)


def _organization(request: web.Request, org_id: str) -> Organization:
    org = context_of(request).organizations.get(org_id)
    if org is None:
        raise ConversationError("not_found", f"no organization '{org_id}'")
    return org


def turn_json(turn: TurnRecord) -> dict[str, Any]:
    return {"seq": turn.seq, "role": turn.role, "text": turn.text, "act": turn.act,
            "created_at": turn.created_at.isoformat()}


def conversation_json(record: ConversationRecord, *, turns: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record.id, "organization": record.organization, "agent": record.agent,
        "channel": record.channel, "status": record.status, "outcome": record.outcome,
        "slots": record.slots, "created_at": record.created_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None}
    if turns:
        data["turns"] = [turn_json(turn) for turn in record.turns]
    return data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewConversation(_Strict):
    organization: str
    agent: str | None = None
    contact: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    now: datetime | None = None

    @field_validator("now")
    @classmethod
    def _with_offset(cls, now: datetime | None) -> datetime | None:
        if now is not None and now.tzinfo is None:
            raise ValueError("needs a UTC offset, such as 2026-11-23T10:00:00-05:00")
        return now


class NewMessage(_Strict):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    client_message_id: str | None = Field(None, min_length=1, max_length=100)


class NewWidgetToken(_Strict):
    organization: str
    agent: str | None = None
    conversation_id: str | None = Field(None, max_length=100)


class NewPassage(_Strict):
    text: str = Field(min_length=1, max_length=20_000)
    source: str = Field("", max_length=200)


class NewPassages(_Strict):
    passages: list[NewPassage] = Field(min_length=1, max_length=500)


def _agent_for(org: Organization, agent: str | None) -> str:
    chosen = agent or org.default_agent
    names = AgentCatalog.names(org)
    if chosen not in names:
        raise ConversationError("invalid", f"organization '{org.id}' does not use agent "
                                           f"'{chosen}' (it uses {', '.join(names)})")
    return chosen


@cache
def openapi_document() -> dict[str, Any]:
    """The API's description, written as YAML in the repository and served as JSON."""
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return document


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def list_organizations(request: web.Request) -> web.Response:
    orgs = context_of(request).organizations.values()
    return web.json_response({"organizations": [org.public() for org in orgs]})


async def list_agents(request: web.Request) -> web.Response:
    orgs = context_of(request).organizations.values()
    agents = [{"name": name, "description": flow.description, "outcomes": flow.outcomes,
               "requires": flow.requires,
               "organizations": [org.id for org in orgs if name in org.agents]}
              for name, flow in sorted(load_flows().items())]
    agents.append({"name": INBOUND, "description": INBOUND_DESCRIPTION,
                   "outcomes": [ANSWERED, TRANSFERRED, "(the chosen agent's outcomes)"],
                   "requires": ["(what the chosen agent requires)"],
                   "organizations": [org.id for org in orgs]})
    return web.json_response({"agents": agents})


async def create_conversation(request: web.Request) -> web.Response:
    body: NewConversation = await _body(request, NewConversation)
    org = _organization(request, body.organization)
    agent = _agent_for(org, body.agent)
    context = {"organization": org.name, **body.context}
    setup = ConversationSetup(contact=body.contact, context=context,
                              now=body.now or datetime.now().astimezone())
    ctx = context_of(request)
    record = await ctx.conversations.start(org.id, agent, setup, channel="api")
    token, expires = ctx.signer.issue("widget", org.id, agent=agent, conversation=record.id)
    return web.json_response({**conversation_json(record), "widget_token": token,
                              "widget_token_expires_at": expires}, status=201)


async def list_conversations(request: web.Request) -> web.Response:
    limit_text = request.query.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise ConversationError("bad_request", "limit must be a whole number from 1 to 500")
    limit = int(limit_text)
    records = await context_of(request).conversations.list(request.query.get("organization"),
                                                           limit)
    return web.json_response({"conversations": [conversation_json(r, turns=False)
                                                for r in records]})


async def get_conversation(request: web.Request) -> web.Response:
    record = await context_of(request).conversations.record(request.match_info["id"])
    return web.json_response(conversation_json(record))


async def send_message(request: web.Request) -> web.Response:
    body: NewMessage = await _body(request, NewMessage)
    exchange = await context_of(request).conversations.say(
        request.match_info["id"], body.text, body.client_message_id)
    return web.json_response({
        "caller": turn_json(exchange.caller),
        "reply": turn_json(exchange.reply) if exchange.reply else None,
        "ended": exchange.ended, "outcome": exchange.outcome})


async def create_widget_token(request: web.Request) -> web.Response:
    body: NewWidgetToken = await _body(request, NewWidgetToken)
    org = _organization(request, body.organization)
    agent = _agent_for(org, body.agent or INBOUND)  # no known purpose: the router first
    ctx = context_of(request)
    if body.conversation_id is not None:
        record = await ctx.conversations.record(body.conversation_id)
        if record.organization != org.id:
            raise ConversationError("not_found", "no such conversation in this organization")
    elif org.demo is None:
        raise ConversationError("invalid", "without a conversation_id the organization needs a "
                                           "demo contact; create the conversation first")
    token, expires = ctx.signer.issue("widget", org.id, agent=agent,
                                      conversation=body.conversation_id)
    return web.json_response({"token": token, "expires_at": expires}, status=201)


async def list_passages(request: web.Request) -> web.Response:
    org = _organization(request, request.match_info["org"])
    hits = await asyncio.to_thread(context_of(request).knowledge.passages, org.name)
    return web.json_response({"passages": [{"id": h.id, "text": h.text, "source": h.source}
                                           for h in hits]})


async def add_passages(request: web.Request) -> web.Response:
    org = _organization(request, request.match_info["org"])
    body: NewPassages = await _body(request, NewPassages)
    passages = [Passage(p.text.strip(), p.source) for p in body.passages if p.text.strip()]
    if not passages:
        raise ConversationError("invalid", "passages: every text is blank")
    added = await asyncio.to_thread(context_of(request).knowledge.ingest, org.name, passages)
    return web.json_response({"added": added, "received": len(passages)}, status=201)


async def delete_passage(request: web.Request) -> web.Response:
    org = _organization(request, request.match_info["org"])
    removed = await asyncio.to_thread(context_of(request).knowledge.remove, org.name,
                                      request.match_info["passage_id"])
    if not removed:
        raise ConversationError("not_found", "no such passage")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/openapi.json", openapi)
    routes = app.router
    routes.add_get("/api/v1/organizations", list_organizations)
    routes.add_get("/api/v1/agents", list_agents)
    routes.add_post("/api/v1/conversations", create_conversation)
    routes.add_get("/api/v1/conversations", list_conversations)
    routes.add_get("/api/v1/conversations/{id}", get_conversation)
    routes.add_post("/api/v1/conversations/{id}/messages", send_message)
    routes.add_post("/api/v1/widget-tokens", create_widget_token)
    routes.add_get("/api/v1/organizations/{org}/knowledge", list_passages)
    routes.add_post("/api/v1/organizations/{org}/knowledge", add_passages)
    routes.add_delete("/api/v1/organizations/{org}/knowledge/{passage_id}", delete_passage)
