"""Reading and writing WAV files, with every way a file can be wrong named in the error.

Python's ``wave`` module reads only PCM; phone recordings are often G.711 (WAVE format tags
6 and 7) and sometimes float. This reader parses the RIFF chunks itself so it can refuse a
bad file with one clear sentence, and check the duration from the header before reading.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from voice.codecs import Encoding, alaw_decode, encode, mulaw_decode, to_mono
from voice.errors import AudioFormatError

_FORMAT_PCM = 1
_FORMAT_FLOAT = 3
_FORMAT_ALAW = 6
_FORMAT_MULAW = 7
_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_TAGS = {Encoding.PCM16: _FORMAT_PCM, Encoding.ALAW: _FORMAT_ALAW,
                Encoding.MULAW: _FORMAT_MULAW}


@dataclass(frozen=True)
class WavFormat:
    """What the header of a WAV file says."""

    sample_rate: int
    channels: int
    encoding: Encoding
    sample_width: int
    frame_count: int
    is_float: bool = False
    declared_bytes: int | None = None  # what the header says the samples take

    @property
    def duration_s(self) -> float:
        """The longer of what the file holds and what its header declares."""
        declared = (self.declared_bytes or 0) // (self.sample_width * self.channels)
        return max(self.frame_count, declared) / self.sample_rate


@dataclass(frozen=True)
class AudioClip:
    """Mono 16-bit PCM with its rate, plus the format the file had."""

    samples: np.ndarray
    sample_rate: int
    source: WavFormat

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def read_wav(path: Path, *, max_duration_s: float | None = None) -> AudioClip:
    """Read a WAV file as mono int16 PCM, refusing anything malformed.

    The duration is checked from the header before the samples are read, so a 10-hour
    file is refused at once instead of being loaded into memory.
    """
    try:
        with path.open("rb") as handle:
            fmt, data_offset = _read_header(path, handle)
            if max_duration_s is not None and fmt.duration_s > max_duration_s:
                raise AudioFormatError(
                    f"{path}: {_hours_or_minutes(fmt.duration_s)} of audio is longer than "
                    f"the {_hours_or_minutes(max_duration_s)} limit for one call"
                )
            handle.seek(data_offset)
            payload = handle.read(fmt.frame_count * fmt.sample_width * fmt.channels)
    except FileNotFoundError:
        raise AudioFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFormatError(f"{path}: is a directory, not a WAV file") from None
    samples = _decode_payload(fmt, payload)
    return AudioClip(samples=samples, sample_rate=fmt.sample_rate, source=fmt)


def _hours_or_minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _read_header(path: Path, handle: BinaryIO) -> tuple[WavFormat, int]:
    """Walk the RIFF chunks up to 'data'; return the format and where the samples start."""
    head = handle.read(12)
    if len(head) == 0:
        raise AudioFormatError(f"{path}: the file is empty")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    file_size = os.fstat(handle.fileno()).st_size
    fmt_chunk: bytes | None = None
    while True:
        header = handle.read(8)
        if len(header) < 8:
            missing = "'fmt '" if fmt_chunk is None else "'data'"
            raise AudioFormatError(f"{path}: WAV file has no {missing} chunk (truncated?)")
        chunk_id, size = struct.unpack("<4sI", header)
        if chunk_id == b"data":
            if fmt_chunk is None:
                raise AudioFormatError(f"{path}: WAV 'data' chunk comes before 'fmt '")
            offset = handle.tell()
            declared = None if size in (0, 0xFFFFFFFF) else size  # streamed WAVs leave it unset
            available = max(0, file_size - offset)
            if declared is not None:
                available = min(declared, available)  # a truncated file keeps what is there
            fmt = _format(path, fmt_chunk, available)
            return replace(fmt, declared_bytes=declared), offset
        body = handle.read(size + (size & 1))
        if len(body) < size:
            name = chunk_id.decode("latin-1").strip()
            raise AudioFormatError(f"{path}: WAV '{name}' chunk is truncated")
        if chunk_id == b"fmt ":
            fmt_chunk = body[:size]


def _format(path: Path, fmt_chunk: bytes, payload_bytes: int) -> WavFormat:
    if len(fmt_chunk) < 16:
        raise AudioFormatError(f"{path}: WAV 'fmt ' chunk is truncated")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt_chunk)
    if tag == _FORMAT_EXTENSIBLE and len(fmt_chunk) >= 26:
        tag = struct.unpack_from("<H", fmt_chunk, 24)[0]
    if channels == 0:
        raise AudioFormatError(f"{path}: WAV header says 0 channels")
    if rate < 4000 or rate > 192000:
        raise AudioFormatError(f"{path}: unsupported sample rate {rate} Hz")
    encoding, width, is_float = _encoding(path, tag, bits)
    frame_bytes = width * channels
    if block_align and block_align != frame_bytes:
        raise AudioFormatError(f"{path}: WAV block alignment {block_align} does not match "
                               f"{channels} channel(s) of {bits}-bit samples")
    if payload_bytes < frame_bytes:
        raise AudioFormatError(f"{path}: WAV file holds no audio samples")
    return WavFormat(rate, channels, encoding, width, payload_bytes // frame_bytes, is_float)


def _encoding(path: Path, tag: int, bits: int) -> tuple[Encoding, int, bool]:
    if tag == _FORMAT_MULAW and bits == 8:
        return Encoding.MULAW, 1, False
    if tag == _FORMAT_ALAW and bits == 8:
        return Encoding.ALAW, 1, False
    if tag == _FORMAT_PCM and bits in (8, 16, 24, 32):
        return Encoding.PCM16, bits // 8, False
    if tag == _FORMAT_FLOAT and bits in (32, 64):
        return Encoding.PCM16, bits // 8, True
    raise AudioFormatError(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits)")


def _decode_payload(fmt: WavFormat, payload: bytes) -> np.ndarray:
    usable = payload[: fmt.frame_count * fmt.sample_width * fmt.channels]
    if fmt.encoding is Encoding.MULAW:
        flat = mulaw_decode(usable)
    elif fmt.encoding is Encoding.ALAW:
        flat = alaw_decode(usable)
    elif fmt.is_float:
        floats = np.frombuffer(usable, dtype="<f4" if fmt.sample_width == 4 else "<f8")
        flat = (np.clip(np.nan_to_num(floats), -1.0, 1.0) * 32767).astype(np.int16)
    else:
        flat = _integer_pcm(usable, fmt.sample_width)
    return to_mono(flat.reshape(-1, fmt.channels))


def _integer_pcm(raw: bytes, width: int) -> np.ndarray:
    if width == 1:
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (triples[:, 1].astype(np.int16) | (triples[:, 2].astype(np.int16) << 8))
    return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int,
              encoding: Encoding = Encoding.PCM16) -> None:
    """Write mono samples as a PCM16, mu-law or A-law WAV file."""
    payload = encode(samples, encoding)
    width = 2 if encoding is Encoding.PCM16 else 1
    fmt_body = struct.pack("<HHIIHH", _FORMAT_TAGS[encoding], 1, sample_rate,
                           sample_rate * width, width, width * 8)
    if encoding is not Encoding.PCM16:
        fmt_body += struct.pack("<H", 0)  # cbSize: non-PCM formats carry it
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) & 1:
        chunks += b"\x00"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
