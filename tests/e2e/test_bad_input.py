"""Bad caller audio: a clear one-line error and a non-zero exit, or a graceful end."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from dialog.agent import SILENT_GOODBYE, STILL_THERE
from tests.conftest import run_app
from voice.codecs import Encoding
from voice.wavfile import write_wav

AGENT = "tests.agents:ScriptedAgent"
QUICK_SILENCE = {"AVA_VOICE__SILENCE_TIMEOUT_S": "2"}


def _header(channels: int, rate: int, data_bytes: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * max(channels, 1),
                      2 * max(channels, 1), 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))


BAD_FILES = {
    "empty": (b"", "the file is empty"),
    "truncated": (_header(1, 8000, 64000)[:24], "truncated"),
    "not_wav": (b"ID3\x03\x00\x00\x00 an mp3, not a wav" * 10, "not a WAV file"),
    "zero_channels": (_header(0, 8000, 3200) + b"\0" * 3200, "0 channels"),
    "ten_hours": (_header(1, 8000, 8000 * 2 * 36000) + b"\0" * 3200, "10.0 h of audio"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_get_one_line_and_a_non_zero_exit(tmp_path: Path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(content)
    result = run_app("call", "--agent", AGENT, "--in", str(path), "--out",
                     str(tmp_path / "o.wav"), timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_unknown_agent_is_one_line(tmp_path: Path):
    path = tmp_path / "a.wav"
    write_wav(path, np.zeros(8000, np.int16), 8000)
    result = run_app("call", "--agent", "nobody", "--in", str(path), "--out",
                     str(tmp_path / "o.wav"), timeout=60)
    assert result.returncode == 2 and "unknown agent 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_pure_silence_gets_are_you_still_there_then_a_polite_end(tmp_path: Path):
    path, transcript = tmp_path / "silence.wav", tmp_path / "t.json"
    write_wav(path, np.zeros(8000 * 3, np.int16), 8000, Encoding.MULAW)
    result = run_app("call", "--agent", AGENT, "--in", str(path), "--out",
                     str(tmp_path / "o.wav"), "--transcript", str(transcript),
                     env=QUICK_SILENCE, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(transcript.read_text())
    said = [t["agent"] for t in data["turns"] if t["agent"]]
    assert said[1:] == [STILL_THERE, SILENT_GOODBYE]
    assert data["ended_by"] == "agent"


@pytest.mark.slow
def test_clipping_noise_ends_gracefully(tmp_path: Path):
    rng = np.random.default_rng(3)
    noise = np.clip(rng.uniform(-3, 3, 8000 * 5) * 32767, -32768, 32767).astype(np.int16)
    path, transcript = tmp_path / "noise.wav", tmp_path / "t.json"
    write_wav(path, noise, 8000)
    result = run_app("call", "--agent", AGENT, "--in", str(path), "--out",
                     str(tmp_path / "o.wav"), "--transcript", str(transcript),
                     env=QUICK_SILENCE, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(transcript.read_text())
    assert data["ended_by"] in {"agent", "caller"}
    assert (tmp_path / "o.wav").stat().st_size > 44
