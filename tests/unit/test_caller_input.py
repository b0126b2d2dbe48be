import asyncio
import time

import numpy as np

from voice.caller_input import CallerAudioInput


async def test_silence_flows_in_real_time_when_nothing_arrives():
    source = CallerAudioInput(16000)
    started = time.monotonic()
    frames = [await source.__anext__() for _ in range(10)]
    elapsed = time.monotonic() - started
    assert all(f.samples_per_channel == 320 for f in frames)
    assert all(not np.frombuffer(f.data, np.int16).any() for f in frames)
    assert 0.15 <= elapsed <= 0.5  # ten 20 ms frames


async def test_pushed_audio_comes_out_in_order_and_at_once():
    source = CallerAudioInput(8000)
    source.push(np.arange(1600, dtype=np.int16))  # 200 ms
    started = time.monotonic()
    frames = [await source.__anext__() for _ in range(10)]
    assert time.monotonic() - started < 0.05
    joined = np.concatenate([np.frombuffer(f.data, np.int16) for f in frames])
    assert joined.tolist() == list(range(1600))


async def test_audio_arriving_while_waiting_is_delivered():
    source = CallerAudioInput(8000)
    await source.__anext__()
    asyncio.get_running_loop().call_later(0.005, source.push, np.full(160, 7, np.int16))
    frame = await source.__anext__()
    assert np.frombuffer(frame.data, np.int16).tolist() == [7] * 160
