"""Agents used by the tests. They subclass the product's real agent base, so the voice
session, the bridge and the CLI are exercised exactly as with a domain agent."""

from __future__ import annotations

from dialog.agent import ConversationAgent, ConversationSetup
from dialog.events import END_CALL, Action, CallerSaid, KeypadDigits, Reply

GREETING = "Hello, this is the test line at Riverside Clinic. How can I help you today?"
SCRIPT = (
    "Thank you. Your appointment is confirmed for Tuesday morning.",
    "Is there anything else I can help you with?",
)
GOODBYE = "Thank you for calling. Goodbye."
STORY = ("Here is a longer answer. The clinic opens at eight in the morning on weekdays. "
         "Parking is free behind the main building, next to the pharmacy. Please bring your "
         "insurance card and a list of the medicines you take. The reception desk is on the "
         "ground floor, to the left of the entrance. If you are late, please call ahead.")


class ScriptedAgent(ConversationAgent):
    """Greets, then answers each caller turn with the next scripted line; 'goodbye' ends."""

    def __init__(self, setup: ConversationSetup) -> None:
        super().__init__(setup)
        self.heard: list[str] = []
        self._next = 0

    async def _opening(self) -> Reply:
        return Reply(GREETING, act="greet")

    async def _respond(self, event: CallerSaid | KeypadDigits) -> Reply:
        text = event.text if isinstance(event, CallerSaid) else event.digits
        self.heard.append(text)
        if "bye" in text.lower():
            return Reply(GOODBYE, act="goodbye", actions=(Action(END_CALL),))
        if "tell me more" in text.lower() or "park" in text.lower():
            return Reply(STORY)
        line = SCRIPT[min(self._next, len(SCRIPT) - 1)]
        self._next += 1
        return Reply(line)
