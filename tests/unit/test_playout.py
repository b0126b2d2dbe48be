import numpy as np
from livekit import rtc

from voice.playout import TimelineOutput


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _frame(seconds: float, rate: int = 16000, value: int = 1000) -> rtc.AudioFrame:
    samples = int(seconds * rate)
    return rtc.AudioFrame(data=np.full(samples, value, np.int16).tobytes(), sample_rate=rate,
                          num_channels=1, samples_per_channel=samples)


async def test_barge_in_cuts_the_segment_where_the_clock_is():
    clock = ManualClock()
    out = TimelineOutput(clock, paced=True)
    finished = []
    out.on_segment_end = finished.append
    clock.now = 1.0
    await out.capture_frame(_frame(2.0))
    out.flush()
    clock.now = 1.5
    out.clear_buffer()
    segment = out.segments[0]
    assert segment.start_s == 1.0
    assert segment.interrupted and segment.played_s == 0.5
    assert finished == [segment]
    track = out.render(8000, 3.0)
    heard = np.flatnonzero(track)
    assert heard[0] == 8000 and abs(heard[-1] - 12000) <= 1


async def test_frames_after_a_clear_are_dropped_until_the_next_reply():
    clock = ManualClock()
    out = TimelineOutput(clock, paced=True)
    await out.capture_frame(_frame(0.5))
    out.clear_buffer()
    await out.capture_frame(_frame(0.5))  # late frame of the cancelled reply
    out.flush()
    assert len(out.segments) == 1 and out.segments[0].pushed_s == 0.5
    clock.now = 2.0
    await out.capture_frame(_frame(0.2))
    assert len(out.segments) == 2 and out.segments[1].start_s == 2.0


async def test_unpaced_replies_queue_one_after_another():
    clock = ManualClock()
    out = TimelineOutput(clock, paced=False)
    await out.capture_frame(_frame(1.0))
    out.flush()
    await out.capture_frame(_frame(1.0))
    out.flush()
    first, second = out.segments
    assert first.played_s == 1.0 and not first.interrupted
    assert second.start_s == 1.0 and second.heard_at_s == 0.0
    assert not out.playing
