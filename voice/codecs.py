"""Telephone codecs (G.711 mu-law and A-law) and sample-rate conversion.

All audio inside the project is 16-bit signed PCM, mono, as numpy ``int16`` arrays.
G.711 is done with 64 Ki-entry lookup tables built once with numpy, so encoding a 20 ms
packet is one array index, not a Python loop.
"""

from __future__ import annotations

import math
from enum import StrEnum
from functools import cache

import numpy as np
from livekit import rtc

SUPPORTED_RATES = (8000, 16000, 22050, 24000, 48000)

_MULAW_BIAS = 0x84
_MULAW_CLIP = 8159


class Encoding(StrEnum):
    """How samples are stored on a wire or in a file."""

    PCM16 = "pcm16"
    MULAW = "mulaw"
    ALAW = "alaw"


def _mulaw_encode_all() -> np.ndarray:
    # ITU-T G.711 reference (as in G.191 and CPython's audioop), on 14-bit magnitudes.
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(pcm), _MULAW_CLIP) + (_MULAW_BIAS >> 2)
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, value, side="left")
    code = (np.minimum(segment, 7) << 4) | ((value >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _mulaw_decode_all() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_encode_all() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    value = np.where(pcm >= 0, pcm, -pcm - 1)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, value, side="left")
    shift = np.where(segment < 2, 1, segment)
    code = (np.minimum(segment, 7) << 4) | ((value >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode_all() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    base = ((code & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = np.where(segment > 1, base << np.maximum(segment - 1, 0), base)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


@cache
def _tables() -> dict[str, np.ndarray]:
    return {
        "mulaw_enc": _mulaw_encode_all(),
        "mulaw_dec": _mulaw_decode_all(),
        "alaw_enc": _alaw_encode_all(),
        "alaw_dec": _alaw_decode_all(),
    }


def _index(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.int16).astype(np.int32) + 32768


def mulaw_encode(pcm: np.ndarray) -> bytes:
    """16-bit PCM samples to G.711 mu-law bytes."""
    return _tables()["mulaw_enc"][_index(pcm)].tobytes()


def mulaw_decode(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes to 16-bit PCM samples."""
    return _tables()["mulaw_dec"][np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(pcm: np.ndarray) -> bytes:
    """16-bit PCM samples to G.711 A-law bytes."""
    return _tables()["alaw_enc"][_index(pcm)].tobytes()


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 A-law bytes to 16-bit PCM samples."""
    return _tables()["alaw_dec"][np.frombuffer(data, dtype=np.uint8)]


def encode(pcm: np.ndarray, encoding: Encoding) -> bytes:
    if encoding is Encoding.MULAW:
        return mulaw_encode(pcm)
    if encoding is Encoding.ALAW:
        return alaw_encode(pcm)
    return pcm.astype("<i2").tobytes()


def decode(data: bytes, encoding: Encoding) -> np.ndarray:
    if encoding is Encoding.MULAW:
        return mulaw_decode(data)
    if encoding is Encoding.ALAW:
        return alaw_decode(data)
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)


class Resampler:
    """Streaming resampler for mono 16-bit PCM; keeps filter state across chunks.

    Wraps livekit's native (soxr) resampler, so a call's audio is resampled chunk by chunk
    without clicks at packet boundaries. Same rate in and out passes samples through.

    soxr's filtering qualities hand their output back in blocks of about 100 ms (8 to
    16 kHz: nothing for five 20 ms packets, then 108 ms at once). ``low_latency`` returns
    each chunk's samples at once, for a live stream read every 20 ms, such as a caller's
    audio going into a voice session (which fills the gaps between blocks with silence and
    so would hear every other word): a windowed-sinc FIR for whole-number ratios (8 to
    16 kHz: 3 ms of delay), soxr's interpolating quality for others.
    """

    def __init__(self, input_rate: int, output_rate: int, *, low_latency: bool = False) -> None:
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._native: rtc.AudioResampler | None = None
        self._upsampler: _FirUpsampler | None = None
        if input_rate == output_rate:
            return
        if low_latency and output_rate % input_rate == 0:
            self._upsampler = _FirUpsampler(output_rate // input_rate)
            return
        quality = (rtc.AudioResamplerQuality.QUICK if low_latency
                   else rtc.AudioResamplerQuality.HIGH)
        self._native = rtc.AudioResampler(input_rate, output_rate, num_channels=1,
                                          quality=quality)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        if self._upsampler is not None:
            return self._upsampler.push(pcm)
        if self._native is None:
            return pcm.astype(np.int16, copy=False)
        if len(pcm) == 0:
            return np.zeros(0, dtype=np.int16)
        frames = self._native.push(bytearray(pcm.astype("<i2").tobytes()))
        return _join(frames)

    def flush(self) -> np.ndarray:
        if self._native is None:
            return np.zeros(0, dtype=np.int16)
        return _join(self._native.flush())


class _FirUpsampler:
    """Upsampling by a whole factor, chunk by chunk: zeros between samples, then a
    windowed-sinc low-pass at the input's Nyquist frequency; the filter's memory carries
    over from one chunk to the next, so there are no clicks at packet boundaries."""

    TAPS_PER_PHASE = 48

    def __init__(self, factor: int) -> None:
        self._factor = factor
        taps = self.TAPS_PER_PHASE * factor + 1
        n = np.arange(taps) - (taps - 1) / 2
        cutoff = 0.95 / factor  # of the output's Nyquist frequency: just below the input's
        self._kernel = (cutoff * np.sinc(cutoff * n) * np.kaiser(taps, 8.0) * factor)
        self._memory = np.zeros(taps - 1)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        stuffed = np.zeros(len(pcm) * self._factor)
        stuffed[::self._factor] = pcm
        signal = np.concatenate([self._memory, stuffed])
        self._memory = signal[len(signal) - len(self._memory):]
        out = np.convolve(signal, self._kernel, mode="valid")
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def _join(frames: list[rtc.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])


def resample(pcm: np.ndarray, input_rate: int, output_rate: int) -> np.ndarray:
    """Resample a whole clip at once, the same way every time: a polyphase windowed-sinc
    filter with no dither. (soxr, behind the streaming ``Resampler``, dithers its 16-bit
    output: from one run to the next about half the samples differ by 1 or 2, which is
    enough to change what Whisper hears in a word it was unsure of, and so a recording's
    transcript and every figure measured on synthetic speech.)"""
    from scipy.signal import resample_poly  # a second to import; most commands never resample

    if input_rate == output_rate:
        return pcm.astype(np.int16, copy=False)
    common = math.gcd(input_rate, output_rate)
    out = resample_poly(pcm.astype(np.float64), output_rate // common, input_rate // common)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of an (n, channels) array to one int16 channel."""
    if samples.ndim == 1:
        return samples.astype(np.int16, copy=False)
    return samples.astype(np.int32).mean(axis=1).round().astype(np.int16)
