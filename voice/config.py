"""Settings of the speech layer, validated once at start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VoiceConfig(BaseModel):
    """How the voice session listens, decides a turn is over, and lets itself be interrupted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asr_threads: int = Field(2, ge=1, le=64, description="CPU threads per Whisper decode")
    asr_workers: int = Field(1, ge=1, le=16, description="Whisper decodes that may run at once")
    asr_prompt: str = Field("", description="Whisper context prompt (names, expected words)")
    asr_min_window_s: float = Field(
        8.0, ge=1, le=30,
        description="shortest audio window Whisper encodes; 30 is Whisper's own (4x slower)",
    )
    asr_beam_size: int = Field(
        1, ge=1, le=10,
        description="Whisper beams (1: greedy); 5 read spoken dates better offline, for more CPU",
    )
    vad_threshold: float = Field(0.5, gt=0, lt=1, description="Silero speech probability")
    min_speech_s: float = Field(0.05, ge=0.01, le=1, description="speech needed to start a turn")
    end_silence_s: float = Field(
        0.3, ge=0.1, le=3,
        description="the silence threshold: silence after speech before the turn may end",
    )
    use_turn_detector: bool = Field(True, description="LiveKit local end-of-turn model")
    min_endpointing_s: float = Field(0.2, ge=0, le=5,
                                     description="extra wait once the turn detector agrees")
    max_endpointing_s: float = Field(0.8, ge=0.1, le=10,
                                     description="longest wait when it thinks the caller goes on")
    interrupt_min_speech_s: float = Field(0.12, ge=0.05, le=2,
                                          description="caller speech that stops the agent")
    silence_timeout_s: float = Field(8.0, ge=1, le=120,
                                     description="caller silence before 'are you still there?'")
    max_call_s: float = Field(1800, ge=10, le=14400, description="longest call")
