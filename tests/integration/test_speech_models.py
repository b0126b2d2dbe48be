"""The real ASR and TTS models against each other and against recorded human speech."""

import random
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from app.caller_voice import over_the_phone
from tests.speech import speak, spoken_words, word_errors, words
from voice.codecs import resample
from voice.wavfile import read_wav

pytestmark = pytest.mark.slow
FSDD = Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


# What the adapter did to speech it never trained on: the agent's Piper voice. The phone
# speech benchmark measured 0.020-0.027 shipped and 0.007-0.023 adapted over these lines
# (0.055-0.070 with the whole adapter folded in; Piper's speech varies run to run).
PIPER_WORD_ERROR_RATE = 0.10
PIPER_SLIP_ALLOWED = 0.03


@pytest.fixture(scope="module")
def shipped_recognizer():
    """Whisper tiny.en as the package ships it, without the phone-speech adapter."""
    from app.models import ASR
    from voice.asr import WhisperRecognizer, load_whisper

    return WhisperRecognizer(load_whisper(ASR.locate()))


def _word_error_rate(recognizer, clips: list[tuple[str, np.ndarray]]) -> float:
    errors = sum(word_errors(spoken_words(text), spoken_words(recognizer.transcribe(clip).text))
                 for text, clip in clips)
    return errors / sum(len(spoken_words(text)) for text, _ in clips)


def test_piper_speech_survives_a_phone_line_and_whisper(speech_models, shipped_recognizer):
    from dialog.catalog import common_lines

    tts = speech_models.synthesizer
    clips = [(line, over_the_phone(tts.synthesize(line), tts.sample_rate))
             for line in common_lines().lines.values() if "{" not in line]
    adapted = _word_error_rate(speech_models.recognizer, clips)
    shipped = _word_error_rate(shipped_recognizer, clips)
    assert adapted <= PIPER_WORD_ERROR_RATE, (adapted, shipped)
    assert adapted <= shipped + PIPER_SLIP_ALLOWED, (adapted, shipped)


def test_an_answer_of_a_fixed_form_is_the_first_reading_of_that_form(speech_models):
    line = over_the_phone(speak("June fifth, nineteen ninety", 16000), 16000)
    offered: list[str] = []

    def offer(text: str) -> bool:
        offered.append(text)
        return False

    recognizer = speech_models.recognizer
    best = recognizer.transcribe(line, expects=offer).text
    assert len(offered) == recognizer.form_readings and best == offered[0]
    wanted = next(text for text in reversed(offered) if text != offered[0])
    assert recognizer.transcribe(line, expects=lambda text: text == wanted).text == wanted


TODAY, BORN = date(2026, 11, 23), date(1999, 2, 7)


def _phone_answer(said: str) -> np.ndarray:
    """A caller's answer as Whisper gets it, after the half second the VAD keeps (spoken at
    16 kHz first: the audio the edge cases below were measured on, on both CPUs)."""
    return np.concatenate([np.zeros(8000, np.int16), over_the_phone(speak(said, 16000), 16000)])


def _heard_as_date_of_birth(recognizer, line: np.ndarray, records: date | None) -> str:
    """The answer to the date question, as an agent hears it; with ``records``, the date on
    file is confirmed from the audio when the audio says it."""
    from app.bridge import ANSWER_CHECKS
    from dialog.catalog import common_lines
    from dialog.dates import ExpectedBirthDate

    expected = ExpectedBirthDate(records, TODAY) if records else None
    return recognizer.transcribe(line, common_lines().lines["listen_verify"],
                                 ANSWER_CHECKS["date"], expected).text


# Answers near the edge for the shipped model: whether its readings miss the date and the
# audio confirms it varies with the CPU's int8 kernels (AVX-512 VNNI or AVX2). On both, at
# least one of them is confirmed after the readings missed it; on neither is a near guess
# confirmed. The adapted model reads all three right; the confirmation stays for callers it
# hears worse, and it is the same code whatever the weights.
FEBRUARY_7 = ("um, February 7th, 1999",
              "um, February 7th, 1999. I need to move my appointment.",
              "um, February 7th, 1999. And I need to move my appointment.")


def test_the_date_on_file_is_confirmed_from_the_audio_when_the_readings_miss_it(
        shipped_recognizer):
    from dialog.dates import birth_dates

    recovered = 0
    for said in FEBRUARY_7:
        line = _phone_answer(said)
        readings = _heard_as_date_of_birth(shipped_recognizer, line, None)
        confirmed = _heard_as_date_of_birth(shipped_recognizer, line, BORN)
        if BORN in birth_dates(readings, TODAY):
            assert BORN in birth_dates(confirmed, TODAY), (said, readings, confirmed)
        elif BORN in birth_dates(confirmed, TODAY):
            recovered += 1
            if "appointment" in said:  # what was said after the date is kept
                assert "move my appointment" in confirmed.lower(), confirmed
    assert recovered >= 1


@pytest.mark.parametrize("model", ["adapted", "shipped"])
def test_a_near_guess_of_the_date_on_file_is_not_confirmed(model, speech_models,
                                                           shipped_recognizer):
    from dialog.dates import birth_dates

    recognizer = speech_models.recognizer if model == "adapted" else shipped_recognizer
    for said in FEBRUARY_7:
        line = _phone_answer(said)
        for records in (date(1999, 2, 6), date(1999, 2, 8), date(1999, 3, 7), date(2000, 2, 7)):
            # a caller whose date is one off the records' is not confirmed as matching them
            heard = _heard_as_date_of_birth(recognizer, line, records)
            assert records not in birth_dates(heard, TODAY), (said, records, heard)


def test_silence_and_noise_give_no_words(speech_models):
    rng = np.random.default_rng(0)
    assert speech_models.recognizer.transcribe(np.zeros(16000, np.int16)).text == ""
    hiss = (rng.standard_normal(32000) * 300).astype(np.int16)
    assert speech_models.recognizer.transcribe(hiss).text == ""


def test_spoken_digits_at_8khz_with_a_context_prompt(speech_models):
    files = sorted(FSDD.glob("*.wav"))
    assert files, f"no recordings in {FSDD}: ../shared must sit beside the repository"
    random.Random(7).shuffle(files)
    prompt = ("The caller says one digit: zero, one, two, three, four, five, six, seven, "
              "eight, nine.")
    right = 0
    for path in files[:40]:
        clip = read_wav(path)
        text = speech_models.recognizer.transcribe(resample(clip.samples, 8000, 16000),
                                                   prompt).text.lower()
        expected = DIGITS[int(path.name.split("_")[0])]
        right += expected in words(text) or str(DIGITS.index(expected)) in text
    assert right >= 32, f"{right}/40 digits recognised"  # 91% measured on this data
