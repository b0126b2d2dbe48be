"""Finding an agent by name.

An agent is named either by a registered name (the domain agents register theirs) or by an
import path ``package.module:ClassName`` naming a ``ConversationAgent`` subclass, which lets
an organisation plug in its own agent without changing this project.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from dialog.agent import ConversationAgent, ConversationSetup

AgentFactory = Callable[[ConversationSetup], ConversationAgent]

_REGISTERED: dict[str, AgentFactory] = {}


class UnknownAgentError(LookupError):
    """No agent answers to the name asked for."""


def register_agent(name: str, factory: AgentFactory) -> None:
    _REGISTERED[name] = factory


def registered_agents() -> list[str]:
    return sorted(_REGISTERED)


def agent_factory(name: str) -> AgentFactory:
    """The factory for ``name``: a registered agent, or ``module:Class``."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if ":" not in name:
        known = ", ".join(registered_agents()) or "none registered"
        raise UnknownAgentError(f"unknown agent '{name}' (known agents: {known}; "
                                "or give an import path such as 'package.module:ClassName')")
    module_name, _, attribute = name.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise UnknownAgentError(f"cannot load agent '{name}': {error}") from None
    if not (isinstance(target, type) and issubclass(target, ConversationAgent)):
        raise UnknownAgentError(f"'{name}' is not a ConversationAgent subclass")
    factory: AgentFactory = target
    return factory
