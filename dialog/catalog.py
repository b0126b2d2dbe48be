"""The domain agents: every flow file in ``dialog/flows/``, loaded and checked at start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path

from dialog.actions import ACTIONS
from dialog.agent import ConversationAgent, ConversationSetup
from dialog.engine import FlowAgent, Services
from dialog.flow_spec import Flow, Lines, load_flow, load_lines
from dialog.registry import register_agent
from dialog.render import MissingContextError, local_datetime, lookup, render_fields

FLOWS_DIR = Path(__file__).parent / "flows"
COMMON_FILE = "_common.yaml"


@cache
def common_lines(folder: Path = FLOWS_DIR) -> Lines:
    return load_lines(folder / COMMON_FILE)


@cache
def load_flows(folder: Path = FLOWS_DIR) -> dict[str, Flow]:
    """Every agent's flow, by agent name; a malformed file raises ``FlowError``."""
    lines = common_lines(folder)
    flows = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name != COMMON_FILE:
            flow = load_flow(path, actions=frozenset(ACTIONS), lines=lines)
            flows[flow.agent] = flow
    return flows


CONTACT_FIELDS = ("name", "date_of_birth")


def check_setup(flow: Flow, setup: ConversationSetup) -> None:
    """Raise ``MissingContextError`` naming every contact and context field ``flow`` needs
    that ``setup`` lacks, or the first value that cannot be read (a date, a time zone, an
    open slot)."""
    missing = [f"contact.{name}" for name in CONTACT_FIELDS if not setup.contact.get(name)]
    missing += [f"context.{dotted}" for dotted in flow.requires
                if lookup(setup.context, dotted) in (None, "")]
    if missing:
        raise MissingContextError(f"{flow.agent} needs {', '.join(missing)}")
    values = {f"contact.{name}": setup.contact[name] for name in CONTACT_FIELDS}
    values |= {f"context.{dotted}": lookup(setup.context, dotted) for dotted in flow.requires}
    for where, value in values.items():
        if isinstance(value, (dict, list, bool)):
            raise MissingContextError(f"{where}: expected text or a number")
    try:
        date.fromisoformat(str(setup.contact["date_of_birth"])[:10])
    except ValueError:
        raise MissingContextError("contact.date_of_birth: not a date (YYYY-MM-DD)") from None
    render_fields(setup)
    _check_open_slots(setup)


def _check_open_slots(setup: ConversationSetup) -> None:
    slots = setup.context.get("open_slots")
    if slots is None:
        return
    if not isinstance(slots, list):
        raise MissingContextError("context.open_slots: expected a list of ISO date-times")
    for value in slots:
        if local_datetime(value, setup).tzinfo is None:
            raise MissingContextError("context.open_slots: a time needs an offset "
                                      "or the contact's timezone")


def agent_factory(flow: Flow, lines: Lines,
                  services: Services) -> Callable[[ConversationSetup], ConversationAgent]:
    def create(setup: ConversationSetup) -> ConversationAgent:
        check_setup(flow, setup)
        return FlowAgent(setup, flow, lines, services)

    return create


def install_agents(services: Services, folder: Path = FLOWS_DIR) -> list[str]:
    """Register every flow agent under its name; returns the names."""
    lines = common_lines(folder)
    flows = load_flows(folder)
    for name, flow in flows.items():
        register_agent(name, agent_factory(flow, lines, services))
    return sorted(flows)
