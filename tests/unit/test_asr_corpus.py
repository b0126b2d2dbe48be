"""The recognizer's training lines: Whisper's way of writing, no scenario line, never the
evaluation's voice."""

from __future__ import annotations

import random

import pytest

from app.asr_corpus import (
    DIGIT_CONTEXT,
    EVALUATION_VOICE,
    comparable,
    training_lines,
    training_voice,
    whisper_style,
)
from dialog.catalog import common_lines, load_flows


@pytest.mark.parametrize(("typed", "written"), [
    ("yeah go ahead", "Yeah go ahead."),
    ("  who is  this?", "Who is this?"),
    ("Stop calling me!", "Stop calling me!"),
    ("7.", "7."),
])
def test_lines_are_written_as_whisper_writes(typed: str, written: str) -> None:
    assert whisper_style(typed) == written


def test_excluded_lines_are_left_out_however_written() -> None:
    flows, lines = load_flows(), common_lines()
    every = training_lines(flows, lines)
    left_out = [every[3].text.lower().rstrip("."), every[40].text.upper()]
    kept = training_lines(flows, lines, exclude=left_out)
    assert len(kept) == len(every) - 2
    assert {comparable(line.text) for line in kept}.isdisjoint(map(comparable, left_out))


def test_every_kind_of_line_is_there_once() -> None:
    found = training_lines(load_flows(), common_lines())
    contexts = {line.context for line in found}
    assert {"identify", "verify", DIGIT_CONTEXT, ""} <= contexts
    assert any(context.startswith("welcome_call.") for context in contexts)
    keys = [comparable(line.text) for line in found]
    assert len(keys) == len(set(keys))
    assert all(line.text[0].isupper() or line.text[0].isdigit() for line in found)


def test_the_evaluation_voice_is_never_a_training_voice() -> None:
    rng = random.Random(4)
    voices = [training_voice(rng) for _ in range(2000)]
    assert EVALUATION_VOICE not in {voice for voice, _ in voices}
    assert len({voice for voice, _ in voices}) > 100
    assert all(120 <= rate <= 190 for _, rate in voices)
