"""The domain agents: every flow file in ``dialog/flows/``, loaded and checked at start."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from dialog.actions import ACTIONS
from dialog.agent import ConversationAgent, ConversationSetup
from dialog.engine import FlowAgent, Services
from dialog.flow_spec import Flow, Lines, load_flow, load_lines
from dialog.registry import register_agent

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


def agent_factory(flow: Flow, lines: Lines,
                  services: Services) -> Callable[[ConversationSetup], ConversationAgent]:
    def create(setup: ConversationSetup) -> ConversationAgent:
        return FlowAgent(setup, flow, lines, services)

    return create


def install_agents(services: Services, folder: Path = FLOWS_DIR) -> list[str]:
    """Register every flow agent under its name; returns the names."""
    lines = common_lines(folder)
    flows = load_flows(folder)
    for name, flow in flows.items():
        register_agent(name, agent_factory(flow, lines, services))
    return sorted(flows)
