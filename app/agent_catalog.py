"""Which agent holds a conversation for an organization: one of its domain agents by name,
or ``inbound``, where the organization's router reads the first request and hands the
conversation to the right domain agent, a knowledge answer or a person."""

from __future__ import annotations

from app.organizations import Organization
from dialog.engine import KnowledgeSource
from dialog.inbound import INBOUND, RequestRouter, inbound_factory
from dialog.registry import AgentFactory, UnknownAgentError, agent_factory


class AgentCatalog:
    def __init__(self, organizations: dict[str, Organization], router: RequestRouter,
                 knowledge: KnowledgeSource | None) -> None:
        self._organizations = organizations
        self._router = router
        self._knowledge = knowledge

    @staticmethod
    def names(org: Organization) -> list[str]:
        """The agents a conversation of ``org`` may ask for."""
        return [*org.agents, INBOUND]

    def factory(self, organization: str, agent: str) -> AgentFactory:
        org = self._organizations.get(organization)
        if org is None or agent not in self.names(org):
            raise UnknownAgentError(f"organization '{organization}' has no agent '{agent}'")
        if agent == INBOUND:
            domain = {name: agent_factory(name) for name in org.agents}
            return inbound_factory(self._router, domain, self._knowledge)
        return agent_factory(agent)
