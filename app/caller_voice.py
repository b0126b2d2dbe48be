"""A synthetic caller: espeak-ng (a different synthesiser from the agent's Piper voice)
speaking lines through a telephone channel (8 kHz G.711 mu-law)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from app.errors import InputError
from voice.codecs import mulaw_decode, mulaw_encode, resample
from voice.wavfile import read_wav


def speak(text: str, rate: int = 8000, *, words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng, as int16 PCM at ``rate``."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise InputError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "line.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", str(words_per_minute), "-w", str(path),
                        text], check=True, capture_output=True)
        clip = read_wav(path)
    return resample(clip.samples, clip.sample_rate, rate)


def over_the_phone(pcm: np.ndarray, rate: int, out_rate: int = 16000) -> np.ndarray:
    """``pcm`` as it arrives from a phone line: 8 kHz, mu-law, then back to ``out_rate``."""
    narrow = mulaw_decode(mulaw_encode(resample(pcm, rate, 8000)))
    return resample(narrow, 8000, out_rate)
