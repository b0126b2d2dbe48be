"""Caller audio for tests: espeak-ng (a different synthesiser from the agent's Piper voice)
laid out on a timeline, and helpers to read the agent's side back."""

from __future__ import annotations

import re

import numpy as np

from app.caller_voice import as_people_say_it, speak

__all__ = ["active_spans", "speak", "spoken_words", "timeline", "word_errors", "words"]

def timeline(parts: list[tuple[float, np.ndarray]], total_s: float, rate: int) -> np.ndarray:
    """Place each clip at its start second on a silent track of ``total_s``."""
    track = np.zeros(int(total_s * rate), dtype=np.int32)
    for start_s, clip in parts:
        offset = int(start_s * rate)
        track[offset: offset + len(clip)] += clip[: max(0, len(track) - offset)]
    return np.clip(track, -32768, 32767).astype(np.int16)


def active_spans(pcm: np.ndarray, rate: int, *, threshold_db: float = -40,
                 min_gap_s: float = 0.5) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches of sound in ``pcm``, 10 ms resolution."""
    window = rate // 100
    frames = pcm[: len(pcm) // window * window].astype(np.float32).reshape(-1, window)
    level = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) / 32768 + 1e-9)
    spans: list[list[float]] = []
    for index in np.flatnonzero(level > threshold_db):
        t = index / 100
        if spans and t - spans[-1][1] <= min_gap_s:
            spans[-1][1] = t + 0.01
        else:
            spans.append([t, t + 0.01])
    return [(round(s, 2), round(e, 2)) for s, e in spans]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def spoken_words(text: str) -> list[str]:
    """The words of ``text`` as said, for word error rates: "3:30" and "three thirty" alike."""
    return re.sub(r"[^a-z0-9' ]", " ", as_people_say_it(text).lower().replace("-", " ")).split()


def word_errors(said: list[str], heard: list[str]) -> int:
    """Levenshtein distance over words."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, start=1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(heard, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           diagonal + (word != other))
    return row[len(heard)]
