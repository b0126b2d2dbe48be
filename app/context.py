"""What every request handler of the server uses, built once at start-up."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from app.agent_catalog import AgentCatalog
from app.campaigns.store import CampaignStore
from app.config import Settings
from app.conversations import ConversationService
from app.metrics import Metrics
from app.model_loading import SpeechModelsOnce
from app.organizations import Organization
from app.tokens import TokenSigner
from knowledge.store import KnowledgeBase

log = structlog.get_logger(__name__)


@dataclass
class ServerContext:
    settings: Settings
    organizations: dict[str, Organization]
    agents: AgentCatalog
    conversations: ConversationService
    campaigns: CampaignStore
    knowledge: KnowledgeBase
    signer: TokenSigner
    metrics: Metrics
    api_keys: frozenset[str]
    speech_models: SpeechModelsOnce
    started: float
    twilio_calls: dict[str, str] = field(default_factory=dict)  # call sid -> conversation


SETTINGS = web.AppKey("settings", Settings)
CONTEXT = web.AppKey("context", ServerContext)


def context_of(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]


def api_keys(settings: Settings) -> frozenset[str]:
    """The admin API keys: from the settings, or one made once in the data folder."""
    if settings.api_keys is not None:
        keys = frozenset(k.strip() for k in settings.api_keys.get_secret_value().split(",")
                         if k.strip())
        if keys:
            return keys
    path = settings.data_dir / "api-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
        log.info("made an admin API key", path=str(path))
    return frozenset({path.read_text().strip()})
