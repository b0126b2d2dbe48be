"""A synthetic caller: espeak-ng (a different synthesiser from the agent's Piper voice)
speaking lines through a telephone channel (8 kHz G.711 mu-law)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from app.errors import InputError
from voice.codecs import mulaw_decode, mulaw_encode, resample
from voice.wavfile import read_wav

_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b")
_YEAR = re.compile(r"(?<![\d,.-])(19|20)(\d\d)(?![\d-])")


def _year(century: str, rest: str) -> str:
    if century == "20" and rest < "10":
        return f"2 thousand {int(rest)}" if rest != "00" else "2 thousand"
    if rest == "00":
        return f"{century} hundred"
    return f"{century} oh {rest[1]}" if rest[0] == "0" else f"{century} {rest}"


def as_people_say_it(text: str) -> str:
    """Years and numeric dates as a person says them, not as espeak-ng reads digits:
    "1984" is "nineteen eighty-four" (espeak: "nineteen hundred eighty-four") and
    "3/12/1984" is "three twelve nineteen eighty-four" (espeak: "three slash twelve ...")."""
    text = _NUMERIC_DATE.sub(lambda m: f"{m[1]} {m[2]} {m[3]}", text)
    return _YEAR.sub(lambda m: _year(m[1], m[2]), text)


def speak(text: str, rate: int = 8000, *, words_per_minute: int = 150,
          voice: str = "en-us") -> np.ndarray:
    """``text`` spoken by espeak-ng (years and numeric dates as people say them), as int16
    PCM at ``rate``."""
    text = as_people_say_it(text)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise InputError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "line.wav"
        subprocess.run([espeak, "-v", voice, "-s", str(words_per_minute), "-w", str(path),
                        text], check=True, capture_output=True)
        clip = read_wav(path)
    return resample(clip.samples, clip.sample_rate, rate)


def over_the_phone(pcm: np.ndarray, rate: int, out_rate: int = 16000) -> np.ndarray:
    """``pcm`` as it arrives from a phone line: 8 kHz, mu-law, then back to ``out_rate``."""
    narrow = mulaw_decode(mulaw_encode(resample(pcm, rate, 8000)))
    return resample(narrow, 8000, out_rate)


def on_the_line(text: str, *, voice: str = "en-us", words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng as Whisper gets it from a call: 16 kHz after an 8 kHz
    mu-law line, with the half second of quiet the voice activity detector keeps before
    speech."""
    clip = speak(text, 8000, words_per_minute=words_per_minute, voice=voice)
    return np.concatenate([np.zeros(8000, np.int16), over_the_phone(clip, 8000)])
