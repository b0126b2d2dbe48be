import struct
from pathlib import Path

import numpy as np
import pytest

from voice.codecs import Encoding
from voice.errors import AudioFormatError
from voice.wavfile import read_wav, write_wav


def _header(channels: int, rate: int, bits: int, data_bytes: int, tag: int = 1) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))


TONE = (np.sin(np.arange(800) * 2 * np.pi * 300 / 8000) * 9000).astype(np.int16)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_write_then_read_round_trip(tmp_path: Path, encoding: Encoding):
    path = tmp_path / "clip.wav"
    write_wav(path, TONE, 8000, encoding)
    clip = read_wav(path)
    assert clip.sample_rate == 8000
    assert clip.source.encoding is encoding
    assert len(clip.samples) == len(TONE)
    tolerance = 0 if encoding is Encoding.PCM16 else 300  # G.711 is lossy
    assert np.abs(clip.samples.astype(int) - TONE.astype(int)).max() <= tolerance


def test_python_wave_module_reads_what_we_write(tmp_path: Path):
    import wave

    write_wav(tmp_path / "a.wav", TONE, 16000)
    with wave.open(str(tmp_path / "a.wav")) as handle:
        assert handle.getframerate() == 16000
        assert handle.getnframes() == len(TONE)


def test_stereo_is_mixed_to_mono(tmp_path: Path):
    stereo = np.stack([TONE, TONE // 2], axis=1).astype("<i2")
    path = tmp_path / "stereo.wav"
    path.write_bytes(_header(2, 22050, 16, stereo.nbytes) + stereo.tobytes())
    clip = read_wav(path)
    assert clip.source.channels == 2
    expected = np.round((TONE.astype(float) + TONE // 2) / 2)
    assert np.abs(clip.samples - expected).max() <= 1


@pytest.mark.parametrize(("bits", "dtype", "scale"), [(8, np.uint8, None), (24, None, None),
                                                      (32, "<i4", 65536)])
def test_other_pcm_widths(tmp_path: Path, bits, dtype, scale):
    if bits == 8:
        raw = ((TONE.astype(int) >> 8) + 128).astype(np.uint8).tobytes()
    elif bits == 24:
        as32 = TONE.astype("<i4") << 8
        raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in as32)
    else:
        raw = (TONE.astype("<i4") * scale).astype(dtype).tobytes()
    path = tmp_path / f"w{bits}.wav"
    path.write_bytes(_header(1, 8000, bits, len(raw)) + raw)
    clip = read_wav(path)
    assert np.abs(clip.samples.astype(int) - TONE.astype(int)).max() <= 256


def test_float_wav(tmp_path: Path):
    floats = (TONE / 32768).astype("<f4")
    path = tmp_path / "f.wav"
    path.write_bytes(_header(1, 48000, 32, floats.nbytes, tag=3) + floats.tobytes())
    assert np.abs(read_wav(path).samples.astype(int) - TONE.astype(int)).max() <= 2


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"RIFF\x00\x00", "not a WAV file"),
    (b"hello, this is not audio at all", "not a WAV file"),
    (_header(1, 8000, 16, 100)[:30], "'fmt' chunk is truncated"),
    (_header(1, 8000, 16, 100)[:12], "no 'fmt ' chunk"),
    (_header(0, 8000, 16, 100) + b"\0" * 100, "0 channels"),
    (_header(1, 8000, 16, 0), "holds no audio samples"),
    (_header(1, 8000, 12, 100) + b"\0" * 100, "unsupported WAV encoding"),
    (_header(1, 100, 16, 100) + b"\0" * 100, "unsupported sample rate"),
])
def test_malformed_files_are_refused_with_a_reason(tmp_path: Path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message):
        read_wav(path)


def test_truncated_data_keeps_what_is_there(tmp_path: Path):
    path = tmp_path / "cut.wav"
    path.write_bytes(_header(1, 8000, 16, 16000) + TONE.astype("<i2").tobytes())
    assert len(read_wav(path).samples) == len(TONE)


def test_long_file_is_refused_from_its_header_alone(tmp_path: Path):
    ten_hours = 8000 * 2 * 36000
    path = tmp_path / "long.wav"
    path.write_bytes(_header(1, 8000, 16, ten_hours) + b"\0" * 1600)
    with pytest.raises(AudioFormatError, match=r"10\.0 h of audio is longer than"):
        read_wav(path, max_duration_s=3600)


def test_missing_file(tmp_path: Path):
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav(tmp_path / "absent.wav")
