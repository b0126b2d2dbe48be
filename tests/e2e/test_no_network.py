"""A whole call opens no connection beyond the loopback interface.

Two independent proofs: the call runs in a network namespace that has only a loopback
interface (so any outside connection would fail), and every connect() system call of the
process tree is traced, so an attempt that failed quietly would still be seen.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_app
from tests.speech import speak, timeline
from voice.codecs import Encoding
from voice.wavfile import write_wav

pytestmark = pytest.mark.slow
LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|sa_family=AF_UNIX')


def test_a_whole_call_makes_no_outside_connection(tmp_path: Path):
    assert shutil.which("strace") and shutil.which("unshare"), "make test installs both"
    caller = tmp_path / "caller.wav"
    write_wav(caller, timeline([(1.0, speak("Hello, goodbye."))], 8.0, 8000), 8000,
              Encoding.MULAW)
    trace = tmp_path / "connect.trace"
    strace = f"strace -f -qq -e trace=connect,sendto,sendmsg -e signal=none -o {trace}"
    prefix = ["unshare", "--net", "sh", "-c",
              f'ip link set lo up 2>/dev/null; exec {strace} "$0" "$@"']
    transcript = tmp_path / "t.json"
    result = run_app("call", "--fast", "--agent", "tests.agents:ScriptedAgent", "--in",
                     str(caller), "--out", str(tmp_path / "o.wav"), "--transcript",
                     str(transcript), prefix=prefix, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(transcript.read_text())["ended_by"] == "agent"
    calls = [line for line in trace.read_text().splitlines()
             if "connect(" in line or "sendto(" in line or "sendmsg(" in line]
    outside = [line for line in calls if "sa_family=AF_INET" in line and not LOOPBACK.search(line)]
    assert not outside, "\n".join(outside[:10])
