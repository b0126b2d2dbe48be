"""Phone speech benchmark: the recognizer the product runs (Whisper tiny.en with the
phone-speech adapter, ``app asr train``) against the shipped Whisper (the baseline), on
the same audio in the same run:
- the scenarios' caller lines (which the adapter never trained on) in the evaluation's voice
  (espeak-ng en-us, 150 words a minute, 8 kHz mu-law): word error rate and lines heard
  word for word;
- the agent's own lines in its Piper voice over the same line (what the call tests hear
  the agent say with);
- real human speech: the Free Spoken Digit Dataset's telephone-band recordings in
  ``../shared/data/fsdd`` (a digit prompt, as the README measures it) of its one speaker
  the shipped adapter did not train on (``asr train --recordings`` took george's and
  jackson's);
- decode time per line.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.caller_voice import on_the_line, over_the_phone
from app.config import Settings
from app.model_loading import asr_model_dir, load_tts
from app.models import ASR
from dialog.catalog import common_lines
from dialog.scenarios import load_scenarios
from tests.speech import spoken_words, word_errors
from voice.asr import WhisperRecognizer, load_whisper
from voice.latency import summarize
from voice.wavfile import read_wav

ROOT = Path(__file__).resolve().parents[2]
FSDD = ROOT.parent / "shared" / "data" / "fsdd"
LINES = 300
HELD_OUT_SPEAKER = "theo"  # all 500 of his recordings
DIGIT_PROMPT = "The caller says one digit, such as 7 or four."
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SEED = 7


def scenario_lines() -> list[str]:
    found = {line for path in sorted((ROOT / "tests" / "scenarios").glob("*.jsonl"))
             for scenario in load_scenarios(path) for line in scenario.caller
             if 0 < len(line) <= 120}
    chosen = sorted(found)
    random.Random(SEED).shuffle(chosen)
    return chosen[:LINES]


def _lead(pcm: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(8000, np.int16), pcm])


def _transcripts(recognizers: dict[str, WhisperRecognizer], clips: list[tuple[str, np.ndarray]],
                 prompt: str | None = None) -> Iterator[tuple[str, str, str, float]]:
    for text, audio in clips:
        for name, recognizer in recognizers.items():
            heard = recognizer.transcribe(audio, prompt)
            yield name, text, heard.text, heard.decode_s


def _word_error_rates(recognizers: dict[str, WhisperRecognizer],
                      clips: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    errors = dict.fromkeys(recognizers, 0)
    exact = dict.fromkeys(recognizers, 0)
    seconds: dict[str, list[float]] = {name: [] for name in recognizers}
    said_words = sum(len(spoken_words(text)) for text, _ in clips)
    for name, text, heard, decode_s in _transcripts(recognizers, clips):
        errors[name] += word_errors(spoken_words(text), spoken_words(heard))
        exact[name] += spoken_words(text) == spoken_words(heard)
        seconds[name].append(decode_s)
    return {name: {"word_error_rate": round(errors[name] / said_words, 4),
                   "lines_word_for_word": exact[name],
                   "decode_ms": summarize(seconds[name], unit_scale=1000)}
            for name in recognizers} | {"lines": len(clips), "words": said_words}


def _digits(recognizers: dict[str, WhisperRecognizer]) -> dict[str, Any]:
    recordings = sorted(FSDD.glob(f"*_{HELD_OUT_SPEAKER}_*.wav"))
    clips = []
    for path in recordings:
        clip = read_wav(path)
        clips.append((path.name[0], _lead(over_the_phone(clip.samples, clip.sample_rate))))
    right = dict.fromkeys(recognizers, 0)
    for name, digit, heard, _ in _transcripts(recognizers, clips, DIGIT_PROMPT):
        said = heard.lower()
        right[name] += digit in said or DIGIT_NAMES[int(digit)] in said
    return {"speaker": HELD_OUT_SPEAKER, "recordings": len(clips), "right": right}


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    threads = settings.voice.asr_threads
    adapted = asr_model_dir(settings.cache_dir)
    recognizers = {"adapted": WhisperRecognizer(load_whisper(adapted, threads=threads)),
                   "baseline_shipped": WhisperRecognizer(load_whisper(ASR.locate(),
                                                                      threads=threads))}
    lines = scenario_lines()
    report(f"{len(lines)} scenario lines in the evaluation voice")
    caller = _word_error_rates(recognizers, [(line, on_the_line(line)) for line in lines])
    tts = load_tts()
    agent_lines = [line for line in common_lines().lines.values() if "{" not in line]
    report(f"{len(agent_lines)} agent lines in the Piper voice")
    agent = _word_error_rates(recognizers, [
        (line, _lead(over_the_phone(tts.synthesize(line), tts.sample_rate)))
        for line in agent_lines])
    report("FSDD digits (real speech)")
    return {"adapted_model": str(adapted), "caller_lines_evaluation_voice": caller,
            "agent_lines_piper": agent, "fsdd_digits": _digits(recognizers)}
