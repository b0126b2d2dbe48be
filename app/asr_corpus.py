"""What the phone-speech adapter of the recognizer is trained on (``python -m app asr
train``): caller lines written from the flows, spoken by espeak-ng in many voices through
an 8 kHz mu-law line, as the log-mel windows Whisper reads.

The lines are every example a flow gives for a caller's answer, dates of birth in the forms
Whisper writes them (``dialog.dates.written_dates``), and the short answers to "May I speak
with ...?" that tiny.en mishears most on a phone line ("This is she." as "Nippin Chi.").
Lines given in ``exclude`` (scenario files) are left out, so an evaluation never hears its
own sentences trained. The evaluation's voice (plain en-us, ``app eval --voice``) is never
one of the training voices: the adapter learns the phone line, not that voice.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from app.caller_voice import over_the_phone, speak
from dialog.dates import written_dates
from dialog.flow_spec import Flow, Lines
from dialog.tracker_data import NAMES, contexts
from voice.wavfile import read_wav

WINDOW_S = 8  # the recognizer's shortest window (``WhisperRecognizer.min_window_s``)
SAMPLE_RATE = 16000
QUIET_AFTER_S = 2.0  # at least this much quiet follows the speech in a window
BIRTH_DATES = 700
ANSWERS_TO_GREETING = 250
DIGIT_LINES = 60
_DATE_LEADS = ("", "", "It's ", "Sure, ", "Yes, it's ", "Um, ", "My date of birth is ", "Uh, ",
               "Okay, ", "That's ")
_DATE_TAILS = ("", "", ". Thanks.")
_GREETING_ANSWERS = ("Yes, this is {name}.", "Speaking.", "This is she.", "This is he.",
                     "Yeah, {name} here.", "Who is this?", "Who's calling?", "Yes, that's me.",
                     "{name} speaking.", "Sorry, who is this?", "Yes.", "Yep, it's me.",
                     "No, {name} isn't here.", "Wrong number.", "Hello?")
_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
            "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
_TIMBRES = ("", "+f1", "+f2", "+f3", "+f4", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7",
            "+Andy", "+Annie", "+Alex", "+david", "+Michael", "+linda", "+Andrea", "+benjamin",
            "+belinda", "+edward", "+max", "+travis", "+shelby", "+victor", "+aunty", "+Mike",
            "+steph", "+paul", "+quincy")
EVALUATION_VOICE = "en-us"
DIGIT_CONTEXT = "digit"  # a digit said alone, with ``DIGIT_HINT``
DIGIT_HINT = "The caller says one digit, such as 7 or four."


@dataclass(frozen=True)
class TrainingLine:
    text: str
    context: str  # where it is said (``dialog.tracker.step_context``), "" for anywhere


@dataclass(frozen=True)
class SpokenLine:
    line: TrainingLine
    features: np.ndarray  # float16 log-mel, 80 x (WINDOW_S * 100)
    voice: str


def comparable(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def whisper_style(text: str) -> str:
    """``text`` written as Whisper writes speech: a capital first letter and a full stop
    when it has no end mark. Flow examples are often typed ("yeah go ahead"); trained as
    typed, an adapter learned to drop both, and wrote a spoken "five." as "bye"."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def training_lines(flows: Mapping[str, Flow], lines: Lines, *, exclude: Iterable[str] = (),
                   seed: int = 11) -> list[TrainingLine]:
    rng = random.Random(seed)
    found = [TrainingLine(text, context.name)
             for context in contexts(flows, lines) if context.with_globals
             for examples in context.examples.values() for text in examples]
    found += [TrainingLine(text, "") for intent in lines.global_intents.values()
              for text in intent.examples]
    for _ in range(BIRTH_DATES):
        born = date(rng.randint(1935, 2006), rng.randint(1, 12), rng.randint(1, 28))
        said = rng.choice(written_dates(born)).rstrip(".")
        found.append(TrainingLine(rng.choice(_DATE_LEADS) + said + rng.choice(_DATE_TAILS),
                                  "verify"))
    first_names = [name.split()[0] for name in NAMES]
    for _ in range(ANSWERS_TO_GREETING):
        answer = rng.choice(_GREETING_ANSWERS).format(name=rng.choice(first_names))
        found.append(TrainingLine(answer, "identify"))
    found += _digit_lines(rng)
    seen = {comparable(text) for text in exclude}
    kept = []
    for line in found:
        key = comparable(line.text)
        if key and key not in seen:
            seen.add(key)
            kept.append(TrainingLine(whisper_style(line.text), line.context))
    return kept


def _digit_lines(rng: random.Random) -> list[TrainingLine]:
    """Digits said alone or in a row, as Whisper writes them ("7.", "4 8 2 1.")."""
    said = [TrainingLine(f"{rng.randint(0, 9)}.", DIGIT_CONTEXT) for _ in range(DIGIT_LINES)]
    for _ in range(DIGIT_LINES):
        digits = " ".join(str(rng.randint(0, 9)) for _ in range(4))
        shape = rng.choice(("{}.", "It ends in {}.", "The last four are {}."))
        said.append(TrainingLine(shape.format(digits), ""))
    return said


def training_voice(rng: random.Random) -> tuple[str, int]:
    """An espeak-ng voice (accent and timbre) and words a minute, never the evaluation's."""
    while True:
        voice = rng.choice(_ACCENTS) + rng.choice(_TIMBRES)
        if voice != EVALUATION_VOICE:
            return voice, rng.randint(120, 190)


def _placed(speech: np.ndarray, rng: random.Random) -> np.ndarray | None:
    """16 kHz int16 ``speech`` in a window as the recognizer gets it (some quiet before,
    more after, a random level); None if it is too long to fit."""
    lead = int(rng.uniform(0.15, 0.8) * SAMPLE_RATE)
    window = np.zeros(WINDOW_S * SAMPLE_RATE, np.float32)
    if lead + len(speech) > len(window) - QUIET_AFTER_S * SAMPLE_RATE:
        return None
    level = 10 ** (rng.uniform(-8, 4) / 20) / 32768
    window[lead:lead + len(speech)] = speech.astype(np.float32) * level
    return np.clip(window, -1, 1)


def line_window(text: str, rng: random.Random) -> tuple[np.ndarray, str] | None:
    """``text`` spoken in a training voice over a phone line, placed in a window."""
    voice, words_per_minute = training_voice(rng)
    speech = speak(text, 8000, words_per_minute=words_per_minute, voice=voice)
    window = _placed(over_the_phone(speech, 8000), rng)
    return None if window is None else (window, voice)


@functools.cache
def _extractor() -> Any:
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor(feature_size=80)


def _features(window: np.ndarray) -> np.ndarray:
    return np.asarray(_extractor()(window)[:, :WINDOW_S * 100], dtype=np.float16)


def recorded_digits(paths: Iterable[Path], *, seed: int = 5) -> list[SpokenLine]:
    """Real people saying one digit on a telephone-band line: WAV files named
    ``{digit}_{speaker}_{n}.wav`` (the Free Spoken Digit Dataset), sent through mu-law,
    to be written "7." as Whisper writes a digit said alone."""
    spoken = []
    for path in paths:
        clip = read_wav(path)
        window = _placed(over_the_phone(clip.samples, clip.sample_rate),
                         random.Random(f"{seed}:{path.name}"))
        if window is not None:
            spoken.append(SpokenLine(TrainingLine(f"{path.name[0]}.", DIGIT_CONTEXT),
                                     _features(window), f"recorded:{path.name.split('_')[1]}"))
    return spoken


def speak_lines(lines: list[TrainingLine], *, voices_per_line: int = 2, seed: int = 5,
                progress: Callable[[str], None] = lambda _: None) -> list[SpokenLine]:
    """Each line in ``voices_per_line`` voices (drawn from the seed and the line, so adding
    lines does not change the others' voices), as log-mel features."""
    def one(item: tuple[TrainingLine, int]) -> SpokenLine | None:
        line, take = item
        placed = line_window(line.text, random.Random(f"{seed}:{line.text}:{take}"))
        if placed is None:
            return None
        audio, voice = placed
        return SpokenLine(line, _features(audio), voice)

    work = [(line, take) for line in lines for take in range(voices_per_line)]
    spoken: list[SpokenLine] = []
    with ThreadPoolExecutor(2) as pool:  # espeak-ng runs as a process: two keep both cores busy
        for index, result in enumerate(pool.map(one, work), start=1):
            if result is not None:
                spoken.append(result)
            if index % 500 == 0 or index == len(work):
                progress(f"spoken {index}/{len(work)} lines")
    return spoken
