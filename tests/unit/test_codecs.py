import warnings

import numpy as np
import pytest

from voice.codecs import (
    SUPPORTED_RATES,
    Resampler,
    alaw_decode,
    alaw_encode,
    mulaw_decode,
    mulaw_encode,
    resample,
    to_mono,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference G.711 implementation shipped with CPython 3.11

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_mulaw_matches_reference_for_every_sample_and_code():
    assert mulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM.tobytes(), 2)
    assert mulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_matches_reference_for_every_sample_and_code():
    assert alaw_encode(ALL_PCM) == audioop.lin2alaw(ALL_PCM.tobytes(), 2)
    assert alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize(("encode", "decode"), [(mulaw_encode, mulaw_decode),
                                                (alaw_encode, alaw_decode)])
def test_g711_round_trip_keeps_speech_level_signal(encode, decode):
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16)
    back = decode(encode(tone)).astype(np.float64)
    noise = back - tone
    snr_db = 10 * np.log10((tone.astype(np.float64) ** 2).mean() / (noise ** 2).mean())
    assert snr_db > 30  # G.711 gives about 38 dB on a tone at this level


def _dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(pcm))


@pytest.mark.parametrize("source", SUPPORTED_RATES)
@pytest.mark.parametrize("target", SUPPORTED_RATES)
def test_resampling_keeps_length_and_pitch(source, target):
    tone = (np.sin(np.arange(source) * 2 * np.pi * 1000 / source) * 10000).astype(np.int16)
    out = resample(tone, source, target)
    assert abs(len(out) - target) <= target * 0.01
    assert abs(_dominant_hz(out, target) - 1000) < 5


def test_streaming_resampler_in_chunks_equals_one_push():
    rng = np.random.default_rng(1)
    signal = (rng.standard_normal(8000) * 3000).astype(np.int16)
    streaming, at_once = Resampler(8000, 16000), Resampler(8000, 16000)
    chunks = [streaming.push(signal[i:i + 160]) for i in range(0, len(signal), 160)]
    chunked = np.concatenate([*chunks, streaming.flush()])
    whole = np.concatenate([at_once.push(signal), at_once.flush()])
    assert len(chunked) == len(whole)
    assert np.abs(chunked.astype(int) - whole.astype(int)).max() <= 3  # soxr's dither only


def test_a_whole_clip_resamples_the_same_every_time_and_like_the_stream():
    rng = np.random.default_rng(2)
    signal = (rng.standard_normal(22050) * 3000).astype(np.int16)
    once, again = resample(signal, 22050, 8000), resample(signal, 22050, 8000)
    assert np.array_equal(once, again)  # no dither: a clip's transcript is repeatable
    streaming = Resampler(22050, 8000)
    streamed = np.concatenate([streaming.push(signal), streaming.flush()])
    assert abs(len(streamed) - len(once)) <= 2
    n = min(len(streamed), len(once))
    assert np.corrcoef(streamed[:n].astype(float), once[:n].astype(float))[0, 1] > 0.95


def test_a_low_latency_resampler_returns_every_packet_at_once():
    """A live stream read every 20 ms cannot wait for soxr's blocks of about 100 ms."""
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 10000).astype(np.int16)
    blocky, live = Resampler(8000, 16000), Resampler(8000, 16000, low_latency=True)
    assert [len(blocky.push(tone[i:i + 160])) for i in range(0, 800, 160)] == [0] * 5
    chunks = [live.push(tone[i:i + 160]) for i in range(0, 8000, 160)]
    assert all(len(chunk) >= 300 for chunk in chunks)  # every 20 ms in, about 20 ms out
    assert abs(_dominant_hz(np.concatenate(chunks), 16000) - 440) < 5


def test_to_mono_averages_channels():
    stereo = np.array([[1000, 3000], [-2000, -4000]], dtype=np.int16)
    assert to_mono(stereo).tolist() == [2000, -3000]
