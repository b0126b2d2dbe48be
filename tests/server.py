"""The real server in a subprocess, as `make run` starts it, for tests that talk to it over
HTTP, WebSocket or a browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

API_KEY = "test-admin-key-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    url: str
    api_key: str
    log_path: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(data_dir: Path, database_url: str | None = None,
                   env: dict[str, str] | None = None,
                   timeout_s: float = 120) -> Iterator[RunningServer]:
    """``python -m app serve`` on a free port with its own data folder; stopped afterwards
    (SIGTERM, so conversations still open are ended and recorded)."""
    port = free_port()
    log_path = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "XDG_DATA_HOME": str(data_dir), "AVA_API_KEYS": API_KEY,
                   "AVA_LOG_FORMAT": "json", "AVA_PRELOAD_SPEECH_MODELS": "false",
                   **(env or {})}
    for name in ("DATABASE_URL", "AVA_DATABASE_URL", "AVA_HOST", "AVA_PORT"):
        environment.pop(name, None)  # SQLite in the fresh data folder, the port chosen here
    if database_url:
        environment["DATABASE_URL"] = database_url
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)],
                                   cwd=ROOT, env=environment, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    server = RunningServer(f"http://127.0.0.1:{port}", API_KEY, log_path)
    try:
        _wait_until_up(server, process, timeout_s)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: RunningServer, process: subprocess.Popen[bytes],
                   timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=2).read()
            return
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{server.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not up in {timeout_s} s:\n{server.log()}")
        time.sleep(0.3)
