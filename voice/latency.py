"""Per-turn latency marks on the call's timeline (seconds since the call began)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TurnMarks:
    """When each stage of one turn happened. ``None``: the stage did not happen."""

    caller_speech_end: float | None = None
    transcript_final: float | None = None
    reply_text_ready: float | None = None
    first_agent_audio: float | None = None

    def stages_ms(self) -> tuple[int, int, int] | None:
        """Milliseconds from the caller's speech end to the final transcript (silence
        detection and ASR), from there to the reply's text (the end-of-turn wait and the
        dialogue), and from there to its first audio (synthesis): where the time went."""
        end, final = self.caller_speech_end, self.transcript_final
        ready, audio = self.reply_text_ready, self.first_agent_audio
        if end is None or final is None or ready is None or audio is None:
            return None
        return (round((final - end) * 1000), round((ready - final) * 1000),
                round((audio - ready) * 1000))

    @property
    def response_latency(self) -> float | None:
        """Caller speech end to first agent audio: what a caller feels as the delay."""
        if self.caller_speech_end is None or self.first_agent_audio is None:
            return None
        return self.first_agent_audio - self.caller_speech_end


@dataclass
class Turn:
    """One exchange: what the caller did, what the agent said, and its marks."""

    index: int
    caller: str | None = None
    caller_event: str = "speech"
    agent: str | None = None
    interrupted: bool = False
    marks: TurnMarks = field(default_factory=TurnMarks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["marks"] = {k: None if v is None else round(v, 3)
                         for k, v in data["marks"].items()}
        latency = self.marks.response_latency
        data["response_latency_ms"] = None if latency is None else round(latency * 1000)
        return data


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize(values: list[float], *, unit_scale: float = 1.0) -> dict[str, float | int]:
    """Count, median and 95th percentile, scaled (1000 turns seconds into ms)."""
    ordered = sorted(v * unit_scale for v in values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "p50": round(float(percentile(ordered, 0.5)), 1),
            "p95": round(float(percentile(ordered, 0.95)), 1)}
