"""The real ASR and TTS models against each other and against recorded human speech."""

import random
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.speech import speak, words
from voice.codecs import mulaw_decode, mulaw_encode, resample
from voice.wavfile import read_wav

pytestmark = pytest.mark.slow
FSDD = Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def phone_line(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Through an 8 kHz mu-law telephone channel and back to 16 kHz."""
    narrow = mulaw_decode(mulaw_encode(resample(pcm, rate, 8000)))
    return resample(narrow, 8000, 16000)


def test_piper_speech_survives_a_phone_line_and_whisper(speech_models):
    sentence = "Your appointment with doctor Patel is confirmed for Tuesday at three thirty."
    audio = speech_models.synthesizer.synthesize(sentence)
    heard = speech_models.recognizer.transcribe(phone_line(audio, 22050))
    expected = set(words(sentence)) - {"doctor", "patel", "three", "thirty"}  # Dr., 3.30
    assert len(expected & set(words(heard.text))) >= 0.8 * len(expected), heard.text


def test_an_answer_of_a_fixed_form_is_the_first_reading_of_that_form(speech_models):
    line = phone_line(speak("June fifth, nineteen ninety", 16000), 16000)
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
    """A caller's answer as Whisper gets it, after the half second the VAD keeps."""
    return np.concatenate([np.zeros(8000, np.int16), phone_line(speak(said, 16000), 16000)])


def _heard_as_date_of_birth(recognizer, line: np.ndarray, records: date | None) -> str:
    """The answer to the date question, as an agent hears it; with ``records``, the date on
    file is confirmed from the audio when the audio says it."""
    from app.bridge import ANSWER_CHECKS
    from dialog.catalog import common_lines
    from dialog.dates import ExpectedBirthDate

    expected = ExpectedBirthDate(records, TODAY) if records else None
    return recognizer.transcribe(line, common_lines().lines["listen_verify"],
                                 ANSWER_CHECKS["date"], expected).text


# Answers near the edge: whether the readings miss the date and the audio confirms it
# varies with the CPU's int8 kernels (AVX-512 VNNI or AVX2). On both, at least one of them
# is confirmed after the readings missed it; on neither is a near guess confirmed.
FEBRUARY_7 = ("um, February 7th, 1999",
              "um, February 7th, 1999. I need to move my appointment.",
              "um, February 7th, 1999. And I need to move my appointment.")


def test_the_date_on_file_is_confirmed_from_the_audio_when_the_readings_miss_it(speech_models):
    from dialog.dates import birth_dates

    recovered = 0
    for said in FEBRUARY_7:
        line = _phone_answer(said)
        readings = _heard_as_date_of_birth(speech_models.recognizer, line, None)
        confirmed = _heard_as_date_of_birth(speech_models.recognizer, line, BORN)
        if BORN in birth_dates(readings, TODAY):
            assert BORN in birth_dates(confirmed, TODAY), (said, readings, confirmed)
        elif BORN in birth_dates(confirmed, TODAY):
            recovered += 1
            if "appointment" in said:  # what was said after the date is kept
                assert "move my appointment" in confirmed.lower(), confirmed
    assert recovered >= 1


def test_a_near_guess_of_the_date_on_file_is_not_confirmed(speech_models):
    from dialog.dates import birth_dates

    for said in FEBRUARY_7:
        line = _phone_answer(said)
        for records in (date(1999, 2, 6), date(1999, 2, 8), date(1999, 3, 7), date(2000, 2, 7)):
            # a caller whose date is one off the records' is not confirmed as matching them
            heard = _heard_as_date_of_birth(speech_models.recognizer, line, records)
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
