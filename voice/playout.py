"""A virtual loudspeaker: the agent's audio laid out on the call's timeline.

Each reply is a *segment* that starts playing when its first frame arrives (or when the
previous segment ends) and, when paced, plays in real time. Barge-in clears the buffer: the
segment is cut at the current position, exactly what a caller would have heard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from voice.codecs import Resampler, resample

Clock = Callable[[], float]


@dataclass
class Segment:
    """One stretch of agent speech on the timeline."""

    start_s: float
    sample_rate: int
    heard_at_s: float  # when the caller hears it begin: start_s if paced, else its arrival
    chunks: list[np.ndarray] = field(default_factory=list)
    pushed_s: float = 0.0
    played_s: float | None = None  # set once finished: how much of it was heard
    interrupted: bool = False
    flushed: bool = False

    @property
    def end_s(self) -> float:
        heard = self.pushed_s if self.played_s is None else self.played_s
        return self.start_s + heard

    def pcm(self) -> np.ndarray:
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        if self.played_s is not None:
            audio = audio[: round(self.played_s * self.sample_rate)]
        return audio


class TimelineOutput(io.AudioOutput):
    """livekit ``AudioOutput`` that records what the caller hears and when.

    ``paced``: a segment takes its own duration to play (a live call). Unpaced, it is
    reported played as soon as it is complete (offline processing).
    """

    def __init__(self, clock: Clock, *, paced: bool = True) -> None:
        super().__init__(label="TimelineOutput", sample_rate=None,
                         capabilities=io.AudioOutputCapabilities(pause=False))
        self._clock = clock
        self._paced = paced
        self.segments: list[Segment] = []
        self._current: Segment | None = None
        self._waiters: set[asyncio.Task[None]] = set()
        self.on_segment_start: Callable[[Segment], None] | None = None
        self.on_segment_end: Callable[[Segment], None] | None = None

    @property
    def busy_until(self) -> float:
        """Timeline second at which everything queued so far has played."""
        return max((s.end_s for s in self.segments), default=0.0)

    @property
    def playing(self) -> bool:
        return any(s.played_s is None for s in self.segments)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._current is None:
            self._current = self._open_segment(frame.sample_rate)
        segment = self._current
        if segment.interrupted:
            return  # the tail of a reply that was already cut off
        pcm = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        segment.chunks.append(pcm)
        segment.pushed_s += len(pcm) / frame.sample_rate
        self._kept(pcm, frame.sample_rate)

    def _kept(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Agent audio (mono int16) just laid on the timeline: a transport that carries it
        to the caller as it is produced overrides this. Not called for the tail of a reply
        the caller has interrupted."""

    def _open_segment(self, sample_rate: int) -> Segment:
        now = self._clock()
        start = max(now, self.busy_until)
        segment = Segment(start_s=start, sample_rate=sample_rate,
                          heard_at_s=start if self._paced else now)
        self.segments.append(segment)
        self.on_playback_started(created_at=time.time())
        if self.on_segment_start:
            self.on_segment_start(segment)
        return segment

    def flush(self) -> None:
        super().flush()
        segment, self._current = self._current, None
        if segment is None or segment.interrupted:
            return
        segment.flushed = True
        if not self._paced:
            self._finish(segment, segment.pushed_s, interrupted=False)
            return
        task = asyncio.create_task(self._play_out(segment))
        self._waiters.add(task)
        task.add_done_callback(self._waiters.discard)

    async def _play_out(self, segment: Segment) -> None:
        while segment.played_s is None:
            remaining = segment.start_s + segment.pushed_s - self._clock()
            if remaining <= 0:
                self._finish(segment, segment.pushed_s, interrupted=False)
                return
            await asyncio.sleep(min(remaining, 0.05))

    def clear_buffer(self) -> None:
        now = self._clock()
        for segment in self.segments:
            if segment.played_s is None:
                heard = min(segment.pushed_s, max(0.0, now - segment.start_s))
                self._finish(segment, heard, interrupted=True)

    def _finish(self, segment: Segment, played_s: float, *, interrupted: bool) -> None:
        segment.played_s = played_s
        segment.interrupted = interrupted
        self.on_playback_finished(playback_position=played_s, interrupted=interrupted)
        if self.on_segment_end:
            self.on_segment_end(segment)

    def render(self, sample_rate: int, duration_s: float) -> np.ndarray:
        """The whole agent side as one mono track of ``duration_s`` (longer if needed)."""
        total = max(duration_s, self.busy_until)
        track = np.zeros(int(np.ceil(total * sample_rate)) + 1, dtype=np.int32)
        for segment in self.segments:
            audio = resample(segment.pcm(), segment.sample_rate, sample_rate)
            offset = round(segment.start_s * sample_rate)
            audio = audio[: max(0, len(track) - offset)]
            track[offset: offset + len(audio)] += audio
        return np.clip(track, -32768, 32767).astype(np.int16)

    async def aclose(self) -> None:
        for task in list(self._waiters):
            task.cancel()
        await asyncio.gather(*self._waiters, return_exceptions=True)


class TransportOutput(TimelineOutput):
    """A timeline whose audio also goes to a transport at the transport's rate, as it is
    produced (an RTP stream, a media-stream socket, a page). One streaming resampler per
    reply carries the filter across chunks, so there is no seam at chunk boundaries;
    barge-in drops what it holds."""

    def __init__(self, clock: Clock, rate: int) -> None:
        super().__init__(clock, paced=True)
        self.rate = rate
        self._resampler: Resampler | None = None

    def _deliver(self, pcm: np.ndarray) -> None:
        """Agent audio at ``rate``, in order; a transport implements this."""
        raise NotImplementedError

    def _kept(self, pcm: np.ndarray, sample_rate: int) -> None:
        if self._resampler is None or self._resampler.input_rate != sample_rate:
            self._resampler = Resampler(sample_rate, self.rate)
        self._deliver(self._resampler.push(pcm))

    def flush(self) -> None:
        super().flush()
        if self._resampler is not None:
            self._deliver(self._resampler.flush())
            self._resampler = None

    def clear_buffer(self) -> None:
        super().clear_buffer()
        self._resampler = None
