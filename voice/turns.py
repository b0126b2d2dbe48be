"""Turn handling: Silero VAD, LiveKit's local end-of-turn model, endpointing, barge-in.

Everything here is chosen explicitly: left to its defaults, livekit-agents builds a turn
detector and an interruption classifier that may call its cloud, and ignores barge-in
during the first 3 s of agent speech.
"""

from __future__ import annotations

import os
from typing import Any

from livekit.agents.vad import VAD
from livekit.agents.voice.turn import TurnHandlingOptions
from livekit.plugins import silero

from voice.config import VoiceConfig

# The turn detector refuses a VAD that reports end of speech sooner than this.
MIN_SILENCE_WITH_TURN_DETECTOR_S = 0.25

# Variables that would make livekit-agents choose its hosted models.
_CLOUD_SWITCHES = ("LIVEKIT_REMOTE_EOT_URL", "LIVEKIT_DEV_MODE", "LIVEKIT_INFERENCE_URL")


def disable_cloud_switches() -> None:
    """Drop environment variables that would route turn detection to a cloud."""
    for name in _CLOUD_SWITCHES:
        os.environ.pop(name, None)


def load_vad(config: VoiceConfig | None = None) -> VAD:
    config = config or VoiceConfig()
    silence = config.end_silence_s
    if config.use_turn_detector:
        silence = max(silence, MIN_SILENCE_WITH_TURN_DETECTOR_S)
    return silero.VAD.load(min_speech_duration=config.min_speech_s,
                           min_silence_duration=silence,
                           activation_threshold=config.vad_threshold)


def load_turn_detector() -> Any:
    """LiveKit's end-of-turn model, always the local 'v1-mini' build (no network)."""
    from livekit.agents.inference import TurnDetector
    from livekit.local_inference import init_eot

    disable_cloud_switches()
    init_eot()  # load the weights now rather than during the first call
    return TurnDetector(version="v1-mini")


def turn_handling(config: VoiceConfig, turn_detector: Any | None) -> TurnHandlingOptions:
    """The session's turn-taking rules, from the project's settings."""
    return {
        "turn_detection": turn_detector if config.use_turn_detector else "vad",
        "endpointing": {"mode": "fixed", "min_delay": config.min_endpointing_s,
                        "max_delay": config.max_endpointing_s},
        "interruption": {
            "enabled": True,
            "mode": "vad",  # the adaptive mode is a hosted classifier
            "min_duration": config.interrupt_min_speech_s,
            "min_words": 0,
            # Pausing instead of stopping holds the agent's audio until the transcript
            # arrives; on a phone line a caller who talks over the agent wants it to stop.
            "resume_false_interruption": False,
            "false_interruption_timeout": None,
        },
        "preemptive_generation": {"enabled": False, "preemptive_tts": False},
    }
