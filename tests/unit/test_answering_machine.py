"""Answering-machine detection on real speech: espeak-ng greetings through a telephone
channel (8 kHz mu-law), fed to the detector 20 ms at a time as the call delivers them."""

from __future__ import annotations

import numpy as np
import pytest

from app.caller_voice import speak
from app.campaigns.answering_machine import (
    FRAME,
    RATE,
    AmdConfig,
    Decision,
    GreetingClassifier,
    GreetingEnd,
    Verdict,
    machine_phrase,
    spoken_number,
    tone,
    voicemail_message,
)
from tests.speech import active_spans
from voice.codecs import mulaw_decode, mulaw_encode


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def _beep(seconds: float, hz: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (6000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _line(*parts: np.ndarray | str) -> np.ndarray:
    """Speech (text) and other audio one after another, as a phone line carries it."""
    audio = np.concatenate([speak(part) if isinstance(part, str) else part for part in parts])
    return mulaw_decode(mulaw_encode(audio))


def _classify(audio: np.ndarray) -> tuple[Decision, GreetingClassifier, np.ndarray]:
    """The decision, the classifier, and the audio after the frame that decided it."""
    classifier = GreetingClassifier()
    for start in range(0, len(audio), FRAME):
        decision = classifier.feed(audio[start:start + FRAME])
        if decision is not None:
            return decision, classifier, audio[start + FRAME:]
    raise AssertionError("no decision")


def _ready(audio: np.ndarray, *, beep_under_way: bool = False) -> tuple[str, float]:
    end = GreetingEnd(beep_under_way=beep_under_way)
    for start in range(0, len(audio), FRAME):
        ready = end.feed(audio[start:start + FRAME])
        if ready is not None:
            return ready, end.waited_s
    raise AssertionError("the machine never got ready")


@pytest.mark.parametrize("greeting", ["Hello?", "Yes, speaking.", "Hi there."])
def test_a_short_greeting_then_silence_is_a_person(greeting: str) -> None:
    decision, _, _ = _classify(_line(_silence(0.4), greeting, _silence(6)))
    assert (decision.verdict, decision.reason) == (Verdict.PERSON, "short_greeting")
    assert 0.2 < decision.greeting_s < 2.0
    assert decision.at_s < 3.0  # decided within a second of the greeting ending


def test_silence_after_the_answer_is_a_person_waiting_for_us() -> None:
    decision, _, _ = _classify(_line(_silence(8)))
    assert (decision.verdict, decision.reason, decision.at_s) == (Verdict.PERSON, "silence", 5.0)


def test_a_long_greeting_is_a_machine_before_it_ends() -> None:
    greeting = ("Hi, you've reached the voicemail of five five five, zero one three four. "
                "I'm not available right now. Please leave a message after the tone.")
    audio = _line(_silence(0.3), greeting, _silence(0.3), _beep(0.6), _silence(5))
    decision, classifier, rest = _classify(audio)
    assert (decision.verdict, decision.reason) == (Verdict.MACHINE, "long_greeting")
    assert 3.5 < decision.greeting_s < 4.0 and decision.at_s < 4.5
    ready, waited = _ready(rest, beep_under_way=classifier.tone_under_way)
    beep_ends = len(audio) / RATE - 5
    assert ready == "beep"
    assert abs(decision.at_s + waited - beep_ends) < 0.1  # right as the beep stops


def test_a_machine_without_a_beep_is_ready_after_its_greeting_falls_silent() -> None:
    audio = _line(_silence(0.3), "Hello, you have reached the Smith family. We cannot take "
                                 "your call right now, so please leave us a message.",
                  _silence(6))
    decision, _, rest = _classify(audio)
    assert decision.verdict is Verdict.MACHINE
    ready, waited = _ready(rest)
    assert ready == "silence"
    speech_end = active_spans(audio, RATE)[-1][1]
    assert 1.1 < decision.at_s + waited - speech_end < 1.4


def test_a_beep_right_after_the_answer_is_a_machine() -> None:
    decision, classifier, rest = _classify(_line(_silence(0.5), _beep(0.8, 850), _silence(3)))
    assert (decision.verdict, decision.reason) == (Verdict.MACHINE, "beep")
    assert classifier.tone_under_way
    assert _ready(rest, beep_under_way=True)[0] == "beep"


def test_a_middling_greeting_is_left_to_its_transcript() -> None:
    decision, _, _ = _classify(_line(_silence(0.3), "Hello, this is Maria speaking.",
                                     _silence(4)))
    assert (decision.verdict, decision.reason) == (Verdict.UNSURE, "middling_greeting")
    assert 2.0 <= decision.greeting_s <= 3.5


def test_a_machine_that_never_stops_talking_gets_its_message_after_the_longest_wait() -> None:
    babble = _line(*["I'm not here, please call again later, thank you."] * 8)
    ready, waited = _ready(babble)
    assert (ready, waited) == ("timeout", pytest.approx(AmdConfig().machine_max_wait_s))


def test_speech_is_never_taken_for_a_tone() -> None:
    audio = _line("Please leave a message after the tone. Mmmm, aaah, ooooh, hello?")
    shares = [tone(audio[i:i + FRAME])[1] for i in range(0, len(audio) - FRAME, FRAME)]
    assert max(shares) < 0.4
    assert tone(_beep(0.02, 1000))[1] > 0.95
    assert tone(_beep(0.02, 440))[1] < 0.1  # a tone outside the band is not a beep


@pytest.mark.parametrize(("transcript", "phrase"), [
    ("Hi, you've reached Maria. Leave a message!", "leave a message"),
    ("The person you are calling is not available.", "not available"),
    ("Please record your message after the tone.", "record your message"),
    ("Welcome to the voice mail of 555-0134.", "voice mail"),
    ("The mailbox is full.", "mailbox"),
    ("Hello, this is Maria speaking.", None),
    ("Yes? Who's calling?", None),
])
def test_machine_phrases(transcript: str, phrase: str | None) -> None:
    assert machine_phrase(transcript) == phrase


def test_the_voicemail_message_says_who_called_and_how_to_call_back_and_nothing_else() -> None:
    message = voicemail_message("Riverside Clinic", "+1 (800) 555-0199")
    assert message == ("Hello, this is Ava calling from Riverside Clinic, with a message for "
                       "you. Please call us back at 1, 8 0 0, 5 5 5, 0 1 9 9. Thank you. "
                       "Goodbye.")
    assert spoken_number("+44 20 7946 0958") == "4 4, 2 0, 7 9 4 6, 0 9 5 8"
    assert "call us back at your convenience" in voicemail_message(None, None)
    assert voicemail_message(None, None).startswith("Hello, this is Ava, with")
