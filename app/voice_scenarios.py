"""Scenarios played through the real voice session (`app eval --voice`): every caller line
is spoken by espeak-ng over an 8 kHz mu-law line, so recognition errors count."""

from __future__ import annotations

from typing import Any

from app.bridge import DialogueResponder
from app.caller_voice import over_the_phone, speak
from app.channels.wav_call import SESSION_RATE, hold_scripted_call
from app.config import Settings
from app.model_loading import load_speech_models
from dialog.agent import ConversationAgent
from dialog.scenarios import Conversation, Scenario


class VoicePlayer:
    def __init__(self, settings: Settings) -> None:
        self.config = settings.voice
        self.models = load_speech_models(self.config)

    async def __call__(self, scenario: Scenario, agent: ConversationAgent) -> Conversation:
        utterances = [over_the_phone(speak(line, 8000), 8000, SESSION_RATE)
                      for line in scenario.caller if line.strip()]
        result = await hold_scripted_call(utterances, DialogueResponder(agent), self.models,
                                          self.config)
        state: Any = getattr(agent, "state", None)
        return Conversation(
            agent_lines=[t.agent for t in result.turns if t.agent],
            turn_seconds=[lat for t in result.turns
                          if (lat := t.marks.response_latency) is not None],
            outcome=getattr(state, "outcome", None),
            slots=dict(getattr(state, "slots", {})),
            caller_heard=[t.caller for t in result.turns if t.caller is not None])
