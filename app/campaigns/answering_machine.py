"""Answering-machine detection (AMD) for campaign calls: who picked up, a person or a machine,
decided from the first seconds of the callee's audio before the agent says a word.

A person answers with a short greeting ("Hello?") and waits; a machine talks on ("Hi, you've
reached ..., please leave a message after the tone.") and beeps. The rules, on 20 ms frames of
8 kHz audio (the thresholds are ``AmdConfig``'s defaults):

- nothing heard for 5 s after the answer: a person who waits for us to speak;
- a greeting that ends (0.8 s of silence) before 2 s of speech: a person;
- a greeting that runs past 3.5 s (pauses shorter than 0.8 s do not end it): a machine;
- a steady tone (a beep) of 160 ms or more: a machine;
- a greeting of 2 to 3.5 s is unsure: its transcript decides (``machine_phrase``: "leave a
  message", "not available", "after the tone", "voicemail", "mailbox" ... mean a machine).

Once a machine is detected, ``GreetingEnd`` tells when it is ready to record: the beep has
ended, or 1.2 s of silence followed its greeting (machines without a beep), or 20 s passed.
Then the message of ``voicemail_message`` is left: who called and a number to call back,
never the contact's name, date of birth or account details (a machine may be shared).

A frame is sound when its level is at least -40 dBFS; a tone when one frequency of 800 to
1100 Hz holds at least 60 % of its energy (single-bin DFTs, what Goertzel's algorithm
computes, on a 25 Hz grid).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
FRAME_S = FRAME / RATE


@dataclass(frozen=True)
class AmdConfig:
    """Thresholds of the detection, in seconds and dBFS."""

    sound_db: float = -40.0
    min_word_s: float = 0.1  # shorter sounds (clicks) do not start a greeting
    initial_silence_s: float = 5.0
    greeting_end_silence_s: float = 0.8
    person_max_greeting_s: float = 2.0
    machine_min_greeting_s: float = 3.5
    beep_min_s: float = 0.16
    beep_low_hz: float = 800.0
    beep_high_hz: float = 1100.0
    tone_share: float = 0.6
    machine_end_silence_s: float = 1.2
    machine_max_wait_s: float = 20.0


class FrameKind(enum.StrEnum):
    SILENCE = "silence"
    SOUND = "sound"
    TONE = "tone"


class Verdict(enum.StrEnum):
    PERSON = "person"
    MACHINE = "machine"
    UNSURE = "unsure"  # a middling greeting: its transcript decides


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str  # silence, short_greeting, long_greeting, beep, middling_greeting
    at_s: float  # seconds of audio heard when it was decided
    greeting_s: float  # how long the greeting had run (0 when nothing was said)


@cache
def _bins(low_hz: float, high_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The frequencies checked for a tone and each one's DFT row for a 20 ms frame."""
    freqs = np.arange(low_hz, high_hz + 1, 25.0)
    n = np.arange(FRAME)
    return freqs, np.exp(-2j * np.pi * np.outer(freqs, n) / RATE)


def level_db(frame: np.ndarray) -> float:
    """A frame's RMS level in dBFS (int16 full scale)."""
    samples = frame.astype(np.float64)
    rms = float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0
    return 20 * np.log10(rms / 32768 + 1e-12)


def tone(frame: np.ndarray, low_hz: float = 800.0, high_hz: float = 1100.0,
         ) -> tuple[float, float]:
    """The strongest frequency of ``low_hz..high_hz`` in a 20 ms frame and the share of the
    frame's energy it holds (1.0 for a pure sine on the grid)."""
    samples = frame[:FRAME].astype(np.float64)
    if len(samples) < FRAME:
        samples = np.pad(samples, (0, FRAME - len(samples)))
    energy = float(np.sum(samples * samples))
    if energy <= 0:
        return 0.0, 0.0
    freqs, rows = _bins(low_hz, high_hz)
    power = np.abs(rows @ samples) ** 2
    best = int(np.argmax(power))
    return float(freqs[best]), float(power[best] * 2 / (FRAME * energy))


def frame_kind(frame: np.ndarray, config: AmdConfig) -> tuple[FrameKind, float]:
    """Silence, sound or tone, and the tone's frequency (0 unless a tone)."""
    if level_db(frame) < config.sound_db:
        return FrameKind.SILENCE, 0.0
    freq, share = tone(frame, config.beep_low_hz, config.beep_high_hz)
    if share >= config.tone_share:
        return FrameKind.TONE, freq
    return FrameKind.SOUND, 0.0


class _ToneRun:
    """Consecutive tone frames at one frequency (within 50 Hz)."""

    def __init__(self) -> None:
        self.frames = 0
        self.freq = 0.0

    def add(self, kind: FrameKind, freq: float) -> None:
        if kind is FrameKind.TONE and (self.frames == 0 or abs(freq - self.freq) <= 50):
            self.frames, self.freq = self.frames + 1, freq
        elif kind is FrameKind.TONE:
            self.frames, self.freq = 1, freq
        else:
            self.frames = 0


class GreetingClassifier:
    """Fed the callee's audio from the answer on, decides person or machine (or unsure)."""

    def __init__(self, config: AmdConfig | None = None) -> None:
        self.config = config or AmdConfig()
        self.heard_s = 0.0
        self._onset: float | None = None  # when the greeting's first word began
        self._last_sound = 0.0  # end of the latest sound of the greeting
        self._run_start: float | None = None  # the sound run not yet long enough to count
        self._tones = _ToneRun()
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, pcm: np.ndarray) -> Decision | None:
        """Audio at 8 kHz, any length; the decision once there is one."""
        self._pending = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            decision = self.feed_frame(frame)
            if decision is not None:
                return decision
        return None

    def feed_frame(self, frame: np.ndarray) -> Decision | None:
        kind, freq = frame_kind(frame, self.config)
        start, self.heard_s = self.heard_s, self.heard_s + FRAME_S
        self._tones.add(kind, freq)
        if kind is FrameKind.SILENCE:
            self._run_start = None
        else:
            self._run_start = start if self._run_start is None else self._run_start
            if self.heard_s - self._run_start >= self.config.min_word_s - 1e-9:
                self._onset = self._run_start if self._onset is None else self._onset
                self._last_sound = self.heard_s
        return self._decide()

    def _decide(self) -> Decision | None:
        config, now = self.config, self.heard_s
        if self._tones.frames * FRAME_S >= config.beep_min_s - 1e-9:
            return self._decision(Verdict.MACHINE, "beep")
        if self._onset is None:
            if now >= config.initial_silence_s - 1e-9:
                return self._decision(Verdict.PERSON, "silence")
            return None
        greeting = self._last_sound - self._onset
        if greeting > config.machine_min_greeting_s:
            return self._decision(Verdict.MACHINE, "long_greeting")
        if now - self._last_sound >= config.greeting_end_silence_s - 1e-9:
            if greeting < config.person_max_greeting_s:
                return self._decision(Verdict.PERSON, "short_greeting")
            return self._decision(Verdict.UNSURE, "middling_greeting")
        return None

    def _decision(self, verdict: Verdict, reason: str) -> Decision:
        greeting = 0.0 if self._onset is None else self._last_sound - self._onset
        return Decision(verdict, reason, round(self.heard_s, 2), round(greeting, 2))

    @property
    def tone_under_way(self) -> bool:
        return self._tones.frames > 0


class GreetingEnd:
    """After a machine was detected: tells when it is ready to record our message."""

    def __init__(self, config: AmdConfig | None = None, *, beep_under_way: bool = False) -> None:
        self.config = config or AmdConfig()
        self.waited_s = 0.0
        self._silence_s = 0.0
        self._beeping = beep_under_way
        self._tones = _ToneRun()
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, pcm: np.ndarray) -> str | None:
        """``beep`` (the beep just ended), ``silence`` (the greeting ended without one) or
        ``timeout`` once the message may be left; ``None`` while the greeting goes on."""
        self._pending = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            ready = self.feed_frame(frame)
            if ready is not None:
                return ready
        return None

    def feed_frame(self, frame: np.ndarray) -> str | None:
        config = self.config
        kind, freq = frame_kind(frame, config)
        self.waited_s += FRAME_S
        self._tones.add(kind, freq)
        if self._tones.frames * FRAME_S >= config.beep_min_s - 1e-9:
            self._beeping = True
        elif self._beeping and kind is not FrameKind.TONE:
            return "beep"
        self._silence_s = self._silence_s + FRAME_S if kind is FrameKind.SILENCE else 0.0
        if self._silence_s >= config.machine_end_silence_s - 1e-9:
            return "silence"
        if self.waited_s >= config.machine_max_wait_s - 1e-9:
            return "timeout"
        return None


MACHINE_PHRASES = (
    "leave a message", "leave your message", "leave me a message", "record your message",
    "not available", "unavailable", "after the tone", "after the beep", "at the tone",
    "voicemail", "voice mail", "mailbox", "can't take your call", "cannot take your call",
    "can't come to the phone", "you've reached", "you have reached",
)


def machine_phrase(transcript: str) -> str | None:
    """The machine phrase a greeting's transcript holds, if any (case and punctuation
    do not matter)."""
    text = " " + re.sub(r"[^a-z' ]+", " ", transcript.lower().replace("’", "'")) + " "
    text = re.sub(r"\s+", " ", text)
    for phrase in MACHINE_PHRASES:
        if f" {phrase} " in text:
            return phrase
    return None


def spoken_number(number: str) -> str:
    """A phone number read out digit by digit in groups (``+1 555 0100`` -> ``1, 5 5 5,
    0 1 0 0``), as a caller writes it down."""
    groups = [group for group in re.split(r"[^0-9]+", number) if group]
    return ", ".join(" ".join(group) for group in groups)


def voicemail_message(organization: str | None, callback_number: str | None) -> str:
    """The message left on a machine: who called and how to call back; nothing about the
    person (no name, no date of birth, no account details)."""
    caller = f"Ava calling from {organization}" if organization else "Ava"
    text = f"Hello, this is {caller}, with a message for you."
    if callback_number and spoken_number(callback_number):
        text += f" Please call us back at {spoken_number(callback_number)}."
    else:
        text += " Please call us back at your convenience."
    return text + " Thank you. Goodbye."
