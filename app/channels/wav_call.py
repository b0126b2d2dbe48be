"""A whole voice call held from a recording: the caller's side is a WAV file.

Real time (default): the recording plays into the call at its own pace, as if the caller
were on the line, so a caller who talks over the agent interrupts it. Fast: the caller
waits for each reply and the silences between utterances are skipped, for quick runs; the
conversation is the same, the timing is not that of a live call.

The end of the recording is the caller hanging up, once the agent has answered the last
utterance. A recording with no speech at all is dead air: the line stays open and the
agent's silence handling ends the call.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from voice.caller_input import FRAME_MS, CallerAudioInput
from voice.codecs import resample
from voice.config import VoiceConfig
from voice.latency import Turn
from voice.playout import TimelineOutput
from voice.responder import Responder
from voice.session import SpeechModels, VoiceSession
from voice.wavfile import AudioClip

log = structlog.get_logger(__name__)

SESSION_RATE = 16000
_SPEECH_GAP_S = 0.7  # silence that separates two caller utterances in fast mode


@dataclass
class CallResult:
    turns: list[Turn]
    ended_by: str
    duration_s: float
    agent_track: np.ndarray
    sample_rate: int


Feeder = Callable[[CallerAudioInput, VoiceSession, float], Coroutine[Any, Any, None]]


async def hold_wav_call(clip: AudioClip, responder: Responder, models: SpeechModels,
                        config: VoiceConfig, *, fast: bool = False,
                        output_rate: int | None = None) -> CallResult:
    caller = resample(clip.samples, clip.sample_rate, SESSION_RATE)

    async def feed(audio_in: CallerAudioInput, session: VoiceSession, origin: float) -> None:
        if fast:
            await _feed_utterances(list(split_utterances(caller, SESSION_RATE)), audio_in,
                                   session)
        else:
            await _feed_real_time(caller, audio_in, origin)

    return await _hold(feed, responder, models, config, paced=not fast,
                       minimum_s=len(caller) / SESSION_RATE,
                       output_rate=output_rate or clip.sample_rate)


async def hold_scripted_call(utterances: list[np.ndarray], responder: Responder,
                             models: SpeechModels, config: VoiceConfig) -> CallResult:
    """A caller who says each utterance (16 kHz) once the agent has answered the last."""
    async def feed(audio_in: CallerAudioInput, session: VoiceSession, _: float) -> None:
        await _feed_utterances(utterances, audio_in, session)

    return await _hold(feed, responder, models, config, paced=False, minimum_s=0.0,
                       output_rate=SESSION_RATE)


async def _hold(feed: Feeder, responder: Responder, models: SpeechModels, config: VoiceConfig,
                *, paced: bool, minimum_s: float, output_rate: int) -> CallResult:
    origin = time.time()
    audio_in = CallerAudioInput(SESSION_RATE)
    audio_out = TimelineOutput(lambda: time.time() - origin, paced=paced)
    session = VoiceSession(models, responder, config, audio_in, audio_out, origin)
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        await session.start()
        await _converse(feed(audio_in, session, origin), session, interrupted)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    duration = max(session.now(), minimum_s)
    return CallResult(session.turns, session.ended_by or "caller", duration,
                      audio_out.render(output_rate, duration), output_rate)


async def _converse(feeder: Coroutine[Any, Any, None], session: VoiceSession,
                    interrupted: asyncio.Event) -> None:
    feeding = asyncio.create_task(feeder)
    closed = asyncio.create_task(session.wait_closed())
    stop = asyncio.create_task(interrupted.wait())
    await asyncio.wait({feeding, closed, stop}, return_when=asyncio.FIRST_COMPLETED)
    if feeding.done() and not closed.done() and not stop.done():
        finishing = asyncio.create_task(_after_recording(session))
        await asyncio.wait({finishing, closed, stop}, return_when=asyncio.FIRST_COMPLETED)
        finishing.cancel()
    if feeding.done() and feeding.exception() is not None:
        raise feeding.exception()  # type: ignore[misc]
    if stop.done():
        log.warning("call interrupted from the keyboard")
    for task in (feeding, stop, closed):
        task.cancel()
    await session.hang_up()


async def _after_recording(session: VoiceSession) -> None:
    """The recording is over: let the agent answer the last utterance, then hang up."""
    await asyncio.sleep(session.config.end_silence_s + 0.5)  # let the VAD see the end
    await session.wait_settled(session.config.max_endpointing_s + 1.5)
    if not session.caller_spoke:
        await session.wait_closed()  # dead air: the agent's silence handling ends the call


async def _feed_real_time(caller: np.ndarray, audio_in: CallerAudioInput, origin: float) -> None:
    frame = SESSION_RATE * FRAME_MS // 1000
    loop = asyncio.get_running_loop()
    start = loop.time() - (time.time() - origin)
    for index in range(0, len(caller), frame):
        delay = start + index / SESSION_RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        audio_in.push(caller[index: index + frame])


async def _feed_utterances(utterances: list[np.ndarray], audio_in: CallerAudioInput,
                           session: VoiceSession) -> None:
    """Each utterance once the session has settled, followed by enough silence to end it."""
    config = session.config
    trailing = np.zeros(int((config.end_silence_s + 0.3) * SESSION_RATE), np.int16)
    for utterance in utterances:
        await session.wait_settled(config.max_endpointing_s + 1.5)
        if session.closed:
            return
        audio_in.push(np.concatenate([utterance, trailing]))
        # Wait for the turn detector to hear this utterance end before sending the next.
        await session.wait_for_turn(len(session.turns), len(utterance) / SESSION_RATE + 3.0)


def split_utterances(pcm: np.ndarray, rate: int) -> Iterator[np.ndarray]:
    """Stretches of sound separated by at least ``_SPEECH_GAP_S`` of quiet (energy based)."""
    window = rate // 50
    frames = pcm[: len(pcm) // window * window].astype(np.float32).reshape(-1, window)
    loud = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) / 32768 + 1e-9) > -45
    gap_frames = int(_SPEECH_GAP_S * 50)
    start: int | None = None
    quiet = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            start = index if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= gap_frames:
                yield pcm[max(0, start - 5) * window: (index - quiet + 10) * window]
                start, quiet = None, 0
    if start is not None:
        yield pcm[max(0, start - 5) * window:]
