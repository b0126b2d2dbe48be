"""The organizations the server serves: who they are, which agents they use, which host
sites may embed their widget, and the demo contact their demo page talks as.

Read from ``app/data/organizations.yaml`` (or a file named by the ``organizations_file``
setting) and validated once at start.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dialog.agent import ConversationSetup

DEFAULT_FILE = Path(__file__).parent / "data" / "organizations.yaml"
_RELATIVE = re.compile(r"^([+-]\d+)d(?: (\d{1,2}):(\d{2}))?$")


class OrganizationsError(ValueError):
    """The organizations file cannot be used; the message says where and why."""


class DemoSetup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contact: dict[str, Any]
    context: dict[str, Any]


class Organization(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1)
    default_agent: str
    agents: list[str] = Field(min_length=1)
    allowed_origins: list[str] = Field(default_factory=list)
    demo: DemoSetup | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"'{origin}' is not an origin like https://www.example.com")
        return origins

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "default_agent": self.default_agent,
                "agents": self.agents}

    def demo_setup(self, now: datetime | None = None, *, keypad: bool = False) -> ConversationSetup:
        """The demo contact's conversation, its relative dates resolved against ``now``;
        ``keypad``: the caller is on a phone line and can key digits."""
        if self.demo is None:
            raise LookupError(f"organization '{self.id}' has no demo contact")
        zone = ZoneInfo(str(self.demo.contact.get("timezone") or "UTC"))
        local_now = (now or datetime.now(zone)).astimezone(zone)
        context = _resolve(self.demo.context, local_now)
        context["organization"] = self.name
        return ConversationSetup(contact=dict(self.demo.contact), context=context, now=local_now,
                                 keypad=keypad)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organizations: list[Organization] = Field(min_length=1)


def _resolve(value: Any, now: datetime) -> Any:
    """Relative dates (``+1d 15:30``, ``-7d``) in ``value`` made absolute ISO strings."""
    if isinstance(value, dict):
        return {key: _resolve(item, now) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, now) for item in value]
    match = _RELATIVE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    day: date = now.date() + timedelta(days=int(match.group(1)))
    if match.group(2) is None:
        return day.isoformat()
    moment = datetime.combine(day, time(int(match.group(2)), int(match.group(3))), now.tzinfo)
    return moment.isoformat()


def load_organizations(path: Path = DEFAULT_FILE) -> dict[str, Organization]:
    """Every organization by id; an unreadable or invalid file raises ``OrganizationsError``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _File.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        raise OrganizationsError(f"{path}: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OrganizationsError(f"{path}: {where}: {first['msg']}") from None
    organizations = {org.id: org for org in parsed.organizations}
    if len(organizations) != len(parsed.organizations):
        raise OrganizationsError(f"{path}: two organizations share an id")
    for org in organizations.values():
        if org.default_agent not in org.agents:
            raise OrganizationsError(f"{path}: {org.id}: default_agent must be one of its agents")
    return organizations
