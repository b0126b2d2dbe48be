"""The bridge into livekit-agents: an ``Agent`` whose replies come from a ``Responder``.

livekit's pipeline calls ``llm_node`` once per committed caller turn. Instead of a language
model, the node asks the responder. livekit still insists on an ``llm.LLM`` instance being
configured; ``ResponderLLM`` is that placeholder and is never asked to generate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import Agent, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions
from livekit.agents.types import NotGivenOr as _NotGivenOr

TurnHandler = Callable[[str], Awaitable[str | None]]


class ResponderLLM(llm.LLM):
    """Satisfies livekit's requirement for an LLM; replies come from ``ResponderAgent``."""

    @property
    def model(self) -> str:
        return "responder"

    @property
    def provider(self) -> str:
        return "local"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: _NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: _NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: _NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        raise RuntimeError("ResponderLLM does not generate text; ResponderAgent.llm_node replies")


class ResponderAgent(Agent):
    """Hands each new caller utterance to ``on_turn`` and speaks what it returns."""

    def __init__(self, on_turn: TurnHandler) -> None:
        super().__init__(instructions="Replies come from the project's dialogue manager.")
        self._on_turn = on_turn
        self._answered: set[str] = set()

    async def llm_node(  # type: ignore[override]
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: Any
    ) -> str | None:
        # A turn can be committed, cancelled by more caller speech, and committed again
        # with both utterances; only what has not been answered yet is passed on.
        new = [item for item in chat_ctx.items
               if isinstance(item, llm.ChatMessage) and item.role == "user"
               and item.id not in self._answered]
        self._answered.update(item.id for item in new)
        text = " ".join((item.text_content or "").strip() for item in new).strip()
        if not text:
            return None
        return await self._on_turn(text)
