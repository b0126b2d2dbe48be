"""`python -m app serve` (what `make run` starts) answers on its port."""

import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT
from tests.server import free_port


def test_server_starts_and_says_it_is_up():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not come up in 60 s"
                time.sleep(0.3)
        assert b"Ava is up" in page
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
        assert b'"status": "ok"' in health
    finally:
        server.terminate()
        server.wait(timeout=10)
