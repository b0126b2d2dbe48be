"""Scenarios: scripted conversations with expected results, one JSON object a line.

``id``, ``agent``, ``now`` (the call's local time), ``contact``, ``context``, optional
``knowledge`` passages (at the top level or in ``context``: issue 3 lists them among the
context's fields), ``caller`` (the caller's lines; when they run out the caller hangs
up) and ``expect``: ``outcome``, ``slots`` (datetimes compared as instants, bools exactly,
``"*"`` any non-empty value), ``said`` and ``not_said`` (case-insensitive regexes over
everything the agent said).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dialog.agent import ConversationAgent, ConversationSetup
from dialog.events import CallerHungUp, CallerSaid


class ScenarioError(ValueError):
    """A scenario file or line is malformed; the message names the file and line."""


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    said: list[str] = Field(default_factory=list)
    not_said: list[str] = Field(default_factory=list)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    agent: str
    now: datetime
    contact: dict[str, Any]
    context: dict[str, Any]
    knowledge: list[str] = Field(default_factory=list)
    caller: list[str]
    expect: Expectation

    @model_validator(mode="after")
    def _knowledge_from_context(self) -> Scenario:
        passages = self.context.get("knowledge")
        if isinstance(passages, list):
            self.knowledge = [*self.knowledge, *(str(p) for p in passages)]
        return self

    @property
    def setup(self) -> ConversationSetup:
        return ConversationSetup(contact=self.contact, context=self.context, now=self.now)


def load_scenarios(path: Path) -> list[Scenario]:
    try:
        rows = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read: {error}") from None
    scenarios = []
    for number, row in enumerate(rows, start=1):
        if not row.strip() or row.lstrip().startswith("//"):
            continue
        try:
            scenarios.append(Scenario.model_validate(json.loads(row)))
        except json.JSONDecodeError as error:
            raise ScenarioError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ScenarioError(f"{path}:{number}: {where}: {problem['msg']}") from None
    if not scenarios:
        raise ScenarioError(f"{path}: no scenarios")
    return scenarios


@dataclass
class Conversation:
    """What happened when a scenario was played."""

    agent_lines: list[str] = field(default_factory=list)
    turn_seconds: list[float] = field(default_factory=list)
    outcome: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    caller_heard: list[str] = field(default_factory=list)  # as the agent got it (voice: ASR)


Speaker = Callable[[str], Awaitable[str]]  # caller line in, what the agent understood out


async def play_text(scenario: Scenario, agent: ConversationAgent) -> Conversation:
    """Hold the scenario's conversation in text with ``agent``."""
    played = Conversation()
    reply = await agent.start()
    played.agent_lines.append(reply.text)
    ended = reply.ends_call
    for line in scenario.caller:
        if ended:
            break
        started = time.perf_counter()
        played.caller_heard.append(line)
        reply = await agent.handle(CallerSaid(line))
        played.turn_seconds.append(time.perf_counter() - started)
        played.agent_lines.append(reply.text)
        ended = reply.ends_call
    if not ended:
        await agent.handle(CallerHungUp())
    state = getattr(agent, "state", None)
    played.outcome = getattr(state, "outcome", None)
    played.slots = dict(getattr(state, "slots", {}))
    return played


def failures(scenario: Scenario, played: Conversation) -> list[str]:
    """Why the conversation does not meet the scenario's expectations (empty: it does)."""
    expect, problems = scenario.expect, []
    if expect.outcome is not None and played.outcome != expect.outcome:
        problems.append(f"outcome {played.outcome!r}, expected {expect.outcome!r}")
    for slot, wanted in expect.slots.items():
        if not _slot_matches(played.slots.get(slot), wanted):
            problems.append(f"slot {slot}={played.slots.get(slot)!r}, expected {wanted!r}")
    said = "\n".join(played.agent_lines)
    for pattern in expect.said:
        if not re.search(pattern, said, re.IGNORECASE):
            problems.append(f"never said /{pattern}/")
    for pattern in expect.not_said:
        if match := re.search(pattern, said, re.IGNORECASE):
            problems.append(f"said /{pattern}/ ({match.group()!r})")
    return problems


def _slot_matches(value: Any, wanted: Any) -> bool:
    if wanted == "*":
        return value not in (None, "", [], {})
    if isinstance(wanted, bool) or isinstance(value, bool):
        return value is wanted
    if isinstance(value, datetime):
        try:
            return value == datetime.fromisoformat(str(wanted))
        except ValueError:
            return False
    if isinstance(wanted, str) and isinstance(value, str):
        return value.strip().lower() == wanted.strip().lower()
    return bool(value == wanted)
