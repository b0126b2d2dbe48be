"""`app slm hear`: real espeak-ng speech over a phone line, heard by the real recognizer."""

import pytest

from app.heard_examples import VOICES, hear, hear_examples
from tests.speech import words

pytestmark = pytest.mark.slow


def test_an_example_is_heard_in_the_voices_asked_for(speech_models):
    text = "remove my number from your list"
    readings = hear(text, speech_models.recognizer, [("en-gb", 150), ("en-us", 135)])
    assert len(readings) == 2
    for reading in readings:
        assert len(set(words(reading)) & set(words(text))) >= 4, reading


def test_every_example_gets_readings_and_progress_is_shown(speech_models):
    shown: list[str] = []
    heard = hear_examples(["yes, that's right", "take me off your list"],
                          speech_models.recognizer, seed=1, progress=shown.append)
    assert set(heard) == {"yes, that's right", "take me off your list"}
    assert all(1 <= len(readings) <= 2 for readings in heard.values())
    assert shown == ["heard 2/2 new examples"]


def test_examples_heard_before_keep_their_readings(speech_models):
    known = {"yes, that's right": ["Yes, that's right."]}
    shown: list[str] = []
    heard = hear_examples(["yes, that's right", "take me off your list"],
                          speech_models.recognizer, known=known, progress=shown.append)
    assert heard["yes, that's right"] == ["Yes, that's right."]
    assert 1 <= len(heard["take me off your list"]) <= 2
    assert shown == ["heard 1/1 new examples"]


def test_the_evaluation_voice_is_never_a_training_voice():
    assert ("en-us", 150) not in VOICES  # app eval --voice speaks en-us at 150 wpm
