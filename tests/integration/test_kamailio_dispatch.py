"""Scale-out: Debian's Kamailio, run with deploy/kamailio/kamailio.cfg, in front of two real
server workers. SIPp calls the proxy; the calls are spread over both workers (round-robin);
one worker is killed (SIGKILL), the health checks take it out, and new calls all go to the
other. A call sent to a worker that does not answer fails over to the next one. A flood from
one address is cut off while other addresses are still answered.

Every call goes through the proxy both ways: the INVITE, and the ACK and BYE along the
Record-Route path (the proxy answers 404 to an in-dialog request that does not name it in a
Route), while the agent's RTP reaches the caller directly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.server import RunningServer, running_server
from tests.sip_peer import (
    caller_args,
    free_udp_tcp_port,
    rtp_recorder,
    run_sipp,
    sip_conversations,
    sip_server_env,
    sipp_log,
)

CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
NO_RESPONSE_MS = 2000  # an unanswered INVITE or health check counts as failed after this


# -- Kamailio ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Proxy:
    port: int
    ctl: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def states(self) -> dict[str, str]:
        """Each worker's SIP URI and its dispatcher flags (``AP``: up and health-checked,
        ``IP``: taken out, still checked), as ``kamcmd dispatcher.list`` shows them."""
        listed = subprocess.run([kamailio_tool("kamcmd"), "-s", self.ctl, "dispatcher.list"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return dict(re.findall(r"URI: (\S+)\s+FLAGS: (\w+)", listed))

    def wait_for(self, wanted: Callable[[dict[str, str]], bool], timeout_s: float) -> float:
        """Seconds until the workers' states are ``wanted``; fails naming them otherwise."""
        start = time.monotonic()
        while not wanted(states := self.states()):
            assert time.monotonic() - start < timeout_s, f"{states}\n{self.log()[-3000:]}"
            time.sleep(0.1)
        return time.monotonic() - start


def kamailio_tool(name: str) -> str:
    """``kamailio`` or ``kamcmd``: Debian puts them in /usr/sbin, not on every user's PATH."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    assert path, f"{name} is not installed (apt-get install kamailio)"
    return path


def worker_uri(port: int) -> str:
    return f"sip:127.0.0.1:{port};transport=udp"


@contextmanager
def kamailio(folder: Path, worker_ports: list[int], ping_interval_s: int) -> Iterator[Proxy]:
    """Kamailio in the foreground on a free loopback port, the deploy configuration with
    the dispatcher list written here naming ``worker_ports``; stopped with SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = folder / "dispatcher.list"
    workers.write_text("".join(f"1 {worker_uri(port)} 0 0 duid=worker-{index}\n"
                               for index, port in enumerate(worker_ports, 1)))
    proxy = Proxy(free_udp_tcp_port(), f"unix:{folder}/kamailio_ctl", folder / "kamailio.log")
    defines = {"LISTEN": f"udp:127.0.0.1:{proxy.port}", "DISPATCHER_LIST": f'"{workers}"',
               "CTL_SOCKET": f'"{proxy.ctl}"', "CHILDREN": "2",
               "PING_INTERVAL": str(ping_interval_s), "NO_RESPONSE_MS": str(NO_RESPONSE_MS)}
    command = [kamailio_tool("kamailio"), "-f", str(CONFIG), "-DD", "-E",
               "-P", str(folder / "kamailio.pid"), "-Y", str(folder), "-w", str(folder)]
    for name, value in defines.items():
        command += ["-A", f"{name}={value}"]
    with proxy.log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not Path(proxy.ctl.removeprefix("unix:")).exists():
            assert process.poll() is None, f"kamailio exited:\n{proxy.log()}"
            assert time.monotonic() < deadline, f"kamailio not up:\n{proxy.log()}"
            time.sleep(0.1)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- workers and calls ---------------------------------------------------------------------

@dataclass(frozen=True)
class Worker:
    server: RunningServer
    sip_port: int

    def calls(self) -> int:
        return len(sip_conversations(self.server))

    def kill(self) -> None:
        """SIGKILL this worker's server process: no BYE, no goodbye, its port just goes dead."""
        os.kill(_server_pid(self.server), signal.SIGKILL)


def _server_pid(server: RunningServer) -> int:
    """The pid of ``running_server``'s process: our child running ``app serve --port N``."""
    wanted = ["-m", "app", "serve", "--port", str(urlsplit(server.url).port)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().decode().split("\0")[1:-1]
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if arguments == wanted and parent == os.getpid():
            return int(entry.name)
    raise AssertionError(f"no server process for {server.url}")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two workers, each with its own data folder and SIP port, answering calls from the
    proxy's address. The last test of this file kills the second one."""
    with ExitStack() as stack:
        started = []
        for index in (1, 2):
            port = free_udp_tcp_port()
            env = sip_server_env(port, AVA_SIP__ALLOWED_PEERS="127.0.0.1")
            folder = tmp_path_factory.mktemp(f"worker-{index}")
            started.append(Worker(stack.enter_context(running_server(folder, env=env)), port))
        yield started


# The caller: INVITE to the proxy, then ACK and BYE to the answering worker's Contact by way
# of the Route set the 200 OK's Record-Route gave; the call lasts a second.
CALL = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller through the proxy">
<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1000 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {media_port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true" rtd="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: sipp <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
<pause milliseconds="1000"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: sipp <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
</scenario>
"""


def call(proxy: Proxy, folder: Path) -> float:
    """One short call through the proxy; fails unless it was answered, the agent's audio
    reached the caller, and the BYE was answered. Returns the seconds it took."""
    folder.mkdir(parents=True)
    start = time.monotonic()
    with rtp_recorder() as heard:
        sipp = run_sipp(CALL.replace("{media_port}", str(heard.port)), folder,
                        *caller_args(proxy.port), timeout_s=30)
    assert sipp.returncode == 0, sipp_log(folder) + proxy.log()[-3000:]
    assert len(heard.packets) > 10, "no agent audio reached the caller"
    return time.monotonic() - start


def call_counts(workers: list[Worker]) -> list[int]:
    return [worker.calls() for worker in workers]


# -- the tests -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_call_to_a_worker_that_does_not_answer_fails_over(workers: list[Worker],
                                                           tmp_path: Path) -> None:
    """A worker listed but dead (nothing on its port) and not yet found out by a health
    check (the interval is long): the call sent there waits NO_RESPONSE_MS, goes to the live
    worker, and the dead one is taken out, so the next call goes straight to the live one."""
    live, dead_port = workers[0], free_udp_tcp_port()
    before = live.calls()
    with kamailio(tmp_path / "proxy", [dead_port, live.sip_port], ping_interval_s=600) as proxy:
        assert all(flags.startswith("A") for flags in proxy.states().values())  # both in use
        took = [call(proxy, tmp_path / f"call-{n}") for n in range(2)]
        assert proxy.states()[worker_uri(dead_port)] == "IP"
        log = proxy.log()
    assert live.calls() == before + 2
    assert log.count("did not answer; taking it out") == 1, log[-3000:]
    assert log.count(f"failing over to worker sip:127.0.0.1:{live.sip_port}") == 1
    assert max(took) > NO_RESPONSE_MS / 1000  # the call that waited for the dead worker


@pytest.mark.slow
def test_calls_are_spread_and_a_killed_worker_is_taken_out(workers: list[Worker],
                                                           tmp_path: Path) -> None:
    """Round-robin over two healthy workers; then one is SIGKILLed and, with no call
    placed, the health checks alone take it out (two unanswered in a row); every later call goes
    to the survivor. (A call that reaches a dead worker before the health checks do fails
    over: the test above.)"""
    survivor, victim = workers
    before = call_counts(workers)
    with kamailio(tmp_path / "proxy", [w.sip_port for w in workers], ping_interval_s=1) as proxy:
        proxy.wait_for(lambda states: set(states.values()) == {"AP"}, timeout_s=10)

        for n in range(6):
            call(proxy, tmp_path / f"spread-{n}")
        spread = [after - was for after, was in zip(call_counts(workers), before, strict=True)]
        assert spread == [3, 3], spread  # round-robin: every other call to each worker

        victim.kill()
        detected = proxy.wait_for(lambda states: states[worker_uri(victim.sip_port)] == "IP",
                                  timeout_s=10)
        assert proxy.states()[worker_uri(survivor.sip_port)] == "AP"

        taken = survivor.calls()
        for n in range(4):
            call(proxy, tmp_path / f"after-{n}")
        assert survivor.calls() == taken + 4
        log = proxy.log()
    downs = re.findall(r"worker down: (\S+)", log)
    assert downs == [worker_uri(victim.sip_port)], log[-3000:]
    assert "did not answer" not in log  # no call was ever sent to the dead worker
    # Two checks in a row unanswered: the next one within an interval, the one after it an
    # interval later, and NO_RESPONSE_MS for that one to go unanswered.
    assert detected < 2 + NO_RESPONSE_MS / 1000 + 1.5, detected


def _options(target: tuple[str, int], source: socket.socket) -> bytes:
    host, port = source.getsockname()
    return (f"OPTIONS sip:{target[0]}:{target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            f"From: <sip:probe@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{target[0]}:{target[1]}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _answered(sock: socket.socket, wait_s: float) -> int:
    """How many datagrams came to ``sock`` until none came for ``wait_s``."""
    sock.settimeout(wait_s)
    count = 0
    try:
        while sock.recv(4096):
            count += 1
    except TimeoutError:
        pass
    return count


@contextmanager
def udp_from(address: str) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    try:
        yield sock
    finally:
        sock.close()


@pytest.mark.slow
def test_a_flood_from_one_address_is_cut_off(tmp_path: Path) -> None:
    """300 requests at once from 127.0.0.2: the flood limit answers the first few dozen,
    then ignores that address; another address (127.0.0.3) is still answered."""
    with kamailio(tmp_path / "proxy", [free_udp_tcp_port()], ping_interval_s=600) as proxy, \
            udp_from("127.0.0.2") as flooder, udp_from("127.0.0.3") as other:
        target = ("127.0.0.1", proxy.port)
        for _ in range(300):
            flooder.sendto(_options(target, flooder), target)
        flooded = _answered(flooder, 1.0)
        flooder.sendto(_options(target, flooder), target)
        later = _answered(flooder, 1.0)
        other.sendto(_options(target, other), target)
        assert _answered(other, 2.0) == 1
        log = proxy.log()
    assert 0 < flooded < 150, flooded
    assert later == 0
    assert "flood: ignoring 127.0.0.2" in log
