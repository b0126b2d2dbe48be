"""How the speech recognizer hears the flows' examples over a phone line
(``python -m app slm hear``), so the state tracker is trained on what it will read in calls.

Whisper tiny.en on an 8 kHz line writes "No, this is his brother." as "No, this is in
blood." A tracker trained only on clean text reads that as a yes. Each example is spoken
by espeak-ng in two of several voices and speeds, sent through 8 kHz mu-law, and
transcribed with no hint, the recognizer's plainest reading. None of the voices is the one
``app eval --voice`` speaks with (en-us at 150 words a minute): the tracker learns how the
recognizer errs, not what it made of the evaluation's own audio.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from app.caller_voice import on_the_line
from voice.asr import WhisperRecognizer

VOICES = (("en-us", 135), ("en-us", 170), ("en-gb", 150), ("en-us+f3", 145),
          ("en-us+m3", 160), ("en-gb-x-rp", 140))
READINGS = 2


def hear(text: str, recognizer: WhisperRecognizer, voices: Sequence[tuple[str, int]]) -> list[str]:
    """What the recognizer heard of ``text`` said in each of ``voices``; nothing heard is
    left out."""
    readings = []
    for voice, words_per_minute in voices:
        pcm = on_the_line(text, voice=voice, words_per_minute=words_per_minute)
        reading = recognizer.transcribe(pcm).text.strip()
        if reading:
            readings.append(reading)
    return readings


def hear_examples(texts: Sequence[str], recognizer: WhisperRecognizer, *, seed: int = 7,
                  known: Mapping[str, Sequence[str]] | None = None,
                  progress: Callable[[str], None] = lambda _: None) -> dict[str, list[str]]:
    """example -> its readings, each example in ``READINGS`` voices drawn from ``seed`` and
    the example itself (so an example's voices do not depend on the others). Examples in
    ``known`` keep the readings they have: adding examples to a flow hears only those."""
    known = known or {}
    heard: dict[str, list[str]] = {}
    fresh = [text for text in texts if text not in known]
    for index, text in enumerate(fresh, start=1):
        voices = random.Random(f"{seed}:{text}").sample(VOICES, READINGS)
        heard[text] = hear(text, recognizer, voices)
        if index % 50 == 0 or index == len(fresh):
            progress(f"heard {index}/{len(fresh)} new examples")
    return {text: list(known[text]) if text in known else heard[text] for text in texts}


def save_heard(heard: dict[str, list[str]], path: Path) -> None:
    path.write_text(json.dumps(heard, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
