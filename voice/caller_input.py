"""The caller's audio as the voice session reads it: 20 ms frames, never running dry.

A channel pushes PCM whenever its transport delivers some; the session pulls a frame every
20 ms. When nothing has arrived by the time a frame is due, a frame of silence is returned,
so the turn detector keeps seeing time pass (livekit stops listening if its input stalls).
"""

from __future__ import annotations

import asyncio

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

FRAME_MS = 20


class CallerAudioInput(io.AudioInput):
    def __init__(self, sample_rate: int) -> None:
        super().__init__(label="CallerAudioInput")
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * FRAME_MS // 1000
        self._buffer = np.zeros(0, dtype=np.int16)
        self._arrived = asyncio.Event()
        self._due: float | None = None
        self.frames_read = 0

    @property
    def buffered_s(self) -> float:
        return len(self._buffer) / self.sample_rate

    def push(self, pcm: np.ndarray) -> None:
        """Add caller audio (mono int16 at ``sample_rate``)."""
        self._buffer = np.concatenate([self._buffer, pcm.astype(np.int16, copy=False)])
        self._arrived.set()

    async def __anext__(self) -> rtc.AudioFrame:
        loop = asyncio.get_running_loop()
        frame_s = FRAME_MS / 1000
        if self._due is None:
            self._due = loop.time()
        while len(self._buffer) < self.frame_samples:
            remaining = self._due - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
            except TimeoutError:
                break
        chunk = self._buffer[: self.frame_samples]
        self._buffer = self._buffer[len(chunk):]
        if len(chunk) == self.frame_samples:
            # Audio that arrived goes out at once; if nothing follows, silence is due next.
            self._due = loop.time() + frame_s
        else:
            chunk = np.concatenate([chunk, np.zeros(self.frame_samples - len(chunk), np.int16)])
            self._due = max(self._due + frame_s, loop.time())
        self.frames_read += 1
        return rtc.AudioFrame(data=chunk.tobytes(), sample_rate=self.sample_rate,
                              num_channels=1, samples_per_channel=self.frame_samples)
